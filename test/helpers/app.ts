import type { Test } from 'tap';
import { loadConfig } from '../../src/config.js';
import { RecordingExecutor } from '../../src/host/recording.js';
import { startDaemon, type Daemon, type DaemonOptions } from '../../src/daemon.js';

export interface TestDaemon extends Daemon {
  exec: RecordingExecutor;
}

/** A daemon on an in-memory store with a recording executor: nothing touches the host. */
export async function buildTestDaemon(t: Test, flags: string[] = [], exec = new RecordingExecutor(), extra: Partial<DaemonOptions> = {}): Promise<TestDaemon> {
  const config = loadConfig(['--data-root', '/nonexistent/cnmd-test', '--reconcile-interval', '0', ...flags], () => undefined);
  const d = await startDaemon({ config, exec, dbPath: ':memory:', ...extra });
  t.teardown(() => d.close());
  return Object.assign(d, { exec });
}

export interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Record<string, unknown>;
}

export async function call(d: Daemon, method: string, url: string, payload?: unknown): Promise<Reply> {
  const r = await d.app.inject({
    method: method as 'GET',
    url,
    ...(payload === undefined ? {} : { payload: payload as object, headers: { 'content-type': 'application/json' } }),
  });
  let body: unknown;
  try {
    body = r.body ? JSON.parse(r.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: r.statusCode, body, text: r.body, headers: r.headers };
}
