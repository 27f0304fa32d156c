/**
 * Sandboxes on a real kernel: cnmd in a throwaway test-host namespace makes the container namespaces
 * (/run/netns/<instance>-<12 hex>, so `ip netns exec` works) and the test pings between them.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { existsSync, statSync } from 'node:fs';
import { hostTestsReady, makeNetns, startDaemonIn, containerNames, netnsOf, type DaemonProcess } from '../helpers/host.js';

if (await hostTestsReady(t)) {
  await tests();
}

/** container name -> its namespace's name (as SandboxKey shows it); other names are namespaces the test made */
const netnsOfName = new Map<string, string>();
const nsName = (n: string) => netnsOfName.get(n) ?? n;
const remember = async (d: DaemonProcess, n: string) => netnsOfName.set(n, await netnsOf(d, n));
const inNs = (n: string, args: string[]) => execa('ip', ['netns', 'exec', nsName(n), ...args], { reject: false });
const pings = async (ns: string, ip: string) => (await inNs(ns, ['ping', '-c', '1', '-W', '1', ip])).exitCode === 0;
const addrs = async (ns: string) =>
  (JSON.parse((await inNs(ns, ['ip', '-json', 'addr', 'show'])).stdout) as Array<{ ifname: string; flags: string[]; addr_info: Array<{ local: string; scope: string }> }>)
    .map((l) => ({ name: l.ifname, up: l.flags.includes('UP'), ips: l.addr_info.filter((a) => a.scope !== 'link').map((a) => a.local) }));

async function setup(t: Test, flags: string[] = []) {
  const name = containerNames(t);
  const host = await makeNetns(t, 'h');
  const d = await startDaemonIn(t, host, flags);
  return { host, d, name };
}

async function netCreate(d: DaemonProcess, name: string, extra: Record<string, unknown> = {}) {
  const r = await d.request('POST', '/v1.48/networks/create', { Name: name, ...extra });
  if (r.status !== 201) throw new Error(r.text);
  return r.body.Id as string;
}

async function runCtr(d: DaemonProcess, name: string, network: string, extra: Record<string, unknown> = {}) {
  const c = await d.request('POST', `/v1.48/containers/create?name=${name}`, { Image: 'busybox', HostConfig: { NetworkMode: network }, ...extra });
  if (c.status !== 201) throw new Error(c.text);
  const s = await d.request('POST', `/v1.48/containers/${name}/start`);
  if (s.status !== 204) throw new Error(s.text);
  const info = (await d.request('GET', `/v1.48/containers/${name}/json`)).body;
  if (String(info.NetworkSettings.SandboxKey).startsWith('/run/netns/')) netnsOfName.set(name, info.NetworkSettings.SandboxKey.slice('/run/netns/'.length));
  return info;
}

const ipOn = (c: any, net: string) => c.NetworkSettings.Networks[net].IPAddress as string;

async function tests() {
  t.test('sandboxes on one network talk; on two networks they do not; internal has no default route', async (t) => {
    const { d, name } = await setup(t);
    await netCreate(d, 'n1');
    await netCreate(d, 'n2');
    await netCreate(d, 'int', { Internal: true });
    const a = name('a'), b = name('b'), c = name('c'), i = name('i');
    const ca = await runCtr(d, a, 'n1');
    const cb = await runCtr(d, b, 'n1');
    const cc = await runCtr(d, c, 'n2');
    await runCtr(d, i, 'int');
    t.same(await addrs(a), [{ name: 'lo', up: true, ips: ['127.0.0.1', '::1'] }, { name: 'eth0', up: true, ips: [ipOn(ca, 'n1')] }]);
    const link = JSON.parse((await inNs(a, ['ip', '-json', 'link', 'show', 'eth0'])).stdout)[0];
    t.equal(link.address, ca.NetworkSettings.Networks.n1.MacAddress, 'the MAC inside is the one inspect shows');
    t.equal((await inNs(a, ['sysctl', '-n', 'net.ipv4.ping_group_range'])).stdout.replace(/\s+/g, ' '), '0 2147483647', 'Docker\'s container sysctls');
    t.ok(await pings(a, ipOn(cb, 'n1')), 'same network: ping works');
    t.ok(await pings(a, ca.NetworkSettings.Networks.n1.Gateway), 'the gateway answers');
    t.notOk(await pings(a, ipOn(cc, 'n2')), 'other network: no traffic');
    t.match((await inNs(a, ['ip', 'route', 'show', 'default'])).stdout, `default via ${ca.NetworkSettings.Networks.n1.Gateway} dev eth0`);
    t.equal((await inNs(i, ['ip', 'route', 'show', 'default'])).stdout, '', 'an internal network gives no default route');
  });

  t.test('connect adds eth1 at once and traffic flows over it; disconnect removes it; stop frees the address', async (t) => {
    const { d, name } = await setup(t);
    await netCreate(d, 'front');
    await netCreate(d, 'back');
    const web = name('web'), db = name('db');
    await runCtr(d, web, 'front');
    const cdb = await runCtr(d, db, 'back');
    t.notOk(await pings(web, ipOn(cdb, 'back')));
    const r = await d.request('POST', '/v1.48/networks/back/connect', { Container: web, EndpointConfig: { Aliases: ['w'] } });
    t.equal(r.status, 200, r.text);
    t.same((await addrs(web)).map((l) => l.name), ['lo', 'eth0', 'eth1'], 'eth1 is there when connect returns');
    t.ok(await pings(web, ipOn(cdb, 'back')), 'and traffic flows over it');
    t.equal((await d.request('POST', '/v1.48/networks/back/disconnect', { Container: web })).status, 200);
    t.same((await addrs(web)).map((l) => l.name), ['lo', 'eth0']);
    t.notOk(await pings(web, ipOn(cdb, 'back')));

    t.equal((await d.request('POST', `/v1.48/containers/${db}/stop`)).status, 204);
    t.notOk((await execa('ip', ['netns', 'list'])).stdout.includes(nsName(db)), 'the namespace is gone');
    const again = name('again');
    t.equal(ipOn(await runCtr(d, again, 'back'), 'back'), ipOn(cdb, 'back'), 'the stopped container\'s address is handed out again');
  });

  t.test('none, host and container:<name> modes', async (t) => {
    const { host, d, name } = await setup(t);
    const none = name('none');
    await runCtr(d, none, 'none');
    t.same(await addrs(none), [{ name: 'lo', up: true, ips: ['127.0.0.1', '::1'] }], 'none: lo only, and up');
    const h = name('host');
    const ch = await runCtr(d, h, 'host');
    t.notOk((await execa('ip', ['netns', 'list'])).stdout.includes(ch.Id.slice(0, 12)), 'host: no namespace of its own');
    t.match(ch.NetworkSettings.SandboxKey, /^\/proc\/\d+\/ns\/net$/);
    await netCreate(d, 'n');
    const main = name('main');
    await runCtr(d, main, 'n');
    const side = name('side');
    const r = await d.request('POST', `/v1.48/containers/create?name=${side}`, { Image: 'x', Cmd: ['ip', '-o', '-4', 'addr', 'show', 'eth0'], HostConfig: { NetworkMode: `container:${main}` } });
    t.equal(r.status, 201);
    t.equal((await d.request('POST', `/v1.48/containers/${side}/start`)).status, 204);
    const waited = await d.request('POST', `/v1.48/containers/${side}/wait`);
    t.equal(waited.body.StatusCode, 0);
    const logs = await d.request('GET', `/v1.48/containers/${side}/logs?stdout=1`);
    t.match(logs.text, / eth0 +inet 172\.18\.0\.2\/16/, 'its process ran in main\'s namespace');
    void host;
  });

  t.test('an adopted namespace gets its endpoint and survives docker rm', async (t) => {
    const { d, name } = await setup(t);
    await netCreate(d, 'n');
    const mine = (await makeNetns(t, 'adopt')).name;
    const other = name('peer');
    const cOther = await runCtr(d, other, 'n');
    const ctr = name('ctr');
    const c = await d.request('POST', `/v1.48/containers/create?name=${ctr}`, { Image: 'x', SandboxKey: `/run/netns/${mine}`, HostConfig: { NetworkMode: 'n' } });
    t.equal(c.status, 201);
    t.equal((await d.request('POST', `/v1.48/containers/${ctr}/start`)).status, 204);
    t.same((await addrs(mine)).map((l) => l.name), ['lo', 'eth0']);
    t.ok(await pings(mine, ipOn(cOther, 'n')), 'traffic from the adopted namespace');
    t.equal((await d.request('DELETE', `/v1.48/containers/${ctr}?force=1`)).status, 204);
    t.ok((await execa('ip', ['netns', 'list'])).stdout.includes(mine), 'the namespace is still there');
    t.same((await addrs(mine)).map((l) => l.name), ['lo'], 'without our endpoint');
  });

  t.test('a daemon restart keeps sandboxes, endpoints and processes; a deleted veth is repaired', async (t) => {
    const { host, d, name } = await setup(t);
    await netCreate(d, 'n');
    const a = name('a'), b = name('b');
    const ca = await d.request('POST', `/v1.48/containers/create?name=${a}`, { Image: 'x', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'n' } });
    t.equal(ca.status, 201);
    await d.request('POST', `/v1.48/containers/${a}/start`);
    await remember(d, a);
    const cb = await runCtr(d, b, 'n');
    const pid = (await d.request('GET', `/v1.48/containers/${a}/json`)).body.State.Pid;
    t.ok(pid > 0);
    await d.stop();
    // someone deletes b's host-side veth (which takes its eth0 along)
    const veth = JSON.parse((await host.run('ip', ['-json', 'link', 'show', 'type', 'veth'])).stdout).find((l: { ifalias?: string }) => l.ifalias?.includes(cb.Id))!.ifname;
    await host.run('ip', ['link', 'del', veth]);
    await d.start();
    t.match((await d.request('GET', `/v1.48/containers/${a}/json`)).body.State, { Running: true, Pid: pid }, 'the process is adopted again');
    t.ok(await pings(a, ipOn(cb, 'n')), 'b\'s endpoint is back, with its address');
    t.equal((await d.request('POST', `/v1.48/containers/${a}/stop?t=1`)).status, 204);
    t.match((await d.request('GET', `/v1.48/containers/${a}/json`)).body.State, { Status: 'exited', ExitCode: 143 });
  });

  t.test('a deleted namespace of a running sandbox: its process keeps it and it is named again; without one it is made anew', async (t) => {
    const { d, name } = await setup(t, ['--reconcile-interval', '1']);
    await netCreate(d, 'n');
    const a = name('a'), b = name('b');
    await d.request('POST', `/v1.48/containers/create?name=${a}`, { Image: 'x', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'n' } });
    await d.request('POST', `/v1.48/containers/${a}/start`);
    await remember(d, a);
    const cb = await runCtr(d, b, 'n');
    const ca = (await d.request('GET', `/v1.48/containers/${a}/json`)).body;
    const inode = (p: string) => statSync(p).ino;
    const [pa, pb] = [`/run/netns/${nsName(a)}`, `/run/netns/${nsName(b)}`];
    const before = inode(pa);
    t.equal(inode(`/proc/${ca.State.Pid}/ns/net`), before, 'the process runs in the sandbox');
    await execa('ip', ['netns', 'del', nsName(a)]);
    await execa('ip', ['netns', 'del', nsName(b)]);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(existsSync(pa) && existsSync(pb))) await new Promise((r) => setTimeout(r, 100));
    t.ok(existsSync(pa) && existsSync(pb), 'both names are back within the interval');
    t.equal(inode(pa), inode(`/proc/${ca.State.Pid}/ns/net`), 'a: the name points at the namespace its process never left');
    // the name comes back with the repair's first batch, the endpoint inside with a later one
    let reached = false;
    while (!(reached = await pings(a, ipOn(cb, 'n'))) && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 100));
    t.ok(reached, 'a reaches b, whose namespace was made anew with its endpoint');
    t.ok(await pings(b, ipOn(ca, 'n')), 'and b reaches a');
    t.match((await d.request('GET', `/v1.48/containers/${a}/json`)).body.State, { Running: true, Pid: ca.State.Pid });
    const ev = await d.request('GET', `/v1.48/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["cnmd"]}')}`);
    t.match(ev.text, /"Action":"repair"/, 'the repair is an event');
  });
}
