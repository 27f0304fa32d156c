/**
 * The container side of the daemon, wired in one place: processes, runs, attachments, the service,
 * exec sessions and start-up recovery, with the one lock and the waiters they share.
 */
import type { Config } from '../config.js';
import type { Container, Endpoint } from '../model.js';
import type { Db } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Executor } from '../host/executor.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { DriverContext } from '../drivers/index.js';
import { Processes } from '../runtime/processes.js';
import { Execs } from '../runtime/exec.js';
import type { StatsSource } from '../runtime/info.js';
import { HealthMonitor } from '../runtime/health.js';
import type { EventBus } from './events.js';
import type { GlobalScope } from './global-scope.js';
import { EndpointAllocator } from './endpoints.js';
import { HostJoins } from './host-joins.js';
import { KeyedLock } from './locks.js';
import { Waiters } from './waiters.js';
import { Runs } from './container-runs.js';
import { Attachments } from './container-network.js';
import { ContainerService } from './containers.js';
import { Recovery } from './recovery.js';
import { sandboxPath, type Sandboxes } from './sandboxes.js';
import { modeOf } from './container-spec.js';
import { findContainer } from './lookup.js';
import { tx } from '../store/db.js';
import type { ImageService } from './images.js';
import type { VolumeService } from './volumes.js';
import type { VolumeRepo } from '../store/volumes.js';
import type { LegacyLinks } from './links.js';
import { ContainerFiles } from './container-files.js';
import { MountPoints } from './mount-points.js';

export interface ContainerStackDeps {
  images: ImageService;
  volumes: VolumeService;
  volumeRepo: VolumeRepo;
  config: Config;
  ctx: DriverContext;
  db: Db;
  containers: ContainerRepo;
  networks: NetworkRepo;
  reconciler: Reconciler;
  exec: Executor;
  events: EventBus;
  sandboxes: Sandboxes;
  links: LegacyLinks;
  global?: GlobalScope;
  sandboxChanged: (id: string) => Promise<void>;
  log: () => { warn(obj: unknown, msg: string): void };
}

export function containerStack(d: ContainerStackDeps) {
  const lock = new KeyedLock();
  const waiters = new Waiters();
  const processes = new Processes(d.exec);
  const endpoints = new EndpointAllocator({ ...d, remoteAddresses: d.global && ((id) => d.global!.remoteAddresses(id)) });
  const joins = new HostJoins({ ...d, endpoints });
  const find = (term: string) => findContainer(d.containers, term);
  const mountPoints = new MountPoints(d);
  const runs = new Runs({ ...d, processes, waiters, lock, endpoints, joins, find, mountPoints });
  processes.whenExited((id, pid, code) => void runs.exited(id, pid, code));
  const attachments = new Attachments({ ...d, endpoints, joins, lock, runs, find });
  const service = new ContainerService({ ...d, lock, runs, attachments, waiters });

  /** Where a container's processes go; its mount and UTS namespaces are made by a first exec when it has none. */
  const namespacesOf = async (c: Container) => {
    if (!c.hasInside) {
      await lock.run(c.id, async () => {
        if (!tx(d.db, () => d.containers.update(c.id, { hasInside: true }, ['running']))) return;
        await d.reconciler.reconcile({ containers: [c.id] });
      });
    }
    const now = find(c.id);
    const mode = modeOf(now);
    const other = mode.kind === 'container' ? d.containers.get(mode.target) : undefined;
    const net = sandboxPath(other ?? now);
    const p = d.sandboxes.paths(now);
    return { ...(net ? { net } : {}), mnt: p.mnt, ...(mode.kind === 'host' ? {} : { uts: p.uts }) };
  };
  const execs = new Execs({ exec: d.exec, events: d.events, find, namespacesOf, linkedEnv: (c) => d.links.env(c) });
  d.events.subscribe((e) => {
    if (e.Type === 'container' && e.Action === 'destroy') execs.forget(e.Actor.ID);
  });
  const recovery = new Recovery({ ...d, processes, runs, lock });
  const health = new HealthMonitor({
    probe: (c, argv, timeoutMs) => execs.probe(c, argv, timeoutMs),
    current: (id) => d.containers.get(id),
    record: (id, h) => tx(d.db, () => d.containers.update(id, { health: h }, ['running'])),
    emit: (c, status) => d.events.emit('container', `health_status: ${status}`, c.id, { image: c.config.Image, name: c.name }),
  });
  // health checks follow the container's runs: a start (by the user or its restart policy) starts them over
  d.events.subscribe((e) => {
    if (e.Type !== 'container') return;
    const c = e.Action === 'start' ? d.containers.get(e.Actor.ID) : undefined;
    if (c) health.start(c);
    if (e.Action === 'die' || e.Action === 'destroy') health.stop(e.Actor.ID);
  });

  const statsSource = async (c: Container): Promise<StatsSource> => {
    const net = sandboxPath(c);
    return { id: c.id, name: c.name, pids: c.state === 'running' ? await runs.processesOf(c) : [], ...(net ? { netns: net } : {}) };
  };
  return {
    service, attachments, execs, processes, recovery, statsSource, links: d.links,
    files: new ContainerFiles({ exec: d.exec, sandboxes: d.sandboxes, events: d.events, find }),
    /** after the start-up recovery: the health checks of the containers that run */
    resumeHealth: () => d.containers.running().forEach((c) => health.start(c)),
    readdress: (e: Endpoint) => attachments.readdress(e),
    close() {
      processes.close();
      runs.close();
      health.close();
    },
  };
}
