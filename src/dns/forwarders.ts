/**
 * Names that are not containers' are forwarded from inside the asking container's network namespace,
 * through UDP sockets made there (host/netns-sockets.ts): a query reaches only the servers the
 * container itself could reach, through its own routes and the firewall between networks, never the
 * daemon's. Each sandbox gets its sockets at its first forwarded query and keeps them until the
 * sandbox changes (start, connect, disconnect, stop), when the next query makes new ones. A query
 * that came over TCP goes over TCP, on a connection made inside the namespace for it.
 */
import { randomInt } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import type { Socket } from 'node:net';
import type { ForwardSockets } from '../host/executor.js';
import { exchangeTcp } from './tcp.js';

const TIMEOUT_MS = 2000;
/** a TCP query: a connection made inside the namespace (a helper process), then one exchange */
const TCP_TIMEOUT_MS = 5000;
/**
 * TCP forwards in flight at most: each makes its connection with a helper process in the namespace
 * (some 40 MiB while it runs), so they have a cap of their own, far below dns-forwards; past it the
 * query is not forwarded (SERVFAIL) and counted.
 */
export const MAX_TCP_FORWARDS = 16;
/** a sandbox whose sockets could not be made is not tried again for this long */
const RETRY_MS = 5000;

/** IPv6 text in one spelling, so that a reply's source matches the server it was sent to. */
function canonical(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** One sandbox's sockets: each query goes out under a random id of ours; a reply is matched by server and id. */
export class SandboxForwarder {
  private readonly pending = new Map<string, { done: (r: Buffer | undefined) => void; id: number }>();

  constructor(private readonly s: ForwardSockets) {
    for (const sock of [s.udp4, s.udp6]) {
      sock?.on('message', (m: Buffer, r: RemoteInfo) => this.reply(m, r));
      sock?.on('error', () => undefined);
    }
  }

  /** The server's reply with the asker's id, or undefined (no reply in time, unreachable, no IPv6 here). */
  query(msg: Buffer, server: string): Promise<Buffer | undefined> {
    const sock = server.includes(':') ? this.s.udp6 : this.s.udp4;
    if (!sock || msg.length < 12 || this.pending.size >= 65_536) return Promise.resolve(undefined);
    const to = canonical(server);
    let id = randomInt(65_536);
    while (this.pending.has(`${to}/${id}`)) id = (id + 1) & 0xffff;
    const key = `${to}/${id}`;
    const out = Buffer.from(msg);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const done = (r: Buffer | undefined) => {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(r);
      };
      const timer = setTimeout(() => done(undefined), TIMEOUT_MS);
      this.pending.set(key, { done, id: msg.readUInt16BE(0) });
      sock.send(out, 53, server, (err) => err && done(undefined));
    });
  }

  private reply(m: Buffer, r: RemoteInfo): void {
    if (m.length < 12 || r.port !== 53) return;
    const p = this.pending.get(`${canonical(r.address)}/${m.readUInt16BE(0)}`);
    if (!p) return;
    const back = Buffer.from(m);
    back.writeUInt16BE(p.id, 0);
    p.done(back);
  }

  close(): void {
    for (const p of [...this.pending.values()]) p.done(undefined);
    for (const sock of [this.s.udp4, this.s.udp6]) sock?.close();
  }
}

export interface ForwardersOptions {
  /** the network namespace a running container's queries are forwarded from; undefined: none */
  pathOf: (containerId: string) => string | undefined;
  sockets: (path: string) => Promise<ForwardSockets>;
  /** a TCP connection to ip:port made inside the namespace at path */
  connect: (path: string, ip: string, port: number) => Promise<Socket>;
  log: () => { warn(obj: unknown, msg: string): void };
  /** a TCP query was not forwarded for MAX_TCP_FORWARDS */
  onTcpRefused?: () => void;
}

export class Forwarders {
  /** TCP forwards in flight (MAX_TCP_FORWARDS) */
  private tcp = 0;
  private readonly open = new Map<string, { path: string; made: Promise<SandboxForwarder | undefined>; failedAt?: number }>();

  constructor(private readonly o: ForwardersOptions) {}

  /** Forwards msg to server from inside the container's namespace; undefined when it cannot. */
  async query(containerId: string, msg: Buffer, server: string, transport: 'udp' | 'tcp' = 'udp'): Promise<Buffer | undefined> {
    const path = this.o.pathOf(containerId);
    if (!path) return undefined;
    if (transport === 'tcp') {
      // a connection of its own each time: TCP queries are few (answers too large for UDP)
      if (this.tcp >= MAX_TCP_FORWARDS) {
        this.o.onTcpRefused?.();
        return undefined;
      }
      this.tcp++;
      try {
        const sock = await this.o.connect(path, server, 53).catch(() => undefined);
        return sock ? await exchangeTcp(sock, msg, TCP_TIMEOUT_MS) : undefined;
      } finally {
        this.tcp--;
      }
    }
    let entry = this.open.get(containerId);
    if (entry && (entry.path !== path || (entry.failedAt !== undefined && Date.now() - entry.failedAt > RETRY_MS))) {
      this.drop(containerId);
      entry = undefined;
    }
    if (!entry) {
      const made: Promise<SandboxForwarder | undefined> = this.o.sockets(path).then(
        (s) => new SandboxForwarder(s),
        (e: Error) => {
          fresh.failedAt = Date.now();
          this.o.log().warn({ container: containerId, err: e.message }, 'dns: cannot forward from inside this sandbox; other names fail for it');
          return undefined;
        },
      );
      const fresh: { path: string; made: Promise<SandboxForwarder | undefined>; failedAt?: number } = { path, made };
      this.open.set(containerId, fresh);
      entry = fresh;
    }
    const f = await entry.made;
    return f ? f.query(msg, server) : undefined;
  }

  /** The sandbox changed or went: its sockets are closed; the next query makes new ones. */
  drop(containerId: string): void {
    const entry = this.open.get(containerId);
    this.open.delete(containerId);
    void entry?.made.then((f) => f?.close());
  }

  close(): void {
    for (const id of [...this.open.keys()]) this.drop(id);
  }

  /** sandboxes holding forwarding sockets now */
  get size(): number {
    return this.open.size;
  }
}
