/**
 * The cluster store: etcd, shared by the cnmd of every host (--cluster-store). It holds what must be
 * one truth across hosts; everything local stays in SQLite. Keys (records are JSON; claims hold an id):
 *
 *   /cnmd/nodes/<node id>                 a host: id, address (its VTEP), name       (under its lease)
 *   /cnmd/networks/<network id>           a global (overlay) network, as the store's Network
 *   /cnmd/names/<network name>            network id: names are unique cluster-wide (compare-and-swap)
 *   /cnmd/subnets/<subnet, / as _>        network id: so are subnets
 *   /cnmd/vnis/<vni>                      network id: and VXLAN ids
 *   /cnmd/addresses/<network id>/<ip>     endpoint id: an address handed out       (under the host's lease)
 *   /cnmd/endpoints/<network id>/<ep id>  an endpoint: node, vtep, mac, ip, names  (under the host's lease)
 *
 * A host's lease ends when it stops renewing it (crash, lost network): etcd then deletes its node,
 * address and endpoint keys, and every other host's watch removes them from its data plane. Losing
 * etcd fails cluster operations with 503 until it is back; local networks never depend on it.
 */
import { Etcd3, type Lease, type Watcher, type IKeyValue } from 'etcd3';
import { connect as tlsConnect } from 'node:tls';
import type { Network } from '../model.js';
import { DomainError, storeUnavailable } from '../errors.js';

const P = '/cnmd/';

export interface NodeRecord {
  id: string;
  address: string;
  name: string;
  /** its WireGuard public key, when it has WireGuard (the peers of encrypted overlay networks) */
  wireguard?: string;
}

export interface EndpointRecord {
  id: string;
  networkId: string;
  containerId: string;
  node: string;
  vtep: string;
  mac: string;
  ipv4: string | null;
  ipv6: string | null;
  names: string[];
}

export type ClusterChange =
  | { kind: 'network'; id: string; network?: Network }
  | { kind: 'endpoint'; networkId: string; id: string; endpoint?: EndpointRecord }
  | { kind: 'node'; id: string; node?: NodeRecord }
  /** the watch (re)started: the whole state, to replace what was mirrored */
  | { kind: 'snapshot'; networks: Network[]; endpoints: EndpointRecord[]; nodes: NodeRecord[] };

export interface ClusterOptions {
  /** etcd://HOST:PORT[,HOST:PORT…], or etcds:// for TLS */
  url: string;
  /** TLS to etcd (etcds://): the CA that signed etcd's certificate, and this host's client certificate */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  /** etcd's authentication */
  auth?: { username: string; password: string };
  node: NodeRecord;
  leaseTtl: number;
  onChange: (c: ClusterChange) => void;
  /** a value under /cnmd/ that is not JSON: ignored (one bad record never keeps a host from joining) */
  onNotJson?: (kind: 'network' | 'endpoint' | 'node', key: string) => void;
  /** after each (re)join: publish this host's endpoints again */
  onJoined?: () => Promise<void>;
  log: { warn(obj: unknown, msg: string): void; info(obj: unknown, msg: string): void };
}



/** etcd://a:1,b:2 -> http://a:1, http://b:2; etcds:// -> https:// */
export function endpointsOf(url: string): string[] {
  const scheme = url.startsWith('etcds://') ? 'https' : 'http';
  return url.replace(/^etcds?:\/\//, '').split(',').map((hp) => `${scheme}://${hp}`);
}

/** Whether host:port answers a TLS handshake (certificates not checked: only the protocol matters here). */
function speaksTls(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tlsConnect({ host, port, rejectUnauthorized: false, timeout: 2000, ALPNProtocols: ['h2'] });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('secureConnect', () => done(true));
    sock.once('error', () => done(false));
    sock.once('timeout', () => done(false));
  });
}

export class ClusterStore {
  private readonly client: Etcd3;
  private lease: Lease | undefined;
  private watcher: Watcher | undefined;
  private up = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly o: ClusterOptions) {
    this.client = new Etcd3({
      hosts: endpointsOf(o.url),
      dialTimeout: 2000,
      ...(o.tls ? { credentials: { rootCertificate: o.tls.ca, ...(o.tls.cert && o.tls.key ? { certChain: o.tls.cert, privateKey: o.tls.key } : {}) } } : {}),
      ...(o.auth ? { auth: o.auth } : {}),
    });
  }

  /** whether a plain etcd:// store was found to speak TLS (said once) */
  private hinted = false;

  /** Why joining fails, said so that it can be fixed: a plain client meeting a TLS-only etcd gets the flags to use. */
  private async explain(e: Error): Promise<string> {
    if (this.hinted || !this.o.url.startsWith('etcd://')) return e.message;
    const [host, port] = this.o.url.slice('etcd://'.length).split(',')[0].split(':');
    if (await speaksTls(host, Number(port))) {
      this.hinted = true;
      return `the cluster store at ${host}:${port} speaks TLS: use --cluster-store etcds://${host}:${port} with --cluster-store-opt kv.cacertfile=FILE (and kv.certfile, kv.keyfile for a client certificate) (${e.message})`;
    }
    return e.message;
  }

  get available(): boolean {
    return this.up;
  }

  get nodeId(): string {
    return this.o.node.id;
  }

  /** Joins in the background: the daemon starts whether or not etcd answers, and keeps trying. */
  start(): void {
    void this.join();
  }

  private async join(): Promise<void> {
    if (this.closed) return;
    try {
      const lease = this.client.lease(this.o.leaseTtl, { autoKeepAlive: true });
      await lease.grant();
      lease.on('lost', (e) => {
        this.o.log.warn({ err: e.message }, 'cluster store lease lost');
        this.down();
      });
      this.lease = lease;
      await lease.put(`${P}nodes/${this.o.node.id}`).value(JSON.stringify(this.o.node));
      const watcher = await this.client.watch().prefix(P).create();
      watcher.on('put', (kv) => this.changed(kv, false));
      watcher.on('delete', (kv) => this.changed(kv, true));
      watcher.on('disconnected', () => this.down());
      watcher.on('error', () => this.down());
      this.watcher = watcher;
      await this.snapshot();
      this.up = true;
      this.o.log.info({ store: this.o.url }, 'joined the cluster store');
      await this.o.onJoined?.();
    } catch (e) {
      this.o.log.warn({ err: await this.explain(e as Error), store: this.o.url }, 'cluster store unreachable; retrying');
      this.down();
    }
  }

  /**
   * Leaves the store's state as it is (this host's keys live until its lease runs out) and tries to
   * join again shortly; joining publishes this host's endpoints again under a new lease.
   */
  private down(): void {
    const was = this.up;
    this.up = false;
    const lease = this.lease;
    const watcher = this.watcher;
    this.lease = undefined;
    this.watcher = undefined;
    lease?.release();
    void watcher?.cancel().catch(() => undefined);
    if (was) this.o.log.warn({ store: this.o.url }, 'cluster store lost: overlay changes fail with 503 until it is back');
    if (!this.closed && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        void this.join();
      }, 1000);
      this.retry.unref();
    }
  }

  private async snapshot(): Promise<void> {
    const all = await this.client.getAll().prefix(P).strings();
    const networks: Network[] = [];
    const endpoints: EndpointRecord[] = [];
    const nodes: NodeRecord[] = [];
    for (const [k, v] of Object.entries(all)) {
      const kind = k.slice(P.length).split('/')[0];
      const list = kind === 'networks' ? networks : kind === 'endpoints' ? endpoints : kind === 'nodes' ? nodes : undefined;
      if (!list) continue;
      try {
        list.push(JSON.parse(v));
      } catch {
        this.o.onNotJson?.(kind.slice(0, -1) as 'network', k.slice(P.length + kind.length + 1));
      }
    }
    this.o.onChange({ kind: 'snapshot', networks, endpoints, nodes });
  }

  private changed(kv: IKeyValue, deleted: boolean): void {
    const key = kv.key.toString();
    const parts = key.slice(P.length).split('/');
    // names, subnets, VXLAN ids and addresses are claims (plain ids), not mirrored
    if (!['networks', 'endpoints', 'nodes'].includes(parts[0])) return;
    let value;
    try {
      value = deleted ? undefined : JSON.parse(kv.value.toString());
    } catch {
      this.o.onNotJson?.(parts[0].slice(0, -1) as 'network', parts.slice(1).join('/'));
      return;
    }
    if (parts[0] === 'networks') this.o.onChange({ kind: 'network', id: parts[1], network: value });
    else if (parts[0] === 'endpoints') this.o.onChange({ kind: 'endpoint', networkId: parts[1], id: parts[2], endpoint: value });
    else if (parts[0] === 'nodes') this.o.onChange({ kind: 'node', id: parts[1], node: value });
  }

  private need(): Lease {
    if (!this.up || !this.lease) throw storeUnavailable();
    return this.lease;
  }

  /** Runs an etcd call; a failure to reach etcd is a 503, and the store counts as down. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof DomainError) throw e;
      this.down();
      throw storeUnavailable();
    }
  }

  /**
   * Creates a global network if its name, subnets and VXLAN id are all free, atomically; returns the
   * conflict that kept it from being created, if any.
   */
  async createNetwork(n: Network, vni: number): Promise<'name' | 'subnet' | 'vni' | undefined> {
    this.need();
    return this.call(async () => {
      const claims = [`${P}names/${n.name}`, ...n.subnets.map((s) => `${P}subnets/${s.subnet.replace('/', '_')}`), `${P}vnis/${vni}`];
      let txn = this.client.if(claims[0], 'Create', '==', 0);
      for (const k of claims.slice(1)) txn = txn.and(k, 'Create', '==', 0);
      const r = await txn
        .then(...claims.map((k) => this.client.put(k).value(n.id)), this.client.put(`${P}networks/${n.id}`).value(JSON.stringify(n)))
        .commit();
      if (r.succeeded) return undefined;
      if ((await this.client.get(claims[0]).string()) !== null) return 'name';
      if ((await this.client.get(claims.at(-1)!).string()) !== null) return 'vni';
      return 'subnet';
    });
  }

  /** Deletes a global network when no host has an endpoint on it; false when one has. */
  async deleteNetwork(n: Network, vni: number): Promise<boolean> {
    // the claims are released with the network: its name, subnets and id may be used again
    this.need();
    return this.call(async () => {
      const eps = await this.client.getAll().prefix(`${P}endpoints/${n.id}/`).keys();
      if (eps.length) return false;
      const keys = [`${P}networks/${n.id}`, `${P}names/${n.name}`, ...n.subnets.map((s) => `${P}subnets/${s.subnet.replace('/', '_')}`), `${P}vnis/${vni}`];
      await this.client.if(keys[0], 'Create', '>', 0).then(...keys.map((k) => this.client.delete().key(k))).commit();
      await this.client.delete().prefix(`${P}addresses/${n.id}/`);
      return true;
    });
  }

  /** Claims an address for an endpoint of this host (under its lease); false when another has it. */
  async claimAddress(networkId: string, ip: string, endpointId: string): Promise<boolean> {
    const lease = this.need();
    return this.call(async () => {
      const key = `${P}addresses/${networkId}/${ip}`;
      const leaseId = await lease.grant();
      const r = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(endpointId).lease(leaseId)).commit();
      if (r.succeeded) return true;
      return (await this.client.get(key).string()) === endpointId;
    });
  }

  async releaseAddress(networkId: string, ip: string): Promise<void> {
    if (!this.up) return;
    await this.call(async () => void (await this.client.delete().key(`${P}addresses/${networkId}/${ip}`)));
  }

  /** Makes an endpoint of this host known to the others (under its lease). */
  async publishEndpoint(e: EndpointRecord): Promise<void> {
    const lease = this.need();
    await this.call(async () => void (await lease.put(`${P}endpoints/${e.networkId}/${e.id}`).value(JSON.stringify(e))));
  }

  async withdrawEndpoint(networkId: string, id: string): Promise<void> {
    if (!this.up) return;
    await this.call(async () => void (await this.client.delete().key(`${P}endpoints/${networkId}/${id}`)));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    // never wait on etcd to stop: it may be the reason we stop
    void this.watcher?.cancel().catch(() => undefined);
    // a clean stop keeps the registrations until the lease runs out: a restart within it changes nothing
    this.lease?.release();
    this.client.close();
  }
}
