import t from 'tap';
import { parsePrefix, parseAddr, formatAddr, formatPrefix, masked, overlaps, containsPrefix } from '../../src/ipam/cidr.js';

t.test('parses and formats IPv4 and IPv6', async (t) => {
  t.equal(formatAddr(4, parseAddr('10.1.2.3')!.value), '10.1.2.3');
  t.equal(formatAddr(6, parseAddr('fd00:99::1')!.value), 'fd00:99::1');
  t.equal(formatAddr(6, parseAddr('2001:db8:0:0:1:0:0:1')!.value), '2001:db8::1:0:0:1');
  t.equal(formatAddr(6, parseAddr('::')!.value), '::');
  t.equal(formatAddr(6, parseAddr('::ffff:1.2.3.4')!.value), '::ffff:102:304');
  t.equal(parseAddr('1.2.3'), undefined);
  t.equal(parsePrefix('10.1.2.3/40'), undefined);
  t.equal(parsePrefix('10.0.0.0'), undefined);
  t.equal(formatPrefix(masked(parsePrefix('10.1.2.3/16')!)), '10.1.0.0/16');
  t.equal(formatPrefix(masked(parsePrefix('2001:389::1/64')!)), '2001:389::/64');
});

t.test('overlap and containment', async (t) => {
  const p = (s: string) => parsePrefix(s)!;
  t.ok(overlaps(p('10.0.0.0/8'), p('10.5.0.0/16')));
  t.notOk(overlaps(p('10.0.0.0/16'), p('10.1.0.0/16')));
  t.notOk(overlaps(p('10.0.0.0/8'), p('fd00::/8')), 'families never overlap');
  t.ok(containsPrefix(p('10.0.0.0/8'), p('10.5.0.0/16')));
  t.notOk(containsPrefix(p('10.5.0.0/16'), p('10.0.0.0/8')));
});
