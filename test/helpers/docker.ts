import { execa } from 'execa';

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The real docker CLI against a cnmd socket, with a config dir of its own (no user config leaks in). */
export function dockerCli(socket: string, configDir: string) {
  return async (...args: string[]): Promise<CliResult> => {
    const r = await execa('docker', args, {
      reject: false,
      // PATH as ours, so that the same docker binary runs as `docker --version` reports
      env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: 'false' },
      extendEnv: false,
      timeout: 30_000,
    });
    return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
  };
}

export async function dockerCliAvailable(): Promise<boolean> {
  const r = await execa('docker', ['--version'], { reject: false });
  return r.exitCode === 0;
}
