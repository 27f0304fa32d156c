/** Forwarding from inside the asking container's namespace (src/dns/forwarders.ts) and when it applies. */
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { DnsServer, isHostLoopback } from '../../src/dns/server.js';
import { Forwarders, MAX_TCP_FORWARDS, SandboxForwarder } from '../../src/dns/forwarders.js';
import type { NameSource } from '../../src/dns/names.js';

const ext = { id: 'e', name: 'ext', internal: false };
const int = { id: 'i', name: 'int', internal: true };
const requesters: Record<string, ReturnType<NameSource['requester']>> = {
  '10.0.0.9': { containerId: 'out', networks: [ext], dns: [] },
  '10.2.0.9': { containerId: 'in', networks: [int], dns: [] },
};
const source: NameSource = { requester: (ip) => requesters[ip], requesterById: () => undefined, members: () => [] };
const query = (id: number, name = 'example.test') => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] });
const answerTo = (q: Buffer, data: string) => {
  const p = dnsPacket.decode(q);
  return dnsPacket.encode({ id: p.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: p.questions, answers: [{ type: 'A', name: 'example.test', ttl: 60, class: 'IN', data }] });
};

t.test('which path a forward takes: the host loopback from the daemon, for a container with a way out; the rest from inside', async (t) => {
  t.ok(isHostLoopback('127.0.0.53'));
  t.ok(isHostLoopback('::1'));
  t.notOk(isHostLoopback('192.0.2.53'));
  for (const upstreams of [['127.0.0.53'], ['192.0.2.53'], ['127.0.0.53', '192.0.2.53']]) {
    const paths: string[] = [];
    const server = new DnsServer({
      source, log: { warn: () => undefined }, defaultUpstreams: async () => upstreams,
      forward: async (m, up) => (paths.push(`daemon ${up}`), answerTo(m, '203.0.113.1')),
      forwardFrom: async (id, m, up) => (paths.push(`${id} ${up}`), up === '192.0.2.53' ? answerTo(m, '203.0.113.2') : undefined),
    });
    const ask = async (from: string) => dnsPacket.decode((await server.answer(query(5), from))!) as unknown as { id: number; rcode: string; answers: Array<{ data: string }> };
    const out = await ask('10.0.0.9');
    const inside = await ask('10.2.0.9');
    if (upstreams[0] === '127.0.0.53') {
      t.same([out.rcode, out.answers[0]?.data, out.id], ['NOERROR', '203.0.113.1', 5], `${upstreams}: a host-loopback server is asked from the daemon's namespace`);
    } else t.same([out.rcode, out.answers[0]?.data], ['NOERROR', '203.0.113.2'], `${upstreams}: from inside the container`);
    if (upstreams.includes('192.0.2.53')) t.same([inside.rcode, inside.answers[0]?.data], ['NOERROR', '203.0.113.2'], `${upstreams}: internal only: a server it reaches itself answers`);
    else t.equal(inside.rcode, 'SERVFAIL', `${upstreams}: internal only: never the host's loopback`);
    t.notOk(paths.includes('daemon 192.0.2.53'), 'no server but the host loopback is asked from the daemon');
    t.ok(paths.filter((p) => p === 'daemon 127.0.0.53').length <= 1 && !paths.includes('in 127.0.0.53'), 'the host loopback is asked for the container with a way out alone');
  }
});

const root = process.getuid?.() === 0;

t.test('a sandbox forwarder: the asker\'s id back, a random id out, replies only from the server\'s port 53', { skip: !root && 'binds port 53 on a loopback address: needs root' }, async (t) => {
  const server = '127.0.0.77';
  const upstream = dgram.createSocket('udp4');
  await new Promise<void>((r) => upstream.bind(53, server, () => r()));
  t.teardown(() => upstream.close());
  const spoofer = dgram.createSocket('udp4');
  await new Promise<void>((r) => spoofer.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => spoofer.close());
  const udp4 = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp4.bind(0, '127.0.0.1', () => r()));
  const f = new SandboxForwarder({ udp4 });
  t.teardown(() => f.close());
  const seen: number[] = [];
  upstream.on('message', (m, r) => {
    seen.push(m.readUInt16BE(0));
    // a stranger who learnt the id answers first, from another port: ignored
    spoofer.send(answerTo(m, '198.51.100.66'), r.port, r.address, () => setTimeout(() => upstream.send(answerTo(m, '203.0.113.7'), r.port, r.address), 30));
  });
  const replies = await Promise.all([f.query(query(1111), server), f.query(query(1111), server), f.query(query(42), server)]);
  const decoded = replies.map((r) => dnsPacket.decode(r!) as unknown as { id: number; answers: Array<{ data: string }> });
  t.same(decoded.map((d) => [d.id, d.answers[0]?.data]), [[1111, '203.0.113.7'], [1111, '203.0.113.7'], [42, '203.0.113.7']], 'each asker gets its own id and the server\'s answer');
  t.equal(new Set(seen).size, 3, 'two askers with one id went out under different ids');
  t.equal(await f.query(query(9), '::1'), undefined, 'no IPv6 socket: no answer');
});

t.test('forwarders: made once per sandbox, remade after a change, none without a namespace', async (t) => {
  const made: string[] = [];
  const paths: Record<string, string | undefined> = { a: '/run/netns/a', b: undefined };
  const fw = new Forwarders({
    pathOf: (id) => paths[id],
    sockets: async (path) => {
      made.push(path);
      if (path.endsWith('/gone')) throw new Error('no such namespace');
      const udp4 = dgram.createSocket('udp4');
      await new Promise<void>((r) => udp4.bind(0, '127.0.0.1', () => r()));
      return { udp4 };
    },
    connect: async () => {
      throw new Error('not asked over TCP here');
    },
    log: () => ({ warn: () => undefined }),
  });
  t.teardown(() => fw.close());
  // nothing answers on 127.0.0.78:53: each query times out (2 s) or fails at once; what counts is the sockets made
  await Promise.all([fw.query('a', query(1), '127.0.0.78'), fw.query('a', query(2), '127.0.0.78')]);
  t.same(made, ['/run/netns/a'], 'one set of sockets for two queries');
  t.equal(await fw.query('b', query(3), '127.0.0.78'), undefined, 'no namespace: not forwarded');
  fw.drop('a');
  t.equal(fw.size, 0);
  paths.a = '/run/netns/gone';
  t.equal(await fw.query('a', query(4), '127.0.0.78'), undefined, 'sockets that cannot be made: not forwarded (never from the daemon instead)');
  await fw.query('a', query(5), '127.0.0.78');
  t.same(made, ['/run/netns/a', '/run/netns/gone'], 'a failure is not retried at once');
});

t.test('a query asked over TCP goes upstream over TCP, from inside the namespace: an answer too large for UDP arrives whole', async (t) => {
  // the server of the test: over TCP, 40 addresses (some 1,100 bytes: more than UDP's 512)
  const big = (q: Buffer) => {
    const p = dnsPacket.decode(q);
    const answers = Array.from({ length: 40 }, (_, i) => ({ type: 'A' as const, name: 'big.test', ttl: 60, class: 'IN' as const, data: `203.0.113.${i + 1}` }));
    return dnsPacket.encode({ id: p.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: p.questions, answers });
  };
  const upstream = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const reply = big(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      const head = Buffer.alloc(2);
      head.writeUInt16BE(reply.length);
      sock.end(Buffer.concat([head, reply]));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => upstream.close());
  const port = (upstream.address() as net.AddressInfo).port;
  const connects: string[] = [];
  const fw = new Forwarders({
    pathOf: (id) => (id === 'a' ? '/run/netns/a' : undefined),
    sockets: async () => {
      throw new Error('not asked over UDP here');
    },
    connect: async (path, ip, p) => {
      connects.push(`${path} ${ip}:${p}`);
      const sock = net.connect({ host: '127.0.0.1', port });
      await new Promise((r) => sock.once('connect', r));
      return sock;
    },
    log: () => ({ warn: () => undefined }),
  });
  t.teardown(() => fw.close());
  const reply = await fw.query('a', query(77, 'big.test'), '192.0.2.53', 'tcp');
  const d = dnsPacket.decode(reply!) as unknown as { id: number; answers: unknown[] };
  t.same([d.id, d.answers.length], [77, 40], 'the whole answer, with the asker\'s id');
  t.ok(reply!.length > 512, 'larger than a UDP answer may be');
  t.same(connects, ['/run/netns/a 192.0.2.53:53'], 'a connection made inside the namespace, to the server\'s port 53');
  t.equal(await fw.query('b', query(78), '192.0.2.53', 'tcp'), undefined, 'no namespace: not forwarded');
  // and the server passes the transport through: UDP stays UDP, TCP stays TCP
  const transports: string[] = [];
  const server = new DnsServer({
    source, log: { warn: () => undefined }, defaultUpstreams: async () => ['192.0.2.53'],
    forwardFrom: async (_id, m, _up, transport) => (transports.push(transport), answerTo(m, '203.0.113.2')),
  });
  await server.answer(query(1), '10.0.0.9');
  await server.answer(query(2), '10.0.0.9', 'tcp');
  t.same(transports, ['udp', 'tcp']);
});

t.test('TCP forwards have a cap of their own (each makes a helper process): past it, not forwarded and counted', async (t) => {
  const waiting: Array<(s: net.Socket) => void> = [];
  let refused = 0;
  const fw = new Forwarders({
    pathOf: () => '/run/netns/a',
    sockets: async () => {
      throw new Error('not asked over UDP here');
    },
    // the helpers hang until the test lets them fail
    connect: () => new Promise((_resolve, reject) => waiting.push(() => reject(new Error('let go')))),
    log: () => ({ warn: () => undefined }),
    onTcpRefused: () => refused++,
  });
  t.teardown(() => fw.close());
  const inFlight = Array.from({ length: MAX_TCP_FORWARDS }, (_, i) => fw.query('a', query(i), '192.0.2.53', 'tcp'));
  await new Promise((r) => setImmediate(r));
  t.equal(waiting.length, MAX_TCP_FORWARDS, `${MAX_TCP_FORWARDS} helpers at once`);
  t.equal(await fw.query('a', query(99), '192.0.2.53', 'tcp'), undefined, 'the next is not forwarded');
  t.equal(refused, 1, 'and counted');
  t.equal(waiting.length, MAX_TCP_FORWARDS, 'no helper was started for it');
  for (const w of waiting.splice(0)) w(undefined as unknown as net.Socket);
  t.same(await Promise.all(inFlight), inFlight.map(() => undefined));
  void fw.query('a', query(100), '192.0.2.53', 'tcp');
  await new Promise((r) => setImmediate(r));
  t.equal(waiting.length, 1, 'below the cap again: forwarded');
  waiting[0](undefined as unknown as net.Socket);
});
