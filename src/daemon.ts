/**
 * Wires the daemon together from a Config: store, executor, reconciler, services, HTTP app.
 * main.ts adds listening and signals; tests use startDaemon() with their own executor.
 */
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { openDb, type Db } from './store/db.js';
import { NetworkRepo, MetaRepo } from './store/networks.js';
import type { Executor } from './host/executor.js';
import { Reconciler } from './reconcile/reconciler.js';
import type { DriverContext } from './drivers/index.js';
import { NetworkService } from './services/networks.js';
import { EventBus } from './services/events.js';
import { versionInfo, systemInfo } from './services/system.js';
import { DEFAULT_POOLS, validatePools } from './ipam/pools.js';
import { buildApp } from './app.js';
import { newId } from './ids.js';

export interface Daemon {
  app: FastifyInstance;
  db: Db;
  reconciler: Reconciler;
  networks: NetworkService;
  events: EventBus;
  ctx: DriverContext;
  close(): Promise<void>;
}

export interface DaemonOptions {
  config: Config;
  exec: Executor;
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
    const reconciler = new Reconciler({
      exec,
      ctx,
      listNetworks: () => networksRepo.list(),
      getNetwork: (id) => networksRepo.get(id),
    });
    const networks = new NetworkService({ db, networks: networksRepo, meta, config, ctx, reconciler, exec, events });
    await networks.ensurePredefined();
    await reconciler.reconcileAll();
    const app = await buildApp({
      logger: o.logger,
      logRequests: config.logLevel === 'debug' || config.logLevel === 'trace',
      serverFactory: o.serverFactory,
      system: {
        version: versionInfo,
        info: () => systemInfo(config, daemonId!, { containers: 0, running: 0, stopped: 0 }, config.defaultAddressPools ?? DEFAULT_POOLS),
      },
      networks: { networks },
    });
    return {
      app, db, reconciler, networks, events, ctx,
      async close() {
        await app.close();
        db.close();
      },
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
