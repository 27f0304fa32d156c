/**
 * Volumes: directories under <data-root>/volumes/<name>/_data (the local driver), named or made
 * anonymous for a container, bound into containers' mount namespaces. Docker's texts for names,
 * volumes in use and missing ones.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Container } from '../model.js';
import { conflict, invalid, notFound } from '../errors.js';
import { type Db, tx } from '../store/db.js';
import type { VolumeRecord, VolumeRepo } from '../store/volumes.js';
import type { ContainerRepo } from '../store/containers.js';
import type { Executor } from '../host/executor.js';
import type { EventBus } from './events.js';
import { type Filters, boolFilter, fuzzyMatch, matchLabels } from './filters.js';
import { checkVolumeName } from './mounts.js';
import { volumePath } from './paths.js';

export const VOLUME_LIST_FILTERS = ['dangling', 'driver', 'label', 'name'] as const;
export const VOLUME_PRUNE_FILTERS = ['all', 'label', 'label!'] as const;

export interface VolumeServiceDeps {
  db: Db;
  volumes: VolumeRepo;
  containers: ContainerRepo;
  exec: Executor;
  events: EventBus;
  dataRoot: string;
}

export interface VolumeCreateRequest {
  Name?: string | null;
  Driver?: string | null;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const rfc3339 = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class VolumeService {
  constructor(private readonly d: VolumeServiceDeps) {}

  mountpoint(name: string): string {
    return volumePath(this.d.dataRoot, name);
  }

  render(v: VolumeRecord): Record<string, unknown> {
    return {
      CreatedAt: v.created,
      Driver: v.driver,
      Labels: Object.keys(v.labels).length ? v.labels : null,
      Mountpoint: this.mountpoint(v.name),
      Name: v.name,
      Options: Object.keys(v.options).length ? v.options : null,
      Scope: 'local',
    };
  }

  async create(body: VolumeCreateRequest): Promise<VolumeRecord> {
    const name = body.Name || randomBytes(32).toString('hex');
    checkVolumeName(name);
    const driver = body.Driver || 'local';
    if (driver !== 'local') throw invalid(`create ${name}: cnmd has the local volume driver only, not ${driver}`);
    if (Object.keys(body.DriverOpts ?? {}).length) {
      throw invalid(`create ${name}: cnmd's local volumes are directories and take no options (mounting devices or NFS, type/device/o, is not supported)`);
    }
    const known = this.d.volumes.get(name);
    if (known) return known;
    return this.make({ name, driver, created: rfc3339(), labels: body.Labels ?? {}, options: {}, containerId: null, target: null });
  }

  private async make(v: VolumeRecord): Promise<VolumeRecord> {
    await this.d.exec.makeDirs(this.mountpoint(v.name));
    tx(this.d.db, () => {
      if (!this.d.volumes.get(v.name)) this.d.volumes.insert(v);
    });
    this.d.events.emit('volume', 'create', v.name, { driver: v.driver });
    return this.d.volumes.get(v.name)!;
  }

  /** A container's unnamed volume: a volume with a random name, removed with it by `rm -v` or `--rm`. */
  anonymous(containerId: string, target: string): VolumeRecord {
    const v: VolumeRecord = { name: randomBytes(32).toString('hex'), driver: 'local', created: rfc3339(), labels: {}, options: {}, containerId, target };
    this.d.volumes.insert(v);
    return v;
  }

  /** Before a start: the volume's directory is there (a named one is made on first use, as Docker). */
  async ready(name: string): Promise<string> {
    const v = this.d.volumes.get(name);
    if (v) await this.d.exec.makeDirs(this.mountpoint(name));
    else await this.make({ name, driver: 'local', created: rfc3339(), labels: {}, options: {}, containerId: null, target: null });
    return this.mountpoint(name);
  }

  get(name: string): VolumeRecord {
    const v = this.d.volumes.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  usedBy(name: string): Container[] {
    return this.d.containers.list().filter((c) => c.mounts.some((m) => m.type === 'volume' && m.name === name));
  }

  list(filters: Filters): VolumeRecord[] {
    const dangling = boolFilter(filters, 'dangling');
    const any = (key: string, pred: (v: string) => boolean) => !(filters.get(key) ?? []).length || filters.get(key)!.some(pred);
    return this.d.volumes.list().filter(
      (v) =>
        any('name', (p) => fuzzyMatch(p, v.name)) &&
        any('driver', (p) => p === v.driver) &&
        matchLabels(filters.get('label') ?? [], v.labels) &&
        (dangling === undefined || dangling === !this.usedBy(v.name).length),
    );
  }

  async remove(name: string, force: boolean): Promise<void> {
    const v = this.d.volumes.get(name);
    if (!v) {
      if (force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const users = this.usedBy(name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.map((c) => c.id).join(', ')}]`);
    tx(this.d.db, () => this.d.volumes.delete(name));
    await this.d.exec.removePath(join(this.d.dataRoot, 'volumes', name));
    this.d.events.emit('volume', 'destroy', name, { driver: v.driver });
  }

  /** The anonymous volumes of a removed container (`rm -v`, `--rm`), when no one else mounts them. */
  async removeAnonymousOf(containerId: string): Promise<void> {
    for (const v of this.d.volumes.ofContainer(containerId)) if (!this.usedBy(v.name).some((c) => c.id !== containerId)) await this.drop(v);
  }

  private async drop(v: VolumeRecord): Promise<void> {
    tx(this.d.db, () => this.d.volumes.delete(v.name));
    await this.d.exec.removePath(join(this.d.dataRoot, 'volumes', v.name));
    this.d.events.emit('volume', 'destroy', v.name, { driver: v.driver });
  }

  /** Unused volumes: from API 1.42 anonymous ones only, unless `all=true`. */
  async prune(filters: Filters, apiVersion: number): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const all = apiVersion < 1.42 || boolFilter(filters, 'all') === true;
    const deleted: string[] = [];
    for (const v of this.d.volumes.list()) {
      if (this.usedBy(v.name).length || (!all && !v.containerId)) continue;
      if (!matchLabels(filters.get('label') ?? [], v.labels)) continue;
      if ((filters.get('label!') ?? []).length && matchLabels(filters.get('label!')!, v.labels)) continue;
      await this.drop(v);
      deleted.push(v.name);
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: 0 };
  }
}
