/**
 * Connecting and disconnecting containers: a stopped one records what it asks for, a running one gets
 * (or loses) an endpoint at once; its files follow in the same reconcile. Under the container's lock,
 * so concurrent requests on one container never race (the later ones see the earlier's outcome).
 */
import { parseLink } from './links.js';
import type { Container, Endpoint, EndpointSettingsInput, Network } from '../model.js';
import { DomainError, forbidden, invalid, notFound, systemError } from '../errors.js';
import { tx, type Db } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import { parseAddr } from '../ipam/cidr.js';
import { findNetwork } from './lookup.js';
import type { EventBus } from './events.js';
import type { EndpointAllocator } from './endpoints.js';
import type { HostJoins } from './host-joins.js';
import type { KeyedLock } from './locks.js';
import type { Runs } from './container-runs.js';
import { modeOf } from './container-spec.js';
import { warnOnFail, type Log } from './log.js';

export interface AttachmentDeps {
  db: Db;
  containers: ContainerRepo;
  networks: NetworkRepo;
  reconciler: Reconciler;
  events: EventBus;
  endpoints: EndpointAllocator;
  joins: HostJoins;
  lock: KeyedLock;
  runs: Runs;
  find: (term: string) => Container;
  sandboxChanged: (id: string) => Promise<void>;
  log: () => Log;
}

const PREDEFINED_MODES = ['bridge', 'host', 'none', 'default'];

export class Attachments {
  constructor(private readonly d: AttachmentDeps) {}

  private tryNetwork(term: string): Network | undefined {
    try {
      return findNetwork(this.d.networks, term);
    } catch {
      return undefined;
    }
  }

  /** Docker's checks of one endpoint's settings (create's EndpointsConfig, connect). */
  validate(network: string, s: EndpointSettingsInput, apiVersion: number): void {
    const known = this.tryNetwork(network);
    const predefined = PREDEFINED_MODES.includes(network) || (known !== undefined && known.predefined);
    if (predefined && (s.IPAMConfig?.IPv4Address || s.IPAMConfig?.IPv6Address)) {
      throw invalid('user specified IP address is supported on user defined networks only');
    }
    if (predefined && apiVersion >= 1.44 && (s.Aliases ?? []).length) {
      throw invalid('network-scoped aliases are only supported for user-defined networks');
    }
    for (const a of [s.IPAMConfig?.IPv4Address, s.IPAMConfig?.IPv6Address]) {
      if (a && !parseAddr(a)) throw invalid(`invalid IP address: ${a}`);
    }
    if (s.MacAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(s.MacAddress)) throw invalid(`invalid MAC address: ${s.MacAddress}`);
    for (const a of s.Aliases ?? []) if (typeof a !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/.test(a)) throw invalid(`invalid alias: ${String(a)}`);
    if (s.Links != null && !Array.isArray(s.Links)) throw invalid('Links must be a list of name:alias');
    for (const l of s.Links ?? []) parseLink(l);
  }

  async connect(networkTerm: string, containerTerm: string, settings: EndpointSettingsInput | null, apiVersion: number): Promise<void> {
    const id = this.d.find(containerTerm).id;
    await this.d.lock.run(id, async () => {
      const c = this.d.find(id);
      const s: EndpointSettingsInput = { ...(settings ?? {}) };
      if (apiVersion < 1.48) delete s.GwPriority;
      // Docker applies a MacAddress given to connect only from API 1.54, beyond what cnmd speaks.
      delete s.MacAddress;
      const mode = modeOf(c).kind;
      if (mode === 'container') throw forbidden('container sharing network namespace with another container or host cannot be connected to any other network');
      if (mode === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
      if (mode === 'none') throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      if (c.state === 'removing') throw forbidden(`Container ${c.id} is marked for removal and cannot be connected or disconnected to the network`);
      if (c.state !== 'running') return this.record(c, networkTerm, s, apiVersion);
      const network = findNetwork(this.d.networks, networkTerm);
      this.validate(network.name, s, apiVersion);
      let endpoint: Endpoint | undefined;
      tx(this.d.db, () => {
        endpoint = this.d.endpoints.allocate(c, network, network.name, s);
        this.d.containers.removeEndpointConfig(c.id, network.name);
        this.d.containers.addEndpointConfig(c.id, network.name, s);
      });
      const joined = [{ endpoint: endpoint!, network }];
      try {
        await this.d.joins.join(c, joined, this.d.runs.scopeOf(c.id, [network]));
      } catch (e) {
        await this.d.joins.release(joined.map((j) => j.endpoint));
        tx(this.d.db, () => {
          this.d.containers.deleteEndpoint(joined[0].endpoint.id);
          this.d.containers.removeEndpointConfig(c.id, network.name);
        });
        await this.d.joins.withdraw(c, joined);
        await this.d.reconciler.reconcile(this.d.runs.scopeOf(c.id, [network])).catch(warnOnFail(this.d.log, 'undoing a failed connect: the next reconcile finishes it'));
        throw e instanceof DomainError ? e : systemError(`failed to connect ${c.name} to ${network.name}: ${(e as Error).message}`);
      }
      await this.d.sandboxChanged(c.id);
      this.d.events.emit('network', 'connect', network.id, { container: c.id, name: network.name, type: network.driver });
    });
  }

  /** A stopped container: the network is recorded (resolved at start, as in Docker). */
  private record(c: Container, networkTerm: string, s: EndpointSettingsInput, apiVersion: number): void {
    const known = this.tryNetwork(networkTerm);
    if (known?.driver === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
    if (known?.driver === 'null') throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    this.validate(networkTerm, s, apiVersion);
    const key = known ? known.name : networkTerm;
    if (c.endpointConfigs.some((e) => e.network === key || (known && this.tryNetwork(e.network)?.id === known.id))) {
      throw forbidden(`endpoint with name ${c.name} already exists in network ${key}`);
    }
    tx(this.d.db, () => this.d.containers.addEndpointConfig(c.id, key, s));
  }

  async disconnect(networkTerm: string, containerTerm: string, force: boolean): Promise<void> {
    const id = this.d.find(containerTerm).id;
    await this.d.lock.run(id, async () => {
      const c = this.d.find(id);
      if (modeOf(c).kind === 'host' && (networkTerm === 'host' || this.tryNetwork(networkTerm)?.driver === 'host')) {
        throw invalid('container cannot be disconnected from host network or connected to host network');
      }
      if (c.state === 'removing') throw forbidden(`Container ${c.id} is marked for removal and cannot be connected or disconnected to the network`);
      if (c.state !== 'running') {
        const known = this.tryNetwork(networkTerm);
        const key = c.endpointConfigs.find((e) => e.network === networkTerm || (known && this.tryNetwork(e.network)?.id === known.id))?.network;
        // Docker answers 500 here; it is the client's mistake
        if (!key) throw notFound(`container ${c.id} is not connected to the network ${networkTerm}`);
        tx(this.d.db, () => this.d.containers.removeEndpointConfig(c.id, key));
        return;
      }
      let network: Network | undefined;
      try {
        network = findNetwork(this.d.networks, networkTerm);
      } catch (e) {
        if (!force) throw e;
      }
      const eps = this.d.containers.endpointsOf(c.id);
      const ep = network ? eps.find((e) => e.networkId === network!.id) : eps.find((e) => e.configKey === networkTerm);
      if (!ep) throw notFound(`container ${c.id} is not connected to network ${network?.name ?? networkTerm}`);
      tx(this.d.db, () => {
        this.d.containers.deleteEndpoint(ep.id);
        this.d.containers.removeEndpointConfig(c.id, ep.configKey);
      });
      await this.d.reconciler.reconcile(this.d.runs.scopeOf(c.id, [this.d.networks.get(ep.networkId)]));
      await this.d.sandboxChanged(c.id);
      const n = this.d.networks.get(ep.networkId);
      if (n) this.d.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  /**
   * An endpoint whose address another host claimed while this host was away from the cluster store:
   * it moves to a free address (a new interface in the sandbox), so that no two hosts use one address.
   * A requested address (--ip) cannot move: that fails, and the caller says so.
   */
  async readdress(ep: Endpoint): Promise<void> {
    await this.d.lock.run(ep.containerId, async () => {
      const c = this.d.containers.get(ep.containerId);
      const network = this.d.networks.get(ep.networkId);
      if (!c || !network || c.state !== 'running') return;
      const joins = [{ endpoint: ep, network }];
      await this.d.joins.join(c, joins, this.d.runs.scopeOf(c.id, [network]));
      await this.d.sandboxChanged(c.id);
      const to = joins[0].endpoint.ipv4 ?? '';
      this.d.events.emit('cnmd', 'readdress', c.id, { name: c.name, network: network.name, from: ep.ipv4 ?? '', to });
    });
  }
}
