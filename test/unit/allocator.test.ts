import t from 'tap';
import { allocateAddress, checkStatic, macFromIPv4 } from '../../src/ipam/allocator.js';
import type { Subnet } from '../../src/model.js';

const sub = (over: Partial<Subnet> = {}): Subnet => ({ family: 4, subnet: '10.1.0.0/24', gateway: '10.1.0.1', aux: {}, auto: false, shown: {}, ...over });

t.test('lowest free address, skipping network, gateway, aux and used ones', async (t) => {
  t.equal(allocateAddress(sub(), new Set()), '10.1.0.2');
  t.equal(allocateAddress(sub(), new Set(['10.1.0.2', '10.1.0.3'])), '10.1.0.4');
  t.equal(allocateAddress(sub({ aux: { h: '10.1.0.2' } }), new Set()), '10.1.0.3');
  t.equal(allocateAddress(sub(), new Set(['10.1.0.3'])), '10.1.0.2', 'a released address is reused, as Docker does on local networks');
  t.equal(allocateAddress(sub({ ipRange: '10.1.0.128/25', gateway: '10.1.0.128' }), new Set()), '10.1.0.129');
  const full = new Set(Array.from({ length: 252 }, (_, i) => `10.1.0.${i + 2}`));
  t.equal(allocateAddress(sub(), full), '10.1.0.254');
  full.add('10.1.0.254');
  t.equal(allocateAddress(sub(), full), undefined, 'the broadcast address is never handed out');
  t.equal(allocateAddress({ family: 6, subnet: 'fd00:1::/64', gateway: 'fd00:1::1', aux: {}, auto: false, shown: {} }, new Set()), 'fd00:1::2');
});

t.test('static addresses', async (t) => {
  t.equal(checkStatic(sub(), '10.1.0.50', new Set()), 'ok');
  t.equal(checkStatic(sub(), '10.2.0.50', new Set()), 'outside');
  t.equal(checkStatic(sub(), '10.1.0.50', new Set(['10.1.0.50'])), 'taken');
  t.equal(checkStatic(sub(), '10.1.0.1', new Set()), 'taken', 'the gateway');
  t.equal(checkStatic(sub(), 'nonsense', new Set()), 'outside');
});

t.test('MAC from the IPv4 address', async (t) => {
  t.equal(macFromIPv4('172.17.0.2'), '02:42:ac:11:00:02');
  t.equal(macFromIPv4('10.255.1.200'), '02:42:0a:ff:01:c8');
});
