/**
 * Wires the daemon together from a Config: store, executor, reconciler, services, HTTP app.
 * main.ts adds listening and signals; tests use startDaemon() with their own executor.
 */
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { openDb, type Db } from './store/db.js';
import { NetworkRepo, MetaRepo } from './store/networks.js';
import { ContainerRepo } from './store/containers.js';
import { ContainerService } from './services/containers.js';
import { sandboxPath } from './reconcile/desired.js';
import type { Container, Network } from './model.js';
import { DnsServer } from './dns/server.js';
import { StoreNameSource } from './services/dns.js';
import { DnsListeners } from './services/dns-listeners.js';
import { hostNameservers } from './dns/names.js';
import type { Executor } from './host/executor.js';
import { Reconciler, type ReconcileReport } from './reconcile/reconciler.js';
import type { DriverContext } from './drivers/index.js';
import { NetworkService } from './services/networks.js';
import { EventBus } from './services/events.js';
import { versionInfo, systemInfo } from './services/system.js';
import { DEFAULT_POOLS, validatePools } from './ipam/pools.js';
import { buildApp } from './app.js';
import { Metrics } from './metrics.js';
import { newId } from './ids.js';
import { RemoteEndpointRepo } from './store/remote-endpoints.js';
import { readMtuOf } from './host/readers.js';
import { ClusterSync } from './cluster/sync.js';

export interface Daemon {
  app: FastifyInstance;
  db: Db;
  reconciler: Reconciler;
  networks: NetworkService;
  containers: ContainerService;
  events: EventBus;
  ctx: DriverContext;
  close(): Promise<void>;
}

export interface DaemonOptions {
  config: Config;
  exec: Executor;
  /** metrics; main.ts passes the one its executor reports host commands to */
  metrics?: Metrics;
  /** ':memory:' in tests; default <data-root>/cnmd.db */
  dbPath?: string;
  logger?: FastifyServerOptions['logger'];
  serverFactory?: FastifyServerOptions['serverFactory'];
}

export function driverContext(config: Config): DriverContext {
  return {
    instance: config.instance,
    chainPrefix: config.instance.toUpperCase(),
    iptables: config.iptables,
    ipForward: config.ipForward,
    ipMasq: config.ipMasq,
    icc: config.icc,
    mtu: config.mtu,
    defaultBridgeName: config.bridgeName,
  };
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const { config, exec } = o;
  const poolError = config.defaultAddressPools && validatePools(config.defaultAddressPools);
  if (poolError) throw new Error(poolError);
  const db = openDb(o.dbPath ?? join(config.dataRoot, 'cnmd.db'));
  try {
    const networksRepo = new NetworkRepo(db);
    const meta = new MetaRepo(db);
    let daemonId = meta.get('daemon_id');
    if (!daemonId) meta.set('daemon_id', (daemonId = newId()));
    const ctx = driverContext(config);
    const events = new EventBus();
    const containersRepo = new ContainerRepo(db);
    const metrics = o.metrics ?? new Metrics();
    const countObjects = () => {
      const c = containersRepo.counts();
      metrics.objects.set({ kind: 'network' }, networksRepo.count());
      metrics.objects.set({ kind: 'container' }, c.total);
      metrics.objects.set({ kind: 'container_running' }, c.running);
      metrics.objects.set({ kind: 'endpoint' }, containersRepo.allEndpoints().length);
    };
    let containers: ContainerService | undefined;
    const remoteRepo = new RemoteEndpointRepo(db);
    const inCluster = !!config.clusterStore && !config.dryRun;
    if (inCluster) {
      const mtu = await readMtuOf(exec, config.clusterAdvertise!);
      if (mtu === undefined) throw new Error(`--cluster-advertise ${config.clusterAdvertise}: no link of this host has that address`);
      ctx.cluster = { vtep: config.clusterAdvertise!, mtu, remoteEndpoints: (id) => remoteRepo.on(id) };
    }
    // a global network's data plane exists on the hosts where it has endpoints
    const hasDataPlane = (n: Network) => n.scope !== 'global' || containersRepo.countEndpointsOn(n.id) > 0;
    const reconciler = new Reconciler({
      exec,
      ctx,
      listNetworks: () => networksRepo.list().filter(hasDataPlane),
      getNetwork: (id) => {
        const n = networksRepo.get(id);
        return n && hasDataPlane(n) ? n : undefined;
      },
      listSandboxes: () => containersRepo.running().map((c) => containers!.sandboxSpec(c)!),
      getSandbox: (id) => {
        const c = containersRepo.get(id);
        return c && containers!.sandboxSpec(c);
      },
      ownedNetns: () => containersRepo.list().filter((c) => c.netns).map((c) => ({ name: c.netns!, owner: c.id.slice(0, 12) })),
      onReport: (r) => {
        const scope = r.scope === 'all' ? 'all' : 'scoped';
        metrics.reconciles.inc({ scope, ok: String(!r.error) });
        metrics.steps.inc({ scope }, r.steps.length);
      },
    });
    let log: { warn(obj: unknown, msg: string): void; info(obj: unknown, msg: string): void } = { warn: () => undefined, info: () => undefined };
    const names = new StoreNameSource(containersRepo, networksRepo, (id) => remoteRepo.on(id));
    const cluster = inCluster
      ? new ClusterSync({
          url: config.clusterStore!, nodeId: daemonId, address: config.clusterAdvertise!, leaseTtl: config.clusterLeaseTtl,
          db, networks: networksRepo, containers: containersRepo, remote: remoteRepo, reconciler,
          namesOf: (c, n) => names.namesOn(c, n),
          onNetwork: (action, n) => events.emit('network', action, n.id, { name: n.name, type: n.driver }),
          onAddressLost: (e) => containers!.readdress(e),
          log: { warn: (o, m) => log.warn(o, m), info: (o, m) => log.info(o, m) },
        })
      : undefined;
    const networks = new NetworkService({
      db, networks: networksRepo, meta, config, ctx, reconciler, exec, events,
      hasEndpoints: (id) => containersRepo.countEndpointsOn(id) > 0,
      global: cluster,
    });
    containers = new ContainerService({ ctx, db, containers: containersRepo, networks: networksRepo, config, reconciler, exec, events, global: cluster });
    const dns = new DnsServer({
      source: names,
      defaultUpstreams: async () => (config.dns.length ? config.dns : hostNameservers((await exec.readFile('/etc/resolv.conf')) ?? '')),
      log: { warn: (obj, msg) => log.warn(obj, msg) },
    });
    const listeners = new DnsListeners({
      dns, exec, containers: containersRepo, networks: networksRepo, events, sandboxSpec: (c) => containers!.sandboxSpec(c), log: () => log,
      hasLocalEndpoints: (id) => containersRepo.countEndpointsOn(id) > 0,
    });
    containers.sandboxChanged = async (id) => {
      await Promise.all([config.dryRun ? undefined : listeners.syncSandbox(id), cluster?.syncContainer(id)]);
    };
    await networks.ensurePredefined();
    await reconciler.reconcileAll();
    await containers.adoptProcesses();
    cluster?.start();
    const findNetwork = (term: string) => {
      try {
        return networks.get(term);
      } catch {
        return undefined;
      }
    };
    const view = (c: Container) => ({
      container: c,
      endpoints: containers!.sandboxSpec(c)?.endpoints ?? [],
      findNetwork,
      sandboxKey: c.networkMode === 'host' ? `/proc/${process.pid}/ns/net` : (sandboxPath(c) ?? ''),
      ports: containers!.portBindingsOf(c.id),
      files: c.state === 'running' && c.networkMode !== 'host' && !c.networkMode.startsWith('container:') ? containers!.filePaths(c) : undefined,
    });
    let stateOf: (withPlan: boolean) => Promise<Record<string, unknown>> = async () => ({});
    const app = await buildApp({
      state: (withPlan) => stateOf(withPlan),
      metrics: { registry: metrics.registry, requests: metrics.requests, refresh: countObjects },
      logger: o.logger,
      logRequests: config.logLevel === 'debug' || config.logLevel === 'trace',
      serverFactory: o.serverFactory,
      system: {
        version: versionInfo,
        info: () => {
          const n = containersRepo.counts();
          const clusterInfo = cluster && { available: cluster.available, nodes: cluster.peers() };
          return systemInfo(config, daemonId!, { containers: n.total, running: n.running, stopped: n.total - n.running }, config.defaultAddressPools ?? DEFAULT_POOLS, clusterInfo);
        },
      },
      networks: {
        networks,
        attach: containers,
        peersOf: cluster && ((id) => cluster.peersOf(id).map((p) => ({ Name: p.name, IP: p.address }))),
        endpointsOf: (id) =>
          containersRepo.endpointsOn(id).map((e) => {
            const c = containersRepo.get(e.containerId)!;
            return { containerId: e.containerId, Name: c.name, EndpointID: e.id, MacAddress: e.mac, IPv4Address: e.ipv4 ?? '', IPv6Address: e.ipv6 ?? '' };
          }),
      },
      containers: { containers, networks, view },
      events,
    });
    log = app.log;
    if (!config.dryRun) await listeners.start();
    // Drift (iptables -F, a deleted bridge or veth, a removed namespace) is repaired within one interval.
    let lastRepair: ReconcileReport | undefined;
    const periodic = async () => {
      try {
        const r = await reconciler.repair();
        if (r?.steps.length) {
          metrics.drift.inc(r.steps.length);
          lastRepair = r;
          app.log.warn({ steps: r.steps }, 'repaired drift on the host');
          events.emit('cnmd', 'repair', '', { steps: String(r.steps.length) });
        }
      } catch (e) {
        app.log.error({ err: (e as Error).message }, 'periodic reconcile failed');
      }
    };
    const timer = config.reconcileInterval > 0 && !config.dryRun ? setInterval(() => void periodic(), config.reconcileInterval * 1000) : undefined;
    timer?.unref();
    stateOf = async (withPlan) => ({
      Last: reconciler.last ?? null,
      LastRepair: lastRepair ?? null,
      IntervalSeconds: config.reconcileInterval,
      ...(withPlan ? { Plan: await reconciler.planAll() } : {}),
    });
    return {
      app, db, reconciler, networks, containers, events, ctx,
      async close() {
        if (timer) clearInterval(timer);
        containers!.close();
        await cluster?.close();
        await dns.close();
        await app.close();
        db.close();
      },
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
