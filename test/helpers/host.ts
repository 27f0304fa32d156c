/**
 * Real host tests: a throwaway network namespace is the "test host"; the daemon runs inside it
 * (nsenter --net, so it shares our mount namespace and the namespaces it makes are visible here).
 * Everything is removed in teardown, and namespaces left by a killed earlier run are removed first.
 */
import type { Test } from 'tap';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';

export const NS_PREFIX = 'cnmdt';
const ROOT = new URL('../../', import.meta.url).pathname;

/** Why host tests cannot run here, or undefined when they can. */
export function hostTestsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'host tests need root (they create network namespaces)';
  if (!existsSync(`${ROOT}dist/cnmd.js`)) return 'dist/cnmd.js is missing: run `npm run build` first (npm test does)';
  return undefined;
}

/** Where a test daemon keeps its data and exec root: the test process's pid in the name, for removeStaleNamespaces(). */
const DAEMON_DIR = '/tmp/cnmd-test-';

/**
 * Everything of a test daemon's containers that outlives it, on purpose (their commands and shims, their
 * namespaces, /etc/netns entries, namespace files bound under its exec root): found through its store.
 */
export async function cleanupDaemonDir(dir: string, data = 'data'): Promise<void> {
  const dbPath = `${dir}/${data}/cnmd.db`;
  const rows: Array<{ id: string; pid: number; monitor_pid: number }> = [];
  if (existsSync(dbPath)) {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      rows.push(...(db.prepare('SELECT id, pid, monitor_pid FROM containers').all() as typeof rows));
    } finally {
      db.close();
    }
  }
  const ids = new Set(rows.map((r) => r.id));
  for (const r of rows) for (const pid of [r.monitor_pid, r.pid]) if (pid > 0) kill(-pid) || kill(pid);
  for (const pid of processesMarked(ids)) kill(pid);
  const names = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  for (const r of rows) {
    for (const n of names.filter((x) => x.endsWith(`-${r.id.slice(0, 12)}`))) {
      await killProcessesIn(n);
      await execa('ip', ['netns', 'del', n], { reject: false });
      rmSync(`/etc/netns/${n}`, { recursive: true, force: true });
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(`${dir}/`));
  for (const m of mounts.sort((a, b) => b.length - a.length)) await execa('umount', ['-l', m], { reject: false });
}

function kill(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** pids whose environment names one of these containers (CNMD_CONTAINER_ID) */
function processesMarked(ids: Set<string>): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const m = /(?:^|\0)CNMD_CONTAINER_ID=([0-9a-f]{64})(?:\0|$)/.exec(readFileSync(`/proc/${p}/environ`, 'latin1'));
      if (m && ids.has(m[1])) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Removes namespaces (and their /etc/netns files) named by earlier runs whose process is gone. */
export async function removeStaleNamespaces(): Promise<void> {
  for (const name of readdirSync('/tmp')) {
    const m = /^cnmd-test-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    await cleanupDaemonDir(`/tmp/${name}`);
    rmSync(`/tmp/${name}`, { recursive: true, force: true });
  }
  for (const name of existsSync('/etc/netns') ? readdirSync('/etc/netns') : []) {
    const m = new RegExp(`^${NS_PREFIX}(\\d+)x`).exec(name);
    if (m && !pidAlive(Number(m[1]))) rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
  if (!existsSync('/run/netns')) return;
  for (const name of readdirSync('/run/netns')) {
    const m = new RegExp(`^${NS_PREFIX}(\\d+)x`).exec(name);
    if (!m) continue;
    if (pidAlive(Number(m[1]))) continue;
    await killProcessesIn(name);
    await execa('ip', ['netns', 'del', name], { reject: false });
  }
}

/** Ends every process in a named namespace (a container's command outlives its daemon, on purpose). */
async function killProcessesIn(name: string): Promise<void> {
  const pids = (await execa('ip', ['netns', 'pids', name], { reject: false })).stdout.split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Netns {
  name: string;
  /** runs a command inside this namespace */
  run(file: string, args: string[], opts?: { reject?: boolean; input?: string }): Promise<{ stdout: string; exitCode: number; stderr: string }>;
}

export async function makeNetns(t: Test, label: string): Promise<Netns> {
  const name = `${NS_PREFIX}${process.pid}x${label}${randomBytes(2).toString('hex')}`;
  await execa('ip', ['netns', 'add', name]);
  t.teardown(() => execa('ip', ['netns', 'del', name], { reject: false }));
  const ns: Netns = {
    name,
    async run(file, args, opts = {}) {
      const r = await execa('nsenter', [`--net=/run/netns/${name}`, file, ...args], { reject: opts.reject ?? true, input: opts.input });
      return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
    },
  };
  await ns.run('ip', ['link', 'set', 'lo', 'up']);
  return ns;
}

/**
 * The firewall backend the host suites run their daemons with: nftables, or what CNMD_TEST_FIREWALL says
 * (the *-iptables suites run the same tests on the iptables backend).
 */
export const FIREWALL = (process.env.CNMD_TEST_FIREWALL ?? 'nftables') as 'nftables' | 'iptables';

/** Our firewall as text: iptables-save, or the nftables table of the instance ('' when it does not exist). */
export async function firewallText(host: Netns, instance = 'cnmd', backend = FIREWALL): Promise<string> {
  if (backend === 'iptables') return (await host.run('iptables-save', [])).stdout;
  return (await host.run('nft', ['list', 'table', 'inet', instance], { reject: false })).stdout;
}

/** The elements of the instance's nftables table: set name -> key text -> { value, owner }; undefined without the table. */
export async function nftElements(host: Netns, instance = 'cnmd'): Promise<Map<string, Map<string, { value: string; owner?: string }>> | undefined> {
  const r = await host.run('nft', ['-j', 'list', 'table', 'inet', instance], { reject: false });
  if (r.exitCode !== 0) return undefined;
  const { parseNftTable } = await import('../../src/host/nft.js');
  return new Map([...parseNftTable(r.stdout).sets].map(([name, set]) => [name, set.elements]));
}

/** The owners (12 hex) that have rules or elements in our firewall. */
export async function firewallOwners(host: Netns, instance = 'cnmd', backend = FIREWALL): Promise<Set<string>> {
  if (backend === 'iptables') {
    const text = await firewallText(host, instance, backend);
    return new Set([...text.matchAll(new RegExp(`--comment "?${instance}:([0-9a-f]{12})`, 'g'))].map((m) => m[1]));
  }
  const out = new Set<string>();
  for (const set of (await nftElements(host, instance))?.values() ?? []) for (const e of set.values()) if (e.owner) out.add(e.owner.split(':')[1]);
  return out;
}

export interface HttpReply {
  status: number;
  body: any;
  text: string;
}

export function unixRequest(socketPath: string, method: string, path: string, payload?: unknown): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const data = payload === undefined ? undefined : JSON.stringify(payload);
    const req = http.request(
      { socketPath, method, path, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

export interface DaemonProcess {
  socket: string;
  dir: string;
  request(method: string, path: string, payload?: unknown): Promise<HttpReply>;
  stop(): Promise<void>;
  start(): Promise<void>;
  output(): string;
  /** extra environment for the next start() */
  env: Record<string, string>;
  /** the flags of the next start() (a test may change them: another firewall backend, say) */
  flags: string[];
  /** sends a signal to the running daemon */
  signal(sig: NodeJS.Signals): void;
  /** resolves when the running daemon has exited (at once when none runs) */
  exited(): Promise<void>;
}

/** Starts `node dist/cnmd.js` inside ns with its own socket and data root. */
export async function startDaemonIn(t: Test, ns: Netns, flags: string[] = [], env: Record<string, string> = {}): Promise<DaemonProcess> {
  const dir = mkdtempSync(`${DAEMON_DIR}${process.pid}-`);
  const socket = `${dir}/cnmd.sock`;
  let child: ChildProcess | undefined;
  let log = '';
  const dp: DaemonProcess = {
    socket,
    dir,
    request: (m, p, b) => unixRequest(socket, m, p, b),
    output: () => log,
    env,
    flags: [...flags],
    signal: (sig) => void child?.kill(sig),
    exited: () => (!child || child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child!.once('exit', () => r()))),
    async start() {
      // --dns: names that are not containers' go to the test host's own loopback, never to the machine's resolvers
      const flags = dp.flags;
      const dns = flags.includes('--dns') ? [] : ['--dns', '127.0.0.1'];
      const firewall = flags.some((f) => f.startsWith('--firewall-backend')) ? [] : ['--firewall-backend', FIREWALL];
      child = spawn('nsenter', [`--net=/run/netns/${ns.name}`, process.execPath, '--max-semi-space-size=1', `${ROOT}dist/cnmd.js`, '-H', `unix://${socket}`, '--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, ...dns, ...firewall, ...flags], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...dp.env },
      });
      child.stdout!.on('data', (c) => (log += c));
      child.stderr!.on('data', (c) => (log += c));
      // a daemon that fails by itself (not stopped, not killed by the crash suite) says why in the test's output
      child.once('exit', (code) => {
        if (code) process.stderr.write(`cnmd exited with status ${code}; its last output:\n${log.slice(-6000)}\n`);
      });
      const deadline = Date.now() + 15_000;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`cnmd exited with ${child.exitCode}: ${log}`);
        try {
          if ((await unixRequest(socket, 'GET', '/_ping')).status === 200) return;
        } catch {
          /* not listening yet */
        }
        if (Date.now() > deadline) throw new Error(`cnmd did not start: ${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  t.teardown(async () => {
    await dp.stop();
    await cleanupDaemonDir(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  await dp.start();
  return dp;
}

/** The /run/netns name of a running container (from its SandboxKey), for `ip netns exec`. */
export async function netnsOf(d: DaemonProcess, container: string): Promise<string> {
  const r = await d.request('GET', `/v1.48/containers/${container}/json`);
  const key = String(r.body?.NetworkSettings?.SandboxKey ?? '');
  if (!key.startsWith('/run/netns/')) throw new Error(`${container} has no namespace of cnmd's: ${key || r.text}`);
  return key.slice('/run/netns/'.length);
}

/** The /run/netns name of a container from its inspect. */
export const nsOfInspect = (c: { NetworkSettings: { SandboxKey: string } }) => c.NetworkSettings.SandboxKey.replace(/^\/run\/netns\//, '');

/** A veth from the test host into a new namespace standing in for a container on bridge br. */
export async function attachSandbox(t: Test, host: Netns, br: string, cidr: string, gateway: string | undefined, label: string): Promise<Netns> {
  const c = await makeNetns(t, label);
  const hostSide = `v${randomBytes(4).toString('hex')}`;
  await host.run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c.name]);
  await host.run('ip', ['link', 'set', hostSide, 'master', br, 'up']);
  await c.run('ip', ['addr', 'add', cidr, 'dev', 'eth0']);
  await c.run('ip', ['link', 'set', 'eth0', 'up']);
  if (gateway) await c.run('ip', ['route', 'add', 'default', 'via', gateway]);
  return c;
}

export async function pings(from: Netns, address: string): Promise<boolean> {
  const r = await from.run('ping', ['-c', '1', '-W', '1', address], { reject: false });
  return r.exitCode === 0;
}

/** A container name unique to this run that removeStaleNamespaces() recognises if a run dies. */
export function uniqueName(label: string): string {
  return `${NS_PREFIX}${process.pid}x${label}${randomBytes(2).toString('hex')}`;
}

/**
 * "Another machine": a namespace on the test host's uplink. The test host is 192.0.2.1, the other
 * machine 192.0.2.2, and the other machine has no route to any container subnet.
 */
export async function makeWorld(t: Test, host: Netns): Promise<Netns> {
  const world = await makeNetns(t, 'w');
  await host.run('ip', ['link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', world.name]);
  await host.run('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'uplink']);
  await host.run('ip', ['link', 'set', 'uplink', 'up']);
  await world.run('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
  await world.run('ip', ['link', 'set', 'eth0', 'up']);
  return world;
}

/**
 * Unique container names for a test. What their containers leave (processes, namespaces, /etc/netns
 * entries) goes with the daemon that made them (startDaemonIn's teardown).
 */
export function containerNames(_t: Test): (label: string) => string {
  return (label) => uniqueName(label);
}

/**
 * The opening of every host test file: skips it (saying why) when host tests cannot run here, else
 * removes what killed earlier runs left behind. `why` defaults to the host-test requirements.
 */
export async function hostTestsReady(t: Test, why: string | undefined = hostTestsUnavailable()): Promise<boolean> {
  if (why) {
    t.plan(0, why);
    return false;
  }
  await removeStaleNamespaces();
  return true;
}

/** Runs cnmd's main in ns and returns how it ended (for daemons that must refuse to start). */
export async function runMain(ns: Netns, flags: string[]): Promise<{ exitCode: number | undefined; stderr: string }> {
  const r = await execa('nsenter', [`--net=/run/netns/${ns.name}`, process.execPath, `${ROOT}dist/cnmd.js`, ...flags], { reject: false, timeout: 20_000 });
  return { exitCode: r.exitCode, stderr: String(r.stderr) };
}

/** A test host on an underlay: a namespace whose eth0 (address/24) is a port of the bridge `ul` in under. */
export async function underlayHost(t: Test, under: Netns, label: string, address: string, port: string): Promise<Netns> {
  const ns = await makeNetns(t, label);
  await ns.run('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', under.name]);
  await under.run('ip', ['link', 'set', port, 'master', 'ul', 'up']);
  await ns.run('ip', ['addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await ns.run('ip', ['link', 'set', 'eth0', 'up']);
  return ns;
}
