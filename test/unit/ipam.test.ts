import t from 'tap';
import { firstFreeSubnet, DEFAULT_POOLS, validatePools, NO_POOL_V4 } from '../../src/ipam/pools.js';
import { planSubnets, validateIpamConfig, reservedAddresses } from '../../src/ipam/network-ipam.js';
import { parsePrefix, formatPrefix, formatAddr } from '../../src/ipam/cidr.js';
import { DomainError } from '../../src/errors.js';

const p = (s: string) => parsePrefix(s)!;
const ctx = (used: string[] = [], routes: string[] = []) => ({
  networkSubnets: used.map(p),
  hostRoutes: routes.map(p),
  pools4: DEFAULT_POOLS,
  pools6: [{ base: 'fd11:2233:4455::/48', size: 64 }],
});

t.test('default pools: first fit, lowest free, skipping what is used', async (t) => {
  t.equal(formatPrefix(firstFreeSubnet(DEFAULT_POOLS, [], 4)!), '172.17.0.0/16');
  t.equal(formatPrefix(firstFreeSubnet(DEFAULT_POOLS, [p('172.17.0.0/16')], 4)!), '172.18.0.0/16');
  t.equal(formatPrefix(firstFreeSubnet(DEFAULT_POOLS, [p('172.17.0.0/16'), p('172.19.0.0/16')], 4)!), '172.18.0.0/16', 'a freed subnet is reused');
  t.equal(formatPrefix(firstFreeSubnet(DEFAULT_POOLS, [p('172.16.0.0/12')], 4)!), '192.168.0.0/20', 'then 192.168/16 as /20s');
  t.equal(formatPrefix(firstFreeSubnet(DEFAULT_POOLS, [p('172.17.5.0/24')], 4)!), '172.18.0.0/16', 'a small overlap rules out the whole block');
  t.equal(firstFreeSubnet(DEFAULT_POOLS, [p('172.16.0.0/12'), p('192.168.0.0/16')], 4), undefined, 'exhausted');
  t.equal(formatPrefix(firstFreeSubnet([{ base: '10.0.0.0/8', size: 24 }], [p('10.0.0.0/24'), p('10.0.1.0/24')], 4)!), '10.0.2.0/24');
});

t.test('31 networks from the defaults, then Docker\'s error', async (t) => {
  const used: string[] = [];
  for (let i = 0; i < 31; i++) used.push(planSubnets({ config: [], enableIPv4: true, enableIPv6: false }, ctx(used))[0].subnet);
  t.equal(new Set(used).size, 31);
  t.equal(used[14], '172.31.0.0/16');
  t.equal(used[30], '192.168.240.0/20');
  t.throws(() => planSubnets({ config: [], enableIPv4: true, enableIPv6: false }, ctx(used)), { message: NO_POOL_V4 });
});

t.test('on-link host routes are avoided by automatic subnets only', async (t) => {
  const [s] = planSubnets({ config: [], enableIPv4: true, enableIPv6: false }, ctx([], ['172.17.0.0/16', '172.18.3.0/24']));
  t.equal(s.subnet, '172.19.0.0/16');
  const [u] = planSubnets({ config: [{ Subnet: '172.17.0.0/16' }], enableIPv4: true, enableIPv6: false }, ctx([], ['172.17.0.0/16']));
  t.equal(u.subnet, '172.17.0.0/16', 'a user subnet may match a host route');
});

t.test('user subnets: gateway, range, aux, echo of what was sent', async (t) => {
  const [s] = planSubnets(
    { config: [{ Subnet: '10.99.0.0/24', IPRange: '10.99.0.128/25', AuxiliaryAddresses: { host1: '10.99.0.5' } }], enableIPv4: true, enableIPv6: false },
    ctx(),
  );
  t.equal(s.gateway, '10.99.0.128', 'gateway from the ip-range');
  t.same(s.shown, { Subnet: '10.99.0.0/24', IPRange: '10.99.0.128/25', AuxiliaryAddresses: { host1: '10.99.0.5' } }, 'echoed as sent, as Docker does');
  const [g] = planSubnets({ config: [{ Subnet: '10.50.0.0/24', Gateway: '10.50.0.254' }], enableIPv4: true, enableIPv6: false }, ctx());
  t.equal(g.gateway, '10.50.0.254');
  t.same(Object.keys(g.shown), ['Subnet', 'Gateway']);
});

t.test('IPv6: user subnet, automatic ULA /64, ignored unless enabled', async (t) => {
  const both = planSubnets({ config: [{ Subnet: 'fd00:99::/64' }], enableIPv4: true, enableIPv6: true }, ctx());
  t.same(both.map((s) => [s.family, s.subnet, s.gateway]), [[4, '172.17.0.0/16', '172.17.0.1'], [6, 'fd00:99::/64', 'fd00:99::1']]);
  const auto = planSubnets({ config: [], enableIPv4: true, enableIPv6: true }, ctx());
  t.equal(auto[1].subnet, 'fd11:2233:4455::/64');
  const off = planSubnets({ config: [{ Subnet: 'fd00:99::/64' }], enableIPv4: true, enableIPv6: false }, ctx());
  t.same(off.map((s) => s.family), [4]);
});

t.test('overlaps with existing networks are refused with Docker\'s 403', async (t) => {
  const err = t.throws(() => planSubnets({ config: [{ Subnet: '10.1.0.0/16' }], enableIPv4: true, enableIPv6: false }, ctx(['10.0.0.0/8']))) as DomainError;
  t.equal(err.kind, 'forbidden');
  t.equal(err.message, 'Pool overlaps with other one on this address space');
  t.throws(() => planSubnets({ config: [{ Subnet: '10.1.0.0/16' }, { Subnet: '10.1.2.0/24' }], enableIPv4: true, enableIPv6: false }, ctx()), {
    message: 'Pool overlaps with other one on this address space',
  });
});

t.test('validation messages are Docker\'s', async (t) => {
  const v = (c: Parameters<typeof validateIpamConfig>[0]) => {
    try {
      validateIpamConfig(c, true);
      return '';
    } catch (e) {
      t.equal((e as DomainError).kind, 'invalid');
      return (e as Error).message;
    }
  };
  t.equal(v([{ Subnet: '10.1.2.3/40' }]), 'Invalid subnet 10.1.2.3/40 : invalid CIDR address: 10.1.2.3/40');
  t.equal(v([{ Subnet: '10.10.10.0/8' }]), 'invalid network config:\ninvalid subnet 10.10.10.0/8: it should be 10.0.0.0/8');
  t.equal(v([{ Subnet: '2001:389::1/64' }]), 'invalid network config:\ninvalid subnet 2001:389::1/64: it should be 2001:389::/64');
  t.equal(
    v([{ Subnet: '10.0.0.0/8', IPRange: '192.168.0.1/24', Gateway: '192.168.0.1', AuxiliaryAddresses: { DefaultGatewayIPv4: '192.168.0.1' } }]),
    'invalid network config:\n* invalid ip-range 192.168.0.1/24: it should be 192.168.0.0/24\n' +
      "* invalid ip-range 192.168.0.1/24: parent subnet 10.0.0.0/8 doesn't contain ip-range\n" +
      "* invalid gateway 192.168.0.1: parent subnet 10.0.0.0/8 doesn't contain this address\n" +
      "* invalid auxiliary address DefaultGatewayIPv4: parent subnet 10.0.0.0/8 doesn't contain this address",
  );
  t.equal(v([{ Subnet: '10.10.10.0/24', IPRange: '10.0.0.0/8' }]), 'invalid network config:\ninvalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.10.10.0/24');
  t.equal(v([{ Subnet: '10.10.10.0/24', IPRange: 'foobar', Gateway: '1001.10.5.3' }]), 'invalid network config:\n* invalid ip-range foobar: invalid CIDR block notation\n* invalid gateway 1001.10.5.3: invalid address');
  t.equal(v([{ Subnet: '10.10.10.0/24', Gateway: 'fd00::1' }]), 'invalid network config:\ninvalid gateway fd00::1: parent subnet is an IPv4 block');
  t.equal(v([{ Subnet: '10.0.0.0/8', IPRange: '10.10.0.0/16', Gateway: '10.10.0.1' }]), '');
});

t.test('reserved addresses', async (t) => {
  t.same(reservedAddresses(p('10.0.0.0/24')).map((a) => formatAddr(4, a)), ['10.0.0.0', '10.0.0.255']);
  t.same(reservedAddresses(p('10.0.0.0/31')), []);
  t.same(reservedAddresses(p('fd00::/64')).map((a) => formatAddr(6, a)), ['fd00::']);
});

t.test('pool configuration is checked', async (t) => {
  t.equal(validatePools([{ base: '10.10.0.0/16', size: 24 }]), undefined);
  t.match(validatePools([{ base: '10.10.0.0/16', size: 8 }]), /size 8 must be between 16 and 32/);
  t.match(validatePools([{ base: 'nope', size: 24 }]), /invalid default address pool base/);
});
