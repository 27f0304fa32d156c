/**
 * Containers a user enters, end to end with the docker CLI: `docker run --rm busybox sh -c true` (create,
 * wait, attach, start, the command, removal) and an exec round trip (`docker exec C sh -c true`; the
 * reference engine's busybox image has no `true` applet, so both run it through sh), against
 * cnmd and, side by side, a reference Docker engine when one runs (BENCH_REFERENCE_DOCKER, default
 * the socket ../shared/tools/start-reference-dockerd.sh makes).
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';

export interface Target {
  label: string;
  host: string;
  image: string;
}

const REFERENCE = process.env.BENCH_REFERENCE_DOCKER ?? 'unix:///var/tmp/peer-dockerd/docker.sock';

/** The reference engine, when its socket answers. */
export async function referenceDocker(): Promise<Target | undefined> {
  if (!existsSync(REFERENCE.replace(/^unix:\/\//, ''))) return undefined;
  const r = await execa('docker', ['version', '--format', '{{.Server.Version}}'], { env: { DOCKER_HOST: REFERENCE }, reject: false, timeout: 10_000 });
  return r.exitCode === 0 ? { label: `Docker ${r.stdout.trim()}`, host: REFERENCE, image: 'busybox:local' } : undefined;
}

async function timedCli(host: string, config: string, args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await execa('docker', args, { env: { DOCKER_HOST: host, DOCKER_CONFIG: config, PATH: process.env.PATH ?? '' }, extendEnv: false, reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Rounds of run --rm true and exec true; returns the timings by row. */
export async function containerBench(t: Target, rounds: number, network?: string): Promise<Record<string, number[]>> {
  const config = mkdtempSync('/tmp/cnmd-bench-docker-');
  const net = network ? ['--network', network] : [];
  const name = `cnmdbench-exec-${process.pid}`;
  const out: Record<string, number[]> = { 'docker run --rm sh -c true': [], 'docker exec sh -c true': [], 'docker version (the CLI alone)': [] };
  try {
    await timedCli(t.host, config, ['run', '-d', '--name', name, ...net, t.image, 'sleep', '600']);
    for (let i = 0; i < rounds; i++) {
      out['docker run --rm sh -c true'].push(await timedCli(t.host, config, ['run', '--rm', ...net, t.image, 'sh', '-c', 'true']));
      out['docker exec sh -c true'].push(await timedCli(t.host, config, ['exec', name, 'sh', '-c', 'true']));
      out['docker version (the CLI alone)'].push(await timedCli(t.host, config, ['version', '--format', '{{.Server.APIVersion}}']));
    }
  } finally {
    await execa('docker', ['rm', '-f', name], { env: { DOCKER_HOST: t.host, DOCKER_CONFIG: config, PATH: process.env.PATH ?? '' }, extendEnv: false, reject: false });
    rmSync(config, { recursive: true, force: true });
  }
  return out;
}
