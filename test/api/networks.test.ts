import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';
import { NetworkRepo } from '../../src/store/networks.js';
import { bridgeNetwork } from '../helpers/fixtures.js';

/** What `docker network create NAME` sends (CLI 28.2.2 at API 1.41). */
const cliBody = (name: string, extra: Record<string, unknown> = {}) => ({
  Driver: 'bridge', Scope: '', IPAM: { Driver: 'default', Options: {}, Config: [] }, Internal: false, Attachable: false,
  Ingress: false, ConfigOnly: false, ConfigFrom: null, Options: {}, Labels: {}, Name: name, CheckDuplicate: true, ...extra,
});

async function create(d: TestDaemon, name: string, extra: Record<string, unknown> = {}) {
  return call(d, 'POST', '/v1.41/networks/create', cliBody(name, extra));
}

t.test('create: 201 with the id, then inspect shows Docker\'s shape', async (t) => {
  const d = await buildTestDaemon(t);
  const r = await create(d, 'my-net', { Labels: { team: 'a' } });
  t.equal(r.status, 201);
  t.match(r.body, { Id: /^[0-9a-f]{64}$/, Warning: '' });
  const n = (await call(d, 'GET', '/v1.41/networks/my-net')).body;
  t.same(Object.keys(n), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels']);
  t.match(n, {
    Name: 'my-net', Id: r.body.Id, Scope: 'local', Driver: 'bridge', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }] },
    Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: {}, Options: {}, Labels: { team: 'a' },
  });
  t.match(n.Created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const v148 = (await call(d, 'GET', '/v1.48/networks/my-net')).body;
  t.equal(v148.EnableIPv4, true, 'EnableIPv4 appears from API 1.47');
});

t.test('create: the host steps planned for it, in two process starts', async (t) => {
  const d = await buildTestDaemon(t);
  d.exec.clear();
  const r = await create(d, 'lab', { IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.50.0.0/24', Gateway: '10.50.0.1' }] } });
  t.equal(r.status, 201);
  const br = 'cnmd-' + r.body.Id.slice(0, 10);
  const lines = d.exec.lines();
  t.equal(lines.length, 3, 'one ip -batch and one iptables-restore (and a sysctl written to /proc)');
  t.equal(lines[2], `sysctl -w net.ipv4.conf.${br}.route_localnet=1`);
  const mac = ['02', ...r.body.Id.slice(0, 10).match(/../g)].join(':');
  t.equal(lines[0], `ip -batch -\nlink add name ${br} mtu 1500 address ${mac} type bridge\nlink set dev ${br} alias cnmd:${r.body.Id}\naddr add 10.50.0.1/24 dev ${br}\nlink set dev ${br} up`);
  t.match(lines[1], /^iptables-restore -w --noflush\n\*filter\n:CNMD-N-/);
  t.match(lines[1], new RegExp(`-A CNMD-POSTROUTING -s 10\\.50\\.0\\.0/24 ! -o ${br} -m comment --comment "cnmd:${r.body.Id.slice(0, 12)}" -j MASQUERADE`));
  // an automatic subnet avoids the host's on-link routes, read from /proc/net/route (no process)
  d.exec.files.set('/proc/net/route', 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n');
  d.exec.clear();
  await create(d, 'auto');
  t.equal(d.exec.lines().length, 3);
  t.equal((await call(d, 'GET', '/networks/auto')).body.IPAM.Config[0].Subnet, '172.19.0.0/16', '172.18.0.0/16 is on-link on eth0, so it is skipped');
});

t.test('create: what docker-py sends, nulls included, and unknown fields', async (t) => {
  const d = await buildTestDaemon(t);
  const r = await call(d, 'POST', '/networks/create', {
    Name: 'py', Driver: 'bridge', Options: null, Labels: null, Internal: false, EnableIPv6: false, Attachable: null, Ingress: null,
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.77.0.0/24', Gateway: null, IPRange: null, AuxiliaryAddresses: null }], Options: null },
    SomethingNew: { x: 1 },
  });
  t.equal(r.status, 201, JSON.stringify(r.body));
  const n = (await call(d, 'GET', '/networks/py')).body;
  t.same(n.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '10.77.0.0/24' }] }, 'Config echoes what was sent');
  t.same(n.Options, {});
  t.same(n.Labels, {});
});

t.test('create errors, with Docker\'s texts and no trace left', async (t) => {
  const d = await buildTestDaemon(t);
  t.equal((await create(d, 'a1')).status, 201);
  const cases: Array<[Record<string, unknown>, number, string]> = [
    [cliBody('a1'), 409, 'network with name a1 already exists'],
    [cliBody('bridge'), 403, 'operation is not permitted on predefined bridge network '],
    [cliBody('default'), 403, 'operation is not permitted on predefined default network '],
    [cliBody('x', { Driver: 'host' }), 403, 'only one instance of "host" network is allowed'],
    [cliBody('x', { Driver: 'null' }), 403, 'only one instance of "null" network is allowed'],
    [cliBody('x', { Driver: 'nosuchdriver' }), 404, 'plugin "nosuchdriver" not found'],
    [cliBody('x', { Driver: 'ipvlan' }), 400, 'the ipvlan driver is not supported by cnmd yet'],
    [cliBody(''), 400, 'invalid name: name is empty'],
    [cliBody('x', { Ingress: true }), 403, 'Ingress network can only be global scope network'],
    [cliBody('x', { Scope: 'swarm' }), 403, 'cannot create a swarm scoped network when swarm is not active'],
    [cliBody('x', { IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.2.3/40' }] } }), 400, 'Invalid subnet 10.1.2.3/40 : invalid CIDR address: 10.1.2.3/40'],
    [cliBody('x', { IPAM: { Driver: 'default', Config: [{ Subnet: '10.95.0.0/24', Gateway: '10.96.0.1' }] } }), 400,
      "invalid network config:\ninvalid gateway 10.96.0.1: parent subnet 10.95.0.0/24 doesn't contain this address"],
    [cliBody('x', { IPAM: { Driver: 'default', Config: [{ Subnet: '172.18.5.0/24' }] } }), 403, 'Pool overlaps with other one on this address space'],
    [cliBody('x', { IPAM: { Driver: 'foo' } }), 404, 'plugin "foo" not found'],
    [cliBody('x', { Options: { 'com.docker.network.driver.mtu': 'abc' } }), 400, 'strconv.Atoi: parsing "abc": invalid syntax'],
    [cliBody('x', { Options: { 'com.docker.network.driver.mtu': '10' } }), 400, 'invalid MTU number: 10'],
    [cliBody('x', { Options: { 'com.docker.network.bridge.name': 'a-very-long-bridge' } }), 400,
      'failed to check bridge interface existence: numerical result out of range'],
    [cliBody('x', { Options: { 'com.docker.network.bridge.enable_icc': 'maybe' } }), 400,
      'invalid value "maybe" for option com.docker.network.bridge.enable_icc: strconv.ParseBool: parsing "maybe": invalid syntax'],
    [cliBody('x', { Options: { 'com.docker.network.bridge.gateway_mode_ipv4': 'routed' } }), 400,
      'com.docker.network.bridge.gateway_mode_ipv4=routed needs the nftables firewall backend (--firewall-backend nftables)'],
    [cliBody('x', { Options: { 'com.docker.network.bridge.gateway_mode_ipv6': 'nat-unprotected' } }), 400,
      'com.docker.network.bridge.gateway_mode_ipv6=nat-unprotected needs the nftables firewall backend (--firewall-backend nftables)'],
    [cliBody('x', { Options: { 'com.docker.network.bridge.gateway_mode_ipv4': 'isolated' } }), 400,
      "gateway mode 'isolated' can only be used for an internal network"],
    [cliBody('x', { Options: { 'com.docker.network.bridge.gateway_mode_ipv4': 'open' } }), 400,
      'invalid com.docker.network.bridge.gateway_mode_ipv4 "open": must be one of nat, nat-unprotected, routed, isolated'],
    [cliBody('x', { Options: { 'com.docker.network.bridge.bogus': '1' } }), 400, 'the bridge driver does not know the option com.docker.network.bridge.bogus'],
    [cliBody('x', { EnableIPv6: false, Options: { 'com.docker.network.enable_ipv6': 'nope' } }), 201, ''],
  ];
  d.exec.clear();
  for (const [body, status, message] of cases) {
    const r = await call(d, 'POST', '/v1.41/networks/create', body);
    t.equal(r.status, status, `${message || 'EnableIPv6 given: the option is not read'}`);
    if (message) t.same(r.body, { message });
    if (status === 201) await call(d, 'DELETE', `/networks/${r.body.Id}`);
  }
  t.same(d.exec.lines().map((l) => l.split('\n')[0].replace(/=1$/, '').replace(/conf\.[^.]+\./, 'conf.BR.')),
    ['ip -batch -', 'iptables-restore -w --noflush', 'sysctl -w net.ipv4.conf.BR.route_localnet', 'ip -force -batch -', 'iptables-restore -w --noflush'],
    'only the one successful create and its delete reached the host');
  const names = (await call(d, 'GET', '/networks')).body.map((n: { Name: string }) => n.Name).sort();
  t.same(names, ['a1', 'bridge', 'host', 'none']);
});

t.test('a create whose host steps fail leaves no row, no address and no host object', async (t) => {
  const d = await buildTestDaemon(t);
  d.exec.failOn('link add name', 'RTNETLINK answers: Operation not permitted');
  d.exec.clear();
  const r = await create(d, 'doomed');
  t.equal(r.status, 500);
  t.match(r.body.message, /^failed to create network doomed: ip -batch -: RTNETLINK answers: Operation not permitted/);
  t.equal((await call(d, 'GET', '/networks/doomed')).status, 404);
  t.ok(d.exec.lines().includes('ip -json -details addr show'), 'the host was read again and reconciled after the failure');
  d.exec.clearFailures();
  const again = await create(d, 'second');
  t.equal(again.status, 201);
  t.equal((await call(d, 'GET', '/networks/second')).body.IPAM.Config[0].Subnet, '172.18.0.0/16', 'the failed create did not keep its subnet');
});

t.test('concurrent creates never share a subnet, and a name is taken once', async (t) => {
  const d = await buildTestDaemon(t);
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => create(d, `c${i}`)));
  t.ok(many.every((r) => r.status === 201));
  const subnets = (await call(d, 'GET', '/networks')).body.flatMap((n: { IPAM: { Config: Array<{ Subnet: string }> } }) => n.IPAM.Config.map((c) => c.Subnet));
  t.equal(new Set(subnets).size, subnets.length, 'all subnets distinct');
  const same = await Promise.all(Array.from({ length: 10 }, () => create(d, 'dup')));
  t.equal(same.filter((r) => r.status === 201).length, 1);
  t.equal(same.filter((r) => r.status === 409).length, 9);
});

t.test('list with every filter, in both encodings', async (t) => {
  const d = await buildTestDaemon(t);
  const a = (await create(d, 'alpha', { Labels: { team: 'a', env: 'dev' } })).body.Id;
  await create(d, 'beta', { Labels: { team: 'b' } });
  const names = async (filters: unknown) =>
    (await call(d, 'GET', `/networks?filters=${encodeURIComponent(JSON.stringify(filters))}`)).body.map((n: { Name: string }) => n.Name).sort();
  t.same(await names({ name: { alp: true } }), ['alpha'], 'name: unanchored match');
  t.same(await names({ name: ['^b'] }), ['beta', 'bridge'], 'list encoding (docker-py)');
  t.same(await names({ id: { [a.slice(0, 6)]: true } }), ['alpha']);
  t.same(await names({ driver: { bridge: true } }), ['alpha', 'beta', 'bridge']);
  t.same(await names({ driver: ['null', 'host'] }), ['host', 'none'], 'values of one key are OR-ed');
  t.same(await names({ label: { team: true } }), ['alpha', 'beta']);
  t.same(await names({ label: { 'team=a': true, env: true } }), ['alpha'], 'labels are AND-ed');
  t.same(await names({ type: { builtin: true } }), ['bridge', 'host', 'none']);
  t.same(await names({ type: { custom: true } }), ['alpha', 'beta']);
  t.same(await names({ scope: { local: true } }), ['alpha', 'beta', 'bridge', 'host', 'none']);
  t.same(await names({ scope: { swarm: true } }), []);
  t.same(await names({ dangling: { true: true } }), ['alpha', 'beta']);
  t.same(await names({ dangling: ['0'] }), ['bridge', 'host', 'none'], 'predefined networks count as in use');
  t.same(await names({}), ['alpha', 'beta', 'bridge', 'host', 'none']);
  const bad = await call(d, 'GET', `/networks?filters=${encodeURIComponent('{"foo":{"x":true}}')}`);
  t.same([bad.status, bad.body], [400, { message: "Invalid filter 'foo'" }]);
  const badType = await call(d, 'GET', `/networks?filters=${encodeURIComponent('{"type":["weird"]}')}`);
  t.same([badType.status, badType.body], [400, { message: "invalid filter: 'type'='weird'" }]);
  await call(d, 'POST', '/v1.41/containers/create?name=member', { Image: 'busybox', HostConfig: { NetworkMode: 'alpha' } });
  const member = (await call(d, 'POST', '/containers/member/start')).status;
  t.equal(member, 204);
  const listed = (await call(d, 'GET', '/v1.41/networks')).body as Array<Record<string, any>>;
  const alpha = listed.find((n) => n.Name === 'alpha')!;
  t.same(alpha.Containers, {}, 'from API 1.28 list items carry an empty Containers, whatever is attached (Docker <= 28)');
  t.notOk('EnableIPv4' in alpha, 'no EnableIPv4 before API 1.47');
  const old = ((await call(d, 'GET', '/v1.27/networks')).body as Array<Record<string, any>>).find((n) => n.Name === 'alpha')!;
  t.same(Object.values(old.Containers).map((e: any) => e.Name), ['member'], 'before 1.28 list items show the endpoints, as inspect');
  t.same(old.Containers, (await call(d, 'GET', '/v1.27/networks/alpha')).body.Containers);
});

t.test('inspect and delete resolve full id, exact name, then a unique id prefix', async (t) => {
  const d = await buildTestDaemon(t);
  const repo = new NetworkRepo(d.db);
  const id1 = 'abc123' + '1'.repeat(58);
  const id2 = 'abc123' + '2'.repeat(58);
  repo.insert(bridgeNetwork({ id: id1, name: 'one', bridgeName: 'cnmd-x1', subnets: [] }));
  repo.insert(bridgeNetwork({ id: id2, name: 'abc1231', bridgeName: 'cnmd-x2', subnets: [] }));
  t.equal((await call(d, 'GET', `/networks/${id1}`)).body.Name, 'one');
  t.equal((await call(d, 'GET', '/networks/abc1231')).body.Name, 'abc1231', 'a name beats an id prefix');
  t.equal((await call(d, 'GET', '/networks/abc1232')).body.Name, 'abc1231', 'a unique prefix');
  const amb = await call(d, 'GET', '/networks/abc123');
  t.same([amb.status, amb.body], [400, { message: '2 matches found based on ID prefix: network abc123 is ambiguous' }]);
  const ambDel = await call(d, 'DELETE', '/networks/abc123');
  t.same([ambDel.status, ambDel.body], [400, { message: 'network abc123 is ambiguous (2 matches found based on ID prefix)' }]);
  t.same((await call(d, 'GET', '/networks/nonexist')).body, { message: 'network nonexist not found' });
  t.equal((await call(d, 'GET', '/networks/one?scope=swarm')).status, 404);
  const verbose = await call(d, 'GET', '/networks/one?verbose=maybe');
  t.same([verbose.status, verbose.body], [400, { message: 'invalid value for verbose: maybe: strconv.ParseBool: parsing "maybe": invalid syntax' }]);
  await create(d, 'test 01');
  t.equal((await call(d, 'GET', '/networks/test%2001')).body.Name, 'test 01', 'names are URL-decoded');
});

t.test('delete: 204 and the host objects go; predefined and unknown networks are refused', async (t) => {
  const d = await buildTestDaemon(t);
  const id = (await create(d, 'gone')).body.Id;
  d.exec.clear();
  const r = await call(d, 'DELETE', '/v1.41/networks/gone');
  t.equal(r.status, 204);
  t.equal(r.text, '');
  const lines = d.exec.lines();
  t.equal(lines.length, 2);
  t.equal(lines[0], `ip -force -batch -\nlink del dev cnmd-${id.slice(0, 10)}`, 'the bridge deletion, left to finish in the background');
  t.match(lines[1], new RegExp(`-F CNMD-N-${id.slice(0, 12)}\n-X CNMD-N-${id.slice(0, 12)}\nCOMMIT`));
  t.equal((await call(d, 'GET', '/networks/gone')).status, 404);
  t.same((await call(d, 'DELETE', '/networks/bridge')).body, { message: 'bridge is a pre-defined network and cannot be removed' });
  t.equal((await call(d, 'DELETE', '/networks/host')).status, 403);
  const nf = await call(d, 'DELETE', '/networks/nonexist');
  t.same([nf.status, nf.body], [404, { message: 'network nonexist not found' }]);
});

t.test('prune: unused custom networks matching until/label/label!, names back', async (t) => {
  const d = await buildTestDaemon(t);
  await create(d, 'keep', { Labels: { keep: 'yes' } });
  await create(d, 'p1', { Labels: { tier: 'x' } });
  await create(d, 'p2');
  const prune = (filters?: unknown) => call(d, 'POST', `/v1.41/networks/prune${filters ? '?filters=' + encodeURIComponent(JSON.stringify(filters)) : ''}`);
  t.same((await prune({ label: { tier: true } })).body, { NetworksDeleted: ['p1'] });
  t.same((await prune({ until: { '1h': true } })).body, { NetworksDeleted: null }, 'nothing older than an hour');
  t.same((await prune({ 'label!': { keep: true } })).body, { NetworksDeleted: ['p2'] });
  t.same((await prune()).body, { NetworksDeleted: ['keep'] });
  const names = (await call(d, 'GET', '/networks')).body.map((n: { Name: string }) => n.Name).sort();
  t.same(names, ['bridge', 'host', 'none'], 'predefined networks are never pruned');
  const bad = await prune({ dangling: { true: true } });
  t.same([bad.status, bad.body], [400, { message: "Invalid filter 'dangling'" }]);
  const badUntil = await prune({ until: ['notatime'] });
  t.same([badUntil.status, badUntil.body], [400, { message: 'failed to parse value as time or duration: "notatime"' }]);
  const twoUntil = await prune({ until: ['1h', '2h'] });
  t.same(twoUntil.body, { message: 'more than one until filter specified' });
});

t.test('request bodies: empty, not JSON, wrong content type', async (t) => {
  const d = await buildTestDaemon(t);
  const empty = await d.app.inject({ method: 'POST', url: '/networks/create', headers: { 'content-type': 'application/json' }, payload: '' });
  t.same([empty.statusCode, JSON.parse(empty.body)], [400, { message: 'invalid name: name is empty' }]);
  const bad = await d.app.inject({ method: 'POST', url: '/networks/create', headers: { 'content-type': 'application/json' }, payload: '{"Name":' });
  t.equal(bad.statusCode, 400);
  t.match(JSON.parse(bad.body).message, /^invalid JSON: /);
  const text = await d.app.inject({ method: 'POST', url: '/networks/create', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
  t.same([text.statusCode, JSON.parse(text.body)], [400, { message: "Content-Type specified (text/plain) must be 'application/json'" }]);
  const wrongType = await call(d, 'POST', '/networks/create', { Name: 5 });
  t.equal(wrongType.status, 400);
});

t.test('EnableIPv4 is read from API 1.48 only; IPv6 gets a ULA subnet', async (t) => {
  const d = await buildTestDaemon(t);
  const old = await call(d, 'POST', '/v1.41/networks/create', { Name: 'v4off-old', EnableIPv4: false, EnableIPv6: true });
  t.equal(old.status, 201);
  const o = (await call(d, 'GET', '/v1.48/networks/v4off-old')).body;
  t.equal(o.EnableIPv4, true);
  t.same(o.IPAM.Config.map((c: { Subnet: string }) => c.Subnet.includes(':')), [false, true]);
  t.match(o.IPAM.Config[1].Subnet, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
  const v6only = await call(d, 'POST', '/v1.48/networks/create', { Name: 'v6only', EnableIPv4: false, EnableIPv6: true });
  t.equal(v6only.status, 201);
  t.same((await call(d, 'GET', '/v1.48/networks/v6only')).body.IPAM.Config.length, 1);
  const none = await call(d, 'POST', '/v1.48/networks/create', { Name: 'nothing', EnableIPv4: false });
  t.same(none.body, { message: 'IPv4 or IPv6 must be enabled' });
});

t.test('predefined networks exist from the first start, with --bip honoured', async (t) => {
  const d = await buildTestDaemon(t, ['--bip', '192.168.99.1/24', '--bridge-name', 'cnmdtest0']);
  const b = (await call(d, 'GET', '/networks/bridge')).body;
  t.same(b.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '192.168.99.0/24', Gateway: '192.168.99.1' }] });
  t.equal(b.Options['com.docker.network.bridge.name'], 'cnmdtest0');
  t.equal(b.Options['com.docker.network.bridge.default_bridge'], 'true');
  t.same((await call(d, 'GET', '/networks/host')).body.IPAM.Config, []);
  t.equal((await call(d, 'GET', '/networks/none')).body.Driver, 'null');
});

t.test('--default-address-pool replaces the built-in pools', async (t) => {
  const d = await buildTestDaemon(t, ['--default-address-pool', 'base=10.123.0.0/16,size=24']);
  t.equal((await call(d, 'GET', '/networks/bridge')).body.IPAM.Config[0].Subnet, '10.123.0.0/24');
  await create(d, 'n1');
  t.equal((await call(d, 'GET', '/networks/n1')).body.IPAM.Config[0].Subnet, '10.123.1.0/24');
});

t.test('config-only networks lend their IPAM and options to --config-from networks', async (t) => {
  const d = await buildTestDaemon(t);
  const cfg = await create(d, 'cfg', { ConfigOnly: true, IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.88.0.0/24', Gateway: '10.88.0.1' }] }, Options: { 'com.docker.network.bridge.enable_icc': 'false' } });
  t.equal(cfg.status, 201);
  const c = (await call(d, 'GET', '/networks/cfg')).body;
  t.match(c, { Driver: 'null', ConfigOnly: true, IPAM: { Config: [{ Subnet: '10.88.0.0/24', Gateway: '10.88.0.1' }] } });
  d.exec.clear();
  const user = await create(d, 'user', { ConfigFrom: { Network: 'cfg' } });
  t.equal(user.status, 201);
  const u = (await call(d, 'GET', '/networks/user')).body;
  t.match(u, { Driver: 'bridge', ConfigFrom: { Network: 'cfg' }, Options: { 'com.docker.network.bridge.enable_icc': 'false' }, IPAM: { Config: [{ Subnet: '10.88.0.0/24', Gateway: '10.88.0.1' }] } });
  t.match(d.exec.lines().join('\n'), /addr add 10\.88\.0\.1\/24/);
  const both = await create(d, 'both', { ConfigFrom: { Network: 'cfg' }, IPAM: { Driver: 'default', Config: [{ Subnet: '10.89.0.0/24' }] } });
  t.same([both.status, both.body], [403, { message: 'user specified configurations are not supported if the network depends on a configuration network' }]);
  const missing = await create(d, 'nope', { ConfigFrom: { Network: 'absent' } });
  t.same([missing.status, missing.body], [404, { message: 'configuration network "absent" does not exist' }]);
  const inUse = await call(d, 'DELETE', '/networks/cfg');
  t.same([inUse.status, inUse.body], [403, { message: 'error while removing network: configuration network "cfg" is in use' }]);
  t.equal((await call(d, 'DELETE', '/networks/user')).status, 204);
  t.equal((await call(d, 'DELETE', '/networks/cfg')).status, 204);
});

t.test('overlay without a cluster store: a 400 that says how to get one, and nothing made', async (t) => {
  const d = await buildTestDaemon(t);
  d.exec.clear();
  const r = await call(d, 'POST', '/v1.48/networks/create', { Name: 'ov', Driver: 'overlay' });
  t.equal(r.status, 400);
  t.equal(r.body.message, 'overlay networks need a cluster store: start cnmd with --cluster-store etcd://HOST:PORT --cluster-advertise ADDRESS');
  t.same(d.exec.lines({ files: false }), [], 'no host step');
  t.equal((await call(d, 'POST', '/v1.48/networks/create', { Name: 'x', Driver: 'bridge', Scope: 'global' })).body.message, 'scope "global" is not supported by the bridge driver: it is a local-scope driver');
});
