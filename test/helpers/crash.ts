/**
 * The crash suite's harness: for an operation and each host step k, the daemon kills itself with
 * SIGKILL right after step k (k = 0: after the store transaction, before any host step), is started
 * again, and must be consistent: the operation completed or left no trace, the host matches the store
 * (an empty plan), no orphan process, namespace or /etc/netns entry, no leaked address or subnet.
 * The hook is src/host/fault.ts (CNMD_FAULT_CRASH_AFTER, armed by SIGUSR2 once the setup is done).
 */
import type { Test } from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { makeNetns, startDaemonIn, containerNames, firewallOwners, FIREWALL, type DaemonProcess, type HttpReply, type Netns } from './host.js';

export const V = '/v1.48';

export interface Operation {
  name: string;
  /** what the test host needs first (a parent link for macvlan) */
  host?: (ns: Netns) => Promise<void>;
  setup(d: DaemonProcess, c: string): Promise<void>;
  run(d: DaemonProcess, c: string): Promise<HttpReply>;
  /** 'before' or 'after' when the API shows one of the two, else what it shows */
  outcome(d: DaemonProcess, c: string): Promise<string>;
}

export async function ok(r: Promise<HttpReply>, what: string): Promise<HttpReply> {
  const reply = await r;
  if (reply.status >= 300) throw new Error(`${what}: ${reply.status} ${reply.text}`);
  return reply;
}

export const createNet = (d: DaemonProcess, name: string, extra: Record<string, unknown> = {}) =>
  ok(d.request('POST', `${V}/networks/create`, { Name: name, ...extra }), `create ${name}`);
/** The test's stand-in for a physical link, the parent of macvlan networks: a veth pair of its own. */
const PARENT = 'eth0';
export const withParent = async (ns: Netns) => {
  await ns.run('ip', ['link', 'add', PARENT, 'type', 'veth', 'peer', 'name', `${PARENT}p`]);
  await ns.run('ip', ['link', 'set', PARENT, 'up']);
};
export const macvlan = { Driver: 'macvlan', Options: { parent: PARENT } };
/** links the test made itself */
const ours = (l: { ifname: string }) => l.ifname !== PARENT && l.ifname !== `${PARENT}p`;
export const createCtr = (d: DaemonProcess, c: string, net: string) =>
  ok(
    d.request('POST', `${V}/containers/create?name=${c}`, {
      Image: 'x',
      Cmd: ['sleep', '600'],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { NetworkMode: net, PortBindings: { '80/tcp': [{ HostPort: '' }] } },
    }),
    `create ${c}`,
  );
export const start = (d: DaemonProcess, c: string) => ok(d.request('POST', `${V}/containers/${c}/start`), `start ${c}`);
export const networksOf = async (d: DaemonProcess, c: string) => {
  const r = await d.request('GET', `${V}/containers/${c}/json`);
  return r.status === 200 ? Object.keys(r.body.NetworkSettings.Networks ?? {}).sort().join(',') : '';
};
export const stateOf = async (d: DaemonProcess, c: string) => {
  const r = await d.request('GET', `${V}/containers/${c}/json`);
  return r.status === 404 ? 'gone' : String(r.body.State.Status);
};
/** The common setup: networks made, then c created on the first and started. */
export const running = (...nets: string[]) => async (d: DaemonProcess, c: string) => {
  for (const n of nets) await createNet(d, n);
  await createCtr(d, c, nets[0]);
  await start(d, c);
};
/** Outcomes judged by what the API shows of container c: its state, or its networks. */
export const startedOn = (net: string) => async (d: DaemonProcess, c: string) => {
  const [s, nets] = [await stateOf(d, c), await networksOf(d, c)];
  return s === 'running' && nets === net ? 'after' : s === 'created' ? 'before' : `${s} on ${nets}`;
};
export const networksBecome = (before: string, after: string) => async (d: DaemonProcess, c: string) => {
  const nets = await networksOf(d, c);
  return nets === after ? 'after' : nets === before ? 'before' : nets;
};
export const exists = async (d: DaemonProcess, net: string) => (await d.request('GET', `${V}/networks/${net}`)).status === 200;

/** nsfs mount points below dir (containers' mount and UTS namespace files) */
function nsMountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(' - nsfs ')).map((l) => l.split(' ')[4]).filter((p) => p?.startsWith(dir + '/'));
}

/** pids of processes whose environment names this container */
function processesOf(id: string): number[] {
  const want = `CNMD_CONTAINER_ID=${id}`;
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(want)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The lowest address of the network not held by an endpoint the API shows (its gateway is .1). */
function lowestFree(subnet: string, used: string[]): string {
  const base = subnet.split('/')[0].split('.').map(Number);
  for (let i = 2; ; i++) {
    const ip = [base[0], base[1], base[2] + (i >> 8), i & 255].join('.');
    if (!used.includes(ip)) return ip;
  }
}

/** The invariants of a consistent daemon and host, through the API and on the test host. */
async function checkConsistent(t: Test, d: DaemonProcess, host: Netns, cid: string | undefined, name: (l: string) => string): Promise<void> {
  const state = (await d.request('GET', '/cnmd/v1/state?plan=1')).body;
  t.same(state.Plan, [], 'the host matches the store: nothing left to apply');
  const containers = (await d.request('GET', `${V}/containers/json?all=1`)).body as Array<{ Id: string; Names: string[]; State: string }>;
  const networks = (await d.request('GET', `${V}/networks`)).body as Array<{ Name: string; Driver: string }>;
  const bridgeNets = new Set(networks.filter((n) => n.Driver === 'bridge').map((n) => n.Name));
  let endpoints = 0;
  const mounts = nsMountsUnder(`${d.dir}/exec`);
  for (const ctr of containers) {
    const nm = `cnmd-${ctr.Id.slice(0, 12)}`;
    const info = (await d.request('GET', `${V}/containers/${ctr.Id}/json`)).body;
    const running = ctr.State === 'running';
    const pids = processesOf(ctr.Id);
    t.same(pids, running ? [info.State.Pid] : [], `${running ? 'one process, the recorded one' : 'no process'} for a ${ctr.State} container`);
    t.equal(existsSync(`/run/netns/${nm}`), running, `its namespace exists only while running`);
    t.equal(existsSync(`/etc/netns/${nm}`), running, `its /etc/netns entry exists only while running`);
    const own = mounts.filter((m) => m.includes(`/exec/${ctr.Id.slice(0, 12)}/`)).sort();
    t.same(own.map((m) => m.split('/').pop()), running && pids.length ? ['mnt', 'uts'] : [], 'its mount and UTS namespace files exist only while its command runs');
    if (running) endpoints += Object.keys(info.NetworkSettings.Networks).filter((n) => bridgeNets.has(n)).length;
  }
  if (cid && !containers.some((x) => x.Id === cid)) {
    const nm = `cnmd-${cid.slice(0, 12)}`;
    t.notOk(existsSync(`/run/netns/${nm}`) || existsSync(`/etc/netns/${nm}`), 'a removed container leaves no namespace or /etc/netns entry');
    t.same(processesOf(cid), [], 'nor a process');
    t.same(mounts.filter((m) => m.includes(`/exec/${cid.slice(0, 12)}/`)), [], 'nor a namespace file');
    t.notOk(existsSync(`${d.dir}/data/containers/${cid}`), 'nor its directory');
  }
  const links = (JSON.parse((await host.run('ip', ['-json', '-details', 'link', 'show'])).stdout) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>).filter(ours);
  t.equal(links.filter((l) => l.linkinfo?.info_kind === 'veth').length, endpoints, 'one host-side veth per endpoint on a bridge network');
  t.equal(links.filter((l) => l.linkinfo?.info_kind === 'bridge').length, networks.filter((n) => n.Driver === 'bridge').length, 'one bridge per bridge network');

  // No leaked address: a new container on each user network gets the lowest address no endpoint holds.
  for (const n of networks.filter((x) => /^n\d$/.test(x.Name))) {
    const full = (await d.request('GET', `${V}/networks/${n.Name}`)).body;
    const used = Object.values(full.Containers as Record<string, { IPv4Address: string }>).map((e) => e.IPv4Address.split('/')[0]);
    const probe = name('p');
    await ok(d.request('POST', `${V}/containers/create?name=${probe}`, { Image: 'x', HostConfig: { NetworkMode: n.Name } }), 'probe');
    await start(d, probe);
    const got = (await d.request('GET', `${V}/containers/${probe}/json`)).body.NetworkSettings.Networks[n.Name].IPAddress;
    t.equal(got, lowestFree(full.IPAM.Config[0].Subnet, used), `no address of ${n.Name} leaked`);
  }
  // Everything goes through the API; then no subnet leaked and nothing of ours is left on the host.
  for (const ctr of (await d.request('GET', `${V}/containers/json?all=1`)).body as Array<{ Id: string }>) {
    await ok(d.request('DELETE', `${V}/containers/${ctr.Id}?force=1`), 'rm -f');
  }
  for (const n of networks.filter((x) => /^n\d$/.test(x.Name))) await ok(d.request('DELETE', `${V}/networks/${n.Name}`), 'network rm');
  const probeNet = await createNet(d, 'probe');
  const subnet = (await d.request('GET', `${V}/networks/${probeNet.body.Id}`)).body.IPAM.Config[0].Subnet;
  t.equal(subnet, '172.18.0.0/16', 'no subnet leaked: a new network gets the first pool again');
  await ok(d.request('DELETE', `${V}/networks/probe`), 'rm probe');
  const bridgeId = (await d.request('GET', `${V}/networks/bridge`)).body.Id as string;
  t.same([...(await firewallOwners(host))], [bridgeId.slice(0, 12)], `no rule or element of a network or container is left in the firewall (${FIREWALL}) but the default bridge's`);
  if (FIREWALL === 'iptables') {
    const rules = (await host.run('iptables-save', [])).stdout;
    t.same([...new Set(rules.match(/CNMD-N-[0-9a-f]+/g))], [`CNMD-N-${bridgeId.slice(0, 12)}`], 'no per-network chain is left but the default bridge\'s');
  }
  const left = (JSON.parse((await host.run('ip', ['-json', '-details', 'link', 'show'])).stdout) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>).filter(ours);
  t.same(left.filter((l) => l.linkinfo?.info_kind === 'veth' || (l.linkinfo?.info_kind === 'bridge' && l.ifname !== 'cnmd0')).map((l) => l.ifname), [], 'no bridge or veth is left');
}

const stepLines = (log: string) => log.split('\n').filter((l) => l.startsWith('cnmd fault step '));

/** Runs op with the daemon set to die after step k; returns the steps it logged. */
async function runCase(t: Test, op: Operation, k: number, check: boolean): Promise<string[]> {
  const name = containerNames(t);
  const host = await makeNetns(t, 'h');
  await op.host?.(host);
  // the hook is set but counts nothing until armed, after the setup
  const d = await startDaemonIn(t, host, ['--reconcile-interval', '0'], { CNMD_FAULT_CRASH_AFTER: String(k) });
  const c = name('c');
  await op.setup(d, c);
  const made = await d.request('GET', `${V}/containers/${c}/json`);
  const cid = made.status === 200 ? (made.body.Id as string) : undefined;
  d.signal('SIGUSR2');
  for (let i = 0; i < 100 && !d.output().includes('cnmd fault armed'); i++) await new Promise((r) => setTimeout(r, 10));
  const reply = await op.run(d, c).catch((e: Error) => ({ status: 0, text: e.message }) as HttpReply);
  if (!check) {
    await new Promise((r) => setTimeout(r, 300));
    t.ok(reply.status < 300, `${op.name} succeeds unharmed: ${reply.status} ${reply.text ?? ''}`);
    return stepLines(d.output());
  }
  // bounded: an operation that took fewer steps this time would otherwise leave the daemon alive
  const died = await Promise.race([d.exited().then(() => true), new Promise<boolean>((r) => setTimeout(r, 20_000, false).unref())]);
  const steps = stepLines(d.output());
  if (!died) {
    t.fail(`the daemon never reached step ${k}: ${op.name} took ${steps.length} steps this time:\n${steps.join('\n')}`);
    return steps;
  }
  t.equal(steps.length, k, `the daemon died right after step ${k}`);
  d.env = {};
  await d.start();
  t.match(await op.outcome(d, c), /^(before|after)$/, 'the operation completed or left no trace');
  await checkConsistent(t, d, host, cid, name);
  return steps;
}

/** One subtest per operation: a census of its host steps, then a crash after each of them. */
export function crashSuite(t: Test, operations: Operation[]): void {
  let cases = 0;
  for (const op of operations) {
    t.test(op.name, async (t) => {
      let steps: string[] = [];
      await t.test('census: the host steps it takes', async (t) => {
        steps = await runCase(t, op, 1000, false);
        t.ok(steps.length > 0, `${steps.length} steps:\n${steps.join('\n')}`);
      });
      await t.test('crashes', async (t) => {
        t.jobs = 4; // four cases at a time, each in its own test host
        for (let k = 0; k <= steps.length; k++) {
          const what = k ? steps[k - 1].replace(/^cnmd fault step \d+: /, '').slice(0, 70) : '(before any)';
          void t.test(`killed after step ${k}: ${what}`, { buffered: true, timeout: 120_000 }, (t) => runCase(t, op, k, true).then(() => void cases++));
        }
      });
    });
  }
  t.teardown(() => console.log(`# crash suite: ${cases} (operation, step) cases`));
}
