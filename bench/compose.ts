/**
 * Compose end to end: Debian's docker-compose (v1) `up -d` of a 10-service project on 3 networks until
 * every service runs, then `down`, against cnmd and, side by side, a reference Docker engine when one
 * runs. Skipped without docker-compose.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Target } from './containers.js';

/** Ten services: s0..s9, each on one or two of three networks. */
function project(image: string): string {
  const services = Array.from({ length: 10 }, (_, i) => {
    const nets = [`n${i % 3}`, ...(i % 2 ? [`n${(i + 1) % 3}`] : [])];
    return `  s${i}:\n    image: ${image}\n    command: ["sleep", "600"]\n    networks: [${nets.join(', ')}]\n`;
  }).join('');
  return `version: "2.4"\nservices:\n${services}networks:\n  n0: {}\n  n1: {}\n  n2: {}\n`;
}

export async function composeAvailable(): Promise<boolean> {
  return (await execa('docker-compose', ['version', '--short'], { reject: false })).exitCode === 0;
}

/** Rounds of up -d (all ten running when it returns, checked) and down; returns the timings by row. */
export async function composeBench(t: Target, rounds: number): Promise<Record<string, number[]>> {
  const dir = mkdtempSync('/tmp/cnmd-bench-compose-');
  const file = `${dir}/docker-compose.yml`;
  writeFileSync(file, project(t.image));
  const name = `cnmdbench${process.pid}`;
  const compose = async (...args: string[]) => {
    const t0 = process.hrtime.bigint();
    const r = await execa('docker-compose', ['-p', name, '-f', file, ...args], { env: { DOCKER_HOST: t.host, PATH: process.env.PATH ?? '' }, extendEnv: false, reject: false, timeout: 300_000 });
    if (r.exitCode !== 0) throw new Error(`docker-compose ${args.join(' ')} (${t.label}): ${r.stderr}`);
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out: String(r.stdout) };
  };
  const out: Record<string, number[]> = { 'docker-compose up -d (10 services, 3 networks)': [], 'docker-compose down': [] };
  try {
    for (let i = 0; i < rounds; i++) {
      out['docker-compose up -d (10 services, 3 networks)'].push((await compose('up', '-d')).ms);
      const running = (await compose('ps', '--services', '--filter', 'status=running')).out.split('\n').filter(Boolean);
      if (running.length !== 10) throw new Error(`${t.label}: ${running.length} of 10 services run after up -d`);
      out['docker-compose down'].push((await compose('down', '-t', '0')).ms);
    }
  } finally {
    await execa('docker-compose', ['-p', name, '-f', file, 'down', '-t', '0'], { env: { DOCKER_HOST: t.host, PATH: process.env.PATH ?? '' }, extendEnv: false, reject: false });
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
