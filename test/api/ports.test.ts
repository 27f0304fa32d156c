import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';

async function setup(t: Parameters<typeof buildTestDaemon>[0], flags: string[] = []) {
  const d = await buildTestDaemon(t, flags);
  await call(d, 'POST', '/networks/create', { Name: 'n', IPAM: { Config: [{ Subnet: '10.40.0.0/24' }] } });
  return d;
}

async function runWith(d: TestDaemon, name: string, hostConfig: Record<string, unknown>, exposed: Record<string, unknown> = {}) {
  const c = await call(d, 'POST', `/v1.48/containers/create?name=${name}`, { Image: 'x', ExposedPorts: exposed, HostConfig: { NetworkMode: 'n', ...hostConfig } });
  if (c.status !== 201) return c;
  return call(d, 'POST', `/v1.48/containers/${name}/start`);
}

t.test('-p 8080:80 and -p 127.0.0.1:5353:53/udp: DNAT rules, hairpin, NetworkSettings.Ports', async (t) => {
  const d = await setup(t);
  d.exec.clear();
  const r = await runWith(d, 'web', { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] } },
    { '80/tcp': {}, '53/udp': {}, '9000/tcp': {} });
  t.equal(r.status, 204, r.text);
  const c = (await call(d, 'GET', '/containers/web/json')).body;
  t.same(c.NetworkSettings.Ports, {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    '9000/tcp': null,
  });
  const restore = d.exec.lines({ files: false }).find((l) => l.startsWith('iptables-restore'))!;
  const tag = `-m comment --comment "cnmd:${c.Id.slice(0, 12)}"`;
  t.match(restore, `-A CNMD-DNAT -p tcp -m tcp --dport 8080 ${tag} -j DNAT --to-destination 10.40.0.2:80`);
  t.match(restore, `-A CNMD-DNAT-LO -d 127.0.0.1/32 -p udp -m udp --dport 5353 ${tag} -j DNAT --to-destination 10.40.0.2:53`, 'a loopback binding is reachable from the host only');
  t.match(restore, `-A CNMD-POSTROUTING -s 10.40.0.2/32 -d 10.40.0.2/32 -p tcp -m tcp --dport 80 ${tag} -j MASQUERADE`);
  t.match(d.exec.lines({ files: false }).find((l) => l.startsWith('ip -batch'))!, /link set dev veth[0-9a-f]{7} type bridge_slave hairpin on/);
  t.same([...d.exec.heldPorts].sort(), ['tcp/0.0.0.0/8080', 'udp/127.0.0.1/5353'], 'the host ports are held');
  const list = (await call(d, 'GET', '/containers/json')).body[0].Ports;
  t.same(list, [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { IP: '127.0.0.1', PrivatePort: 53, PublicPort: 5353, Type: 'udp' }, { PrivatePort: 9000, Type: 'tcp' }]);

  d.exec.clear();
  await call(d, 'POST', '/containers/web/stop');
  t.match(d.exec.lines({ files: false }).find((l) => l.startsWith('iptables-restore'))!, `-D CNMD-DNAT -p tcp -m tcp --dport 8080 ${tag}`, 'rules go away on stop');
  t.same([...d.exec.heldPorts], [], 'and the ports are free again');
  t.same((await call(d, 'GET', '/containers/web/json')).body.NetworkSettings.Ports, {});
});

t.test('a port that is taken: Docker\'s error, and nothing half-made', async (t) => {
  const d = await setup(t);
  t.equal((await runWith(d, 'ca', { PortBindings: { '80/tcp': [{ HostPort: '8080' }] } })).status, 204);
  const taken = await runWith(d, 'cb', { PortBindings: { '81/tcp': [{ HostPort: '9090' }], '80/tcp': [{ HostPort: '8080' }] } });
  t.same([taken.status, taken.body], [409, { message: 'Bind for 0.0.0.0:8080 failed: port is already allocated' }]);
  t.same([...d.exec.heldPorts], ['tcp/0.0.0.0/8080'], 'the port b got first was let go');
  const b = (await call(d, 'GET', '/containers/cb/json')).body;
  t.equal(b.State.Status, 'created');
  t.same((await call(d, 'GET', '/networks/n')).body.Containers[b.Id], undefined, 'no endpoint');
  d.exec.takenPorts.add('tcp/0.0.0.0/7070');
  const other = await runWith(d, 'cc', { PortBindings: { '80/tcp': [{ HostPort: '7070' }] } });
  t.same(other.body, { message: 'Bind for 0.0.0.0:7070 failed: port is already allocated' }, 'also when another program holds it');
  const loopback = await runWith(d, 'ce', { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] } });
  t.same(loopback.body, { message: 'Bind for 127.0.0.1:8080 failed: port is already allocated' }, '0.0.0.0 covers 127.0.0.1');
});

t.test('random host ports, ranges, PublishAllPorts', async (t) => {
  const d = await setup(t);
  await runWith(d, 'cr', { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '' }] } });
  const hp = Number((await call(d, 'GET', '/containers/cr/json')).body.NetworkSettings.Ports['80/tcp'][0].HostPort);
  t.ok(hp >= 32768 && hp <= 60999, `an ephemeral port: ${hp}`);
  d.exec.takenPorts.add('tcp/0.0.0.0/8000');
  await runWith(d, 'range', { PortBindings: { '80/tcp': [{ HostPort: '8000-8010' }] } });
  t.same((await call(d, 'GET', '/containers/range/json')).body.NetworkSettings.Ports['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '8001' }], 'the first free one of the range');
  await runWith(d, 'all', { PublishAllPorts: true }, { '7000/tcp': {}, '7001/udp': {} });
  const all = (await call(d, 'GET', '/containers/all/json')).body.NetworkSettings.Ports;
  t.same(Object.keys(all), ['7000/tcp', '7001/udp']);
  t.ok(all['7001/udp'][0].HostPort > 0);
  d.exec.clear();
  const v6 = await runWith(d, 'v6', { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }] } });
  t.equal(v6.status, 204, 'the same port on 0.0.0.0 and on ::');
  t.same((await call(d, 'GET', '/containers/v6/json')).body.NetworkSettings.Ports['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }]);
  const v6ip = (await call(d, 'GET', '/containers/v6/json')).body.NetworkSettings.Networks.n.IPAddress;
  t.ok(d.exec.lines().includes(`proxy tcp/[::]:8080 ${v6ip}:80`), 'an IPv6 host address is relayed by the daemon to the container');
  t.notMatch(d.exec.lines().join('\n'), /DNAT .*:8080|--dport 8080 .*::/, 'and not NATed');
});

t.test('internal networks and host mode publish nothing', async (t) => {
  const d = await setup(t);
  await call(d, 'POST', '/networks/create', { Name: 'int', Internal: true });
  const c = await call(d, 'POST', '/containers/create?name=ci', { Image: 'x', HostConfig: { NetworkMode: 'int', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } });
  t.equal(c.status, 201);
  t.equal((await call(d, 'POST', '/containers/ci/start')).status, 204);
  t.same([...d.exec.heldPorts], []);
});

t.test('at most 4096 published ports per container: the edge is accepted, one more is a 400 with nothing made', async (t) => {
  const d = await setup(t);
  const { MAX_PUBLISHED_PORTS } = await import('../../src/services/ports.js');
  t.equal(MAX_PUBLISHED_PORTS, 4096);
  const edge = await runWith(d, 'edge', { PortBindings: { '20000-24095/udp': [{ HostPort: '20000-24095' }] } });
  t.equal(edge.status, 204, 'a range of exactly 4096 ports is published');
  t.equal(Object.keys((await call(d, 'GET', '/containers/edge/json')).body.NetworkSettings.Ports).length, 4096);
  const over = await call(d, 'POST', '/v1.48/containers/create?name=over', {
    Image: 'x', HostConfig: { NetworkMode: 'n', PortBindings: { '30000-34095/tcp': [{ HostPort: '30000-34095' }], '80/tcp': [{ HostPort: '8080' }] } },
  });
  t.equal(over.status, 400);
  t.equal(over.body.message, 'too many published ports: this container asks for 4097, cnmd publishes at most 4096 per container (--limit published-ports)');
  const all = await call(d, 'POST', '/v1.48/containers/create?name=every', { Image: 'x', HostConfig: { NetworkMode: 'n', PortBindings: { '1-65535/tcp': [{ HostPort: '1-65535' }] } } });
  t.equal(all.status, 400, '-p 1-65535:1-65535 is refused');
  t.match(all.body.message, 'asks for 65535');
  const both = await call(d, 'POST', '/v1.48/containers/create?name=twice', { Image: 'x', HostConfig: { NetworkMode: 'n', PortBindings: { '1-2100/tcp': [{ HostIp: '0.0.0.0' }, { HostIp: '::' }] } } });
  t.equal(both.status, 400, 'each binding of a range counts');
  t.match(both.body.message, 'asks for 4200');
  t.equal((await call(d, 'GET', '/containers/json?all=1')).body.length, 1, 'no refused container was made');
});

t.test('--limit published-ports=3: three ports are published, four are a 400 at create', async (t) => {
  const d = await setup(t, ['--limit', 'published-ports=3']);
  t.equal((await runWith(d, 'three', { PortBindings: { '80/tcp': [{ HostPort: '8080' }], '53/udp': [{ HostPort: '5353' }, { HostPort: '5354' }] } })).status, 204);
  const four = await runWith(d, 'four', { PortBindings: { '80-83/tcp': [{ HostPort: '9080-9083' }] } });
  t.same([four.status, four.body.message], [400, 'too many published ports: this container asks for 4, cnmd publishes at most 3 per container (--limit published-ports)']);
  t.equal((await call(d, 'GET', '/containers/json?all=1')).body.length, 1, 'no refused container was made');
});
