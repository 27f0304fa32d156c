/** Records another host wrote to the cluster store pass the same gates as API input before they are mirrored. */
import t from 'tap';
import { checkEndpoint, checkNetwork, checkNode } from '../../src/cluster/records.js';
import { VNI_OPTION } from '../../src/drivers/overlay.js';

const NET = 'a'.repeat(64);
const NODE = 'b'.repeat(64);
const EP = 'c'.repeat(64);
const CTR = 'd'.repeat(64);
const network = {
  id: NET, name: 'ov', driver: 'overlay', scope: 'global', created: '2026-12-02T18:00:00.123456789Z', enableIPv4: true, enableIPv6: false,
  internal: false, attachable: true, ingress: false, configOnly: false, configFrom: '', ipamDriver: 'default', ipamOptions: {},
  options: { [VNI_OPTION]: '4096' }, labels: {}, predefined: false, bridgeName: null,
  subnets: [{ family: 4, subnet: '10.0.9.0/24', gateway: '10.0.9.1', aux: {}, auto: true, shown: {} }],
};
const node = { id: NODE, address: '192.0.2.2', name: 'host-b' };
const nodes = new Map([[NODE, node]]);
const endpoint = { id: EP, networkId: NET, containerId: CTR, node: NODE, vtep: '192.0.2.2', mac: '02:42:0a:00:09:02', ipv4: '10.0.9.2/24', ipv6: null, names: ['web', 'web.1'] };

t.test('records as cnmd writes them pass', async (t) => {
  const n = checkNetwork(network, NET);
  t.ok(n.ok, n.ok ? '' : n.why);
  t.ok(checkNode(node, NODE).ok);
  const e = checkEndpoint(endpoint, NET, EP, nodes, n.ok ? n.value : undefined);
  t.ok(e.ok, e.ok ? '' : e.why);
  t.same(e.ok && e.value, endpoint);
});

t.test('crafted records are refused, each with why', async (t) => {
  const bad = (label: string, r: { ok: boolean; why?: string }, why: string | RegExp) => {
    t.notOk(r.ok, label);
    t.match(r.why ?? '', why, label);
  };
  const net = checkNetwork(network, NET);
  const n = net.ok ? net.value : undefined;
  bad('a MAC with a batch line', checkEndpoint({ ...endpoint, mac: '02:42:0a:00:09:02\nlink del dev eth0' }, NET, EP, nodes, n), 'is not a unicast address');
  bad('a multicast MAC', checkEndpoint({ ...endpoint, mac: '03:42:0a:00:09:02' }, NET, EP, nodes, n), 'unicast');
  bad('a VTEP that is not its node\'s', checkEndpoint({ ...endpoint, vtep: '198.51.100.66' }, NET, EP, nodes, n), 'is not the address of its node (192.0.2.2)');
  bad('a node that is not a member', checkEndpoint({ ...endpoint, node: 'e'.repeat(64) }, NET, EP, nodes, n), 'is not a member of the cluster');
  bad('an address outside the network', checkEndpoint({ ...endpoint, ipv4: '10.99.0.2/24' }, NET, EP, nodes, n), "is not in the network's subnets");
  bad('an address with text after it', checkEndpoint({ ...endpoint, ipv4: '10.0.9.2/24 dev lo' }, NET, EP, nodes, n), 'is not an address');
  bad('names with a space', checkEndpoint({ ...endpoint, names: ['web evil'] }, NET, EP, nodes, n), 'not DNS names');
  bad('an id that is not hex', checkEndpoint({ ...endpoint, id: 'x'.repeat(64) }, NET, 'x'.repeat(64), nodes, n), '64 hex');
  bad('ids not those of the key', checkEndpoint(endpoint, NET, 'f'.repeat(64), nodes, n), '64 hex');
  bad('a gateway with a line break', checkNetwork({ ...network, subnets: [{ ...network.subnets[0], gateway: '10.0.9.1\nlink del dev eth0' }] }, NET), 'is not an address of');
  bad('a gateway outside its subnet', checkNetwork({ ...network, subnets: [{ ...network.subnets[0], gateway: '10.0.8.1' }] }, NET), 'is not an address of');
  bad('a subnet with host bits', checkNetwork({ ...network, subnets: [{ ...network.subnets[0], subnet: '10.0.9.5/24' }] }, NET), 'not a canonical prefix');
  bad('a VNI out of range', checkNetwork({ ...network, options: { [VNI_OPTION]: '16777216' } }, NET), 'is not an integer from 1 to 16777215');
  bad('a VNI that is text', checkNetwork({ ...network, options: { [VNI_OPTION]: '4096 dstport 1' } }, NET), /key or value|VXLAN id/);
  bad('an option with a quote', checkNetwork({ ...network, options: { ...network.options, 'com.docker.network.driver.mtu': '1450"' } }, NET), 'a key or value cnmd does not write');
  bad('a bridge network smuggled in', checkNetwork({ ...network, driver: 'bridge', scope: 'local' }, NET), 'not a global overlay network');
  bad('a network whose id is not its key', checkNetwork(network, 'f'.repeat(64)), '64 hex');
  bad('a node address that is not IPv4', checkNode({ ...node, address: '192.0.2.2; reboot' }, NODE), 'is not an IPv4 address');
  bad('a node address spelled oddly', checkNode({ ...node, address: '192.000.2.2' }, NODE), 'is not an IPv4 address');
  bad('not JSON objects', checkNode('x', NODE), 'not an object');
  // a WireGuard key reaches wg's argv on every host with an encrypted network
  const key = 'x'.repeat(42) + 'A=';
  t.same(checkNode({ ...node, wireguard: key }, NODE), { ok: true, value: { ...node, wireguard: key } }, 'a WireGuard key of 32 bytes in base64 is kept');
  bad('a WireGuard key with an option in it', checkNode({ ...node, wireguard: `${key} peer` }, NODE), 'is not 32 bytes in base64');
  bad('a WireGuard key that is not 32 bytes', checkNode({ ...node, wireguard: 'x'.repeat(43) + '=' }, NODE), 'is not 32 bytes in base64');
  bad('a WireGuard key that is not text', checkNode({ ...node, wireguard: 7 }, NODE), 'is not 32 bytes in base64');
});

t.test('what is kept of a network is rebuilt, not copied: unknown fields do not come through', async (t) => {
  const r = checkNetwork({ ...network, bridgeName: 'eth0', predefined: true, extra: 'x' }, NET);
  t.ok(r.ok);
  t.equal(r.ok && r.value.bridgeName, null);
  t.equal(r.ok && r.value.predefined, false);
  t.notOk(r.ok && 'extra' in r.value);
});
