/**
 * The overlay part of npm run bench: two test hosts and etcd in throwaway namespaces on an underlay
 * bridge. Measures how long an overlay network created on host 1 takes to be visible on host 2, and
 * how long a container started on host 2 takes to answer a ping from one on host 1 (start included).
 * Skipped, saying so, when etcd (Debian's etcd-server) is not installed.
 */
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { unixRequest, cleanupDaemonDir } from '../test/helpers/host.js';

const ROOT = new URL('../', import.meta.url).pathname;
const ETCD = '/usr/bin/etcd';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return true;
    await sleep(2);
  }
  return false;
}

export async function overlayBench(rounds: number, row: (name: string, xs: number[]) => string): Promise<void> {
  if (!existsSync(ETCD)) {
    console.log('\noverlay: skipped (etcd is not installed: apt-get install etcd-server)');
    return;
  }
  const tag = `cnmdbo${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync('/tmp/cnmd-bench-overlay-');
  const namespaces = [`${tag}u`, `${tag}1`, `${tag}2`];
  const children: ChildProcess[] = [];
  const inNs = (ns: string, args: string[]) => execa('nsenter', [`--net=/run/netns/${ns}`, ...args]);
  try {
    for (const ns of namespaces) await execa('ip', ['netns', 'add', ns]);
    const [u, ...hosts] = namespaces;
    await inNs(u, ['ip', 'link', 'set', 'lo', 'up']);
    await inNs(u, ['ip', 'link', 'add', 'ul', 'type', 'bridge']);
    await inNs(u, ['ip', 'addr', 'add', '10.98.0.100/24', 'dev', 'ul']);
    await inNs(u, ['ip', 'link', 'set', 'ul', 'up']);
    children.push(spawn('nsenter', [`--net=/run/netns/${u}`, ETCD, '--data-dir', `${dir}/etcd`, '--listen-client-urls', 'http://10.98.0.100:2379',
      '--advertise-client-urls', 'http://10.98.0.100:2379', '--listen-peer-urls', 'http://127.0.0.1:2380',
      '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster', 'default=http://127.0.0.1:2380'], { stdio: 'ignore' }));
    const socks: string[] = [];
    for (const [i, h] of hosts.entries()) {
      await inNs(h, ['ip', 'link', 'set', 'lo', 'up']);
      await inNs(h, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', u]);
      await inNs(u, ['ip', 'link', 'set', `p${i}`, 'master', 'ul', 'up']);
      await inNs(h, ['ip', 'addr', 'add', `10.98.0.${i + 1}/24`, 'dev', 'eth0']);
      await inNs(h, ['ip', 'link', 'set', 'eth0', 'up']);
      const sock = `${dir}/h${i}.sock`;
      socks.push(sock);
      children.push(spawn('nsenter', [`--net=/run/netns/${h}`, process.execPath, `${ROOT}dist/cnmd.js`, '-H', `unix://${sock}`, '--data-root', `${dir}/data${i}`,
        '--exec-root', `${dir}/exec${i}`, '--cluster-store', 'etcd://10.98.0.100:2379', '--cluster-advertise', `10.98.0.${i + 1}`, '--log-level', 'error', '--dns', '127.0.0.1'], { stdio: 'inherit' }));
    }
    const req = (i: number, m: string, p: string, b?: unknown) => unixRequest(socks[i], m, p, b);
    const joined = await until(async () => {
      try {
        return (await req(0, 'GET', '/info')).body.CnmdCluster?.Nodes?.length === 2;
      } catch {
        return false;
      }
    }, 20_000);
    if (!joined) throw new Error('the two bench hosts did not join the cluster');
    const visible: number[] = [];
    const crossPing: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const t0 = performance.now();
      const r = await req(0, 'POST', '/v1.48/networks/create', { Name: `ov${k}`, Driver: 'overlay', Attachable: true });
      if (r.status !== 201) throw new Error(r.text);
      if (!(await until(async () => (await req(1, 'GET', `/v1.48/networks/ov${k}`)).status === 200, 10_000))) throw new Error('never visible');
      visible.push(performance.now() - t0);
      const a = `${tag}a${k}`, b = `${tag}b${k}`;
      await req(0, 'POST', `/v1.48/containers/create?name=${a}`, { Image: 'none', HostConfig: { NetworkMode: `ov${k}` } });
      await req(0, 'POST', `/v1.48/containers/${a}/start`);
      const aNs = String((await req(0, 'GET', `/v1.48/containers/${a}/json`)).body.NetworkSettings.SandboxKey).replace('/run/netns/', '');
      const t1 = performance.now();
      await req(1, 'POST', `/v1.48/containers/create?name=${b}`, { Image: 'none', HostConfig: { NetworkMode: `ov${k}` } });
      await req(1, 'POST', `/v1.48/containers/${b}/start`);
      const ip = (await req(1, 'GET', `/v1.48/containers/${b}/json`)).body.NetworkSettings.Networks[`ov${k}`].IPAddress;
      const ok = await until(async () => (await execa('ip', ['netns', 'exec', aNs, 'ping', '-c', '1', '-W', '0.1', ip], { reject: false })).exitCode === 0, 10_000);
      if (!ok) throw new Error('no ping across hosts');
      crossPing.push(performance.now() - t1);
      for (const [i, c] of [[0, a], [1, b]] as const) await req(i, 'DELETE', `/v1.48/containers/${c}?force=1`);
      await req(0, 'DELETE', `/v1.48/networks/ov${k}`);
    }
    console.log(`\noverlay, two hosts and etcd on an underlay bridge, ${rounds} rounds:`);
    console.log(row('create -> visible on B', visible));
    console.log(row('start on B -> A pings', crossPing));
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode !== null) continue;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await gone;
    }
    // what containers of an interrupted run left: found through each daemon's store
    for (const i of [0, 1]) await cleanupDaemonDir(dir, `data${i}`);
    for (const ns of namespaces) await execa('ip', ['netns', 'del', ns], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  }
}
