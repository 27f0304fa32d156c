/**
 * What a full plan makes per network is kept per network object, through keptWhileFrozen
 * (src/frozen.ts): a bridge network's objects (src/drivers/bridge.ts) and its nftables elements
 * (src/firewall/nftables.ts). The same frozen network and context give the same frozen objects;
 * another context, or a network the store could still change (not frozen), are made again; plans
 * are the same either way.
 */
import t from 'tap';
import { bridgeDriver } from '../../src/drivers/bridge.js';
import { ctx, bridgeNetwork, ID_A, ID_B } from '../helpers/fixtures.js';
import { nftDesired } from '../../src/firewall/nftables.js';
import { planNftables } from '../../src/firewall/nftables-plan.js';
import { emptyIntent } from '../../src/firewall/intent.js';
import { parseNftTable } from '../../src/host/nft.js';

const deepFreeze = <T>(v: T): T => {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
};

t.test('kept for a frozen network and the same context, made again otherwise', async (t) => {
  const open = bridgeNetwork({ id: ID_A, options: { 'com.docker.network.bridge.enable_icc': 'false' } });
  const net = deepFreeze(structuredClone(open));
  const first = bridgeDriver.objects(net, ctx);
  t.equal(bridgeDriver.objects(net, ctx), first, 'the same objects, not made again');
  t.same(first, bridgeDriver.objects(open, ctx), 'what a fresh make gives');
  t.ok(Object.isFrozen(first) && Object.isFrozen(first.links[0].addresses) && Object.isFrozen(first.firewall!.modes), 'frozen all the way down');
  t.throws(() => (first.links[0].addresses as string[]).push('10.9.9.1/24'), TypeError, 'a caller that changed them would fail');
  const other = { ...ctx, mtu: 9000 };
  t.not(bridgeDriver.objects(net, other), first, 'another context: made again');
  t.not(bridgeDriver.objects(open, ctx), bridgeDriver.objects(open, ctx), 'a network that is not frozen: made each time');
  t.notOk(Object.isFrozen(bridgeDriver.objects(open, ctx).links), 'and not frozen');
  const changed = deepFreeze({ ...structuredClone(open), internal: true });
  t.same(bridgeDriver.objects(changed, ctx).sysctls.map((s) => s.key), ['net.bridge.bridge-nf-call-iptables'], 'a changed network (a new object) gets its own');
});

t.test('a network\'s nftables elements: kept with its frozen intent, the same plan as made afresh', async (t) => {
  const nets = [bridgeNetwork({ id: ID_A }), bridgeNetwork({ id: ID_B, internal: true })];
  const intentOf = (list: typeof nets) => {
    const i = emptyIntent(true);
    for (const n of list) i.networks.push(bridgeDriver.objects(n, ctx).firewall!);
    return i;
  };
  const kept = intentOf(nets.map((n) => deepFreeze(structuredClone(n))));
  const fresh = intentOf(nets);
  const a = nftDesired(kept, 'cnmd'), b = nftDesired(kept, 'cnmd');
  t.ok(a.elements.length > 8);
  t.equal(a.elements[0], b.elements[0], 'the same element objects the second time');
  t.ok(Object.isFrozen(a.elements[0]) && Object.isFrozen(a.elements[0].key), 'frozen');
  t.not(nftDesired(kept, 'other').elements[0], a.elements[0], 'another instance: made again');
  t.equal(nftDesired(kept, 'other').elements[0].owner.split(':')[0], 'other');
  const c = nftDesired(fresh, 'cnmd');
  t.not(c.elements[0], nftDesired(fresh, 'cnmd').elements[0], 'an intent that is not frozen: made each time');
  t.same(a.elements, c.elements, 'the same elements');
  // the table holds network A only (as nft -j lists it): both plans add B's and nothing else
  const table = { nftables: [{ set: { family: 'inet', name: 'bridges', table: 'cnmd', type: 'ifname', elem: [{ elem: { val: 'cnmd-aaaaaaaaaa', comment: 'cnmd:aaaaaaaaaaaa' } }] } }] };
  const o = { instance: 'cnmd', chainPrefix: 'CNMD', firewall: 'nftables' as const, owners: null };
  const plan = (d: ReturnType<typeof nftDesired>) => planNftables(d, parseNftTable(JSON.stringify(table)), o);
  t.ok(plan(a).length > 0);
  t.same(plan(a), plan(c), 'kept and fresh elements plan alike');
  t.same(plan(b), plan(a), 'and again, from what was kept');
});

t.test('a prefix\'s first and last address: kept for a frozen prefix (the store\'s), made each time for one that may change', async (t) => {
  const { parsePrefix, span, overlaps } = await import('../../src/ipam/cidr.js');
  const p = parsePrefix('10.1.2.0/24')!;
  t.ok(Object.isFrozen(p), 'parsePrefix gives frozen prefixes');
  t.equal(span(p), span(p), 'kept');
  t.same(span(p), [167838208n, 167838463n], '10.1.2.0 to 10.1.2.255');
  const open = { ...p };
  t.not(span(open), span(open), 'a prefix that is not frozen: made each time');
  open.bits = 16;
  t.same(span(open), [167837696n, 167903231n], 'and follows a change (10.1.0.0/16)');
  t.ok(overlaps(p, open) && !overlaps(p, parsePrefix('10.1.3.0/24')!));
});
