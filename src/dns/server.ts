/**
 * The embedded DNS server: UDP and TCP on port 53 of each user-defined bridge network's gateway, in the
 * daemon's namespace (where the bridges are), answering from the store and forwarding the rest. A
 * sandbox that no gateway of the daemon's can reach (macvlan) is served on sockets bound inside it,
 * at 127.0.0.11 (SANDBOX_DNS), which identify the container by themselves.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Packet, type Answer } from 'dns-packet';
import { type NameSource, resolveAddress, resolveName } from './names.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { exchangeTcp } from './tcp.js';

export const TTL = 600;
/** response codes: dns-packet reads them from the low bits of flags */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const FORWARD_TIMEOUT_MS = 2000;
/** a query that came over TCP goes upstream over TCP (its answer may not fit UDP): a connection each */
const TCP_FORWARD_TIMEOUT_MS = 5000;

/** How a query reached the server, and so how it goes upstream (Docker's resolver does the same). */
export type Transport = 'udp' | 'tcp';
/** Docker's cap on queries forwarded at once (libnetwork's resolver, maxConcurrent); past it: REFUSED (--limit dns-forwards) */
export const MAX_FORWARDS = DEFAULT_LIMITS.dnsForwards;

export interface DnsServerOptions {
  source: NameSource;
  /** upstream servers for names that are not containers': the daemon's --dns, else the host's resolvers */
  defaultUpstreams: () => Promise<string[]>;
  log: { warn(obj: unknown, msg: string): void };
  /** forwards in flight at most (MAX_FORWARDS) */
  maxForwards?: number;
  /** how a query goes upstream from the daemon's namespace (tests replace it): the reply, or undefined after a timeout */
  forward?: (msg: Buffer, server: string, transport: Transport) => Promise<Buffer | undefined>;
  /**
   * how a query goes upstream from inside the asking container's namespace (./forwarders.ts); without
   * it (dry runs, tests) every upstream is asked from the daemon's namespace
   */
  forwardFrom?: (containerId: string, msg: Buffer, server: string, transport: Transport) => Promise<Buffer | undefined>;
  /** counts queries refused for the cap */
  onRefused?: () => void;
}

interface Listener {
  udp: dgram.Socket;
  tcp: net.Server;
}

/** Who asks: a source address (on a gateway), or the container whose sandbox the socket is in. */
type Asker = string | { containerId: string };

export class DnsServer {
  private readonly listeners = new Map<string, Listener>();
  private readonly sandboxes = new Map<string, Listener>();
  private rotation = 0;
  /** forwards in flight */
  private forwarding = 0;
  private warnedAt = 0;

  constructor(private readonly o: DnsServerOptions) {}

  /** Listens on exactly these addresses (the gateways of user-defined networks). */
  async sync(addresses: string[]): Promise<void> {
    const want = new Set(addresses);
    for (const [addr, l] of this.listeners) {
      if (!want.has(addr)) {
        this.listeners.delete(addr);
        await close(l);
      }
    }
    for (const addr of want) await this.add(addr);
  }

  /** Starts serving one more address (a network was created). */
  async add(addr: string): Promise<void> {
    if (this.listeners.has(addr)) return;
    try {
      this.listeners.set(addr, await this.listen(addr));
    } catch (e) {
      this.o.log.warn({ address: addr, err: (e as Error).message }, 'cannot serve DNS on this gateway; containers there cannot resolve names');
    }
  }

  /** Stops serving an address (its network is gone). */
  async remove(addr: string): Promise<void> {
    const l = this.listeners.get(addr);
    this.listeners.delete(addr);
    if (l) await close(l);
  }

  /** Serves a container on sockets bound inside its sandbox (replacing any it had). */
  async serveSandbox(containerId: string, sockets: Listener): Promise<void> {
    await this.stopSandbox(containerId);
    this.wire(sockets, () => ({ containerId }));
    this.sandboxes.set(containerId, sockets);
  }

  servesSandbox(containerId: string): boolean {
    return this.sandboxes.has(containerId);
  }

  async stopSandbox(containerId: string): Promise<void> {
    const l = this.sandboxes.get(containerId);
    this.sandboxes.delete(containerId);
    if (l) await close(l);
  }

  async close(): Promise<void> {
    await this.sync([]);
    for (const id of [...this.sandboxes.keys()]) await this.stopSandbox(id);
  }

  private async listen(addr: string): Promise<Listener> {
    const udp = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: addr, port: 53, exclusive: true }, () => resolve());
    });
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: addr, port: 53, exclusive: true }, () => resolve());
    });
    this.wire({ udp, tcp }, (address) => address);
    return { udp, tcp };
  }

  /** Answers what reaches these sockets; asker tells who sent a query from its source address. */
  private wire({ udp, tcp }: Listener, asker: (address: string) => Asker): void {
    udp.on('message', (msg, rinfo) => {
      void this.answer(msg, asker(rinfo.address)).then((reply) => {
        // the listener may have closed meanwhile (its network was removed): the answer is dropped
        if (!reply) return;
        try {
          udp.send(reply, rinfo.port, rinfo.address);
        } catch {
          /* not running any more */
        }
      });
    });
    udp.on('error', () => undefined);
    tcp.on('connection', (sock) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          const msg = buf.subarray(2, 2 + len);
          buf = buf.subarray(2 + len);
          void this.answer(msg, asker(sock.remoteAddress?.replace(/^::ffff:/, '') ?? ''), 'tcp').then((reply) => {
            if (!reply || sock.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(reply.length);
            sock.write(Buffer.concat([head, reply]));
          });
        }
      });
      sock.on('error', () => undefined);
      sock.setTimeout(10_000, () => sock.destroy());
    });
    tcp.on('error', () => undefined);
  }

  /** The reply to one query from a container (at address `from`, or named), or undefined to stay silent. */
  async answer(msg: Buffer, from: Asker, transport: Transport = 'udp'): Promise<Buffer | undefined> {
    let q: Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    const reply = (rcode: keyof typeof RCODE, answers: Answer[] = []) =>
      dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | RCODE[rcode], questions: q.questions, answers });
    if (!question) return reply('FORMERR');
    const who = typeof from === 'string' ? this.o.source.requester(from) : this.o.source.requesterById(from.containerId);
    if (!who) return reply('REFUSED');
    if (question.type === 'A' || question.type === 'AAAA') {
      const r = resolveName(this.o.source, who, question.name, question.type === 'A' ? 4 : 6);
      if (r.kind === 'answer') {
        // several containers with one alias: all addresses, in an order that rotates
        const n = this.rotation++ % r.addresses.length;
        const ordered = [...r.addresses.slice(n), ...r.addresses.slice(0, n)];
        return reply('NOERROR', ordered.map((a) => ({ type: question.type, name: question.name, ttl: TTL, class: 'IN', data: a }) as Answer));
      }
      if (r.kind === 'nodata') return reply('NOERROR');
    }
    if (question.type === 'PTR') {
      const name = resolveAddress(this.o.source, who, question.name);
      if (name) return reply('NOERROR', [{ type: 'PTR', name: question.name, ttl: TTL, class: 'IN', data: name } as Answer]);
    }
    // Not a container's name: forwarded. From inside the container's namespace, so that it reaches
    // only the servers the container could; a server on the host's loopback (127.0.0.53 and the like)
    // from the daemon's, and only for a container with a way out (not on internal networks only), as
    // Docker's proxy for a host-loopback resolver.
    const internalOnly = who.networks.length > 0 && who.networks.every((n) => n.internal);
    const upstreams = (who.dns.length ? who.dns : await this.o.defaultUpstreams())
      .slice(0, 3)
      .filter((up) => !(internalOnly && (isHostLoopback(up) || !this.o.forwardFrom)));
    if (!upstreams.length) return reply('SERVFAIL');
    if (this.forwarding >= (this.o.maxForwards ?? MAX_FORWARDS)) {
      this.o.onRefused?.();
      if (Date.now() - this.warnedAt > 10_000) {
        this.warnedAt = Date.now();
        this.o.log.warn({ limit: this.o.maxForwards ?? MAX_FORWARDS }, 'dns: too many queries forwarded at once: refusing until some are answered');
      }
      return reply('REFUSED');
    }
    this.forwarding++;
    try {
      for (const up of upstreams) {
        const r = this.o.forwardFrom && !isHostLoopback(up) ? await this.o.forwardFrom(who.containerId, msg, up, transport) : await (this.o.forward ?? forward)(msg, up, transport);
        if (r) return r;
      }
      return reply('SERVFAIL');
    } finally {
      this.forwarding--;
    }
  }
}

/** An address of the host's own loopback, which no container's namespace reaches. */
export function isHostLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

function forward(msg: Buffer, server: string, transport: Transport): Promise<Buffer | undefined> {
  if (transport === 'tcp') return exchangeTcp(net.connect({ host: server, port: 53 }), msg, TCP_FORWARD_TIMEOUT_MS);
  return new Promise((resolve) => {
    const family = server.includes(':') ? 'udp6' : 'udp4';
    const sock = dgram.createSocket(family);
    const done = (r: Buffer | undefined) => {
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
    sock.on('message', (m) => done(m));
    sock.on('error', () => done(undefined));
    sock.send(msg, 53, server);
  });
}

function close(l: Listener): Promise<void> {
  return new Promise((resolve) => {
    l.udp.close();
    l.tcp.close(() => resolve());
  });
}
