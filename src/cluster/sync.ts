/**
 * This host in the cluster: mirrors the cluster store (global networks into the networks table, other
 * hosts' endpoints into remote_endpoints) and converges the data plane when they change; publishes
 * this host's endpoints on global networks and claims their addresses. Implements the GlobalScope the
 * services use.
 */
import { hostname } from 'node:os';
import type { Endpoint, Network } from '../model.js';
import type { NetworkRepo } from '../store/networks.js';
import type { ContainerRepo } from '../store/containers.js';
import type { RemoteEndpointRepo } from '../store/remote-endpoints.js';
import { type Db, tx } from '../store/db.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { GlobalScope } from '../services/global-scope.js';
import { ClusterStore, type ClusterChange, type ClusterOptions, type EndpointRecord, type NodeRecord } from './store.js';
import { vniOf } from '../drivers/overlay.js';
import { checkEndpoint, checkNetwork, checkNode } from './records.js';

export interface ClusterSyncDeps {
  url: string;
  tls?: ClusterOptions['tls'];
  auth?: ClusterOptions['auth'];
  nodeId: string;
  /** this host's WireGuard public key (published in its node record) */
  wireguardKey?: string;
  address: string;
  leaseTtl: number;
  db: Db;
  networks: NetworkRepo;
  containers: ContainerRepo;
  remote: RemoteEndpointRepo;
  reconciler: Reconciler;
  /** the names a container answers to on a network (for other hosts' name resolution) */
  namesOf: (containerId: string, networkId: string) => string[];
  /** a global network arrived or left (another host created or removed it) */
  onNetwork: (action: 'create' | 'destroy', n: Network) => void;
  /**
   * An endpoint of this host whose address another host claimed while this host was away (its lease
   * ran out): it must move to a free address (it fails when it cannot, e.g. a requested address).
   */
  onAddressLost?: (e: Endpoint) => Promise<void>;
  /** a record in the cluster store failed its check (./records.ts) and was not mirrored */
  onRejected?: (kind: 'network' | 'endpoint' | 'node', key: string, why: string) => void;
  log: { warn(obj: unknown, msg: string): void; info(obj: unknown, msg: string): void };
}

export class ClusterSync implements GlobalScope {
  private readonly store: ClusterStore;
  private readonly nodes = new Map<string, NodeRecord>();
  /** this host's endpoints as published, by endpoint id */
  private readonly published = new Map<string, EndpointRecord>();
  /** endpoints whose address another host holds and that could not move: never published */
  private readonly unclaimed = new Set<string>();
  private addressLost?: (e: Endpoint) => Promise<void>;
  /** the members' addresses the underlay guard was last asked for */
  private members = '';

  /** Who moves an endpoint whose address another host took while this host was away (the containers' attachments). */
  whenAddressLost(fn: (e: Endpoint) => Promise<void>): void {
    this.addressLost = fn;
  }

  constructor(private readonly d: ClusterSyncDeps) {
    this.store = new ClusterStore({
      url: d.url,
      ...(d.tls ? { tls: d.tls } : {}),
      ...(d.auth ? { auth: d.auth } : {}),
      node: { id: d.nodeId, address: d.address, name: hostname(), ...(d.wireguardKey ? { wireguard: d.wireguardKey } : {}) },
      leaseTtl: d.leaseTtl,
      onChange: (c) => this.mirror(c),
      onNotJson: (kind, key) => this.reject(kind, key, 'its value is not JSON'),
      onJoined: () => this.republish(),
      log: d.log,
    });
  }

  start(): void {
    this.store.start();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  get available(): boolean {
    return this.store.available;
  }

  /** the hosts in the cluster */
  peers(): NodeRecord[] {
    return [...this.nodes.values()].sort((a, b) => a.address.localeCompare(b.address));
  }

  /** hosts with endpoints on a global network (Docker's Peers in network inspect) */
  peersOf(networkId: string): NodeRecord[] {
    const ids = new Set(this.d.remote.on(networkId).map((e) => e.node));
    if (this.d.containers.countEndpointsOn(networkId) > 0) ids.add(this.d.nodeId);
    return this.peers().filter((p) => ids.has(p.id));
  }

  remoteEndpoints(networkId: string): EndpointRecord[] {
    return this.d.remote.on(networkId);
  }

  remoteAddresses(networkId: string): string[] {
    return this.d.remote.on(networkId).flatMap((e) => (e.ipv4 ? [e.ipv4.split('/')[0]] : []));
  }

  usedVnis(): number[] {
    return this.d.networks.list().filter((n) => n.scope === 'global').map(vniOf);
  }

  createNetwork(n: Network, vni: number) {
    return this.store.createNetwork(n, vni);
  }

  deleteNetwork(n: Network) {
    return this.store.deleteNetwork(n, vniOf(n));
  }

  claimAddress(networkId: string, ip: string, endpointId: string) {
    return this.store.claimAddress(networkId, ip, endpointId);
  }

  releaseAddress(networkId: string, ip: string) {
    return this.store.releaseAddress(networkId, ip);
  }

  /** Publishes the container's endpoints on global networks, and withdraws those it no longer has. */
  async syncContainer(containerId: string): Promise<void> {
    const c = this.d.containers.get(containerId);
    const running = c?.state === 'running';
    const current = new Map(
      (running ? this.d.containers.endpointsOf(containerId) : [])
        .filter((e) => this.d.networks.get(e.networkId)?.scope === 'global' && !this.unclaimed.has(e.id))
        .map((e) => [e.id, e]),
    );
    for (const [id, rec] of this.published) {
      if (rec.containerId !== containerId || current.has(id)) continue;
      this.published.delete(id);
      await this.store.withdrawEndpoint(rec.networkId, id).catch(() => undefined);
      if (rec.ipv4) await this.store.releaseAddress(rec.networkId, rec.ipv4.split('/')[0]).catch(() => undefined);
    }
    for (const [id, e] of current) {
      const rec: EndpointRecord = {
        id, networkId: e.networkId, containerId, node: this.d.nodeId, vtep: this.d.address, mac: e.mac,
        ipv4: e.ipv4, ipv6: e.ipv6, names: this.d.namesOf(containerId, e.networkId),
      };
      // a start publishes while the sandbox is made, and again when it is done: once is enough
      if (JSON.stringify(this.published.get(id)) === JSON.stringify(rec)) continue;
      // without the store, the next join publishes it (republish)
      if (!this.store.available) continue;
      this.published.set(id, rec);
      await this.store.publishEndpoint(rec).catch((err) => {
        this.published.delete(id); // tried again at the next sync
        this.d.log.warn({ err: err.message }, 'cannot publish an endpoint');
      });
    }
  }

  /** After (re)joining: this host's endpoints and their addresses, under the new lease. */
  private async republish(): Promise<void> {
    // what was published went with the old lease; what could not be claimed is tried again
    this.published.clear();
    this.unclaimed.clear();
    const local = this.d.containers.allEndpoints().filter((e) => this.d.networks.get(e.networkId)?.scope === 'global');
    const lost: Endpoint[] = [];
    for (const e of local) {
      if (!e.ipv4) continue;
      const ip = e.ipv4.split('/')[0];
      // only a claim that expired while this host was away can be lost
      if (!(await this.store.claimAddress(e.networkId, ip, e.id).catch(() => true))) lost.push(e);
    }
    // an address another host took meanwhile: the endpoint moves, so that no two hosts use one address
    for (const e of lost) {
      const where = { network: e.networkId, address: e.ipv4, container: e.containerId };
      try {
        await (this.d.onAddressLost ?? this.addressLost)?.(e);
        this.d.log.warn(where, 'another host took this address while this host was away from the cluster store: the endpoint moved to a free one');
      } catch (err) {
        this.unclaimed.add(e.id);
        this.d.log.warn({ ...where, err: (err as Error).message }, 'another host took this address while this host was away from the cluster store, and it cannot move: it is not published, other hosts cannot reach it');
      }
    }
    for (const id of new Set(local.map((e) => e.containerId))) await this.syncContainer(id);
  }

  private reject(kind: 'network' | 'endpoint' | 'node', key: string, why: string): void {
    this.d.log.warn({ record: `${kind}s/${key}`, why }, 'cluster store: a record failed its check and is ignored');
    this.d.onRejected?.(kind, key, why);
  }

  /** Only what passes its check (./records.ts) is mirrored; the rest is dropped, with a warning and a count. */
  private checked(c: ClusterChange): ClusterChange | undefined {
    const node = (v: unknown, id: string) => {
      const r = checkNode(v, id);
      if (!r.ok) this.reject('node', id, r.why);
      return r.ok ? r.value : undefined;
    };
    const network = (v: unknown, id: string) => {
      const r = checkNetwork(v, id);
      if (!r.ok) this.reject('network', id, r.why);
      return r.ok ? r.value : undefined;
    };
    const endpoint = (v: unknown, nodes: ReadonlyMap<string, NodeRecord>, networks: (id: string) => Network | undefined) => {
      const e = (v ?? {}) as Partial<EndpointRecord>;
      const [nid, id] = [String(e.networkId ?? ''), String(e.id ?? '')];
      const r = checkEndpoint(v, nid, id, nodes, networks(nid));
      if (!r.ok) this.reject('endpoint', `${nid.slice(0, 64)}/${id.slice(0, 64)}`, r.why);
      return r.ok ? r.value : undefined;
    };
    switch (c.kind) {
      case 'snapshot': {
        const nodes = new Map(c.nodes.map((n) => node(n, String((n as { id?: unknown }).id ?? ''))).filter((n): n is NodeRecord => !!n).map((n) => [n.id, n]));
        const networks = c.networks.map((n) => network(n, String((n as { id?: unknown }).id ?? ''))).filter((n): n is Network => !!n);
        const byId = new Map(networks.map((n) => [n.id, n]));
        const endpoints = c.endpoints.map((e) => endpoint(e, nodes, (id) => byId.get(id) ?? this.d.networks.get(id))).filter((e): e is EndpointRecord => !!e);
        return { kind: 'snapshot', nodes: [...nodes.values()], networks, endpoints };
      }
      case 'network': {
        if (!c.network) return c;
        const n = network(c.network, c.id);
        return n && { ...c, network: n };
      }
      case 'node': {
        if (!c.node) return c;
        const n = node(c.node, c.id);
        return n && { ...c, node: n };
      }
      case 'endpoint': {
        if (!c.endpoint) return c;
        if ((c.endpoint as Partial<EndpointRecord>).networkId !== c.networkId || (c.endpoint as Partial<EndpointRecord>).id !== c.id) {
          this.reject('endpoint', `${c.networkId.slice(0, 64)}/${c.id.slice(0, 64)}`, 'its ids are not those of its key');
          return undefined;
        }
        const e = endpoint(c.endpoint, this.nodes, (id) => this.d.networks.get(id));
        return e && { ...c, endpoint: e };
      }
    }
  }

  private mirror(raw: ClusterChange): void {
    const c = this.checked(raw);
    if (!c) return;
    const touched = new Set<string>();
    tx(this.d.db, () => {
      switch (c.kind) {
        case 'snapshot': {
          const ids = new Set(c.networks.map((n) => n.id));
          for (const n of this.d.networks.list()) if (n.scope === 'global' && !ids.has(n.id)) this.dropNetwork(n, touched);
          for (const n of c.networks) this.addNetwork(n, touched);
          this.d.remote.replaceAll(c.endpoints.filter((e) => e.node !== this.d.nodeId));
          for (const e of c.endpoints) touched.add(e.networkId);
          this.nodes.clear();
          for (const n of c.nodes) this.nodes.set(n.id, n);
          break;
        }
        case 'network':
          if (c.network) this.addNetwork(c.network, touched);
          else {
            const n = this.d.networks.get(c.id);
            if (n?.scope === 'global') this.dropNetwork(n, touched);
          }
          break;
        case 'endpoint': {
          const node = c.endpoint?.node ?? this.d.remote.get(c.id)?.node;
          if (node === this.d.nodeId) break;
          if (c.endpoint) this.d.remote.upsert(c.endpoint);
          else this.d.remote.delete(c.id);
          touched.add(c.networkId);
          break;
        }
        case 'node':
          if (c.node) this.nodes.set(c.id, c.node);
          else this.nodes.delete(c.id);
          break;
      }
    });
    // the underlay guard follows the members: a full run (the elements belong to no network)
    if (c.kind === 'node' || c.kind === 'snapshot' || c.kind === 'endpoint') {
      // a member's WireGuard key is part of it: a new key changes the peers of encrypted networks
      const members = [...new Set([...this.peers().map((p) => `${p.address}/${p.wireguard ?? ''}`), ...this.d.remote.list().map((e) => e.vtep)])].sort().join(',');
      if (members !== this.members) {
        this.members = members;
        void this.d.reconciler.reconcileAll().catch((e) => this.d.log.warn({ err: (e as Error).message }, 'cannot update the underlay guard'));
      }
    }
    // the data plane changes only where this host has endpoints
    const planes = [...touched].filter((id) => this.d.containers.countEndpointsOn(id) > 0);
    if (planes.length) void this.d.reconciler.reconcileNetworks(planes).catch((e) => this.d.log.warn({ err: (e as Error).message }, 'cannot update the overlay data plane'));
  }

  private addNetwork(n: Network, touched: Set<string>): void {
    if (this.d.networks.get(n.id)) return;
    const clash = this.d.networks.getByName(n.name);
    if (clash) {
      this.d.log.warn({ network: n.name, local: clash.id }, 'a global network has the name of a local one: not shown here');
      return;
    }
    this.d.networks.insert(n);
    touched.add(n.id);
    this.d.onNetwork('create', n);
  }

  private dropNetwork(n: Network, touched: Set<string>): void {
    if (this.d.containers.countEndpointsOn(n.id) > 0) return;
    this.d.networks.delete(n.id);
    touched.add(n.id);
    this.d.onNetwork('destroy', n);
  }
}
