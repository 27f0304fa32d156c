/** etcd (Debian's etcd-server) started by a test in a namespace of its underlay, and polling helpers. */
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { makeNetns, type Netns } from './host.js';

export const ETCD = '/usr/bin/etcd';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export async function until<T>(what: () => Promise<T | undefined | false>, ms = 10_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > end) return undefined;
    await sleep(100);
  }
}

export interface Etcd {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function etcdIn(t: Test, ns: Netns, STORE: string): Etcd {
  const dir = mkdtempSync('/tmp/cnmd-etcd-');
  let child: ChildProcess | undefined;
  const e: Etcd = {
    async start() {
      child = spawn('nsenter', [`--net=/run/netns/${ns.name}`, ETCD, '--data-dir', dir, '--name', 'cnmdtest',
        '--listen-client-urls', `http://${STORE}:2379`, '--advertise-client-urls', `http://${STORE}:2379`,
        '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
        '--initial-cluster', 'cnmdtest=http://127.0.0.1:2380'], { stdio: 'ignore' });
      const up = await until(async () => (await ns.run('curl', ['-s', '-m', '1', `http://${STORE}:2379/health`], { reject: false })).stdout.includes('true'));
      if (!up) throw new Error('etcd did not start');
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await gone;
    },
  };
  t.teardown(async () => {
    await e.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return e;
}


/** The underlay of a multi-host test: a namespace with a bridge `ul` at store/24, and etcd listening there (started). */
export async function underlayWithEtcd(t: Test, label: string, store: string): Promise<{ under: Netns; etcd: Etcd }> {
  const under = await makeNetns(t, label);
  await under.run('ip', ['link', 'add', 'ul', 'type', 'bridge']);
  await under.run('ip', ['addr', 'add', `${store}/24`, 'dev', 'ul']);
  await under.run('ip', ['link', 'set', 'ul', 'up']);
  const etcd = etcdIn(t, under, store);
  await etcd.start();
  return { under, etcd };
}
