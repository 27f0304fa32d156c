import t from 'tap';
import { desiredState } from '../../src/reconcile/desired.js';
import { plan, adopt, NeedsFullReconcile, type Step } from '../../src/reconcile/plan.js';
import { toHostSteps, describeStep } from '../../src/reconcile/reconciler.js';
import { restoreInput } from '../../src/host/apply.js';
import { emptyHostState, chainKey, type HostState } from '../../src/host/state.js';
import { ctx, bridgeNetwork, ID_A, ID_B } from '../helpers/fixtures.js';
import { overlayDriver } from '../../src/drivers/overlay.js';

const all = { instance: 'cnmd', chainPrefix: 'CNMD', owners: null };
const only = (...ids: string[]) => ({ ...all, owners: new Set(ids.map((i) => i.slice(0, 12))) });
const netA = bridgeNetwork({ id: ID_A });
const netB = bridgeNetwork({ id: ID_B, subnets: [{ family: 4, subnet: '10.60.0.0/24', gateway: '10.60.0.1', aux: {}, auto: false, shown: {} }] });

t.test('a bridge network on an empty host: golden plan', async (t) => {
  const steps = plan(desiredState([netA], ctx), emptyHostState(), all);
  const host = toHostSteps(steps);
  t.same(host.sysctls, [{ key: 'net.ipv4.ip_forward', value: '1' }, { key: 'net.ipv4.conf.cnmd-aaaaaaaaaa.route_localnet', value: '1' }]);
  t.same(host.ipLines, [
    'link add name cnmd-aaaaaaaaaa mtu 1500 address 02:aa:aa:aa:aa:aa type bridge',
    `link set dev cnmd-aaaaaaaaaa alias cnmd:${ID_A}`,
    'addr add 10.50.0.1/24 dev cnmd-aaaaaaaaaa',
    'link set dev cnmd-aaaaaaaaaa up',
  ]);
  t.equal(
    restoreInput(host.iptables.filter((r) => r.family !== 6)),
    `*filter
:CNMD-FORWARD - [0:0]
:CNMD-USER - [0:0]
:CNMD-DEST - [0:0]
:CNMD-SRC - [0:0]
:CNMD-INPUT - [0:0]
:CNMD-N-aaaaaaaaaaaa - [0:0]
-A CNMD-FORWARD -j CNMD-USER
-A CNMD-FORWARD -j CNMD-DEST
-A CNMD-FORWARD -j CNMD-SRC
-A CNMD-DEST -o cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j CNMD-N-aaaaaaaaaaaa
-A CNMD-SRC -i cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j ACCEPT
-A CNMD-INPUT -d 127.0.0.0/8 -i cnmd-aaaaaaaaaa -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "cnmd:aaaaaaaaaaaa" -j DROP
-A CNMD-INPUT -i cnmd-aaaaaaaaaa -p udp -m udp --dport 53 -m comment --comment "cnmd:aaaaaaaaaaaa" -j ACCEPT
-A CNMD-INPUT -i cnmd-aaaaaaaaaa -p tcp -m tcp --dport 53 -m comment --comment "cnmd:aaaaaaaaaaaa" -j ACCEPT
-A CNMD-N-aaaaaaaaaaaa -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNMD-N-aaaaaaaaaaaa -i cnmd-aaaaaaaaaa -j ACCEPT
-A CNMD-N-aaaaaaaaaaaa -m conntrack --ctstate DNAT -j ACCEPT
-A CNMD-N-aaaaaaaaaaaa -j DROP
-I FORWARD -j CNMD-FORWARD
-I INPUT -j CNMD-INPUT
COMMIT
*nat
:CNMD-POSTROUTING - [0:0]
:CNMD-DNAT - [0:0]
:CNMD-DNAT-LO - [0:0]
:CNMD-DNS - [0:0]
-A CNMD-POSTROUTING -s 10.50.0.0/24 ! -o cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j MASQUERADE
-A CNMD-POSTROUTING -o cnmd-aaaaaaaaaa -m addrtype --src-type LOCAL -m comment --comment "cnmd:aaaaaaaaaaaa" -j MASQUERADE
-A CNMD-DNS -p udp -m udp --dport 53 -j REDIRECT
-A CNMD-DNS -p tcp -m tcp --dport 53 -j REDIRECT
-I POSTROUTING -j CNMD-POSTROUTING
-I PREROUTING ! -d 127.0.0.11/32 -m addrtype --dst-type LOCAL -j CNMD-DNAT
-I PREROUTING -d 127.0.0.11/32 -j CNMD-DNS
-I OUTPUT -m addrtype --dst-type LOCAL -j CNMD-DNAT
-I OUTPUT -d 127.0.0.0/8 -j CNMD-DNAT-LO
COMMIT
*mangle
:CNMD-GUARD - [0:0]
-I PREROUTING -m addrtype --dst-type LOCAL -j CNMD-GUARD
COMMIT
`,
  );
});

t.test('variants: internal, icc=false, masquerade off, SNAT, inhibit_ipv4, MTU', async (t) => {
  const rules = (n: Parameters<typeof bridgeNetwork>[0]) => {
    const d = desiredState([bridgeNetwork(n)], ctx);
    return { d, text: restoreInput(toHostSteps(plan(d, emptyHostState(), all)).iptables) };
  };
  const internal = rules({ id: ID_A, internal: true });
  t.match(internal.text, /-A CNMD-SRC -i cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j DROP\n/, 'an internal network has no way out');
  t.notMatch(internal.text, /MASQUERADE/, 'and no NAT');
  t.match(internal.text, /-A CNMD-N-aaaaaaaaaaaa -i cnmd-aaaaaaaaaa -j ACCEPT\n-A CNMD-N-aaaaaaaaaaaa -j DROP\n/, 'nor a way in');
  const noicc = rules({ id: ID_A, options: { 'com.docker.network.bridge.enable_icc': 'false' } });
  t.match(noicc.text, /-A CNMD-N-aaaaaaaaaaaa -i cnmd-aaaaaaaaaa -j DROP/);
  t.same(noicc.d.sysctls.map((s) => s.key), ['net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables', 'net.ipv4.conf.cnmd-aaaaaaaaaa.route_localnet']);
  const nomasq = rules({ id: ID_A, options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false' } }).text;
  t.notMatch(nomasq, /-s 10\.50\.0\.0\/24 .*MASQUERADE/, 'no NAT for the subnet');
  t.match(nomasq, /--src-type LOCAL .*-j MASQUERADE/, 'only for connections from the host to published ports');
  t.match(rules({ id: ID_A, options: { 'com.docker.network.host_ipv4': '192.0.2.7' } }).text, /-j SNAT --to-source 192.0.2.7/);
  const inhibit = desiredState([bridgeNetwork({ id: ID_A, options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } })], ctx);
  t.same(inhibit.links[0].addresses, []);
  const mtu = desiredState([bridgeNetwork({ id: ID_A, options: { 'com.docker.network.driver.mtu': '9000' } })], ctx);
  t.equal(mtu.links[0].mtu, 9000);
});

t.test('applied plans converge: planning again yields nothing', async (t) => {
  const d = desiredState([netA, netB], ctx);
  const state = emptyHostState();
  t.ok(plan(d, state, all).length > 0);
  adopt(state, d, all);
  t.same(plan(d, state, all), []);
});

function converged(...nets: ReturnType<typeof bridgeNetwork>[]): HostState {
  const state = emptyHostState();
  const d = desiredState(nets, ctx);
  adopt(state, d, all);
  return state;
}

const lines = (steps: Step[]) => steps.map(describeStep);

t.test('a full plan with nothing to do: keeping the state read plans the same as adopting desired into it', async (t) => {
  // the reconciler keeps the read state after an empty full plan instead of adopting (a repair at rest)
  const netC = bridgeNetwork({ id: 'c'.repeat(64), subnets: [{ family: 4, subnet: '10.70.0.0/24', gateway: '10.70.0.1', aux: {}, auto: false, shown: {} }] });
  for (const firewall of ['iptables', 'nftables'] as const) {
    const c = { ...ctx, firewall };
    const o = { ...all, firewall };
    const d = desiredState([netA, netB], c);
    const read = emptyHostState();
    adopt(read, d, o);
    // what a read finds besides: links not ours, a user's own rules in the user chain
    read.links.set('eth0', { name: 'eth0', kind: '', mtu: 1500, up: true, addresses: ['192.0.2.5/24'] });
    read.rules.chains.get(chainKey('filter', 'CNMD-USER'))?.set('-s 192.0.2.9/32 -j DROP', 1);
    if (read.nft) read.nft.chains.get('user')!.tags = ['users-own'];
    t.same(plan(d, read, o), [], `${firewall}: nothing to do`);
    const adopted = structuredClone(read);
    adopt(adopted, d, o);
    t.same(plan(d, adopted, o), [], `${firewall}: nothing to do after adopting either`);
    const withC = { ...o, owners: new Set([netC.id.slice(0, 12)]) };
    const create = desiredState([netC], c);
    t.ok(plan(create, read, withC).length > 0);
    t.same(lines(plan(create, read, withC)), lines(plan(create, adopted, withC)), `${firewall}: the next network's create plans the same`);
    const drop = desiredState([netA], c);
    const dropB = { ...only(ID_B), firewall };
    t.ok(plan(drop, read, dropB).some((x) => describeStep(x).includes('cnmd-bbbbbbbbbb')));
    t.same(lines(plan(drop, read, dropB)), lines(plan(drop, adopted, dropB)), `${firewall}: a network's delete plans the same`);
  }
});

t.test('drift is repaired, and only drift', async (t) => {
  const d = desiredState([netA, netB], ctx);
  const state = converged(netA, netB);
  // someone ran `iptables -F CNMD-SRC` and deleted bridge B's address
  state.rules.chains.set(chainKey('filter', 'CNMD-SRC'), new Map());
  state.links.get('cnmd-bbbbbbbbbb')!.addresses = [];
  t.same(lines(plan(d, state, all)), [
    'ip addr add 10.60.0.1/24 dev cnmd-bbbbbbbbbb',
    'iptables -t filter -A CNMD-SRC -i cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j ACCEPT',
    'iptables -t filter -A CNMD-SRC -i cnmd-bbbbbbbbbb -m comment --comment "cnmd:bbbbbbbbbbbb" -j ACCEPT',
  ]);
});

t.test('a flushed FORWARD hook and a lost head rule are put back', async (t) => {
  const d = desiredState([netA], ctx);
  const state = converged(netA);
  state.rules.hooks.delete(chainKey('filter', 'FORWARD'));
  state.rules.chains.set(chainKey('filter', 'CNMD-FORWARD'), new Map([...state.rules.chains.get(chainKey('filter', 'CNMD-FORWARD'))!].slice(1)));
  const out = lines(plan(d, state, all));
  t.ok(out.includes('iptables -t filter -N CNMD-FORWARD'), 'the chain is rebuilt');
  t.ok(out.includes('iptables -t filter -I FORWARD -j CNMD-FORWARD'));
  const both = converged(netA, netB);
  both.rules.chains.delete(chainKey('filter', 'CNMD-FORWARD'));
  let thrown: unknown;
  try {
    plan(desiredState([netA], ctx), both, only(ID_A));
  } catch (e) {
    thrown = e;
  }
  t.ok(thrown instanceof NeedsFullReconcile, 'a scoped run cannot rebuild a chain that other networks share');
});

t.test('what is not ours is never touched; what is ours and unowned is removed', async (t) => {
  const d = desiredState([netA], ctx);
  const state = converged(netA);
  state.links.set('br-foreign', { name: 'br-foreign', kind: 'bridge', mtu: 1500, up: true, addresses: ['10.9.0.1/24'] });
  state.links.set('cnmd-ccccccccc', { name: 'cnmd-ccccccccc', kind: 'bridge', alias: 'cnmd:' + 'c'.repeat(64), mtu: 1500, up: true, addresses: [] });
  state.links.set('cnmd2-dddddd', { name: 'cnmd2-dddddd', kind: 'bridge', alias: 'cnmd2:' + 'd'.repeat(64), mtu: 1500, up: true, addresses: [] });
  state.rules.chains.set(chainKey('filter', 'CNMD-N-cccccccccccc'), new Map([['-j DROP', 1]]));
  state.rules.hooks.set(chainKey('filter', 'INPUT'), ['-j CNMD-INPUT', '-j CNMD-N-cccccccccccc']);
  t.same(lines(plan(d, state, all)), [
    'ip link del dev cnmd-ccccccccc',
    'iptables -t filter -F CNMD-N-cccccccccccc',
    'iptables -t filter -X CNMD-N-cccccccccccc',
    'iptables -t filter -D INPUT -j CNMD-N-cccccccccccc',
  ]);
});

t.test('a scoped plan looks only at its own networks', async (t) => {
  const state = converged(netA, netB);
  // B drifted, but a request about A does not repair B (the periodic full run does)
  state.links.get('cnmd-bbbbbbbbbb')!.up = false;
  t.same(plan(desiredState([netA], ctx), state, only(ID_A)), []);
  // deleting A: its link, chain and shared-chain rules go; B's stay
  const del = lines(plan(desiredState([], ctx), state, only(ID_A)));
  t.same(del, [
    'ip link del dev cnmd-aaaaaaaaaa',
    'iptables -t filter -D CNMD-DEST -o cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j CNMD-N-aaaaaaaaaaaa',
    'iptables -t filter -D CNMD-SRC -i cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j ACCEPT',
    'iptables -t filter -D CNMD-INPUT -d 127.0.0.0/8 -i cnmd-aaaaaaaaaa -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "cnmd:aaaaaaaaaaaa" -j DROP',
    'iptables -t filter -D CNMD-INPUT -i cnmd-aaaaaaaaaa -p udp -m udp --dport 53 -m comment --comment "cnmd:aaaaaaaaaaaa" -j ACCEPT',
    'iptables -t filter -D CNMD-INPUT -i cnmd-aaaaaaaaaa -p tcp -m tcp --dport 53 -m comment --comment "cnmd:aaaaaaaaaaaa" -j ACCEPT',
    'iptables -t nat -D CNMD-POSTROUTING -s 10.50.0.0/24 ! -o cnmd-aaaaaaaaaa -m comment --comment "cnmd:aaaaaaaaaaaa" -j MASQUERADE',
    'iptables -t nat -D CNMD-POSTROUTING -o cnmd-aaaaaaaaaa -m addrtype --src-type LOCAL -m comment --comment "cnmd:aaaaaaaaaaaa" -j MASQUERADE',
    'iptables -t filter -F CNMD-N-aaaaaaaaaaaa',
    'iptables -t filter -X CNMD-N-aaaaaaaaaaaa',
  ]);
});

t.test('a link of the bridge name that cnmd does not own is a conflict', async (t) => {
  const state = emptyHostState();
  state.links.set('cnmd-aaaaaaaaaa', { name: 'cnmd-aaaaaaaaaa', kind: 'bridge', mtu: 1500, up: true, addresses: [] });
  t.throws(() => plan(desiredState([netA], ctx), state, all), { message: /a link of that name exists and is not managed by cnmd/ });
});

t.test('with --iptables=false there are no rules at all', async (t) => {
  const d = desiredState([netA], { ...ctx, firewall: 'none' });
  t.same(d.firewall, { enabled: false, networks: [], ports: [] });
  t.same(toHostSteps(plan(d, emptyHostState(), all)).iptables, []);
  t.same(toHostSteps(plan(d, emptyHostState(), { ...all, firewall: 'nftables' })).nft, [], 'nor a table of nftables');
});

/** A running container on netA with one endpoint (.n on 10.50.0.0/24), in a namespace named after it. */
function onNetA(cid: string, name: string, n: number, hostIfname: string, pid = 0) {
  const container = {
    id: cid, name, created: '', config: {}, hostConfig: {}, networkMode: 'net-aaaa', sandboxKey: null, netns: name, state: 'running' as const,
    pid, exitCode: 0, error: '', startedAt: '', finishedAt: '', sandboxId: 's', restartCount: 0, paused: false, monitorPid: 0, pidStart: '', bootId: '', hasInside: false, manuallyStopped: false, imageId: '', health: null, mounts: [], links: [], endpointConfigs: [],
  };
  const endpoint = {
    id: cid.slice(0, 1).repeat(64), containerId: cid, networkId: ID_A, configKey: 'net-aaaa', ifname: 'eth0', hostIfname,
    mac: `02:42:0a:32:00:0${n}`, ipv4: `10.50.0.${n}/24`, ipv6: null, gwPriority: 0, position: 0,
  };
  return { container, endpoint };
}

t.test('sandboxes: made with their inside, repaired, and only our own namespaces removed', async (t) => {
  const cid = 'c'.repeat(12) + '1'.repeat(52);
  const { container, endpoint } = onNetA(cid, 'web', 2, 'veth1234567');
  const spec = { container, endpoints: [{ endpoint, network: netA }] };
  const owned = [{ name: 'web', owner: 'cccccccccccc' }];
  const d = desiredState([netA], ctx, [spec], owned);
  const state = converged(netA);
  const scope = only(cid);
  t.same(lines(plan(d, state, scope)), [
    'ip netns add web',
    'ip link add name veth1234567 mtu 1500 type veth peer name eth0 mtu 1500 address 02:42:0a:32:00:02 netns web',
    `ip link set dev veth1234567 alias cnmd:${cid}:aaaaaaaaaaaa`,
    'ip link set dev veth1234567 master cnmd-aaaaaaaaaa',
    'ip link set dev veth1234567 up',
    'nsenter --net=/run/netns/web sysctl -w net.ipv4.ip_unprivileged_port_start=0',
    'nsenter --net=/run/netns/web sysctl -w net.ipv4.ping_group_range=0 2147483647',
    'nsenter --net=/run/netns/web sysctl -w net.ipv4.conf.all.route_localnet=1',
    'nsenter --net=/run/netns/web ip rule add pref 10 iif lo lookup local',
    'nsenter --net=/run/netns/web ip rule add pref 11 to 127.0.0.0/8 blackhole',
    'nsenter --net=/run/netns/web ip rule add pref 12 lookup local',
    'nsenter --net=/run/netns/web ip rule del pref 0',
    'nsenter --net=/run/netns/web ip link set dev lo up',
    'nsenter --net=/run/netns/web ip addr add 10.50.0.2/24 dev eth0',
    'nsenter --net=/run/netns/web ip link set dev eth0 up',
    'nsenter --net=/run/netns/web ip route replace default via 10.50.0.1 dev eth0',
  ]);
  adopt(state, d, scope);
  t.same(plan(d, state, scope), [], 'converged');
  // someone removed the address and the default route inside
  state.sandboxes.get('/run/netns/web')!.links.get('eth0')!.addresses = [];
  state.sandboxes.get('/run/netns/web')!.gateways = [];
  t.same(lines(plan(d, state, all)), [
    'nsenter --net=/run/netns/web ip addr add 10.50.0.2/24 dev eth0',
    'nsenter --net=/run/netns/web ip route replace default via 10.50.0.1 dev eth0',
  ]);
  adopt(state, d, all);
  // someone deleted the host-side veth (its eth0 went with it): the inside is remembered as it was
  // from before, yet the new eth0 needs its address, its state and its default route again
  state.links.delete('veth1234567');
  t.same(lines(plan(d, state, all)), [
    'ip link add name veth1234567 mtu 1500 type veth peer name eth0 mtu 1500 address 02:42:0a:32:00:02 netns web',
    `ip link set dev veth1234567 alias cnmd:${cid}:aaaaaaaaaaaa`,
    'ip link set dev veth1234567 master cnmd-aaaaaaaaaa',
    'ip link set dev veth1234567 up',
    'nsenter --net=/run/netns/web ip addr add 10.50.0.2/24 dev eth0',
    'nsenter --net=/run/netns/web ip link set dev eth0 up',
    'nsenter --net=/run/netns/web ip route replace default via 10.50.0.1 dev eth0',
  ]);
  adopt(state, d, all);
  // stopped: the endpoint and our namespace go; a namespace we never made stays
  state.netns.add('someone-else');
  const stopped = desiredState([netA], ctx, [], owned);
  t.same(lines(plan(stopped, state, scope)), ['ip link del dev veth1234567', 'ip netns del web']);
});

t.test('a namespace whose name was removed while its process holds it gets its name back, nothing else', async (t) => {
  const cid = 'd'.repeat(12) + '2'.repeat(52);
  const { container, endpoint } = onNetA(cid, 'app', 3, 'veth7654321', 4242);
  const owned = [{ name: 'app', owner: 'dddddddddddd' }];
  const alive = desiredState([netA], ctx, [{ container, endpoints: [{ endpoint, network: netA }], pid: 4242 }], owned);
  const state = converged(netA);
  adopt(state, alive, all);
  t.same(plan(alive, state, all), [], 'converged');
  state.netns.delete('app');
  t.same(lines(plan(alive, state, all)), ['ip netns attach app 4242'], 'the same namespace, with its veth and addresses, is named again');
  // without a live process there is nothing to attach: a new namespace is made and filled
  const noProcess = desiredState([netA], ctx, [{ container: { ...container, pid: 0 }, endpoints: [{ endpoint, network: netA }] }], owned);
  t.match(lines(plan(noProcess, state, all))[0], 'ip netns add app');
});

t.test('an overlay network: bridge, VXLAN port, and an FDB and neighbour entry per remote endpoint', async (t) => {
  const remote = [
    { mac: '02:42:0a:c8:00:03', ipv4: '10.200.0.3/24', vtep: '10.99.0.2', node: '2'.repeat(64) },
    { mac: '02:42:0a:c8:00:04', ipv4: '10.200.0.4/24', vtep: '10.99.0.3', node: '3'.repeat(64) },
  ];
  const octx = { ...ctx, cluster: { vtep: '10.99.0.1', mtu: 1500, nodeId: '1'.repeat(64), node: () => undefined, remoteEndpoints: () => remote, members: () => ['10.99.0.3', '10.99.0.2'] } };
  const ov = bridgeNetwork({
    id: ID_A, driver: 'overlay', scope: 'global', bridgeName: 'ov-aaaaaaaaaa', options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' },
    subnets: [{ family: 4, subnet: '10.200.0.0/24', gateway: '10.200.0.1', aux: {}, auto: false, shown: {} }],
  });
  const state = emptyHostState();
  const lines = plan(desiredState([ov], octx), state, all).map(describeStep);
  const want = [
    'ip link add name ov-aaaaaaaaaa mtu 1450 address 02:aa:aa:aa:aa:aa type bridge',
    'ip addr add 10.200.0.1/24 dev ov-aaaaaaaaaa',
    'ip link add name vx-aaaaaaaaaa mtu 1450 type vxlan id 4096 local 10.99.0.1 dstport 4789 nolearning proxy',
    'ip link set dev vx-aaaaaaaaaa master ov-aaaaaaaaaa',
    'ip neigh replace 10.200.0.3 lladdr 02:42:0a:c8:00:03 dev vx-aaaaaaaaaa nud permanent',
    'ip neigh replace 10.200.0.4 lladdr 02:42:0a:c8:00:04 dev vx-aaaaaaaaaa nud permanent',
  ];
  t.same(want.map((l) => lines.indexOf(l) >= 0), want.map(() => true), 'the local gateway on a bridge with room for VXLAN, its VXLAN port, the neighbours');
  t.ok(lines.indexOf(want[2]) < lines.indexOf(want[4]), 'the port is made before its entries');
  t.same(toHostSteps(plan(desiredState([ov], octx), state, all)).bridgeLines, [
    'fdb replace 02:42:0a:c8:00:03 dev vx-aaaaaaaaaa dst 10.99.0.2 self permanent',
    'fdb replace 02:42:0a:c8:00:04 dev vx-aaaaaaaaaa dst 10.99.0.3 self permanent',
  ], 'each remote MAC goes to its host');
  const ipt = toHostSteps(plan(desiredState([ov], octx), state, all)).iptables.map((r) => r.line);
  t.same(ipt.filter((l) => 'chain' in l && l.chain === 'CNMD-VXLAN' && l.op !== 'declare').map((l) => 'spec' in l && l.spec), [
    '-s 10.99.0.1/32 -j RETURN', '-s 10.99.0.2/32 -j RETURN', '-s 10.99.0.3/32 -j RETURN', '-j DROP',
  ], 'the underlay guard: VXLAN from the members (this host included), the rest dropped');
  t.ok(ipt.some((l) => 'spec' in l && l.chain === 'CNMD-INPUT' && l.spec === '-p udp -m udp --dport 4789 -j CNMD-VXLAN'), 'for UDP 4789');
  adopt(state, desiredState([ov], octx), all);
  t.same(plan(desiredState([ov], octx), state, all), [], 'converged');
  // read back from the host: an FDB entry deleted by hand ('' from the read) or sent elsewhere is set again
  state.neighbors.get('vx-aaaaaaaaaa 10.200.0.3')!.vtep = '';
  state.neighbors.get('vx-aaaaaaaaaa 10.200.0.4')!.vtep = '10.99.0.9';
  t.same(toHostSteps(plan(desiredState([ov], octx), state, all)).bridgeLines, [
    'fdb replace 02:42:0a:c8:00:03 dev vx-aaaaaaaaaa dst 10.99.0.2 self permanent',
    'fdb replace 02:42:0a:c8:00:04 dev vx-aaaaaaaaaa dst 10.99.0.3 self permanent',
  ], 'a missing or wrong FDB entry is repaired');
  adopt(state, desiredState([ov], octx), all);
  // the second host's lease ran out: its endpoint goes from this host's port
  remote.pop();
  t.same(plan(desiredState([ov], octx), state, all).map(describeStep), [
    'ip neigh del 10.200.0.4 dev vx-aaaaaaaaaa',
    'bridge fdb del 02:42:0a:c8:00:04 dev vx-aaaaaaaaaa self',
  ]);
  // no endpoint here any more: the whole data plane goes, its entries with its port
  t.notMatch(plan(desiredState([], octx), state, all).map(describeStep).join('\n'), /neigh del|fdb del/);
});

t.test('an encrypted overlay network: a WireGuard link with one peer per keyed host, VXLAN between tunnel addresses', async (t) => {
  const [n1, n2, n3] = ['1', '2', '3'].map((c) => c.repeat(64));
  // 32 bytes in base64: the last digit before '=' holds 4 bits
  const key = (c: string) => c.repeat(42) + 'A=';
  const keys: Record<string, string> = { [n2]: key('B'), [n3]: key('C') };
  const nodes: Record<string, { address: string; wireguard?: string }> = { [n2]: { address: '10.99.0.2', wireguard: keys[n2] }, [n3]: { address: '10.99.0.3' } };
  const remote = [
    { mac: '02:42:0a:c8:00:03', ipv4: '10.200.0.3/24', vtep: '10.99.0.2', node: n2 },
    { mac: '02:42:0a:c8:00:04', ipv4: '10.200.0.4/24', vtep: '10.99.0.3', node: n3 },
  ];
  const wireguard = { keyFile: '/var/lib/cnmd/wireguard.key', publicKey: key('A'), kernel: false };
  const octx = { ...ctx, cluster: { vtep: '10.99.0.1', mtu: 1500, nodeId: n1, node: (id: string) => nodes[id], remoteEndpoints: () => remote, members: () => ['10.99.0.2', '10.99.0.3'], wireguard } };
  const ov = bridgeNetwork({
    id: ID_A, driver: 'overlay', scope: 'global', bridgeName: 'ov-aaaaaaaaaa', options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097', encrypted: '' },
    subnets: [{ family: 4, subnet: '10.200.0.0/24', gateway: '10.200.0.1', aux: {}, auto: false, shown: {} }],
  });
  const state = emptyHostState();
  const steps = plan(desiredState([ov], octx), state, all);
  const lines = steps.map(describeStep);
  const wg = 'wg111111aaaaaaa';
  t.ok(lines.indexOf(`wireguard-go ${wg}`) >= 0 && lines.indexOf(`wireguard-go ${wg}`) < lines.findIndex((l) => l.startsWith('ip ')), 'wireguard-go makes the link before the batch (no WireGuard in this kernel)');
  t.ok(lines.includes(`ip link set dev ${wg} mtu 1440`), 'its MTU leaves room for WireGuard over IPv4');
  t.ok(lines.includes(`ip addr add fd63:6e6d:0:1001:1111:1111:1111:1111/64 dev ${wg} nodad`), 'its tunnel address: the /64 of the VXLAN id, the host part from the node id');
  t.ok(lines.includes('ip link add name vx-aaaaaaaaaa mtu 1370 type vxlan id 4097 local fd63:6e6d:0:1001:1111:1111:1111:1111 dstport 4789 nolearning proxy'), 'VXLAN from the tunnel address, with room for both');
  t.ok(lines.includes('ip link add name ov-aaaaaaaaaa mtu 1370 address 02:aa:aa:aa:aa:aa type bridge'));
  t.same(lines.filter((l) => l.startsWith('wg set')), [
    `wg set ${wg} listen-port 51901 private-key /var/lib/cnmd/wireguard.key peer ${keys[n2]} endpoint 10.99.0.2:51901 allowed-ips fd63:6e6d:0:1001:2222:2222:2222:2222/128`,
  ], 'one peer: the host with a key; its tunnel address is all it may send from; the private key only by its file');
  t.ok(lines.indexOf(lines.find((l) => l.startsWith('wg set'))!) > lines.indexOf(`ip link set dev ${wg} up`), 'the keys after the batch');
  t.same(toHostSteps(steps).bridgeLines, ['fdb replace 02:42:0a:c8:00:03 dev vx-aaaaaaaaaa dst fd63:6e6d:0:1001:2222:2222:2222:2222 self permanent'],
    'frames for the keyed host go to its tunnel address; the host without WireGuard gets none (nothing in clear)');
  t.notOk(lines.some((l) => l.includes('10.200.0.4')), 'no neighbour entry for the unreachable host');
  adopt(state, desiredState([ov], octx), all);
  t.same(plan(desiredState([ov], octx), state, all), [], 'converged');
  // the link as wg reports it: a peer added by hand goes, a changed endpoint is set again
  state.wireguard!.get(wg)!.peers.set(key('D'), { endpoint: '10.99.0.9:1', allowedIps: ['::/0'] });
  t.same(plan(desiredState([ov], octx), state, all).map(describeStep), [
    `wg set ${wg} listen-port 51901 private-key /var/lib/cnmd/wireguard.key peer ${keys[n2]} endpoint 10.99.0.2:51901 allowed-ips fd63:6e6d:0:1001:2222:2222:2222:2222/128 peer ${key('D')} remove`,
  ], 'a peer cnmd did not set is removed');
  // the third host gets WireGuard
  nodes[n3].wireguard = keys[n3];
  const more = plan(desiredState([ov], octx), state, all).map(describeStep);
  t.match(more.join('\n'), /peer C{42}A= endpoint 10\.99\.0\.3:51901 allowed-ips fd63:6e6d:0:1001:3333:3333:3333:3333\/128/);
  t.ok(more.includes('bridge fdb replace 02:42:0a:c8:00:04 dev vx-aaaaaaaaaa dst fd63:6e6d:0:1001:3333:3333:3333:3333 self permanent'));
  // a crash after wireguard-go made the link, before the batch marked it: that link is marked and configured, not refused
  const crashed = emptyHostState();
  crashed.links.set(wg, { name: wg, kind: 'tun', mtu: 1420, up: false, addresses: [] });
  const resumed = plan(desiredState([ov], octx), crashed, all).map(describeStep);
  t.ok(resumed.includes(`ip link set dev ${wg} alias cnmd:${ID_A}`) && resumed.includes(`ip link set dev ${wg} mtu 1440`) && !resumed.includes(`wireguard-go ${wg}`), 'an unmarked WireGuard link of that name is marked, not made again');
  crashed.links.set(wg, { name: wg, kind: 'bridge', mtu: 1500, up: true, addresses: [] });
  t.throws(() => plan(desiredState([ov], octx), crashed, all), /not managed by cnmd/, 'a link of that name of another kind is not ours');
  // the kernel's WireGuard: the link is made in the batch
  const kctx = { ...octx, cluster: { ...octx.cluster, wireguard: { ...wireguard, kernel: true } } };
  t.ok(plan(desiredState([ov], kctx), emptyHostState(), all).map(describeStep).includes(`ip link add name ${wg} mtu 1440 type wireguard`));
  // without WireGuard here: no VXLAN port at all, and a container cannot join
  const nctx = { ...octx, cluster: { ...octx.cluster, wireguard: undefined } };
  t.notMatch(plan(desiredState([ov], nctx), emptyHostState(), all).map(describeStep).join('\n'), /vxlan|wireguard|fdb/);
  t.throws(() => overlayDriver.endpoint!(ov, { ...onNetA('f'.repeat(64), 'x', 5, 'vethx').endpoint, networkId: ov.id }, 'f'.repeat(64), 'x', nctx), /encrypted and this host has no WireGuard/);
  t.throws(() => overlayDriver.prepare!({ id: ov.id, name: 'sec', options: { encrypted: '' }, internal: false, predefined: false }, nctx), /need WireGuard on this host/);
  t.doesNotThrow(() => overlayDriver.prepare!({ id: ov.id, name: 'sec', options: { encrypted: '' }, internal: false, predefined: false }, octx));
});

t.test('a container with a command: its files first, its mount and UTS namespaces, the route to 127.0.0.11; all gone with it', async (t) => {
  const cid = 'e'.repeat(12) + '3'.repeat(52);
  const { container, endpoint } = onNetA(cid, 'cnmd-eeeeeeeeeeee', 4, 'veth0e0e0e0');
  const run = `/run/cnmd/${cid.slice(0, 12)}`;
  const data = `/var/lib/cnmd/containers/${cid}`;
  const spec = {
    container: { ...container, hasInside: true, config: { Cmd: ['sleep', '1'] } },
    endpoints: [{ endpoint, network: netA }],
    dnsNetworkId: ID_A,
    files: [{ path: `${data}/resolv.conf`, content: 'nameserver 127.0.0.11\n' }, { path: `${run}/fstab`, content: `${data}/resolv.conf /etc/resolv.conf none bind 0 0\n` }],
    inside: { mnt: `${run}/mnt`, uts: `${run}/uts`, hostname: 'web', domainname: '', fstab: `${run}/fstab` },
  };
  const owned = [{ name: 'cnmd-eeeeeeeeeeee', owner: 'eeeeeeeeeeee' }];
  const dirs = { dataRoot: '/var/lib/cnmd', runRoot: '/run/cnmd', ids: [cid] };
  const d = desiredState([netA], ctx, [spec], owned, dirs);
  const state = converged(netA);
  const got = lines(plan(d, state, only(cid)));
  t.same(got.slice(0, 2), [`write ${data}/resolv.conf`, `write ${run}/fstab`], 'the files before anything that binds them');
  t.ok(got.includes(`unshare --mount=${run}/mnt mount -a --fstab ${run}/fstab`), 'a mount namespace with the binds of its fstab');
  t.ok(got.includes(`unshare --uts=${run}/uts hostname web`), 'a UTS namespace with its hostname');
  t.ok(got.includes('nsenter --net=/run/netns/cnmd-eeeeeeeeeeee ip route replace 127.0.0.11/32 via 10.50.0.1 dev eth0 table local'), '127.0.0.11 through the gateway');
  adopt(state, d, only(cid));
  t.same(plan(d, state, only(cid)), [], 'converged');
  // a file changed by hand is written again; a lost namespace file of a live process is bound to its namespace again
  state.files.set(`${data}/resolv.conf`, 'nameserver 8.8.8.8\n');
  state.mounts.delete(`${run}/mnt`);
  const live = desiredState([netA], ctx, [{ ...spec, pid: 777 }], owned, dirs);
  t.same(lines(plan(live, state, all)), [`write ${data}/resolv.conf`, `mount --bind /proc/777/ns/mnt ${run}/mnt`]);
  adopt(state, live, all);
  // its DNS network left: the route goes
  const noDns = desiredState([netA], ctx, [{ ...spec, dnsNetworkId: undefined }], owned, dirs);
  t.same(lines(plan(noDns, state, only(cid))), ['nsenter --net=/run/netns/cnmd-eeeeeeeeeeee ip route del 127.0.0.11/32 table local']);
  // stopped, then removed: namespace files, the run directory, /etc/netns, then the data directory go
  state.netnsDirs.add('cnmd-eeeeeeeeeeee');
  state.runDirs.add(cid.slice(0, 12));
  state.dataDirs.add(cid);
  const stopped = desiredState([netA], ctx, [], owned, dirs);
  t.same(lines(plan(stopped, state, only(cid))), [
    'ip link del dev veth0e0e0e0', 'ip netns del cnmd-eeeeeeeeeeee', 'rm -r /etc/netns/cnmd-eeeeeeeeeeee', `umount ${run}/mnt`, `umount ${run}/uts`, `rm -r ${run}`,
  ]);
  adopt(state, stopped, only(cid));
  const removed = desiredState([netA], ctx, [], [], { ...dirs, ids: [] });
  t.same(lines(plan(removed, state, only(cid))), [`rm -r ${data}`]);
  // a scoped plan never touches another container's directories
  state.dataDirs.add('f'.repeat(64));
  t.same(lines(plan(removed, state, only(cid))), [`rm -r ${data}`]);
});

t.test('127.0.0.11 only where cnmd made the namespace and programs the firewall', async (t) => {
  const cid = 'a1'.repeat(6) + '4'.repeat(52);
  const { container, endpoint } = onNetA(cid, 'x', 5, 'veth0a0a0a0');
  const adopted = { container: { ...container, sandboxKey: '/run/netns/theirs', netns: null }, endpoints: [{ endpoint, network: netA }], dnsNetworkId: ID_A };
  t.notOk(desiredState([netA], ctx, [adopted]).sandboxes[0].dnsRoute, 'not in an adopted namespace (no route_localnet there)');
  const made = { ...adopted, container };
  t.ok(desiredState([netA], ctx, [made]).sandboxes[0].dnsRoute);
  t.notOk(desiredState([netA], { ...ctx, firewall: 'none' }, [made]).sandboxes[0].dnsRoute, 'not without the redirect on the host');
});
