/**
 * The macvlan driver through the API with the recording executor: Docker's texts and codes, the
 * host steps planned (no bridge, no iptables rules; a macvlan link made directly in the sandbox),
 * and nothing left behind by a refused or failed create.
 */
import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';

async function daemon(t: Parameters<typeof buildTestDaemon>[0]) {
  const d = await buildTestDaemon(t);
  // the test host's links, as `ip -json link show` lists them
  d.exec.respond(/^ip -json link show$/, JSON.stringify([{ ifname: 'lo' }, { ifname: 'eth0' }, { ifname: 'eth1.20' }]));
  return d;
}

const create = (d: TestDaemon, body: Record<string, unknown>) => call(d, 'POST', '/v1.48/networks/create', { Driver: 'macvlan', ...body });

t.test('create on an existing parent: no host link of ours, no rule; inspect as Docker', async (t) => {
  const d = await daemon(t);
  d.exec.clear();
  const r = await create(d, { Name: 'pub', Options: { parent: 'eth0' }, IPAM: { Config: [{ Subnet: '192.168.50.0/24', Gateway: '192.168.50.1' }] } });
  t.equal(r.status, 201, r.text);
  const lines = d.exec.lines({ files: false });
  t.same(lines, ['ip -json link show'], 'one read of the host links, nothing made');
  const n = (await call(d, 'GET', '/v1.48/networks/pub')).body;
  t.match(n, { Driver: 'macvlan', Scope: 'local', Options: { parent: 'eth0' }, IPAM: { Config: [{ Subnet: '192.168.50.0/24', Gateway: '192.168.50.1' }] } });
  t.equal((await call(d, 'GET', '/v1.48/networks?filters=' + encodeURIComponent('{"driver":{"macvlan":true}}'))).body.length, 1, 'driver filter');
});

t.test("Docker's refusals: 4xx with its text, nothing made", async (t) => {
  const d = await daemon(t);
  t.equal((await create(d, { Name: 'a', Options: { parent: 'eth0' } })).status, 201);
  d.exec.clear();
  const cases: Array<[Record<string, unknown>, number, string]> = [
    [{ Name: 'b', Options: { parent: 'eth0' } }, 400, 'network dm-'],
    [{ Name: 'c', Options: { parent: 'eth9' } }, 400, 'the requested parent interface eth9 was not found on the Docker host'],
    [{ Name: 'd', Options: { parent: 'eth9.60' } }, 400, '-o parent interface was not found on the host: eth9'],
    [{ Name: 'e', Options: { parent: 'eth0.5000' } }, 400, 'vlan id must be between 1-4094, received: 5000'],
    [{ Name: 'f', Options: { parent: 'eth0.x' } }, 400, 'unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)'],
    [{ Name: 'g', Options: { parent: 'eth0.1.2' } }, 400, 'required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received eth0.1.2'],
    [{ Name: 'h', Options: { parent: 'lo' } }, 400, 'loopback interface is not a valid macvlan parent link'],
    [{ Name: 'i', Options: { macvlan_mode: 'foo' } }, 400, "requested macvlan mode 'foo' is not valid, 'bridge' mode is the macvlan driver default"],
    [{ Name: 'j', Options: { 'com.docker.network.bridge.enable_icc': 'false' } }, 400, 'option com.docker.network.bridge.enable_icc does not apply to the macvlan driver'],
  ];
  for (const [body, status, text] of cases) {
    const r = await create(d, body);
    t.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    t.match(r.body.message, text);
  }
  t.notMatch(d.exec.lines({ files: false }).join('\n'), /link add|iptables-restore/, 'nothing was made on the host');
  t.equal((await call(d, 'GET', '/v1.48/networks')).body.length, 4, 'only the predefined three and a');
});

t.test('a VLAN sub-interface is made for the network and removed with it; an existing one is used as it is', async (t) => {
  const d = await daemon(t);
  d.exec.clear();
  const r = await create(d, { Name: 'v60', Options: { parent: 'eth0.60' } });
  t.equal(r.status, 201, r.text);
  const id = r.body.Id as string;
  t.match(d.exec.lines({ files: false }).join('\n'), `link add link eth0 name eth0.60 mtu 1500 type vlan id 60\nlink set dev eth0.60 alias cnmd:${id}\nlink set dev eth0.60 up`);
  d.exec.clear();
  t.equal((await call(d, 'DELETE', '/v1.48/networks/v60')).status, 204);
  t.match(d.exec.lines({ files: false }).join('\n'), 'link del dev eth0.60');
  d.exec.clear();
  t.equal((await create(d, { Name: 'v20', Options: { parent: 'eth1.20' } })).status, 201);
  t.notMatch(d.exec.lines({ files: false }).join('\n'), /link add/, 'eth1.20 exists: not ours to make or remove');
});

t.test('a kernel without 802.1Q: a clear 400, and the store and host as before', async (t) => {
  const d = await daemon(t);
  d.exec.failOn('type vlan', 'Error: Unknown device type.');
  const r = await create(d, { Name: 'v60', Options: { parent: 'eth0.60' } });
  t.equal(r.status, 400);
  t.equal(r.body.message, 'cannot create the 802.1Q VLAN sub-interface eth0.60: this kernel has no VLAN support (CONFIG_VLAN_8021Q, module 8021q)');
  t.equal((await call(d, 'GET', '/v1.48/networks/v60')).status, 404, 'no network row');
  d.exec.clearFailures();
  t.equal((await create(d, { Name: 'again', Options: { parent: 'eth0.60' } })).body.Id?.length, 64, 'the subnet and the parent are free again');
  t.equal((await call(d, 'GET', '/v1.48/networks/again')).body.IPAM.Config[0].Subnet, '172.18.0.0/16');
});

t.test('no parent: an isolated segment on dm-<id>; endpoints are macvlan links made inside the sandbox', async (t) => {
  const d = await daemon(t);
  d.exec.clear();
  const r = await create(d, { Name: 'iso', Options: { macvlan_mode: 'private' } });
  const id = r.body.Id as string;
  t.match(d.exec.lines({ files: false }).join('\n'), `link add name dm-${id.slice(0, 12)} mtu 1500 type bridge`);
  const m1 = (await call(d, 'POST', '/v1.48/containers/create?name=m1', { Image: 'x', HostConfig: { NetworkMode: 'iso' } })).body.Id as string;
  const ns = `cnmd-${m1.slice(0, 12)}`;
  d.exec.clear();
  t.equal((await call(d, 'POST', '/v1.48/containers/m1/start')).status, 204);
  const lines = d.exec.lines({ files: false }).join('\n');
  t.match(lines, `link add link dm-${id.slice(0, 12)} name eth0 netns ${ns} address 02:42:ac:12:00:02 type macvlan mode private`);
  t.match(lines, new RegExp(`nsenter --net=/run/netns/${ns} ip -batch -\\n(.*\\n)*link set dev eth0 alias cnmd:[0-9a-f]{64}:`));
  t.notMatch(lines, /type veth|iptables-restore/, 'no veth, no rule');
  t.notMatch(lines, /127\.0\.0\.11\/32/, 'no route to 127.0.0.11: no gateway of ours is there');
  t.match(lines, `bind /run/netns/${ns} 127.0.0.11:53`, 'the DNS server is bound inside the sandbox');
  const files = [...d.exec.files.entries()].find(([p]) => p.endsWith(`/etc/netns/${ns}/resolv.conf`));
  t.match(files?.[1], /^nameserver 127\.0\.0\.11$/m, 'and resolv.conf points there');
  const c = (await call(d, 'GET', '/v1.48/containers/m1/json')).body;
  t.match(c.NetworkSettings.Networks.iso, { IPAddress: '172.18.0.2', Gateway: '172.18.0.1', MacAddress: '02:42:ac:12:00:02' });
  await call(d, 'POST', '/v1.48/networks/create', { Name: 'br' });
  await call(d, 'POST', '/v1.48/networks/br/connect', { Container: 'm1' });
  d.exec.clear();
  t.equal((await call(d, 'POST', '/v1.48/networks/iso/disconnect', { Container: 'm1' })).status, 200);
  t.match(d.exec.lines({ files: false }).join('\n'), new RegExp(`nsenter --net=/run/netns/${ns} ip -batch -\\nlink del dev eth0`), 'disconnect removes the link inside');
});

t.test('ports are not published on a macvlan network, as in Docker: the container starts, no NAT rule is made', async (t) => {
  const d = await daemon(t);
  t.equal((await create(d, { Name: 'pub', Options: { parent: 'eth0' } })).status, 201);
  t.equal((await call(d, 'POST', '/v1.48/networks/create', { Name: 'br2' })).status, 201);
  const ports = { ExposedPorts: { '80/tcp': {} }, HostConfig: { NetworkMode: 'pub', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } };
  t.equal((await call(d, 'POST', '/v1.48/containers/create?name=m2', { Image: 'x', ...ports })).status, 201);
  d.exec.clear();
  t.equal((await call(d, 'POST', '/v1.48/containers/m2/start')).status, 204);
  t.notMatch(d.exec.lines({ files: false }).join('\n'), /DNAT|iptables-restore/, 'no DNAT rule, no rule at all');
  // on macvlan and a bridge network, the default route is macvlan's: no DNAT towards an address the host cannot reach
  const both = { NetworkingConfig: { EndpointsConfig: { pub: {}, br2: {} } } };
  t.equal((await call(d, 'POST', '/v1.48/containers/create?name=m3', { Image: 'x', ...ports, ...both })).status, 201);
  d.exec.clear();
  t.equal((await call(d, 'POST', '/v1.48/containers/m3/start')).status, 204);
  const c = (await call(d, 'GET', '/v1.48/containers/m3/json')).body;
  t.same(Object.keys(c.NetworkSettings.Networks).sort(), ['br2', 'pub'], 'on both networks');
  t.notMatch(d.exec.lines({ files: false }).join('\n'), /DNAT/, 'no DNAT rule');
});
