/**
 * Wires the daemon together from a Config: store, executor, reconciler, services, HTTP app.
 * main.ts adds listening and signals; tests use startDaemon() with their own executor.
 */
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { openDb, type Db } from './store/db.js';
import { NetworkRepo, MetaRepo } from './store/networks.js';
import { ContainerRepo } from './store/containers.js';
import { RemoteEndpointRepo } from './store/remote-endpoints.js';
import type { Executor } from './host/executor.js';
import { Reconciler } from './reconcile/reconciler.js';
import { RepairLoop } from './reconcile/repair-loop.js';
import { driverContext, type DriverContext } from './drivers/index.js';
import { NetworkService } from './services/networks.js';
import { EventBus } from './services/events.js';
import { LegacyLinks } from './services/links.js';
import { Sandboxes } from './services/sandboxes.js';
import { isSameProcess } from './runtime/processes.js';
import { LogRotator, logOptionsOf } from './runtime/log-rotation.js';
import { reconcileSource } from './services/reconcile-source.js';
import { containerStack } from './services/container-stack.js';
import { HostEtc } from './services/host-etc.js';
import { ImageService } from './services/images.js';
import { FirewallChainRepo } from './store/firewall.js';
import { ImageRepo } from './store/images.js';
import { VolumeService } from './services/volumes.js';
import { VolumeRepo } from './store/volumes.js';
import type { ContainerService } from './services/containers.js';
import { DnsServer } from './dns/server.js';
import { Forwarders } from './dns/forwarders.js';
import { FirewalldZone } from './services/firewalld-zone.js';
import { sandboxPath } from './reconcile/desired.js';
import { StoreNameSource } from './services/dns.js';
import { DnsListeners } from './services/dns-listeners.js';
import { hostNameservers } from './dns/names.js';
import { clusterContext, clusterSync } from './cluster/for-daemon.js';
import { buildApp } from './app.js';
import { appDeps } from './api/deps.js';
import { Metrics } from './metrics.js';
import { newId } from './ids.js';
import { validatePools } from './ipam/pools.js';
import pino, { type Logger } from 'pino';

export { driverContext } from './drivers/index.js';

export interface Daemon {
  app: FastifyInstance;
  db: Db;
  reconciler: Reconciler;
  networks: NetworkService;
  containers: ContainerService;
  events: EventBus;
  ctx: DriverContext;
  repair: RepairLoop;
  close(): Promise<void>;
}

export interface DaemonOptions {
  config: Config;
  exec: Executor;
  /** metrics; main.ts passes the one its executor reports host commands to */
  metrics?: Metrics;
  /** ':memory:' in tests; default <data-root>/cnmd.db */
  dbPath?: string;
  /** the daemon's log (pino); silent when not given */
  logger?: Logger;
  serverFactory?: FastifyServerOptions['serverFactory'];
  /** the firewall tools found on the host (main.ts): the other backend's objects are looked after where its tool runs */
  firewallTools?: { iptables: boolean; nft: boolean };
  /** tests: who sent an injected request (default: from the connection) */
  identify?: import('./api/access.js').AccessOptions['identify'];
  /** build the OpenAPI document from the routes (src/openapi.ts) instead of serving the one in openapi/ */
  buildOpenapi?: boolean;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const { config, exec } = o;
  const poolError = config.defaultAddressPools && validatePools(config.defaultAddressPools);
  if (poolError) throw new Error(poolError);
  const log = o.logger ?? pino({ level: 'silent' });
  const db = openDb(o.dbPath ?? join(config.dataRoot, 'cnmd.db'));
  try {
    const [networksRepo, containersRepo, remoteRepo, meta] = [new NetworkRepo(db), new ContainerRepo(db), new RemoteEndpointRepo(db), new MetaRepo(db)];
    let daemonId = meta.get('daemon_id');
    if (!daemonId) meta.set('daemon_id', (daemonId = newId()));
    const ctx = driverContext(config);
    if (o.firewallTools) ctx.firewallTools = o.firewallTools;
    const events = new EventBus();
    const metrics = o.metrics ?? new Metrics();
    ctx.cluster = await clusterContext(config, exec, remoteRepo, daemonId);
    await exec.makePrivateMount(config.execRoot);
    const etc = await HostEtc.read(exec);
    const links = new LegacyLinks({ containers: containersRepo, networks: networksRepo });
    const sandboxes = new Sandboxes({
      links, containers: containersRepo, networks: networksRepo, roots: { dataRoot: config.dataRoot, runRoot: config.execRoot, instance: config.instance },
      dns: config.dns, hostResolvConf: () => etc.resolvConf(), sameProcess: (pid, start) => isSameProcess(exec, pid, start), iptables: config.iptables, etcFiles: etc.files,
    });
    // the containers' recovery, made below: it ends a container whose sandbox the reconciler set apart
    let endFailed: (id: string, error: string) => Promise<void> = async () => undefined;
    const reconciler = new Reconciler({
      exec, ctx, ...reconcileSource(networksRepo, containersRepo, sandboxes), firewallRecord: new FirewallChainRepo(db),
      onSandboxFailed: (id, error) => endFailed(id, error),
      onDeferredError: (e) => log.warn({ err: e.message }, 'a link deletion finished in the background failed; the next repair removes what is left'),
      onReport: (r) => {
        const scope = r.scope === 'all' ? 'all' : 'scoped';
        metrics.reconciles.inc({ scope, ok: String(!r.error) });
        metrics.steps.inc({ scope }, r.steps.length);
      },
    });
    const names = new StoreNameSource(containersRepo, networksRepo, (id) => remoteRepo.on(id));
    const cluster = ctx.cluster && await clusterSync({
      config, nodeId: daemonId, ...(ctx.cluster?.wireguard ? { wireguardKey: ctx.cluster.wireguard.publicKey } : {}), db, networks: networksRepo, containers: containersRepo, remote: remoteRepo, reconciler, log,
      namesOf: (c, n) => names.namesOn(c, n), onNetwork: (action, n) => events.emit('network', action, n.id, { name: n.name, type: n.driver }),
      onRejected: (kind, key, why) => {
        metrics.clusterRejected.inc({ kind });
        events.emit('cnmd', 'reject', '', { kind, key: key.slice(0, 129), why });
      },
    });
    // the members etcd lists, and the hosts of the endpoints last mirrored (kept in SQLite: a restart
    // without etcd keeps the overlay traffic it had)
    if (ctx.cluster && cluster) {
      ctx.cluster.members = () => [...cluster.peers().map((p) => p.address), ...remoteRepo.list().map((e) => e.vtep)];
      ctx.cluster.node = (id) => cluster.peers().find((p) => p.id === id);
    }
    const networks = new NetworkService({ db, networks: networksRepo, meta, config, ctx, reconciler, exec, events, hasEndpoints: (id) => containersRepo.countEndpointsOn(id) > 0, global: cluster, log });
    // queries forwarded from inside the asking container's namespace (not in a dry run: no namespaces)
    const forwarders = config.dryRun ? undefined : new Forwarders({
      pathOf: (id) => {
        const c = containersRepo.get(id);
        return c && c.state === 'running' && !c.networkMode.startsWith('container:') ? sandboxPath(c) : undefined;
      },
      sockets: (path) => exec.forwardSocketsInNamespace(path),
      connect: (path, ip, port) => exec.connectInNamespace(path, ip, port),
      onTcpRefused: () => metrics.refused.inc({ limit: 'dns_tcp_forwards' }),
      log: () => log,
    });
    const dns = new DnsServer({
      source: names, log, defaultUpstreams: async () => (config.dns.length ? config.dns : hostNameservers(etc.resolvConf())),
      ...(forwarders ? { forwardFrom: (id: string, msg: Buffer, server: string, transport: 'udp' | 'tcp') => forwarders.query(id, msg, server, transport) } : {}),
      maxForwards: config.limits.dnsForwards,
      onRefused: () => metrics.refused.inc({ limit: 'dns_forwards' }),
    });
    const listeners = new DnsListeners({
      dns, exec, containers: containersRepo, networks: networksRepo, events, sandboxSpec: (c) => sandboxes.spec(c), log: () => log,
      hasLocalEndpoints: (id) => containersRepo.countEndpointsOn(id) > 0,
    });
    const images = new ImageService({ db, images: new ImageRepo(db), containers: containersRepo, events });
    const volumeRepo = new VolumeRepo(db);
    const volumes = new VolumeService({ db, volumes: volumeRepo, containers: containersRepo, exec, events, dataRoot: config.dataRoot });
    const stack = containerStack({
      images, volumes, volumeRepo, config, ctx, db, containers: containersRepo, networks: networksRepo, reconciler, exec, events, sandboxes, links, global: cluster, log: () => log,
      sandboxChanged: async (id) => {
        forwarders?.drop(id);
        await Promise.all([config.dryRun ? undefined : listeners.syncSandbox(id), cluster?.syncContainer(id)]);
      },
    });
    cluster?.whenAddressLost(stack.readdress);
    endFailed = (id, error) => stack.recovery.endFailedSandbox(id, error);
    await networks.ensurePredefined();
    const rebooted = stack.recovery.endPreviousBoot();
    if (rebooted.length) log.warn({ containers: rebooted.length }, 'the host restarted since these containers started: they are exited');
    await reconciler.reconcileAll();
    await stack.recovery.run();
    stack.resumeHealth();
    cluster?.start();
    // beside firewalld: our bridges in its trusted zone while it runs (not in a dry run, nor without a firewall)
    const zone = config.dryRun || !config.iptables ? undefined : new FirewalldZone({ exec, networks: networksRepo, events, log: () => log });
    const repair = new RepairLoop({
      reconciler,
      sockets: config.dryRun ? [] : [() => exec.repairHeldPorts(), () => listeners.repair(), ...(zone ? [() => zone.repair()] : [])],
      onRepair: ({ steps }) => {
        metrics.drift.inc(steps.length);
        log.warn({ steps }, 'repaired drift on the host');
        events.emit('cnmd', 'repair', '', { steps: String(steps.length) });
      },
      log: () => log,
    });
    const app = await buildApp({
      ...appDeps({
        config, daemonId, metrics, events, networks, stack, sandboxes, reconciler, repair, cluster,
        containers: containersRepo, networksRepo, logger: o.logger as FastifyBaseLogger | undefined, serverFactory: o.serverFactory, identify: o.identify, exec, images, volumes,
      }),
      ...(o.buildOpenapi ? { buildOpenapi: true } : {}),
    });
    if (!config.dryRun) await listeners.start();
    if (!config.dryRun) networks.watchHostRoutes();
    await zone?.start();
    if (!config.dryRun) repair.start(config.reconcileInterval);
    const rotator = new LogRotator(() => containersRepo.running().map((c) => ({ paths: sandboxes.paths(c), options: logOptionsOf(c) })));
    if (!config.dryRun) rotator.start();
    etc.follow(5);
    return {
      app, db, reconciler, networks, containers: stack.service, events, ctx, repair,
      async close() {
        repair.stop();
        networks.close();
        rotator.stop();
        etc.close();
        stack.close();
        await cluster?.close();
        forwarders?.close();
        await dns.close();
        await app.close();
        await reconciler.settled();
        db.close();
      },
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
