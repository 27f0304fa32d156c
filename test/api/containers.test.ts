import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startDaemon } from '../../src/daemon.js';
import { RecordingExecutor } from '../../src/host/recording.js';
import { ContainerRepo } from '../../src/store/containers.js';

async function net(d: TestDaemon, name: string, subnet?: string) {
  const r = await call(d, 'POST', '/v1.48/networks/create', { Name: name, ...(subnet ? { IPAM: { Config: [{ Subnet: subnet }] } } : {}) });
  if (r.status !== 201) throw new Error(r.text);
  return r.body.Id as string;
}

/** What `docker create --name N --network NET busybox [cmd…]` sends. */
async function ctr(d: TestDaemon, name: string, network = 'default', extra: Record<string, unknown> = {}, v = '1.48') {
  return call(d, 'POST', `/v${v}/containers/create?name=${name}`, {
    Image: 'busybox',
    HostConfig: { NetworkMode: network },
    NetworkingConfig: { EndpointsConfig: network === 'default' ? { default: {} } : {} },
    ...extra,
  });
}

const inspect = async (d: TestDaemon, name: string, v = '1.48') => (await call(d, 'GET', `/v${v}/containers/${name}/json`)).body;
/** The /run/netns name of a container's namespace: the instance and 12 hex of its id. */
const nsOf = (id: string) => `cnmd-${id.slice(0, 12)}`;
const GUARD = ['rule add pref 10 iif lo lookup local', 'rule add pref 11 to 127.0.0.0/8 blackhole', 'rule add pref 12 lookup local', 'rule del pref 0'];

t.test('create: Docker\'s name rule, conflicts, defaults', async (t) => {
  const d = await buildTestDaemon(t);
  const r = await ctr(d, 'bb1');
  t.equal(r.status, 201);
  t.match(r.body, { Id: /^[0-9a-f]{64}$/, Warnings: [] });
  const c = await inspect(d, 'bb1');
  t.match(c, { Name: '/bb1', State: { Status: 'created', Running: false, Pid: 0 }, HostConfig: { NetworkMode: 'bridge' }, Config: { Image: 'busybox', Hostname: r.body.Id.slice(0, 12) } });
  t.same(Object.keys(c.NetworkSettings.Networks), ['bridge']);
  t.equal(c.NetworkSettings.Networks.bridge.IPAddress, '', 'no address before start');
  const dup = await ctr(d, 'bb1');
  t.same([dup.status, dup.body.message], [409,
    `Conflict. The container name "/bb1" is already in use by container "${r.body.Id}". You have to remove (or rename) that container to be able to reuse that name.`]);
  const bad = await ctr(d, 'bad/name');
  t.same([bad.status, bad.body.message], [400, 'Invalid container name (bad/name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed']);
  const anon = await call(d, 'POST', '/containers/create', { Image: 'x' });
  t.match((await inspect(d, anon.body.Id)).Name, /^\/[a-z]+_[a-z]+$/, 'a random adjective_name');
  t.equal((await inspect(d, '%2Fbb1')).Id, r.body.Id, 'by name with a slash');
  t.equal((await inspect(d, r.body.Id.slice(0, 6))).Id, r.body.Id, 'by id prefix');
  t.same((await call(d, 'GET', '/containers/nope/json')).body, { message: 'No such container: nope' });
  const unknownImage = await call(d, 'POST', '/containers/create?name=img', { Image: 'no-such-image:zzz' });
  t.equal(unknownImage.status, 201, 'any image is accepted: a 404 would make the CLI pull');
  const host = await ctr(d, 'h1', 'host', { HostConfig: { NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } });
  t.same(host.body.Warnings, ['Published ports are discarded when using host network mode']);
});

t.test('create errors about networks and endpoint settings', async (t) => {
  const d = await buildTestDaemon(t);
  await net(d, 'a');
  await net(d, 'b');
  const two = { NetworkingConfig: { EndpointsConfig: { a: {}, b: {} } } };
  const old = await ctr(d, 'x1', 'a', two, '1.41');
  t.same([old.status, old.body.message], [400, 'Container cannot be connected to network endpoints: a, b']);
  t.equal((await ctr(d, 'x2', 'a', two, '1.44')).status, 201, 'several endpoints from API 1.44');
  const alias = await ctr(d, 'x3', 'bridge', { NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['al'] } } } });
  t.same(alias.body, { message: 'network-scoped aliases are only supported for user-defined networks' });
  const ip = await ctr(d, 'x4', 'bridge', { NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '172.17.0.9' } } } } });
  t.same(ip.body, { message: 'user specified IP address is supported on user defined networks only' });
  const target = (await ctr(d, 'target')).body.Id;
  const shared = await ctr(d, 'x5', 'container:target', { Hostname: 'h' });
  t.same(shared.body, { message: 'conflicting options: hostname and the network mode' });
  t.equal((await ctr(d, 'x6', 'container:target')).status, 201);
  t.equal((await inspect(d, 'x6')).HostConfig.NetworkMode, `container:${target}`, 'stored with the full id');
  const noneMulti = await ctr(d, 'x7', 'none', { NetworkingConfig: { EndpointsConfig: { a: {} } } });
  t.same(noneMulti.body, { message: 'container cannot be connected to multiple networks with one of the networks in private (none) mode' });
  const badHost = await ctr(d, 'x8', 'a', { HostConfig: { NetworkMode: 'a', ExtraHosts: ['badentry'] } });
  t.same(badHost.body, { message: 'bad format for add-host: "badentry"' });
  const badPort = await ctr(d, 'x9', 'a', { HostConfig: { NetworkMode: 'a', PortBindings: { '99999/tcp': [] } } });
  t.same(badPort.body, { message: 'invalid port specification: "99999"' });
  t.equal((await ctr(d, 'x10', 'nonexistent-net')).status, 201, 'an unknown network is accepted at create, as Docker does');
  const st = await call(d, 'POST', '/containers/x10/start');
  t.same([st.status, st.body], [404, { message: 'network nonexistent-net not found' }]);
  t.equal((await inspect(d, 'x10')).State.Status, 'created', 'nothing changed');
});

t.test('start makes the namespace and the endpoint; stop takes them away and frees the address', async (t) => {
  const d = await buildTestDaemon(t);
  const netId = await net(d, 'my-net');
  const id = (await ctr(d, 'bb1', 'my-net')).body.Id;
  d.exec.clear();
  const r = await call(d, 'POST', '/v1.48/containers/bb1/start');
  t.equal(r.status, 204);
  const c = await inspect(d, 'bb1');
  const ep = c.NetworkSettings.Networks['my-net'];
  t.match(ep, { NetworkID: netId, Gateway: '172.18.0.1', IPAddress: '172.18.0.2', IPPrefixLen: 16, MacAddress: '02:42:ac:12:00:02', EndpointID: /^[0-9a-f]{64}$/ });
  t.same(ep.DNSNames, ['bb1', id.slice(0, 12)]);
  const ns = nsOf(id);
  t.match(c, { State: { Status: 'running', Running: true }, NetworkSettings: { SandboxKey: `/run/netns/${ns}`, SandboxID: /^[0-9a-f]{64}$/ } });
  const [host, inside] = d.exec.lines({ files: false });
  const veth = /link add name (veth[0-9a-f]{7}) /.exec(host)![1];
  t.equal(host, [
    'ip -batch -',
    `netns add ${ns}`,
    `link add name ${veth} mtu 1500 type veth peer name eth0 mtu 1500 address 02:42:ac:12:00:02 netns ${ns}`,
    `link set dev ${veth} alias cnmd:${id}:${netId.slice(0, 12)}`,
    `link set dev ${veth} master cnmd-${netId.slice(0, 10)}`,
    `link set dev ${veth} up`,
  ].join('\n'));
  t.equal(inside, [`nsenter --net=/run/netns/${ns} ip -batch -`, ...GUARD, 'link set dev lo up', 'addr add 172.18.0.2/16 dev eth0', 'link set dev eth0 up',
    'route replace default via 172.18.0.1 dev eth0', 'route replace 127.0.0.11/32 via 172.18.0.1 dev eth0 table local'].join('\n'),
    'a neighbour cannot reach its 127.0.0.0/8; 127.0.0.11 goes to the gateway, where the DNS server is');
  t.equal(d.exec.lines({ files: false })[2],
    `nsenter --net=/run/netns/${ns} sysctl -q -w net.ipv4.ip_unprivileged_port_start=0 net.ipv4.ping_group_range=0 2147483647 net.ipv4.conf.all.route_localnet=1`,
    'the sysctls Docker sets in a container, and route_localnet for the answers from 127.0.0.11, alongside the batch inside');
  t.equal(d.exec.lines({ files: false }).length, 3, 'three process starts: the host batch, then the batch and the sysctls inside the sandbox');
  t.equal(d.exec.files.get(`/etc/netns/${ns}/resolv.conf`), '# Generated by cnmd\nnameserver 127.0.0.11\noptions ndots:0\n',
    'resolv.conf for `ip netns exec`: the embedded DNS server at 127.0.0.11, as in Docker');
  t.match(d.exec.files.get(`/etc/netns/${ns}/hosts`), `172.18.0.2\t${id.slice(0, 12)}\n`);
  t.match(c.ResolvConfPath, new RegExp(`/containers/${id}/resolv\\.conf$`));
  t.equal(d.exec.files.get(c.ResolvConfPath), d.exec.files.get(`/etc/netns/${ns}/resolv.conf`));
  t.equal(d.exec.files.get(c.HostnamePath), `${id.slice(0, 12)}\n`);
  const n = (await call(d, 'GET', '/networks/my-net')).body;
  t.same(n.Containers, { [id]: { Name: 'bb1', EndpointID: ep.EndpointID, MacAddress: '02:42:ac:12:00:02', IPv4Address: '172.18.0.2/16', IPv6Address: '' } });
  t.equal((await call(d, 'POST', '/containers/bb1/start')).status, 304);
  const busy = await call(d, 'DELETE', '/networks/my-net');
  t.same([busy.status, busy.body], [403, { message: `error while removing network: network my-net id ${netId} has active endpoints` }]);

  d.exec.clear();
  t.equal((await call(d, 'POST', '/containers/bb1/stop')).status, 204);
  t.same(d.exec.lines({ files: false }), [`ip -batch -\nlink del dev ${veth}\nnetns del ${ns}`]);
  t.notOk([...d.exec.files.keys()].some((k) => k.startsWith(`/etc/netns/${ns}`)), '/etc/netns/NAME is removed');
  const stopped = await inspect(d, 'bb1');
  t.match(stopped, { State: { Status: 'exited', Running: false }, NetworkSettings: { SandboxKey: '', Networks: { 'my-net': { IPAddress: '', EndpointID: '' } } } });
  t.equal((await call(d, 'POST', '/containers/bb1/stop')).status, 304);
  t.same((await call(d, 'GET', '/networks/my-net')).body.Containers, {});
  await ctr(d, 'bb2', 'my-net');
  await call(d, 'POST', '/containers/bb2/start');
  t.equal((await inspect(d, 'bb2')).NetworkSettings.Networks['my-net'].IPAddress, '172.18.0.2', 'the released address is handed out again');
});

t.test('static addresses, and a second endpoint with its own name and GwPriority', async (t) => {
  const d = await buildTestDaemon(t);
  await net(d, 'a', '10.10.0.0/24');
  await net(d, 'b', '10.20.0.0/24');
  await net(d, 'auto');
  const stat = (ip: string) => ({ NetworkingConfig: { EndpointsConfig: { a: { IPAMConfig: { IPv4Address: ip } } } } });
  await ctr(d, 's1', 'a', stat('10.10.0.50'));
  t.equal((await call(d, 'POST', '/containers/s1/start')).status, 204);
  t.equal((await inspect(d, 's1')).NetworkSettings.Networks.a.IPAddress, '10.10.0.50');
  t.same((await inspect(d, 's1')).NetworkSettings.Networks.a.IPAMConfig, { IPv4Address: '10.10.0.50' });
  await ctr(d, 's2', 'a', stat('10.10.0.50'));
  t.same((await call(d, 'POST', '/containers/s2/start')).body, { message: 'Address already in use' });
  await ctr(d, 's3', 'a', stat('10.99.0.5'));
  t.same((await call(d, 'POST', '/containers/s3/start')).body, { message: 'no configured subnet contains IP address 10.99.0.5' });
  await ctr(d, 's4', 'auto', { NetworkingConfig: { EndpointsConfig: { auto: { IPAMConfig: { IPv4Address: '172.19.0.9' } } } } });
  t.same((await call(d, 'POST', '/containers/s4/start')).body, { message: 'user specified IP address is supported only when connecting to networks with user configured subnets' });
  t.equal((await call(d, 'GET', '/networks/a')).body.Containers && Object.keys((await call(d, 'GET', '/networks/a')).body.Containers).length, 1, 'failed starts leave no endpoint');

  await net(d, 'tiny', '10.30.0.0/29');
  await ctr(d, 'st', 'tiny', { NetworkingConfig: { EndpointsConfig: { tiny: { IPAMConfig: { IPv4Address: '10.30.0.2' } } } } });
  await call(d, 'POST', '/containers/st/start');
  await call(d, 'POST', '/containers/st/stop');
  await ctr(d, 'dyn', 'tiny');
  await call(d, 'POST', '/containers/dyn/start');
  t.equal((await inspect(d, 'dyn')).NetworkSettings.Networks.tiny.IPAddress, '10.30.0.3', 'a stopped container\'s static address is not handed out');
  await call(d, 'POST', '/containers/st/start');
  t.equal((await inspect(d, 'st')).NetworkSettings.Networks.tiny.IPAddress, '10.30.0.2', 'and it gets it back');

  await ctr(d, 'two', 'a', { NetworkingConfig: { EndpointsConfig: { a: {}, b: { GwPriority: 10 } } } });
  d.exec.clear();
  t.equal((await call(d, 'POST', '/containers/two/start')).status, 204);
  const inside = d.exec.lines({ files: false })[1];
  t.match(inside, 'addr add 10.10.0.2/24 dev eth0');
  t.match(inside, 'addr add 10.20.0.2/24 dev eth1');
  t.match(inside, 'route replace default via 10.20.0.1 dev eth1', 'the endpoint with the highest GwPriority gives the default route');
  t.notMatch(inside, 'default via 10.10.0.1');
});

t.test('connect and disconnect, running and stopped', async (t) => {
  const d = await buildTestDaemon(t);
  await net(d, 'a');
  const otherId = await net(d, 'other');
  const id = (await ctr(d, 'c1', 'a')).body.Id;
  await call(d, 'POST', '/containers/c1/start');
  d.exec.clear();
  const cli = { Container: 'c1', EndpointConfig: { IPAMConfig: {}, Links: null, Aliases: ['db'], MacAddress: '', DriverOpts: {}, GwPriority: 0, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null } };
  const r = await call(d, 'POST', '/v1.48/networks/other/connect', cli);
  t.equal(r.status, 200);
  t.match(d.exec.lines({ files: false })[0], new RegExp(`peer name eth1 .* netns ${nsOf(id)}`));
  t.match(d.exec.lines({ files: false })[1], 'addr add 172.19.0.2/16 dev eth1');
  const eps = (await inspect(d, 'c1')).NetworkSettings.Networks;
  t.same(Object.keys(eps), ['a', 'other']);
  t.same(eps.other.Aliases, ['db']);
  t.same(eps.other.DNSNames, ['c1', 'db', id.slice(0, 12)]);
  const again = await call(d, 'POST', '/networks/other/connect', cli);
  t.same([again.status, again.body], [403, { message: 'endpoint with name c1 already exists in network other' }]);
  const noNet = await call(d, 'POST', '/networks/nonexistnet/connect', { Container: 'c1' });
  t.same([noNet.status, noNet.body], [404, { message: 'network nonexistnet not found' }]);
  const noCtr = await call(d, 'POST', '/networks/other/connect', { Container: 'nonexistc' });
  t.same([noCtr.status, noCtr.body], [404, { message: 'No such container: nonexistc' }]);
  const empty = await call(d, 'POST', '/networks/other/connect', {});
  t.same([empty.status, empty.body], [400, { message: 'invalid name or ID supplied: ""' }]);
  const hostNet = await call(d, 'POST', '/networks/host/connect', { Container: 'c1' });
  t.same([hostNet.status, hostNet.body], [400, { message: 'container cannot be disconnected from host network or connected to host network' }]);

  d.exec.clear();
  t.equal((await call(d, 'POST', '/networks/other/disconnect', { Container: 'c1', Force: false })).status, 200);
  t.match(d.exec.lines({ files: false })[0], /^ip -force -batch -\nlink del dev veth[0-9a-f]{7}$/, 'a deletion left to finish in the background');
  t.same(Object.keys((await inspect(d, 'c1')).NetworkSettings.Networks), ['a']);
  const notConn = await call(d, 'POST', '/networks/other/disconnect', { Container: 'c1' });
  t.same([notConn.status, notConn.body], [404, { message: `container ${id} is not connected to network other` }], "Docker's text; a 404, not its 500");

  // the native route for HTTP clients that think in containers
  t.equal((await call(d, 'POST', '/containers/c1/connect', { Network: otherId.slice(0, 8) })).status, 200);
  t.same(Object.keys((await inspect(d, 'c1')).NetworkSettings.Networks), ['a', 'other']);
  t.equal((await call(d, 'POST', '/containers/c1/disconnect', { Network: 'other' })).status, 200);

  await call(d, 'POST', '/containers/c1/stop');
  d.exec.clear();
  t.equal((await call(d, 'POST', '/networks/other/connect', { Container: 'c1' })).status, 200, 'a stopped container records it');
  t.same(d.exec.lines({ files: false }), [], 'and nothing happens on the host');
  t.same(Object.keys((await inspect(d, 'c1')).NetworkSettings.Networks), ['a', 'other']);
  t.equal((await call(d, 'POST', '/networks/later-net/connect', { Container: 'c1' })).status, 200, 'an unknown network is accepted for a stopped container');
  t.equal((await call(d, 'POST', '/networks/later-net/disconnect', { Container: 'c1' })).status, 200);
  const stoppedNot = await call(d, 'POST', '/networks/later-net/disconnect', { Container: 'c1' });
  t.same(stoppedNot.body, { message: `container ${id} is not connected to the network later-net` });
  t.equal((await call(d, 'POST', '/containers/c1/start')).status, 204);
  t.same(Object.keys((await inspect(d, 'c1')).NetworkSettings.Networks), ['a', 'other'], 'recorded networks are joined at start');
});

t.test('modes: none, host, container:<id>', async (t) => {
  const d = await buildTestDaemon(t);
  const n1 = nsOf((await ctr(d, 'n1', 'none')).body.Id);
  d.exec.clear();
  await call(d, 'POST', '/containers/n1/start');
  t.same(d.exec.lines({ files: false }).slice(0, 2), [`ip -batch -\nnetns add ${n1}`, [`nsenter --net=/run/netns/${n1} ip -batch -`, ...GUARD, 'link set dev lo up'].join('\n')], 'a namespace with lo only');
  t.same(Object.keys((await inspect(d, 'n1')).NetworkSettings.Networks), ['none']);
  const toNone = await call(d, 'POST', '/networks/bridge/connect', { Container: 'n1' });
  t.same(toNone.body, { message: 'container cannot be connected to multiple networks with one of the networks in private (none) mode' });

  await ctr(d, 'h1', 'host');
  d.exec.clear();
  t.equal((await call(d, 'POST', '/containers/h1/start')).status, 204);
  t.same(d.exec.lines({ files: false }), [], 'host mode: nothing to make');
  t.match((await inspect(d, 'h1')).NetworkSettings.SandboxKey, /^\/proc\/\d+\/ns\/net$/);

  await ctr(d, 'main', 'bridge');
  await ctr(d, 'side', 'container:main');
  const early = await call(d, 'POST', '/containers/side/start');
  t.equal(early.status, 409, 'the target must run');
  await call(d, 'POST', '/containers/main/start');
  d.exec.clear();
  t.equal((await call(d, 'POST', '/containers/side/start')).status, 204);
  t.same(d.exec.lines({ files: false }), [], 'it shares the namespace of main');
  t.same((await inspect(d, 'side')).NetworkSettings.Networks, {});
  const conn = await call(d, 'POST', '/networks/bridge/connect', { Container: 'side' });
  t.same([conn.status, conn.body], [403, { message: 'container sharing network namespace with another container or host cannot be connected to any other network' }]);
  await ctr(d, 'ghost', 'container:nobody');
  t.same((await call(d, 'POST', '/containers/ghost/start')).body, { message: 'No such container: nobody' });
});

t.test('an adopted namespace gets its endpoint and is never deleted', async (t) => {
  const d = await buildTestDaemon(t);
  await net(d, 'a');
  const r = await ctr(d, 'ad', 'a', { SandboxKey: '/run/netns/somebody-else' });
  t.equal(r.status, 201);
  d.exec.clear();
  await call(d, 'POST', '/containers/ad/start');
  t.notMatch(d.exec.lines({ files: false }).join('\n'), /netns add|sysctl/, 'no namespace made, no sysctl changed in someone else\'s namespace');
  t.match(d.exec.lines({ files: false })[0], /peer name eth0 .* netns \/run\/netns\/somebody-else/);
  t.equal(d.exec.lines({ files: false })[1].split('\n')[0], 'nsenter --net=/run/netns/somebody-else ip -batch -');
  t.equal((await inspect(d, 'ad')).NetworkSettings.SandboxKey, '/run/netns/somebody-else');
  d.exec.clear();
  t.equal((await call(d, 'DELETE', '/containers/ad?force=1')).status, 204);
  t.match(d.exec.lines({ files: false })[0], /^ip -force -batch -\nlink del dev veth[0-9a-f]{7}$/, 'its endpoint goes, the namespace stays');
  t.same((await ctr(d, 'rel', 'a', { SandboxKey: 'relative/path' })).body, { message: 'SandboxKey relative/path: must be an absolute path, such as /run/netns/NAME or /proc/PID/ns/net' });
});

t.test('a process: runs in the sandbox, kill, wait, rm, events', async (t) => {
  const d = await buildTestDaemon(t);
  await net(d, 'a');
  const id = (await ctr(d, 'p1', 'a', { Cmd: ['sleep', '1d'] })).body.Id;
  const next = call(d, 'POST', '/containers/p1/wait?condition=next-exit');
  await call(d, 'POST', '/containers/p1/start');
  const spawn = d.exec.calls.find((c) => c.file === 'spawn')!;
  const run = `/run/cnmd/${id.slice(0, 12)}`;
  t.same(spawn.args, ['nsenter', `--net=/run/netns/${nsOf(id)}`, `--mount=${run}/mnt`, `--uts=${run}/uts`, '--wd=/', '--', 'sleep', '1d'],
    'in its network, mount and UTS namespaces');
  t.ok(d.exec.lines().some((l) => l.startsWith(`unshare --mount=${run}/mnt --propagation slave mount -a --fstab ${run}/fstab`)), 'its mount namespace is made with its fstab');
  t.ok(d.exec.lines().some((l) => l === `unshare --uts=${run}/uts hostname -- ${id.slice(0, 12)}`), 'its UTS namespace has its hostname');
  t.match(d.exec.files.get(`${run}/fstab`), /\/containers\/[0-9a-f]{64}\/resolv\.conf \/etc\/resolv\.conf none bind 0 0\n/);
  const c = await inspect(d, 'p1');
  t.ok(c.State.Pid > 0);
  t.match(c, { Path: 'sleep', Args: ['1d'] });
  const ps = (await call(d, 'GET', '/containers/json')).body;
  t.match(ps, [{ Id: id, Names: ['/p1'], Command: 'sleep 1d', State: 'running', Status: /^Up /, HostConfig: { NetworkMode: 'a' } }]);
  t.equal((await call(d, 'POST', '/containers/p1/kill?signal=SIGKILL')).status, 204);
  t.same((await next).body, { Error: null, StatusCode: 137 });
  const after = await inspect(d, 'p1');
  t.match(after.State, { Status: 'exited', ExitCode: 137 });
  t.same((await call(d, 'POST', '/containers/p1/wait')).body, { Error: null, StatusCode: 137 }, 'not-running: at once');
  const notRunning = await call(d, 'POST', '/containers/p1/kill');
  t.same([notRunning.status, notRunning.body], [409, { message: `Cannot kill container: p1: Container ${id} is not running` }]);
  t.same((await call(d, 'GET', '/containers/json')).body, [], 'ps shows running containers only');
  t.equal((await call(d, 'GET', '/containers/json?all=1')).body.length, 1);

  t.equal((await call(d, 'POST', '/containers/p1/restart?t=1')).status, 204, 'restart of a stopped container starts it');
  const pid1 = (await inspect(d, 'p1')).State.Pid;
  t.equal((await call(d, 'POST', '/containers/p1/restart?t=1')).status, 204);
  const restarted = await inspect(d, 'p1');
  t.match(restarted.State, { Status: 'running' });
  t.not(restarted.State.Pid, pid1, 'a new process');
  const running = await call(d, 'DELETE', '/containers/p1');
  t.same([running.status, running.body], [409, { message: `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove` }]);
  const removed = call(d, 'POST', '/containers/p1/wait?condition=removed');
  t.equal((await call(d, 'DELETE', '/containers/p1?force=1')).status, 204);
  t.equal((await removed).status, 200);
  t.equal((await call(d, 'GET', '/containers/p1/json')).status, 404);

  const ev = await call(d, 'GET', `/v1.41/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["container"]}')}`);
  const actions = ev.text.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.Actor.ID === id).map((e) => e.Action);
  t.same(actions, ['create', 'start', 'kill', 'die', 'start', 'restart', 'kill', 'die', 'stop', 'start', 'restart', 'kill', 'die', 'destroy'],
    'as Docker: kill and rm -f emit kill and die; stop also stop; restart stops, starts, then says restart');
  const netEv = await call(d, 'GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":{"network":true},"event":{"connect":true,"disconnect":true}}')}`);
  t.same(netEv.text.trim().split('\n').map((l) => JSON.parse(l).Action), ['connect', 'disconnect', 'connect', 'disconnect', 'connect', 'disconnect']);
});

t.test('a start whose host steps fail leaves no endpoint or address behind', async (t) => {
  const d = await buildTestDaemon(t);
  await net(d, 'a');
  await ctr(d, 'f1', 'a');
  d.exec.failOn('type veth', 'RTNETLINK answers: File exists');
  const r = await call(d, 'POST', '/containers/f1/start');
  t.equal(r.status, 500);
  t.match(r.body.message, /^failed to start container f1: /);
  const c = await inspect(d, 'f1');
  t.match(c.State, { Status: 'created', Running: false });
  t.match(c.State.Error, 'File exists');
  t.same((await call(d, 'GET', '/networks/a')).body.Containers, {});
  d.exec.clearFailures();
  await ctr(d, 'f2', 'a');
  await call(d, 'POST', '/containers/f2/start');
  t.equal((await inspect(d, 'f2')).NetworkSettings.Networks.a.IPAddress, '172.18.0.2', 'the address was not kept');
});

async function cutStart(t: { teardown: (fn: () => unknown) => void }, exec: RecordingExecutor, beforeRestart: (id: string) => void = () => undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig(['--data-root', dir, '--reconcile-interval', '0'], () => undefined);
  const first = await startDaemon({ config, exec: new RecordingExecutor() });
  await call(first, 'POST', '/networks/create', { Name: 'n' });
  const id = (await call(first, 'POST', '/containers/create?name=cut', { Image: 'x', Cmd: ['sleep', '1'], HostConfig: { NetworkMode: 'n' } })).body.Id as string;
  // what the store holds when the daemon dies after start's transaction, before the pid is recorded
  const repo = new ContainerRepo(first.db);
  const c = repo.get(id)!;
  repo.update(c.id, { state: 'running', pid: 0, netns: `cnmd-${c.id.slice(0, 12)}`, sandboxId: 's'.repeat(64) });
  await first.close();
  beforeRestart(id);
  const second = await startDaemon({ config, exec });
  t.teardown(() => second.close());
  return { second, id };
}

t.test('a start cut short by a crash before its command ran: the next start-up completes it', async (t) => {
  const exec = new RecordingExecutor();
  const { second, id } = await cutStart(t, exec);
  const after = (await call(second, 'GET', '/containers/cut/json')).body;
  t.match(after.State, { Status: 'running', Running: true });
  const spawns = exec.calls.filter((c) => c.file === 'spawn');
  t.equal(spawns.length, 1, 'the command is run once');
  t.equal(after.State.Pid, 40000);
  t.equal(exec.processEnv.get(40000)?.CNMD_CONTAINER_ID, id, 'the process carries its container id');
  t.match(exec.lines({ files: false }).join('\n'), new RegExp(`netns add ${nsOf(id)}`), 'the sandbox is made');
  t.ok(exec.files.has(`/etc/netns/${nsOf(id)}/resolv.conf`), 'its resolv.conf is written');
});

t.test('a start cut short by a crash after its command ran: the next start-up adopts that process', async (t) => {
  const exec = new RecordingExecutor();
  const { second } = await cutStart(t, exec, (id) => {
    exec.spawnProcess('sleep', ['1'], { env: { CNMD_CONTAINER_ID: 'f'.repeat(64) }, stdoutPath: '', stderrPath: '' });
    exec.spawnProcess('sleep', ['1'], { env: { CNMD_CONTAINER_ID: id }, stdoutPath: '', stderrPath: '' });
  });
  const before = exec.calls.filter((c) => c.file === 'spawn').length;
  const after = (await call(second, 'GET', '/containers/cut/json')).body;
  t.match(after.State, { Status: 'running', Running: true, Pid: 40001 }, 'the process with its marker, not the other');
  t.equal(exec.calls.filter((c) => c.file === 'spawn').length, before, 'no second process is started');
  exec.exitProcess(40001, 0);
  await new Promise((r) => setTimeout(r, 400));
  t.match((await call(second, 'GET', '/containers/cut/json')).body.State, { Status: 'exited' }, 'its end is noticed');
});

t.test('a force removal cut short by a crash is finished by the next start-up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig(['--data-root', dir, '--reconcile-interval', '0'], () => undefined);
  const exec = new RecordingExecutor();
  const first = await startDaemon({ config, exec });
  await call(first, 'POST', '/networks/create', { Name: 'n' });
  await call(first, 'POST', '/containers/create?name=gone', { Image: 'x', Cmd: ['sleep', '1'], HostConfig: { NetworkMode: 'n' } });
  await call(first, 'POST', '/containers/gone/start');
  const pid = (await call(first, 'GET', '/containers/gone/json')).body.State.Pid as number;
  // what `rm -f` records before its first host step
  const repo = new ContainerRepo(first.db);
  const id = repo.list()[0].id;
  repo.update(id, { state: 'removing' });
  t.equal((await call(first, 'GET', '/containers/json?all=1')).body[0].Status, 'Removal In Progress');
  t.equal((await call(first, 'DELETE', '/containers/gone?force=1')).status, 409, 'a second removal waits for none');
  await first.close();
  exec.calls.length = 0;
  exec.namespaces.add(nsOf(id));
  const second = await startDaemon({ config, exec });
  t.teardown(() => second.close());
  t.equal((await call(second, 'GET', '/containers/gone/json')).status, 404, 'the container is gone');
  t.notOk(exec.isAlive(pid), 'its process was killed');
  t.same((await call(second, 'GET', '/networks/n')).body.Containers, {}, 'no endpoint is left');
  t.match(exec.lines({ files: false }).join('\n'), new RegExp(`netns del ${nsOf(id)}`), 'its namespace is removed');
});
