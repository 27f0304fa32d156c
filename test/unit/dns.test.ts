import t from 'tap';
import dnsPacket from 'dns-packet';
import { DnsServer } from '../../src/dns/server.js';
import { resolveName, resolveAddress, resolvConf, hostsFile, hostNameservers, type NameSource, type Member } from '../../src/dns/names.js';

const nets = { front: { id: 'f', name: 'front', internal: false }, back: { id: 'b', name: 'back', internal: false }, int: { id: 'i', name: 'int', internal: true } };
const members: Record<string, Member[]> = {
  f: [
    { containerId: 'c1', names: ['web1', 'web', 'aaaaaaaaaaaa'], ipv4: '10.0.0.2' },
    { containerId: 'c2', names: ['web2', 'web'], ipv4: '10.0.0.3', ipv6: 'fd00::3' },
  ],
  b: [{ containerId: 'c3', names: ['db', 'web'], ipv4: '10.1.0.2' }],
  i: [{ containerId: 'c4', names: ['secret'], ipv4: '10.2.0.2' }],
};
const requesters: Record<string, ReturnType<NameSource['requester']>> = {
  '10.0.0.9': { containerId: 'q', networks: [nets.front, nets.back], dns: [] },
  '10.1.0.9': { containerId: 'q2', networks: [nets.back], dns: [] },
  '10.2.0.9': { containerId: 'q3', networks: [nets.int], dns: ['192.0.2.53'] },
};
const source: NameSource = {
  requester: (ip) => requesters[ip],
  requesterById: (id) => Object.values(requesters).find((r) => r?.containerId === id),
  members: (id) => members[id] ?? [],
};

t.test('resolution: shared networks only, first network wins, name.network, families', async (t) => {
  const who = requesters['10.0.0.9']!;
  t.same(resolveName(source, who, 'web1', 4), { kind: 'answer', addresses: ['10.0.0.2'] });
  t.same(resolveName(source, who, 'WEB1.', 4), { kind: 'answer', addresses: ['10.0.0.2'] }, 'case-insensitive, trailing dot');
  t.same(resolveName(source, who, 'web', 4), { kind: 'answer', addresses: ['10.0.0.2', '10.0.0.3'] }, 'a shared alias: all of them, from the first network with a match');
  t.same(resolveName(source, who, 'web.back', 4), { kind: 'answer', addresses: ['10.1.0.2'] }, 'name.network looks in that network');
  t.same(resolveName(source, who, 'db', 4), { kind: 'answer', addresses: ['10.1.0.2'] });
  t.same(resolveName(source, who, 'secret', 4), { kind: 'unknown' }, 'not on a shared network');
  t.same(resolveName(source, who, 'web1', 6), { kind: 'nodata' }, 'known name, no IPv6 address');
  t.same(resolveName(source, who, 'web2', 6), { kind: 'answer', addresses: ['fd00::3'] });
  t.same(resolveName(source, requesters['10.1.0.9']!, 'web1', 4), { kind: 'unknown' });
  t.equal(resolveAddress(source, who, '3.0.0.10.in-addr.arpa'), 'web2.front', 'PTR of a container address: name.network, as Docker');
  t.equal(resolveAddress(source, who, '2.0.2.10.in-addr.arpa'), undefined, 'not on a shared network');
  t.equal(resolveAddress(source, who, '2.0.0.10.in-addr.arpa.evil'), undefined);
});

t.test('legacy links on a user-defined network: the alias answers for the linking container alone, before other names', async (t) => {
  const linker = { containerId: 'q', networks: [{ ...nets.front, links: { db: 'web2', web: 'web1' } }, nets.back], dns: [] };
  t.same(resolveName(source, linker, 'db', 4), { kind: 'answer', addresses: ['10.0.0.3'] }, 'the alias names the linked container on that network (not db on back)');
  t.same(resolveName(source, linker, 'DB.front', 4), { kind: 'answer', addresses: ['10.0.0.3'] }, 'alias.network');
  t.same(resolveName(source, linker, 'web', 4), { kind: 'answer', addresses: ['10.0.0.2'] }, 'a link alias wins over a shared network alias');
  t.same(resolveName(source, requesters['10.0.0.9']!, 'db', 4), { kind: 'answer', addresses: ['10.1.0.2'] }, 'another container: no link, the name on back');
  const away = { containerId: 'q', networks: [{ ...nets.front, links: { cache: 'db' } }], dns: [] };
  t.same(resolveName(source, away, 'cache', 4), { kind: 'unknown' }, 'a linked container that is not on the network answers nothing, as Docker');
  t.same(resolveName(source, { ...away, networks: [{ ...nets.front, links: { constructor: 'web1' } }] }, 'toString', 4), { kind: 'unknown' }, 'no prototype names');
});

t.test('the server: answers, rotation, NODATA, REFUSED, no forwarding from internal networks', async (t) => {
  const server = new DnsServer({ source, defaultUpstreams: async () => [], log: { warn: () => undefined } });
  const ask = async (from: string, name: string, type: 'A' | 'AAAA' = 'A') => {
    const reply = await server.answer(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), from);
    return dnsPacket.decode(reply!) as unknown as { id: number; rcode: string; answers: Array<{ type: string; data: string; ttl: number }> };
  };
  const a = await ask('10.0.0.9', 'web1');
  t.equal(a.rcode, 'NOERROR');
  t.equal(a.id, 7);
  t.same(a.answers.map((x) => [x.type, x.data, x.ttl]), [['A', '10.0.0.2', 600]]);
  const first = (await ask('10.0.0.9', 'web')).answers.map((x) => x.data);
  const second = (await ask('10.0.0.9', 'web')).answers.map((x) => x.data);
  t.same(first.slice().sort(), ['10.0.0.2', '10.0.0.3']);
  t.not(first[0], second[0], 'the order rotates');
  const aaaa = await ask('10.0.0.9', 'web2', 'AAAA');
  t.same(aaaa.answers.map((x) => x.data), ['fd00::3']);
  const nodata = await ask('10.0.0.9', 'web1', 'AAAA');
  t.same([nodata.rcode, nodata.answers], ['NOERROR', []]);
  t.equal((await ask('10.9.9.9', 'web1')).rcode, 'REFUSED', 'only containers of ours are answered');
  t.equal((await ask('10.2.0.9', 'example.com')).rcode, 'SERVFAIL', 'a sandbox only on internal networks gets no forwarding');
  t.equal((await ask('10.0.0.9', 'example.com')).rcode, 'SERVFAIL', 'no upstream: SERVFAIL');
  const ptr = await ask('10.0.0.9', '2.0.0.10.in-addr.arpa', 'PTR' as 'A');
  t.same(ptr.answers.map((x) => [x.type, x.data]), [['PTR', 'web1.front']], 'reverse lookups of containers are answered, not forwarded');
});

t.test('the server: at most 1024 forwards in flight (Docker\'s cap); past it REFUSED, counted; below it again, forwarded', async (t) => {
  const { MAX_FORWARDS } = await import('../../src/dns/server.js');
  t.equal(MAX_FORWARDS, 1024);
  const waiting: Array<(r: Buffer | undefined) => void> = [];
  let refused = 0;
  const server = new DnsServer({
    source, defaultUpstreams: async () => ['192.0.2.53'], log: { warn: () => undefined }, maxForwards: 3,
    // an upstream that answers only when the test says so
    forward: () => new Promise((resolve) => waiting.push(resolve)),
    onRefused: () => refused++,
  });
  const query = (id: number) => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'example.com', class: 'IN' }] });
  const rcode = (b: Buffer | undefined) => (dnsPacket.decode(b!) as unknown as { rcode: string }).rcode;
  const pending = [1, 2, 3].map((id) => server.answer(query(id), '10.0.0.9'));
  await new Promise((r) => setImmediate(r));
  t.equal(waiting.length, 3, 'three forwards in flight');
  t.equal(rcode(await server.answer(query(4), '10.0.0.9')), 'REFUSED', 'the fourth is refused at once');
  t.equal(refused, 1, 'and counted');
  t.equal(waiting.length, 3, 'and not forwarded');
  t.equal(rcode(await server.answer(dnsPacket.encode({ type: 'query', id: 5, questions: [{ type: 'A', name: 'web1', class: 'IN' }] }), '10.0.0.9')), 'NOERROR', 'containers\' names are still answered');
  const answer = dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ type: 'A', name: 'example.com', class: 'IN' }], answers: [{ type: 'A', name: 'example.com', data: '192.0.2.80' }] });
  waiting.shift()!(answer);
  t.equal(rcode(await pending[0]), 'NOERROR', 'an answer comes through');
  const again = server.answer(query(6), '10.0.0.9');
  await new Promise((r) => setImmediate(r));
  t.equal(waiting.length, 3, 'one slot freed: the next query is forwarded');
  for (const w of waiting.splice(0)) w(undefined);
  t.same(await Promise.all([pending[1], pending[2], again].map(async (p) => rcode(await p))), ['SERVFAIL', 'SERVFAIL', 'SERVFAIL'], 'timeouts: SERVFAIL');
});

t.test('resolv.conf and hosts', async (t) => {
  t.equal(resolvConf(['172.18.0.1'], ['example.com'], ['timeout:1'], true), '# Generated by cnmd\nnameserver 172.18.0.1\nsearch example.com\noptions ndots:0 timeout:1\n');
  t.equal(resolvConf(['172.18.0.1'], [], ['ndots:2'], true), '# Generated by cnmd\nnameserver 172.18.0.1\noptions ndots:2\n');
  t.equal(resolvConf(['1.1.1.1'], [], [], false), '# Generated by cnmd\nnameserver 1.1.1.1\n', 'the default bridge: upstream servers, no ndots');
  t.same(hostNameservers('# x\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nnameserver ::1\nsearch lan\n'), ['10.0.0.1']);
  t.match(hostsFile('h1', ['10.0.0.2'], [{ host: 'foo', ip: '10.9.9.9' }]), /127\.0\.0\.1\tlocalhost\n[\s\S]*10\.9\.9\.9\tfoo\n10\.0\.0\.2\th1\n$/);
});
