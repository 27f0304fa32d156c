/**
 * Network use cases: validate, decide, write the store in one synchronous transaction, then converge
 * the host. A create whose host steps fail is undone (row deleted, host reconciled again) before the
 * error is returned, so nothing half-made remains.
 */
import type { Config } from '../config.js';
import type { Network } from '../model.js';
import { isPredefinedName } from '../model.js';
import { DomainError, conflict, forbidden, invalid, notFound, storeUnavailable, systemError } from '../errors.js';
import { newId, nowNs, formatRfc3339Nano } from '../ids.js';
import type { NetworkRepo, MetaRepo } from '../store/networks.js';
import { type Db, tx } from '../store/db.js';
import { getDriver, PLANNED_DRIVERS, type DriverContext } from '../drivers/index.js';
import { GENERIC_OPTIONS } from '../drivers/bridge.js';
import { boolOption } from '../drivers/options.js';
import { planSubnets, type IpamConfigInput } from '../ipam/network-ipam.js';
import { DEFAULT_POOLS } from '../ipam/pools.js';
import { parsePrefix, formatPrefix, masked, type Prefix } from '../ipam/cidr.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { Executor } from '../host/executor.js';
import { readLinkNames } from '../host/readers.js';
import { OnLinkRoutes } from '../host/route-watch.js';
import type { EventBus } from './events.js';
import type { GlobalScope } from './global-scope.js';
import { warnOnFail, type Log } from './log.js';
import { FIRST_VNI, VNI_OPTION } from '../drivers/overlay.js';
import { findNetwork, type AmbiguityStyle } from './lookup.js';
import { type Filters, fuzzyMatch, matchLabels, boolFilter, parseTimestamp } from './filters.js';
import type { AddressPool } from '../config.js';
import { randomBytes } from 'node:crypto';

export interface CreateNetworkRequest {
  Name?: string | null;
  Driver?: string | null;
  Scope?: string | null;
  Internal?: boolean | null;
  Attachable?: boolean | null;
  Ingress?: boolean | null;
  ConfigOnly?: boolean | null;
  ConfigFrom?: { Network?: string | null } | null;
  EnableIPv4?: boolean | null;
  EnableIPv6?: boolean | null;
  IPAM?: { Driver?: string | null; Options?: Record<string, string> | null; Config?: Array<IpamConfigInput | null> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  CheckDuplicate?: boolean | null;
}

/**
 * Automatic subnets of global networks come from a pool of their own, as Docker's swarm does
 * (10.0.0.0/8 in /24s): the local pools are per host, and another host's local networks are unknown here.
 */
export const GLOBAL_POOLS: AddressPool[] = [{ base: '10.0.0.0/8', size: 24 }];

export const NETWORK_LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'] as const;
export const NETWORK_PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

export interface NetworkServiceDeps {
  db: Db;
  networks: NetworkRepo;
  meta: MetaRepo;
  config: Config;
  ctx: DriverContext;
  reconciler: Reconciler;
  exec: Executor;
  events: EventBus;
  /** whether a network has endpoints (running sandboxes); none until sandboxes exist */
  hasEndpoints?: (networkId: string) => boolean;
  /** the store of global (overlay) networks, when the daemon is in a cluster */
  global?: GlobalScope;
  log?: Log;
}

const SILENT: Log = { warn: () => undefined };

/** a stored network's subnets, parsed once: stored networks are frozen and shared until a write replaces them */
const parsedSubnets = new WeakMap<Network, readonly Prefix[]>();
function prefixesOf(n: Network): readonly Prefix[] {
  let p = parsedSubnets.get(n);
  if (!p) parsedSubnets.set(n, (p = Object.freeze(n.subnets.map((s) => Object.freeze(parsePrefix(s.subnet)!)))));
  return p;
}

export class NetworkService {
  private pruning = false;

  private readonly routes: OnLinkRoutes;

  constructor(private readonly d: NetworkServiceDeps) {
    this.routes = new OnLinkRoutes(
      d.exec,
      (dev, prefix) => this.d.networks.getByBridgeName(dev)?.subnets.some((s) => s.subnet === prefix) ?? false,
      (name) => this.d.networks.getByBridgeName(name) !== undefined,
    );
  }

  private get pools4(): AddressPool[] {
    return (this.d.config.defaultAddressPools ?? DEFAULT_POOLS).filter((p) => parsePrefix(p.base)?.family === 4);
  }

  /** Configured IPv6 pools, else a unique local /48 of this daemon split into /64s, as Docker 27+ does. */
  private get pools6(): AddressPool[] {
    const configured = (this.d.config.defaultAddressPools ?? []).filter((p) => parsePrefix(p.base)?.family === 6);
    if (configured.length) return configured;
    let ula = this.d.meta.get('ula_base');
    if (!ula) {
      const b = randomBytes(5).toString('hex');
      ula = `fd${b.slice(0, 2)}:${b.slice(2, 6)}:${b.slice(6, 10)}::/48`;
      this.d.meta.set('ula_base', ula);
    }
    return [{ base: ula, size: 64 }];
  }

  get(term: string, style: AmbiguityStyle = 'remove'): Network {
    return findNetwork(this.d.networks, term, style);
  }

  inUse(n: Network): boolean {
    return n.predefined || (this.d.hasEndpoints?.(n.id) ?? false);
  }

  /**
   * The host's on-link routes, which automatic subnets avoid: read after the link deletions still
   * finishing have ended (a bridge just deleted no longer holds its subnet).
   */
  private async hostRoutes() {
    await this.d.reconciler.settled();
    return this.routes.read();
  }

  /** Keeps the host's routes between creates, told of changes by a monitor (host/route-watch.ts). */
  watchHostRoutes(): void {
    this.routes.start();
  }

  close(): void {
    this.routes.stop();
  }

  /** The host's link names (a macvlan parent, a name taken), read after the deletions still finishing. */
  private async hostLinkNames() {
    await this.d.reconciler.settled();
    return readLinkNames(this.d.exec);
  }

  list(filters: Filters): readonly Network[] {
    const dangling = boolFilter(filters, 'dangling');
    const types = filters.get('type') ?? [];
    for (const t of types) if (t !== 'custom' && t !== 'builtin') throw invalid(`invalid filter: 'type'='${t}'`);
    const any = (key: string, pred: (v: string) => boolean) => {
      const values = filters.get(key);
      return !values || values.length === 0 || values.some(pred);
    };
    if (filters.size === 0) return this.d.networks.list();
    return this.d.networks.list().filter(
      (n) =>
        any('name', (v) => fuzzyMatch(v, n.name)) &&
        any('id', (v) => fuzzyMatch(v, n.id)) &&
        any('driver', (v) => v === n.driver) &&
        any('scope', (v) => v === n.scope) &&
        any('type', (v) => (v === 'builtin') === n.predefined) &&
        matchLabels(filters.get('label') ?? [], n.labels) &&
        (dangling === undefined || dangling === !this.inUse(n)),
    );
  }

  async create(req: CreateNetworkRequest, apiVersion: number): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? '';
    if (!name.trim()) throw invalid('invalid name: name is empty');
    if (isPredefinedName(name)) throw forbidden(`operation is not permitted on predefined ${name} network `);
    if (this.d.networks.getByName(name)) throw conflict(`network with name ${name} already exists`);
    const driverName = req.Driver || 'bridge';
    const driver = getDriver(driverName);
    if (!driver) {
      if (PLANNED_DRIVERS.includes(driverName)) throw invalid(`the ${driverName} driver is not supported by cnmd yet`);
      throw notFound(`plugin "${driverName}" not found`);
    }
    if (!driver.multiple) throw forbidden(`only one instance of "${driverName}" network is allowed`);
    const scope = req.Scope || (driver.global ? 'global' : 'local');
    if (scope === 'swarm') throw forbidden('cannot create a swarm scoped network when swarm is not active');
    if (driver.global && scope !== 'global') throw invalid(`scope "${scope}" is not supported by the ${driverName} driver: it is a global-scope driver`);
    if (!driver.global && scope !== 'local') throw invalid(`scope "${scope}" is not supported by the ${driverName} driver: it is a local-scope driver`);
    if (req.Ingress) throw forbidden('Ingress network can only be global scope network');
    const ipamDriver = req.IPAM?.Driver || 'default';
    if (ipamDriver !== 'default') throw notFound(`plugin "${ipamDriver}" not found`);

    let options = req.Options ?? {};
    let ipamConfig = req.IPAM?.Config ?? [];
    let ipamOptions = req.IPAM?.Options ?? null;
    const configFrom = req.ConfigFrom?.Network ?? '';
    if (configFrom) {
      const source = this.d.networks.getByName(configFrom) ?? this.d.networks.get(configFrom);
      if (!source || !source.configOnly) throw notFound(`configuration network "${configFrom}" does not exist`);
      if (ipamConfig.length || Object.keys(options).length) {
        throw forbidden('user specified configurations are not supported if the network depends on a configuration network');
      }
      options = source.options;
      ipamConfig = source.subnets.map((s) => s.shown as IpamConfigInput);
      ipamOptions = source.ipamOptions;
    }
    const enableIPv6 = req.EnableIPv6 ?? boolOption(options, GENERIC_OPTIONS[1], false);
    const enableIPv4 = (apiVersion >= 1.48 ? req.EnableIPv4 : undefined) ?? boolOption(options, GENERIC_OPTIONS[0], true);
    if (!enableIPv4 && !enableIPv6) throw invalid('IPv4 or IPv6 must be enabled');
    const internal = !!req.Internal || boolOption(options, GENERIC_OPTIONS[2], false);
    const configOnly = !!req.ConfigOnly;

    const id = newId();
    const host = driver.readsHostLinks && !configOnly ? { links: await this.hostLinkNames() } : undefined;
    const prepared = configOnly ? { linkName: null } : driver.prepare({ id, name, options, internal, predefined: false }, this.d.ctx, host);
    const needsPool = driver.ipam && !configOnly && enableIPv4 && !ipamConfig.some((c) => parsePrefix(c?.Subnet ?? '')?.family === 4);
    // The one read of the host a create may need, before the synchronous transaction.
    const hostRoutes = needsPool ? await this.hostRoutes() : [];

    /** the network as stored, once its subnets are known */
    const record = (subnets: Network['subnets']): Network => ({
      id, name, driver: configOnly ? 'null' : driverName, scope: driver.global && !configOnly ? 'global' : 'local', created: formatRfc3339Nano(nowNs()),
      enableIPv4, enableIPv6, internal, attachable: !!req.Attachable, ingress: false, configOnly,
      configFrom, ipamDriver, ipamOptions, options, labels: req.Labels ?? {}, predefined: false,
      bridgeName: prepared.linkName, subnets,
    });
    if (driver.global && !configOnly) {
      const n = await this.createGlobal(record([]), ipamConfig.filter((c): c is IpamConfigInput => c !== null));
      // the cluster store's watch may have brought it here first, and said so
      if (n) this.d.events.emit('network', 'create', id, { name, type: driverName });
      return { Id: id, Warning: '' };
    }

    const network = tx(this.d.db, () => {
      if (this.d.networks.getByName(name)) throw conflict(`network with name ${name} already exists`);
      if (prepared.linkName) {
        const clash = this.d.networks.getByBridgeName(prepared.linkName);
        if (clash) throw conflict(`conflicts with network ${clash.id} (${clash.bridgeName}): networks have same bridge name`);
      }
      const why = configOnly ? undefined : driver.conflict?.({ id, options }, this.d.networks.list().filter((x) => x.driver === driverName));
      if (why) throw invalid(why);
      const subnets = !driver.ipam
        ? []
        : configOnly
          ? configOnlySubnets(ipamConfig)
          : planSubnets(
              { config: ipamConfig.filter((c) => c !== null), enableIPv4, enableIPv6 },
              { networkSubnets: this.usedSubnets(), hostRoutes, pools4: this.pools4, pools6: this.pools6 },
            );
      const n = record(subnets);
      this.d.networks.insert(n);
      return n;
    });

    try {
      await this.d.reconciler.reconcileNetworks([id]);
    } catch (e) {
      tx(this.d.db, () => this.d.networks.delete(id));
      await this.d.reconciler.reconcileNetworks([id]).catch(warnOnFail(() => this.d.log ?? SILENT, 'undoing a failed network create: the next reconcile finishes it'));
      throw driver.explainFailure?.(network, e as Error) ?? hostFailure(e, `failed to create network ${name}`);
    }
    this.d.events.emit('network', 'create', id, { name, type: network.driver });
    return { Id: id, Warning: '' };
  }

  /**
   * A global network: its name, subnets and VXLAN id are claimed in the cluster store at once
   * (compare-and-swap), so two hosts creating at the same time never both win; an automatic subnet or
   * id another host took meanwhile is replaced by the next free one. Its data plane is made on a host
   * when a container there joins it.
   */
  private async createGlobal(base: Network, config: IpamConfigInput[]): Promise<Network | undefined> {
    const g = this.d.global!;
    if (!g.available) throw storeUnavailable();
    const takenSubnets: Prefix[] = [];
    const triedVnis = new Set<number>();
    // this host's own routes at least (the underlay is often in 10/8 too)
    const hostRoutes = config.some((c) => c.Subnet) ? [] : await this.hostRoutes();
    for (let attempt = 0; attempt < 32; attempt++) {
      const subnets = planSubnets(
        { config, enableIPv4: base.enableIPv4, enableIPv6: base.enableIPv6 },
        { networkSubnets: [...this.usedSubnets(), ...takenSubnets], hostRoutes, pools4: GLOBAL_POOLS, pools6: this.pools6 },
      );
      const used = new Set([...g.usedVnis(), ...triedVnis]);
      let vni = Number(base.options[VNI_OPTION] ?? FIRST_VNI);
      if (!base.options[VNI_OPTION]) while (used.has(vni)) vni++;
      const n: Network = { ...base, subnets, options: { ...base.options, [VNI_OPTION]: String(vni) } };
      const clash = await g.createNetwork(n, vni);
      if (!clash) {
        return tx(this.d.db, () => {
          if (this.d.networks.get(n.id)) return undefined;
          this.d.networks.insert(n);
          return n;
        });
      }
      if (clash === 'name') throw conflict(`network with name ${base.name} already exists`);
      if (clash === 'vni') {
        if (base.options[VNI_OPTION]) throw forbidden(`VXLAN id ${vni} is already in use by another network`);
        triedVnis.add(vni);
      }
      if (clash === 'subnet') {
        if (config.some((c) => c.Subnet)) throw forbidden('Pool overlaps with other one on this address space');
        for (const s of subnets) takenSubnets.push(parsePrefix(s.subnet)!);
      }
    }
    throw storeUnavailable('could not find a free subnet and VXLAN id in the cluster store; try again');
  }

  async remove(term: string): Promise<void> {
    const n = this.get(term, 'remove');
    await this.removeNetwork(n);
  }

  private async removeNetwork(n: Network): Promise<void> {
    if (n.predefined) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`);
    if (this.d.hasEndpoints?.(n.id)) throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    if (n.configOnly && this.d.networks.countConfigFrom(n.name) > 0) throw forbidden(`error while removing network: configuration network "${n.name}" is in use`);
    if (n.scope === 'global') {
      if (!this.d.global?.available) throw storeUnavailable();
      if (!(await this.d.global.deleteNetwork(n))) {
        throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints on other hosts`);
      }
    }
    tx(this.d.db, () => this.d.networks.delete(n.id));
    this.d.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
    try {
      await this.d.reconciler.reconcileNetworks([n.id]);
    } catch (e) {
      // The store no longer has it; the next reconcile removes what is left on the host.
      throw hostFailure(e, `network ${n.name} was removed, but cleaning up the host failed`);
    }
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    const untils = filters.get('until') ?? [];
    if (untils.length > 1) throw invalid('more than one until filter specified');
    const until = untils.length ? parseTimestamp(untils[0], Date.now()) : undefined;
    if (this.pruning) throw conflict('a prune operation is already running');
    this.pruning = true;
    try {
      const deleted: string[] = [];
      const victims = this.d.networks.list().filter(
        (n) =>
          // global networks are the cluster's: not pruned from one host (Docker prunes only local ones too)
          !n.predefined && !n.configOnly && n.scope !== 'global' && !this.inUse(n) &&
          (until === undefined || Date.parse(n.created) < until) &&
          matchLabels(filters.get('label') ?? [], n.labels) &&
          (filters.get('label!') ?? []).every((l) => !matchLabels([l], n.labels)),
      );
      for (const n of victims) {
        await this.removeNetwork(n);
        deleted.push(n.name);
      }
      this.d.events.emit('network', 'prune', '', { reclaimed: '0' });
      return { NetworksDeleted: deleted.length ? deleted : null };
    } finally {
      this.pruning = false;
    }
  }

  private usedSubnets(): Prefix[] {
    const out: Prefix[] = [];
    for (const n of this.d.networks.list()) if (!n.configOnly) out.push(...prefixesOf(n));
    return out;
  }

  /**
   * The predefined networks, made at the first start: bridge (its subnet from --bip or the first free
   * pool), host and none. A changed --bip re-addresses the bridge network on the next start.
   */
  async ensurePredefined(): Promise<void> {
    const cfg = this.d.config;
    const existing = this.d.networks.getByName('bridge');
    const wantBip = cfg.bip ? bipSubnet(cfg.bip) : undefined;
    const bridgeOptions = {
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.enable_icc': String(cfg.icc),
      'com.docker.network.bridge.enable_ip_masquerade': String(cfg.ipMasq),
      'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      'com.docker.network.bridge.name': cfg.bridgeName,
      'com.docker.network.driver.mtu': String(cfg.mtu),
    };
    const needsRoutes = !existing && !wantBip;
    const hostRoutes = needsRoutes ? await this.hostRoutes() : [];
    tx(this.d.db, () => {
      if (!existing) {
        const subnets = wantBip
          ? [wantBip]
          : planSubnets(
              { config: [], enableIPv4: true, enableIPv6: false },
              {
                networkSubnets: this.usedSubnets(),
                // our own old bridge's route is not a reason to move away from its subnet
                hostRoutes,
                pools4: this.pools4,
                pools6: [],
              },
            );
        // Docker shows the default bridge's automatic subnet without its gateway.
        const shownSubnets = subnets.map((s) => (s.auto ? { ...s, shown: { Subnet: s.subnet } } : s));
        this.d.networks.insert(predefined('bridge', 'bridge', cfg.bridgeName, bridgeOptions, shownSubnets));
      } else {
        const current = this.d.networks.getByName('bridge')!;
        const same = JSON.stringify(current.options) === JSON.stringify(bridgeOptions);
        if (!same) this.d.networks.updateBridge(current.id, bridgeOptions, cfg.bridgeName);
        if (wantBip && current.subnets[0]?.subnet !== wantBip.subnet) this.d.networks.replaceSubnets(current.id, [wantBip]);
      }
      if (!this.d.networks.getByName('host')) this.d.networks.insert(predefined('host', 'host', null, {}, []));
      if (!this.d.networks.getByName('none')) this.d.networks.insert(predefined('none', 'null', null, {}, []));
    });
  }
}

function predefined(name: string, driver: string, bridgeName: string | null, options: Record<string, string>, subnets: Network['subnets']): Network {
  return {
    id: newId(), name, driver, scope: 'local', created: formatRfc3339Nano(nowNs()), enableIPv4: true, enableIPv6: false,
    internal: false, attachable: false, ingress: false, configOnly: false, configFrom: '', ipamDriver: 'default',
    ipamOptions: null, options, labels: {}, predefined: true, bridgeName, subnets,
  };
}

/** --bip 192.168.1.1/24: the bridge's address is the gateway, the masked prefix the subnet. */
export function bipSubnet(bip: string): Network['subnets'][number] {
  const p = parsePrefix(bip);
  if (!p || p.family !== 4) throw invalid(`invalid bip ${bip}: expected an IPv4 address with a prefix length, such as 192.168.1.1/24`);
  const gateway = bip.split('/')[0];
  const subnet = formatPrefix(masked(p));
  return { family: 4, subnet, gateway, aux: {}, auto: false, shown: { Subnet: subnet, Gateway: gateway } };
}

function configOnlySubnets(config: Array<IpamConfigInput | null>): Network['subnets'] {
  return config
    .filter((c): c is IpamConfigInput => !!c && !!c.Subnet)
    .map((c) => {
      const p = parsePrefix(c.Subnet!);
      if (!p) throw invalid(`Invalid subnet ${c.Subnet} : invalid CIDR address: ${c.Subnet}`);
      const shown = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== null && v !== '' && v !== undefined));
      return { family: p.family, subnet: c.Subnet!, ipRange: c.IPRange ?? undefined, gateway: c.Gateway ?? '', aux: c.AuxiliaryAddresses ?? {}, auto: false, shown };
    });
}

function hostFailure(e: unknown, context: string): Error {
  if (e instanceof DomainError) return e;
  return systemError(`${context}: ${(e as Error).message}`);
}
