/**
 * One gate for host text: every user-supplied field, with payloads that would break out of a batch
 * line, a rule, a file or a path, goes through create, connect and start. A field that reaches host
 * text is refused (4xx) and leaves nothing made; no field's payload ever shows in the text cnmd
 * gives ip, bridge, iptables-restore, sysctl or writes into a container's files.
 */
import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';
import { batchLine, ruleLine, sysctlKey } from '../../src/host/text-gate.js';

const PAYLOADS = ['QZ\nlink del lo', 'QZ\rx', 'QZ"', "QZ'", 'QZ#c', 'QZ QZ', '../QZ', 'QZ' + 'a'.repeat(4096), 'QZé', 'QZ\\x'];

/** The text the host would get: batch inputs, rule sets, sysctls, files written. */
function hostText(d: TestDaemon, from: number): string {
  return d.exec.calls.slice(from)
    .filter((c) => ['ip', 'bridge', 'iptables-restore', 'sysctl', 'write', 'nsenter', 'mount', 'unshare'].includes(c.file) && !(c.file === 'nsenter' && c.args.includes('--')))
    .map((c) => [c.file, ...c.args, c.input ?? ''].join(' '))
    .join('\n');
}

type Step = (d: TestDaemon, p: string, tag: string) => Promise<{ status: number; body: any }>;

/** The body with $P inside every string (keys too) replaced by the payload. */
const fill = (body: unknown, p: string) => JSON.parse(JSON.stringify(body).replaceAll('$P', () => JSON.stringify(p).slice(1, -1)));
const net = (body: Record<string, unknown>): Step => async (d, p, tag) => call(d, 'POST', '/networks/create', fill({ Name: `n${tag}`, ...body }, p));
const ctr = (body: Record<string, unknown>, name?: string): Step => async (d, p, tag) => {
  const r = await call(d, 'POST', `/containers/create?name=${encodeURIComponent(name === '$P' ? p : `c${tag}`)}`, fill({ Image: 'busybox', ...body }, p));
  if (r.status !== 201) return r;
  const s = await call(d, 'POST', `/containers/${r.body.Id}/start`);
  return s.status === 204 ? r : s;
};
const connect = (settings: Record<string, unknown>): Step => async (d, p, tag) => {
  await call(d, 'POST', '/networks/create', { Name: `k${tag}`, IPAM: { Config: [{ Subnet: '10.77.0.0/24' }] } });
  const c = await call(d, 'POST', `/containers/create?name=k${tag}`, { Image: 'busybox' });
  await call(d, 'POST', `/containers/${c.body.Id}/start`);
  return call(d, 'POST', `/networks/k${tag}/connect`, fill({ Container: c.body.Id, EndpointConfig: settings }, p));
};

/** Fields that reach host text: refused. */
const GATED: Record<string, Step> = {
  'network Name (bridge name)': net({ Options: { 'com.docker.network.bridge.name': '$P' } }),
  'network MTU': net({ Options: { 'com.docker.network.driver.mtu': '$P' } }),
  'network Driver': net({ Driver: '$P' }),
  'macvlan parent': net({ Driver: 'macvlan', Options: { parent: '$P' } }),
  'IPAM Subnet': net({ IPAM: { Config: [{ Subnet: '$P' }] } }),
  'IPAM Gateway': net({ IPAM: { Config: [{ Subnet: '10.66.0.0/24', Gateway: '$P' }] } }),
  'IPAM IPRange': net({ IPAM: { Config: [{ Subnet: '10.66.0.0/24', IPRange: '$P' }] } }),
  'IPAM AuxiliaryAddresses': net({ IPAM: { Config: [{ Subnet: '10.66.0.0/24', AuxiliaryAddresses: { a: '$P' } }] } }),
  Hostname: ctr({ Hostname: '$P' }),
  Domainname: ctr({ Domainname: '$P' }),
  User: ctr({ User: '$P', Cmd: ['true'] }),
  WorkingDir: ctr({ WorkingDir: '$P', Cmd: ['true'] }),
  Dns: ctr({ HostConfig: { Dns: ['$P'] } }),
  DnsSearch: ctr({ HostConfig: { DnsSearch: ['$P'] } }),
  DnsOptions: ctr({ HostConfig: { DnsOptions: ['$P'] } }),
  'ExtraHosts name': ctr({ HostConfig: { ExtraHosts: ['$P:10.1.1.1'] } }),
  'ExtraHosts address': ctr({ HostConfig: { ExtraHosts: ['h:$P'] } }),
  MacAddress: ctr({ MacAddress: '$P' }),
  SandboxKey: ctr({ SandboxKey: '$P' }),
  'PortBindings HostIp': ctr({ ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '$P', HostPort: '8080' }] } } }),
  'PortBindings HostPort': ctr({ ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '$P' }] } } }),
  'ExposedPorts key': ctr({ ExposedPorts: { $P: {} } }),
  Links: ctr({ HostConfig: { Links: ['$P:db'] } }),
  'Binds source': ctr({ HostConfig: { Binds: ['$P:/data'] } }),
  GroupAdd: ctr({ HostConfig: { GroupAdd: ['$P'] }, Cmd: ['true'] }),
  'endpoint Aliases': connect({ Aliases: ['$P'] }),
  'endpoint IPv4Address': connect({ IPAMConfig: { IPv4Address: '$P' } }),
  'endpoint MacAddress': connect({ MacAddress: '$P' }),
  'endpoint DriverOpts': connect({ DriverOpts: { $P: '1' } }),
  // last: a long name of plain characters is taken (as Docker takes it) and later steps would link to it
  'container name': ctr({}, '$P'),
};
/** Docker takes names of any length: the long payload of plain characters is a name like any other. */
const LONG_TAKEN = new Set(['container name']);

/** Fields that never reach host text: taken, and still nowhere in it. */
const FREE: Record<string, Step> = {
  'network Name': net({ Name: '$P', Labels: { a: '$P' } }),
  'network Options key': net({ Options: { $P: '1' } }),
  Labels: ctr({ Labels: { l: '$P' } }),
  Env: ctr({ Env: ['X=$P'], Cmd: ['true'] }),
  Cmd: ctr({ Cmd: ['echo', '$P'] }),
};

t.test('the corpus: every field, every payload', async (t) => {
  let n = 0;
  for (const [i, p] of PAYLOADS.entries()) {
    const d = await buildTestDaemon(t);
    for (const [field, step] of Object.entries({ ...GATED, ...FREE })) {
      const tag = `${i}x${n++}`;
      const before = d.exec.calls.length;
      const networks = (await call(d, 'GET', '/networks')).body.length;
      const r = await step(d, p, tag);
      const what = `${field} = ${JSON.stringify(p.slice(0, 24))}`;
      if (LONG_TAKEN.has(field) && /^QZa+$/.test(p)) {
        t.equal(r.status, 201, `${what}: a long name is taken`);
      } else if (field in GATED) {
        t.ok(r.status >= 400 && r.status < 500, `${what}: refused (${r.status} ${String(r.body?.message ?? '').slice(0, 80)})`);
        if (!field.startsWith('endpoint')) t.equal((await call(d, 'GET', '/networks')).body.length, networks, `${what}: no network left half-made`);
      } else {
        t.ok(r.status < 300, `${what}: taken (${r.status} ${String(r.body?.message ?? '').slice(0, 80)})`);
      }
      t.notOk(hostText(d, before).includes('QZ'), `${what}: not in the host's text`);
    }
  }
});

t.test('the renderer refuses what cnmd does not write itself', async (t) => {
  t.equal(batchLine('ip', 'link add name br-1 type bridge'), 'link add name br-1 type bridge');
  for (const bad of ['link del lo\nlink del eth0', 'link set x alias "a b"', 'link add x # comment', "addr add 'x'", 'a\\b', 'x\r']) {
    t.throws(() => batchLine('ip', bad), /^refusing ip -batch text/, JSON.stringify(bad));
  }
  t.equal(ruleLine('-A CNMD-FORWARD -i br-1 -j ACCEPT -m comment --comment "cnmd:0123456789ab"'), '-A CNMD-FORWARD -i br-1 -j ACCEPT -m comment --comment "cnmd:0123456789ab"', 'the owner comment is ours');
  t.throws(() => ruleLine('-A CNMD-FORWARD -m comment --comment "x" -j ACCEPT'), /refusing iptables-restore/, 'any other quoted text is not');
  t.throws(() => ruleLine('-A CNMD-FORWARD -i br"1 -j ACCEPT'), /refusing/);
  t.throws(() => ruleLine('-A X -j ACCEPT\nCOMMIT'), /refusing/);
  t.equal(sysctlKey('net.ipv4.conf.br-1.route_localnet'), 'net.ipv4.conf.br-1.route_localnet');
  t.equal(sysctlKey('net/ipv4/conf/eth0.10/forwarding'), 'net/ipv4/conf/eth0.10/forwarding');
  for (const bad of ['net/ipv4/../../../etc/passwd', 'net.ipv4.conf.a b.x', 'net/ipv4/conf/x\n/forwarding']) t.throws(() => sysctlKey(bad), /^refusing sysctl/, bad);
});

t.test('a bridge name with a dot gets the slashed sysctl path; with a quote, a 400', async (t) => {
  const d = await buildTestDaemon(t);
  t.equal((await call(d, 'POST', '/networks/create', { Name: 'dotted', Options: { 'com.docker.network.bridge.name': 'br.dot' } })).status, 201);
  t.ok(d.exec.calls.some((c) => c.file === 'sysctl' && c.args[1] === 'net/ipv4/conf/br.dot/route_localnet=1'), 'sysctl key with slashes');
  const q = await call(d, 'POST', '/networks/create', { Name: 'quoted', Options: { 'com.docker.network.bridge.name': 'br"q' } });
  t.same([q.status, q.body.message], [400, 'invalid bridge name "br"q"']);
});

t.test('SandboxKey: an existing network namespace that is not the daemon\'s own', async (t) => {
  const d = await buildTestDaemon(t);
  const own = await call(d, 'POST', '/containers/create?name=own', { Image: 'x', SandboxKey: '/proc/1/ns/net' });
  t.same([own.status, own.body.message], [400, "SandboxKey /proc/1/ns/net is the network namespace of cnmd itself (the host's): cnmd does not configure it"]);
  const file = await call(d, 'POST', '/containers/create?name=file', { Image: 'x', SandboxKey: '/etc/hosts' });
  t.same([file.status, file.body.message], [400, 'SandboxKey /etc/hosts: not a network namespace (a file bound by ip netns add, or /proc/PID/ns/net)']);
  t.equal((await call(d, 'GET', '/containers/json?all=1')).body.length, 0, 'nothing stored');
  d.exec.netns.set('/proc/4242/ns/net', 'ns-4242');
  const ok = await call(d, 'POST', '/containers/create?name=pid', { Image: 'x', SandboxKey: '/proc/4242/ns/net' });
  t.equal(ok.status, 201);
  d.exec.netns.delete('/proc/4242/ns/net');
  const gone = await call(d, 'POST', '/containers/pid/start');
  t.same([gone.status, gone.body.message], [400, 'SandboxKey /proc/4242/ns/net: not a network namespace (a file bound by ip netns add, or /proc/PID/ns/net)'], 'checked again at start: the process may be gone');
});
