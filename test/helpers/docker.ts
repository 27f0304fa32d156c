import { execa } from 'execa';
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { makeNetns, startDaemonIn, hostTestsUnavailable } from './host.js';

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The environment the docker CLI runs with: PATH as ours, so that the same docker binary runs as `docker --version` reports. */
export const cliEnv = (socket: string, configDir: string) => ({
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: 'false',
});

/** The real docker CLI against a cnmd socket, with a config dir of its own (no user config leaks in). */
export function dockerCli(socket: string, configDir: string) {
  return async (...args: string[]): Promise<CliResult> => {
    const r = await execa('docker', args, { reject: false, env: cliEnv(socket, configDir), extendEnv: false, timeout: 30_000 });
    return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
  };
}

export async function dockerCliAvailable(): Promise<boolean> {
  const r = await execa('docker', ['--version'], { reject: false });
  return r.exitCode === 0;
}

/** A daemon in a throwaway test-host namespace, and the docker CLI pointed at it with a config dir of its own. */
export async function cliAgainstDaemon(t: Test, label: string) {
  const host = await makeNetns(t, label);
  const daemon = await startDaemonIn(t, host);
  const configDir = mkdtempSync('/tmp/cnmd-docker-config-');
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  return { host, daemon, docker: dockerCli(daemon.socket, configDir), env: cliEnv(daemon.socket, configDir) };
}

/** Why the compatibility tests cannot run here, or undefined. */
export async function compatUnavailable(): Promise<string | undefined> {
  return hostTestsUnavailable() ?? ((await dockerCliAvailable()) ? undefined : 'the docker CLI is not installed');
}
