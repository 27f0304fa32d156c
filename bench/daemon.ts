/** A cnmd for the benchmark: in a throwaway namespace of its own, on a unix socket, with what it left removed at the end. */
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { unixRequest, cleanupDaemonDir, type HttpReply } from '../test/helpers/host.js';

const ROOT = new URL('../', import.meta.url).pathname;

export interface BenchDaemon {
  ns: string;
  sock: string;
  /** the daemon's process (nsenter executes it in place) */
  pid: number;
  req(method: string, path: string, body?: unknown): Promise<HttpReply>;
  stop(): Promise<void>;
}

export async function startBenchDaemon(flags: string[] = []): Promise<BenchDaemon> {
  const ns = `cnmdbench${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync('/tmp/cnmd-bench-');
  await execa('ip', ['netns', 'add', ns]);
  const child = spawn('nsenter', [`--net=/run/netns/${ns}`, process.execPath, '--max-semi-space-size=1', `${ROOT}dist/cnmd.js`, '-H', `unix://${dir}/cnmd.sock`, '--data-root', `${dir}/data`,
    '--exec-root', `${dir}/exec`, '--default-address-pool', 'base=10.0.0.0/8,size=24', '--log-level', 'error', '--dns', '127.0.0.1', ...flags], { stdio: 'inherit' });
  const sock = `${dir}/cnmd.sock`;
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    // what containers of an interrupted run left: found through the daemon's store
    await cleanupDaemonDir(dir);
    await execa('ip', ['netns', 'del', ns], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      if ((await unixRequest(sock, 'GET', '/_ping')).status === 200) break;
    } catch {
      if (i > 300) {
        await stop();
        throw new Error('cnmd did not start');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { ns, sock, pid: child.pid!, req: (m, p, b) => unixRequest(sock, m, p, b), stop };
}
