/**
 * The firewall backends on one fixed set of networks and ports: golden dumps of what each writes
 * (as libnetwork keeps golden iptables-save files), and the nftables plan: elements per network,
 * one transaction, drift found by what the table holds. Pure: no host.
 */
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { desiredState } from '../../src/reconcile/desired.js';
import { plan, adopt, NeedsFullReconcile, type PlanOptions } from '../../src/reconcile/plan.js';
import { toHostSteps, describeStep } from '../../src/reconcile/reconciler.js';
import { nftInput, restoreInput } from '../../src/host/apply.js';
import { parseNftTable, nftScript } from '../../src/host/nft.js';
import { HostTextError } from '../../src/host/text-gate.js';
import { emptyHostState } from '../../src/host/state.js';
import type { PortIntent } from '../../src/firewall/intent.js';
import { ctx, bridgeNetwork, ID_A, ID_B } from '../helpers/fixtures.js';

const GOLDEN = new URL('../golden/', import.meta.url);
const ID_C = 'cccccccccccc' + '0'.repeat(52);
const CID = 'dddddddddddd' + '0'.repeat(52);
const sub = (subnet: string, gateway: string) => [{ family: 4 as const, subnet, gateway, aux: {}, auto: false, shown: {} }];
const networks = [
  bridgeNetwork({ id: ID_A }),
  bridgeNetwork({ id: ID_B, internal: true, options: { 'com.docker.network.bridge.enable_icc': 'false' }, subnets: sub('10.60.0.0/24', '10.60.0.1') }),
  bridgeNetwork({ id: ID_C, options: { 'com.docker.network.host_ipv4': '192.0.2.7' }, subnets: sub('10.70.0.0/24', '10.70.0.1') }),
];
const ports: PortIntent[] = [
  { owner: CID.slice(0, 12), proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, ip: '10.50.0.2', port: 80, allow: ['10.253.0.0/30', '192.0.2.7/32', '2001:db8::/32'] },
  { owner: CID.slice(0, 12), proto: 'tcp', hostIp: '192.0.2.1', hostPort: 8443, ip: '10.50.0.2', port: 443 },
  { owner: CID.slice(0, 12), proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, ip: '10.50.0.2', port: 53 },
];
const nft: PlanOptions = { instance: 'cnmd', chainPrefix: 'CNMD', firewall: 'nftables', owners: null };
const ipt: PlanOptions = { ...nft, firewall: 'iptables' };
const only = (o: PlanOptions, ...ids: string[]) => ({ ...o, owners: new Set(ids.map((i) => i.slice(0, 12))) });

function desired(nets = networks, withPorts = true) {
  const d = desiredState(nets, { ...ctx, firewall: 'nftables' });
  if (withPorts) d.firewall.ports.push(...ports);
  return d;
}

function golden(t: Test, file: string, text: string) {
  const url = new URL(file, GOLDEN);
  if (process.env.UPDATE_GOLDEN) writeFileSync(url, text);
  t.equal(text, readFileSync(url, 'utf8'), `the same as test/golden/${file} (UPDATE_GOLDEN=1 rewrites it)`);
}

const ID_E = 'eeeeeeeeeeee' + '0'.repeat(52);
const dual = bridgeNetwork({
  id: ID_E, enableIPv6: true,
  subnets: [...sub('10.90.0.0/24', '10.90.0.1'), { family: 6, subnet: 'fd00:90::/64', gateway: 'fd00:90::1', aux: {}, auto: false, shown: {} }],
});

t.test('golden: what each backend writes for the same networks and ports', async (t) => {
  const d = desired([...networks, dual]);
  d.firewall.ports.push({ owner: CID.slice(0, 12), proto: 'tcp', hostIp: '::', hostPort: 8080, ip: 'fd00:90::2', port: 80, allow: ['2001:db8::/32'] });
  // a cluster member: VXLAN from the members only
  d.firewall.underlay = { port: 4789, peers: ['10.99.0.1', '10.99.0.2'] };
  golden(t, 'nftables.nft', nftInput(toHostSteps(plan(d, emptyHostState(), nft)).nft!));
  const rules = toHostSteps(plan(d, emptyHostState(), ipt)).iptables;
  golden(t, 'iptables.rules', restoreInput(rules.filter((r) => r.family !== 6)));
  golden(t, 'ip6tables.rules', restoreInput(rules.filter((r) => r.family === 6)));
  const both = toHostSteps(plan(d, emptyHostState(), nft));
  t.same(both.iptables, [], 'the nftables backend writes no iptables rule');
  t.same(toHostSteps(plan(d, emptyHostState(), ipt)).nft, [], 'and the iptables backend no nftables object');
});

t.test('nftables: the table read back (nft -j, from a real kernel) is what was written: nothing to do', async (t) => {
  // the fixture was listed from a kernel after loading the plan of netA, an internal netB and three ports
  // (one with an allow-list, one that allows no one), as "cnmdtry"
  const state = emptyHostState();
  state.nft = parseNftTable(readFileSync(new URL('nftables-list.json', GOLDEN), 'utf8'));
  const netB = bridgeNetwork({ id: ID_B, internal: true, options: { 'com.docker.network.host_ipv4': '192.0.2.7' }, subnets: sub('10.60.0.0/24', '10.60.0.1') });
  const d = desiredState([networks[0], netB], { ...ctx, instance: 'cnmdtry', firewall: 'nftables' });
  d.firewall.ports.push(
    { owner: 'cccccccccccc', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, ip: '10.50.0.2', port: 80, allow: ['10.253.0.0/30', '192.0.2.7/32', '2001:db8::/32'] },
    { owner: 'cccccccccccc', proto: 'tcp', hostIp: '192.0.2.1', hostPort: 8443, ip: '10.50.0.2', port: 443, allow: [] },
    { owner: 'cccccccccccc', proto: 'udp', hostIp: '127.0.0.1', hostPort: 53, ip: '10.50.0.2', port: 53 },
  );
  d.firewall.underlay = { port: 4789, peers: ['10.99.0.1', '10.99.0.2'] };
  const o = { ...nft, instance: 'cnmdtry' };
  t.same(plan(d, state, o).filter((s) => s.kind === 'nft'), []);
  t.equal(state.nft.sets.get('ports4any')!.elements.get('tcp . 8080')?.value, '10.50.0.2 . 80', 'a map element: key, value');
  t.equal(state.nft.sets.get('allow4any')!.elements.get('tcp . 8080 . 10.253.0.0/30')?.owner, 'cnmdtry:cccccccccccc', 'a prefix in a concatenation, and its owner');
  t.ok(state.nft.sets.get('egressmasq')!.elements.has('ipv4 . cnmd-aaaaaaaaaa'), 'a network with NAT: its way out sets the masquerade mark');
  t.ok(state.nft.sets.get('egressdrop')!.elements.has('ipv4 . cnmd-bbbbbbbbbb'), 'an internal one has none');
  t.notOk(state.nft.sets.get('egressmasq')!.elements.has('ipv4 . cnmd-bbbbbbbbbb'));
  t.equal(state.nft.sets.get('gwown4')!.elements.get('10.50.0.1 . cnmd-aaaaaaaaaa')?.owner, 'cnmdtry:aaaaaaaaaaaa', "the gateway and its bridge: the host's own connections from it");
  t.equal(state.nft.chains.get('forward')!.base?.hook, 'forward');
  t.equal(state.nft.chains.get('into')!.tags.length, 21, 'the rules of a chain, each with its tag');
  t.same([...state.nft.sets.get('allow4any')!.elements.keys()], ['tcp . 8080 . 10.253.0.0/30', 'tcp . 8080 . 192.0.2.7'], 'a single address in an interval set is listed without its /32');
});

t.test('nftables: a network created or deleted is elements only, in one transaction, whatever else exists', async (t) => {
  const state = emptyHostState();
  const base = desired([networks[0]], false);
  adopt(state, base, nft);
  const created = desired([networks[0], networks[1]], false);
  const scoped = plan(desiredState([networks[1]], { ...ctx, firewall: 'nftables' }), state, only(nft, ID_B));
  const ops = scoped.filter((s) => s.kind === 'nft');
  t.ok(ops.length > 0);
  t.ok(ops.every((s) => s.kind === 'nft' && s.op.op === 'add element'), 'only elements are added');
  t.same(ops.map((s) => s.kind === 'nft' && s.op.op === 'add element' && s.op.element.set), ['bridges', 'iccoff', 'egressdrop', 'egressdrop', 'dns'], 'an internal network: no way out (either family), no NAT, no published ports');
  adopt(state, desiredState([networks[1]], { ...ctx, firewall: 'nftables' }), only(nft, ID_B));
  t.same(plan(created, state, nft).filter((s) => s.kind === 'nft'), [], 'the full plan agrees');
  const deleted = plan(desiredState([], { ...ctx, firewall: 'nftables' }), state, only(nft, ID_B)).filter((s) => s.kind === 'nft');
  t.same(deleted.map(describeStep), [
    'nft delete element inet cnmd bridges { "cnmd-bbbbbbbbbb" }',
    'nft delete element inet cnmd iccoff { "cnmd-bbbbbbbbbb" . "cnmd-bbbbbbbbbb" }',
    'nft delete element inet cnmd egressdrop { ipv4 . "cnmd-bbbbbbbbbb" }',
    'nft delete element inet cnmd egressdrop { ipv6 . "cnmd-bbbbbbbbbb" }',
    'nft delete element inet cnmd dns { "cnmd-bbbbbbbbbb" }',
  ]);
  const host = toHostSteps(deleted);
  t.equal(nftInput(host.nft!).split('\n').filter(Boolean).length, 5, 'one script: one nft -f - transaction');
});

t.test('nftables: drift is found by what the table holds, and mended in place', async (t) => {
  const d = desired();
  const fresh = () => {
    const s = emptyHostState();
    adopt(s, d, nft);
    return s;
  };
  let s = fresh();
  s.nft!.chains.get('forward')!.tags.splice(1, 0, '');
  t.same(plan(d, s, nft).filter((x) => x.kind === 'nft').map(describeStep), [
    'nft flush chain inet cnmd forward',
    'nft add rule inet cnmd forward jump user comment "68d2b614bc7cc3a2"',
    'nft add rule inet cnmd forward oifname @bridges jump into comment "194fc533a376e8c4"',
    'nft add rule inet cnmd forward meta nfproto . iifname @egressdrop drop comment "d346c1e09df9b111"',
    'nft add rule inet cnmd forward meta nfproto . iifname @egressmasq meta mark set meta mark or 0x600000 accept comment "11d70778bfd0f876"',
    'nft add rule inet cnmd forward meta nfproto . iifname @egressallow meta mark set meta mark or 0x200000 accept comment "61766eafa2f9e220"',
  ], 'a rule someone added to a chain of ours: that chain is rewritten, atomically');
  s = fresh();
  s.nft!.chains.get('user')!.tags.push('', '');
  t.same(plan(d, s, nft).filter((x) => x.kind === 'nft'), [], "the user chain's rules are the user's");
  s = fresh();
  s.nft!.chains.delete('user');
  t.same(plan(d, s, nft).filter((x) => x.kind === 'nft').map(describeStep), ['nft add chain inet cnmd user { }'], 'and it comes back empty when deleted');
  s = fresh();
  s.nft!.sets.get('ports4any')!.elements.set('tcp . 8080', { value: '10.50.0.9 . 80', owner: 'cnmd:dddddddddddd' });
  s.nft!.sets.get('bridges')!.elements.set('eth9', { value: '' });
  t.same(plan(d, s, nft).filter((x) => x.kind === 'nft').map(describeStep), [
    'nft delete element inet cnmd bridges { "eth9" }',
    'nft delete element inet cnmd ports4any { tcp . 8080 }',
    'nft add element inet cnmd ports4any { tcp . 8080 comment "cnmd:dddddddddddd" : 10.50.0.2 . 80 }',
  ], 'an element that is not wanted goes; one with another value is replaced');
  s = fresh();
  s.nft!.sets.delete('gateways4');
  t.throws(() => plan(d, s, only(nft, ID_A)), NeedsFullReconcile, 'a missing set holds every network: only a full plan can fill it');
  const mended = plan(d, s, nft).filter((x) => x.kind === 'nft').map(describeStep);
  t.same(mended, ['nft add set inet cnmd gateways4 { type ipv4_addr; }', 'nft add element inet cnmd gateways4 { 10.50.0.1 comment "cnmd:aaaaaaaaaaaa" }']);
  t.throws(() => plan(d, emptyHostState(), only(nft, ID_A)), NeedsFullReconcile, 'a missing table too');
  s = fresh();
  s.nft!.chains.get('forward')!.base = { type: 'filter', hook: 'forward', priority: 10 };
  const rebuilt = plan(d, s, nft).filter((x) => x.kind === 'nft').map(describeStep);
  t.same(rebuilt.slice(0, 2), ['nft delete table inet cnmd', 'nft add table inet cnmd'], 'a base chain with another hook or priority: the table is made anew');
});

t.test('nftables: no text reaches nft that cnmd did not write', async (t) => {
  const bad = [
    { op: 'add element' as const, element: { set: 'bridges', key: [{ name: 'br0" }; flush ruleset; #' }], owner: 'cnmd:aaaaaaaaaaaa' } },
    { op: 'add element' as const, element: { set: 'bridges', key: ['x; drop'], owner: 'cnmd:aaaaaaaaaaaa' } },
    { op: 'add element' as const, element: { set: 'bridges', key: [{ name: 'br0' }], owner: 'x" ; flush ruleset' } },
    { op: 'flush chain' as const, chain: 'forward; flush ruleset' },
  ];
  for (const op of bad) t.throws(() => nftScript({ name: 'cnmd' }, [op]), HostTextError, JSON.stringify(op));
  t.throws(() => nftScript({ name: 'cnmd x' }, [{ op: 'add table' }]), HostTextError, 'nor a table name with a space');
  t.equal(nftScript({ name: 'cnmd' }, [{ op: 'add element', element: { set: 'bridges', key: [{ name: 'tcp' }], owner: 'cnmd:aaaaaaaaaaaa' } }]),
    'add element inet cnmd bridges { "tcp" comment "cnmd:aaaaaaaaaaaa" }\n', 'an interface named like a keyword is quoted: a name, not the protocol');
});

t.test('iptables: only chains cnmd made are removed; a look-alike and the jump into it stay', async (t) => {
  const d = desired([networks[0]], false);
  const state = emptyHostState();
  adopt(state, d, ipt);
  const made = new Set([...state.rules.chains.keys(), 'filter CNMD-N-eeeeeeeeeeee']);
  state.rules.made = made;
  state.rules.chains.set('filter CNMD-N-eeeeeeeeeeee', new Map([['-j DROP', 1]]));
  state.rules.chains.set('filter CNMD-FOREIGN', new Map([['-j ACCEPT', 1]]));
  state.rules.chains.set('filter CNMD-N-ffffffffffff', new Map());
  state.rules.hooks.set('filter FORWARD', ['-j CNMD-FORWARD', '-j CNMD-FOREIGN', '-j CNMD-N-eeeeeeeeeeee']);
  const steps = plan(d, state, ipt).filter((s) => s.kind === 'iptables').map(describeStep);
  t.same(steps, [
    'iptables -t filter -F CNMD-N-eeeeeeeeeeee',
    'iptables -t filter -X CNMD-N-eeeeeeeeeeee',
    'iptables -t filter -D FORWARD -j CNMD-N-eeeeeeeeeeee',
  ], 'a chain cnmd made and no longer wants goes, with the jump into it; CNMD-FOREIGN and an unrecorded CNMD-N-… stay');
  delete state.rules.made;
  const unrecorded = plan(d, state, ipt).filter((s) => s.kind === 'iptables').map(describeStep);
  t.ok(unrecorded.includes('iptables -t filter -X CNMD-FOREIGN'), 'without a record (tests, dry runs) every chain of the prefix is taken as ours');
});

t.test('nftables beside iptables: two marked accepts there, and the iptables backend\'s chains go', async (t) => {
  const d = desired([networks[0]], false);
  const state = emptyHostState();
  adopt(state, d, ipt);
  const all = plan(d, state, { ...nft, besideIptables: true }).filter((s) => s.kind === 'iptables').map(describeStep);
  const steps = all.filter((s) => s.startsWith('iptables '));
  t.same(all.filter((s) => s.startsWith('ip6tables ') && / -A | -I |-N /.test(s)), [
    'ip6tables -t filter -N CNMD-FORWARD',
    'ip6tables -t filter -A CNMD-FORWARD -m mark --mark 0x200000/0x200000 -j ACCEPT',
    'ip6tables -t filter -N CNMD-INPUT',
    'ip6tables -t filter -A CNMD-INPUT -m mark --mark 0x200000/0x200000 -j ACCEPT',
  ], 'the same in ip6tables, for IPv6 (whose hooks the iptables backend had made too)');
  t.same(steps.filter((s) => / -A | -I |-N /.test(s)), [
    'iptables -t filter -N CNMD-FORWARD',
    'iptables -t filter -A CNMD-FORWARD -m mark --mark 0x200000/0x200000 -j ACCEPT',
    'iptables -t filter -N CNMD-INPUT',
    'iptables -t filter -A CNMD-INPUT -m mark --mark 0x200000/0x200000 -j ACCEPT',
  ], 'the two chains it keeps are rewritten (a declare flushes them) to the marked accept');
  t.ok(steps.includes('iptables -t filter -X CNMD-DEST') && steps.includes('iptables -t nat -X CNMD-POSTROUTING'), 'the iptables backend\'s other chains go');
  t.ok(steps.includes('iptables -t nat -D POSTROUTING -j CNMD-POSTROUTING'), 'and their hooks');
  const fresh = plan(d, emptyHostState(), { ...nft, besideIptables: true }).filter((s) => s.kind === 'iptables');
  t.equal(restoreInput(toHostSteps(fresh).iptables.filter((r) => r.family !== 6)), `*filter
:CNMD-FORWARD - [0:0]
:CNMD-INPUT - [0:0]
-A CNMD-FORWARD -m mark --mark 0x200000/0x200000 -j ACCEPT
-A CNMD-INPUT -m mark --mark 0x200000/0x200000 -j ACCEPT
-I FORWARD -j CNMD-FORWARD
-I INPUT -j CNMD-INPUT
COMMIT
`);
});

t.test("the user's chain on both backends: made when missing, its rules never looked at", async (t) => {
  const d = desired([networks[0]], false);
  for (const o of [ipt, nft]) {
    const state = emptyHostState();
    adopt(state, d, o);
    if (o.firewall === 'iptables') state.rules.chains.set('filter CNMD-USER', new Map([['-s 203.0.113.9/32 -j DROP', 1]]));
    else state.nft!.chains.get('user')!.tags.push('');
    t.same(plan(d, state, o).filter((s) => s.kind === 'iptables' || s.kind === 'nft'), [], `${o.firewall}: a rule of the user's changes nothing`);
    if (o.firewall === 'iptables') state.rules.chains.delete('filter CNMD-USER');
    else state.nft!.chains.delete('user');
    t.same(plan(d, state, o).filter((s) => s.kind === 'iptables' || s.kind === 'nft').map(describeStep), [o.firewall === 'iptables' ? 'iptables -t filter -N CNMD-USER' : 'nft add chain inet cnmd user { }'], `${o.firewall}: deleted, it is made again, empty`);
  }
});

t.test('a kernel without IPv6: ip6tables cannot be read, and nothing is planned for it; IPv4 goes on', async (t) => {
  const d = desired([networks[0], dual]);
  const state = emptyHostState();
  state.rules6.unavailable = true;
  const steps = plan(d, state, ipt).filter((s) => s.kind === 'iptables');
  t.ok(steps.length > 0, 'IPv4 is planned');
  t.same(steps.filter((s) => s.kind === 'iptables' && s.family === 6), [], 'no ip6tables step');
  adopt(state, d, ipt);
  t.equal(state.rules6.chains.size, 0, 'and none is remembered');
});
