/**
 * Containers: a sandbox (network namespace) plus its settings, and optionally a command. Every
 * request on a container runs under its lock; every state change is a guarded transition in the
 * store, then the host is converged (container-runs.ts does the runs, container-network.ts the
 * attachments, recovery.ts the start-up).
 */
import type { Container } from '../model.js';
import { DomainError, conflict, invalid, notFound } from '../errors.js';
import { newId, nowNs, formatRfc3339Nano } from '../ids.js';
import { type Db, tx } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { EventBus } from './events.js';
import { type Filters, matchLabels, parseTimestamp } from './filters.js';
import { listContainers } from './container-list.js';
import { randomName } from './names.js';
import { normalizeSignal, signalNumber } from './signals.js';
import { NAME_RULE, checkName, parseCreate, type CreateContainerRequest } from './container-spec.js';
import { parseRestartPolicy } from './restart-policy.js';
import type { Attachments } from './container-network.js';
import { isUp, type Runs } from './container-runs.js';
import type { KeyedLock } from './locks.js';
import { findContainer } from './lookup.js';
import { Waiters } from './waiters.js';
import type { ImageService } from './images.js';
import type { VolumeService } from './volumes.js';
import { usesLegacyLinks, type LegacyLinks } from './links.js';
import { checkAdoptable } from './sandboxes.js';
import type { Executor } from '../host/executor.js';
import type { Limits } from '../limits.js';

export type { CreateContainerRequest } from './container-spec.js';

export const CONTAINER_LIST_FILTERS = ['id', 'name', 'network', 'label', 'status', 'ancestor', 'before', 'since', 'exited', 'expose', 'health', 'is-task', 'isolation', 'publish', 'volume'] as const;
export const CONTAINER_PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

export interface ContainerServiceDeps {
  db: Db;
  containers: ContainerRepo;
  networks: NetworkRepo;
  reconciler: Reconciler;
  events: EventBus;
  lock: KeyedLock;
  runs: Runs;
  attachments: Attachments;
  waiters: Waiters;
  /** the image a create names is recorded (cnmd keeps names, not layers) */
  images: Pick<ImageService, 'ensure' | 'find'>;
  /** anonymous volumes get their names at create */
  volumes: Pick<VolumeService, 'anonymous'>;
  links: LegacyLinks;
  exec: Pick<Executor, 'netnsIdentity'>;
  /** the daemon's limits (ports one container may publish); default: DEFAULT_LIMITS */
  config?: { limits: Pick<Limits, 'publishedPorts'> };
}

/** HostConfig fields `docker update` may change that cnmd records but does not enforce (it sets no cgroups). */
const RECORDED_RESOURCES = ['CpuShares', 'Memory', 'MemoryReservation', 'MemorySwap', 'KernelMemory', 'NanoCpus', 'CpuPeriod', 'CpuQuota',
  'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'BlkioWeight', 'PidsLimit'];

export class ContainerService {
  constructor(private readonly d: ContainerServiceDeps) {}

  // ---- lookup ----------------------------------------------------------------------------------

  get(term: string): Container {
    return findContainer(this.d.containers, term);
  }

  list(all: boolean, filters: Filters): Container[] {
    return listContainers(this.d, all, filters, (t) => this.get(t));
  }

  counts() {
    return this.d.containers.counts();
  }

  /** Runs fn on the container under its lock, looked up again inside it (it may have changed or gone meanwhile). */
  private locked<T>(term: string, fn: (c: Container) => Promise<T>): Promise<T> {
    const id = this.get(term).id;
    return this.d.lock.run(id, async () => {
      const c = this.d.containers.get(id);
      if (!c) throw notFound(`No such container: ${term}`);
      return fn(c);
    });
  }

  // ---- create / remove -------------------------------------------------------------------------

  async create(name: string | undefined, body: CreateContainerRequest, apiVersion: number): Promise<{ Id: string; Warnings: string[] }> {
    if (name !== undefined && name !== '') checkName(name);
    const parsed = parseCreate(body, apiVersion, formatRfc3339Nano(nowNs()), this.d.config?.limits.publishedPorts);
    for (const r of parsed.container.endpointConfigs) this.d.attachments.validate(r.network, r.settings, apiVersion);
    if (parsed.container.sandboxKey) await checkAdoptable(this.d.exec, parsed.container.sandboxKey);
    const id = newId();
    const image = parsed.container.config.Image ? this.d.images.ensure(String(parsed.container.config.Image)).image.id : '';
    const container: Container = { ...parsed.container, id, name: '', imageId: image };
    if (!container.config.Hostname) container.config.Hostname = id.slice(0, 12);
    if (usesLegacyLinks(container)) container.links = this.d.links.resolve(container.hostConfig.Links, (t) => this.get(t));
    if (parsed.shareTarget) {
      try {
        container.networkMode = `container:${this.get(parsed.shareTarget).id}`;
        container.hostConfig.NetworkMode = container.networkMode;
      } catch (e) {
        // resolved again at start, where Docker reports a missing target
        if (!(e instanceof DomainError && e.kind === 'notFound')) throw e;
      }
    }
    tx(this.d.db, () => {
      let chosen = name ? name.replace(/^\//, '') : '';
      if (!chosen) {
        do chosen = randomName();
        while (this.d.containers.getByName(chosen));
      }
      const taken = this.d.containers.getByName(chosen);
      if (taken) throw nameInUse(chosen, taken.id);
      container.name = chosen;
      for (const m of container.mounts) if (m.type === 'volume' && m.anonymous && !m.name) m.name = this.d.volumes.anonymous(id, m.target).name;
      this.d.containers.insert(container);
    });
    this.d.events.emit('container', 'create', id, { image: container.config.Image, name: container.name });
    return { Id: id, Warnings: parsed.warnings };
  }

  async remove(term: string, force: boolean, removeVolumes = false): Promise<void> {
    await this.locked(term, async (c) => {
      if (c.state === 'removing') throw conflict(`removal of container ${c.id} is already in progress`);
      if (c.state === 'running') {
        if (!force) throw conflict(`You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
        // The intent first: a crash from here on is finished by the next start-up.
        tx(this.d.db, () => this.d.containers.update(c.id, { state: 'removing' }, ['running']));
        this.d.events.emit('container', 'kill', c.id, { image: c.config.Image, name: c.name, signal: '9' });
        await this.d.runs.halt({ ...c, state: 'removing' }, 'SIGKILL', 0);
      }
      await this.d.runs.destroy(c, removeVolumes);
    });
  }

  /** `docker rm --link /parent/alias`: the parent loses that link (its hosts file follows). */
  async removeLink(term: string): Promise<void> {
    const full = `/${term.replace(/^\/+/, '')}`;
    const cut = full.lastIndexOf('/');
    const [parentName, alias] = [full.slice(1, cut), full.slice(cut + 1)];
    if (!parentName) throw invalid('Conflict, cannot remove the default link name of the container');
    let parent: Container;
    try {
      parent = this.get(parentName);
    } catch (e) {
      if (e instanceof DomainError && e.kind === 'notFound') throw notFound(`Cannot get parent /${parentName} for link name ${full}`);
      throw e;
    }
    await this.locked(parent.id, async (p) => {
      if (!p.links.some((l) => l.alias === alias)) throw notFound(`No such container: ${term}`);
      tx(this.d.db, () => this.d.containers.setLinks(p.id, p.links.filter((l) => l.alias !== alias)));
      if (p.state === 'running') await this.d.reconciler.reconcile({ containers: [p.id] });
    });
  }

  /** POST /containers/prune: every container that is not running (created or exited), by Docker's filters. */
  async prune(filters: Filters): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const until = (filters.get('until') ?? []).map((v) => parseTimestamp(v, Date.now()));
    const deleted: string[] = [];
    for (const c of this.d.containers.list()) {
      if (c.state !== 'exited' && c.state !== 'created') continue;
      if (until.length && !until.every((u) => Date.parse(c.created) <= u)) continue;
      if (!matchLabels(filters.get('label') ?? [], c.config.Labels ?? {})) continue;
      if ((filters.get('label!') ?? []).length && matchLabels(filters.get('label!')!, c.config.Labels ?? {})) continue;
      const gone = await this.locked(c.id, async (now) => {
        if (now.state !== 'exited' && now.state !== 'created') return false;
        await this.d.runs.destroy(now);
        return true;
      }).catch((e) => (e instanceof DomainError && e.kind === 'notFound' ? false : Promise.reject(e)));
      if (gone) deleted.push(c.id);
    }
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 };
  }

  // ---- start / stop ----------------------------------------------------------------------------

  async start(term: string): Promise<void> {
    await this.locked(term, async (c) => {
      if (c.state === 'running') throw new DomainError('notModified', 'container already started');
      if (c.state === 'removing') throw conflict(`Container ${c.id} is marked for removal and cannot be started`);
      await this.d.runs.start(c, 0);
    });
  }

  /** Stops the command (its stop signal, then SIGKILL after t seconds) and tears the sandbox down. */
  async stop(term: string, t: number | undefined, signal?: string): Promise<void> {
    await this.locked(term, async (c) => {
      if (c.state === 'restarting') return this.cancelRestart(c);
      if (c.state !== 'running') throw new DomainError('notModified', 'container already stopped');
      const sig = normalizeSignal(signal || String(c.config.StopSignal || 'TERM'));
      tx(this.d.db, () => this.d.containers.update(c.id, { manuallyStopped: true }));
      this.d.events.emit('container', 'kill', c.id, { image: c.config.Image, name: c.name, signal: String(signalNumber(sig)) });
      const code = await this.d.runs.halt(c, sig, t ?? (c.config.StopTimeout as number | undefined) ?? 10);
      this.d.events.emit('container', 'stop', c.id, { image: c.config.Image, name: c.name });
      await this.d.runs.afterStop(c.id, code, true);
    });
  }

  private async cancelRestart(c: Container): Promise<void> {
    this.d.runs.cancelRestart(c.id);
    tx(this.d.db, () => this.d.containers.update(c.id, { state: 'exited', manuallyStopped: true }, ['restarting']));
    this.d.events.emit('container', 'stop', c.id, { image: c.config.Image, name: c.name });
  }

  async kill(term: string, signal: string | undefined): Promise<void> {
    await this.locked(term, async (c) => {
      if (c.state !== 'running') throw conflict(`Cannot kill container: ${term}: Container ${c.id} is not running`);
      const sig = normalizeSignal(signal || 'KILL');
      tx(this.d.db, () => this.d.containers.update(c.id, { manuallyStopped: true }));
      this.d.events.emit('container', 'kill', c.id, { image: c.config.Image, name: c.name, signal: String(signalNumber(sig)) });
      if (this.d.runs.signal(c, sig)) {
        if (c.paused && sig !== 'SIGSTOP') await this.d.runs.resume(c);
        return;
      }
      // No process: a sandbox-only container ends on a terminating signal.
      if (['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'].includes(sig)) {
        await this.d.runs.teardown(c, 128 + signalNumber(sig), '');
        await this.d.runs.afterStop(c.id, 128 + signalNumber(sig), true);
      }
    });
  }

  async restart(term: string, t: number | undefined): Promise<void> {
    await this.locked(term, async (c) => {
      if (c.state === 'running') {
        const sig = normalizeSignal(String(c.config.StopSignal || 'TERM'));
        this.d.events.emit('container', 'kill', c.id, { image: c.config.Image, name: c.name, signal: String(signalNumber(sig)) });
        await this.d.runs.halt(c, sig, t ?? (c.config.StopTimeout as number | undefined) ?? 10);
        this.d.events.emit('container', 'stop', c.id, { image: c.config.Image, name: c.name });
      }
      const now = this.d.containers.get(c.id);
      if (!now) throw notFound(`No such container: ${term}`);
      await this.d.runs.start(now, 0);
      this.d.events.emit('container', 'restart', c.id, { image: c.config.Image, name: c.name });
    });
  }

  /** Resolves with the exit code once the condition holds. */
  wait(term: string, condition: string): Promise<number> {
    const c = this.get(term);
    const cond = Waiters.condition(condition);
    if (cond === 'not-running' && !isUp(c) && c.state !== 'restarting') return Promise.resolve(c.exitCode);
    return this.d.waiters.add(c.id, cond);
  }

  // ---- pause, rename, update ---------------------------------------------------------------------

  async pause(term: string): Promise<void> {
    await this.locked(term, async (c) => {
      if (c.state !== 'running') throw conflict(`Container ${c.id} is not running`);
      if (c.paused) throw conflict(`Container ${c.id} is already paused`);
      for (const pid of await this.d.runs.processesOf(c)) this.d.runs.signalPid(pid, 'SIGSTOP');
      tx(this.d.db, () => this.d.containers.update(c.id, { paused: true }, ['running']));
      this.d.events.emit('container', 'pause', c.id, { image: c.config.Image, name: c.name });
    });
  }

  async unpause(term: string): Promise<void> {
    await this.locked(term, async (c) => {
      if (c.state !== 'running' || !c.paused) throw conflict(`Container ${c.id} is not paused`);
      await this.d.runs.resume(c);
      tx(this.d.db, () => this.d.containers.update(c.id, { paused: false }));
      this.d.events.emit('container', 'unpause', c.id, { image: c.config.Image, name: c.name });
    });
  }

  /** A new name; DNS answers it at once (every answer is read from the store). */
  async rename(term: string, newName: string): Promise<void> {
    await this.locked(term, async (c) => {
      const name = newName.replace(/^\//, '');
      if (!name || !c.name) throw invalid('Neither old nor new names may be empty');
      if (!NAME_RULE.test(newName)) throw invalid(`Error when allocating new name: Invalid container name (/${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      if (name === c.name) throw invalid('Renaming a container with the same name as its current name');
      tx(this.d.db, () => {
        const taken = this.d.containers.getByName(name);
        if (taken) throw nameInUse(name, taken.id);
        this.d.containers.rename(c.id, name);
      });
      this.d.events.emit('container', 'rename', c.id, { image: c.config.Image, name, oldName: `/${c.name}` });
    });
  }

  /** `docker update`: the restart policy applies at once; resource limits are recorded, not enforced (no cgroups). */
  async update(term: string, body: Record<string, unknown>): Promise<{ Warnings: string[] | null }> {
    return this.locked(term, async (c) => {
      const hostConfig = { ...c.hostConfig };
      const warnings: string[] = [];
      if (body.RestartPolicy !== undefined && body.RestartPolicy !== null) {
        const p = parseRestartPolicy(body.RestartPolicy);
        if (c.hostConfig.AutoRemove && p.name !== 'no') throw invalid('Restart policy cannot be updated because AutoRemove is enabled for the container');
        hostConfig.RestartPolicy = { Name: p.name === 'no' ? '' : p.name, MaximumRetryCount: p.maximumRetryCount };
      }
      const recorded = RECORDED_RESOURCES.filter((k) => body[k] !== undefined && body[k] !== null && body[k] !== 0 && body[k] !== '');
      for (const k of recorded) hostConfig[k] = body[k];
      if (recorded.length) warnings.push(`cnmd records but does not enforce resource limits (it sets no cgroups): ${recorded.join(', ')}`);
      tx(this.d.db, () => this.d.containers.setHostConfig(c.id, hostConfig));
      this.d.events.emit('container', 'update', c.id, { image: c.config.Image, name: c.name });
      return { Warnings: warnings.length ? warnings : null };
    });
  }
}

/** Docker's status words: created, running, paused, restarting, removing, exited. */
export function statusOf(c: Container): string {
  return c.state === 'running' && c.paused ? 'paused' : c.state;
}

const nameInUse = (name: string, id: string) =>
  conflict(`Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
