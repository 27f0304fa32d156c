/**
 * What a container's mounts need on the host: volumes' directories, a missing `-v` source (Docker
 * makes it; `--mount` refuses), and the mount points themselves. A cnmd container's filesystem is the
 * host's, so a missing mount point is made on the host and recorded, to be removed with the container
 * when it is empty and no other container mounts there.
 */
import { dirname } from 'node:path';
import type { Container } from '../model.js';
import type { Executor } from '../host/executor.js';
import { type Db, tx } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { VolumeRepo } from '../store/volumes.js';
import { invalid } from '../errors.js';
import type { VolumeService } from './volumes.js';
import { warnOnFail, type Log } from './log.js';

export class MountPoints {
  constructor(private readonly d: { db: Db; exec: Executor; containers: ContainerRepo; volumes: VolumeService; volumeRepo: VolumeRepo; log: () => Log }) {}

  /** Before the mount namespace is made (a start). */
  async prepare(c: Container): Promise<void> {
    for (const m of c.mounts) {
      let sourceKind: 'dir' | 'file' = 'dir';
      if (m.type === 'volume') await this.d.volumes.ready(m.name);
      if (m.type === 'bind') {
        const kind = await this.d.exec.pathKind(m.source);
        if (!kind && !m.createSource) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
        if (!kind) await this.d.exec.makeDirs(m.source);
        sourceKind = kind ?? 'dir';
      }
      if (await this.d.exec.exists(m.target)) continue;
      const made = await this.d.exec.makeDirs(sourceKind === 'dir' ? m.target : dirname(m.target));
      if (sourceKind === 'file') {
        await this.d.exec.writeFile(m.target, '');
        made.push(m.target);
      }
      tx(this.d.db, () => made.forEach((p) => this.d.volumeRepo.recordMade(c.id, p)));
    }
  }

  /** When the container goes: the empty files made as mount points of file binds, then the directories (rmdir leaves what is not empty). */
  async release(c: Container): Promise<void> {
    const others = this.d.containers.list().filter((x) => x.id !== c.id);
    const mounted = new Set(others.flatMap((x) => x.mounts.map((m) => m.target)));
    const made = this.d.volumeRepo.madeBy(c.id).filter((p) => !mounted.has(p));
    const kinds = await Promise.all(made.map(async (p) => [p, await this.d.exec.pathKind(p)] as const));
    for (const [p, kind] of kinds) if (kind === 'file') await this.d.exec.removePath(p);
    await this.d.exec.removeEmptyDirs(kinds.filter(([, k]) => k === 'dir').map(([p]) => p)).catch(warnOnFail(this.d.log, 'removing the mount points cnmd made for a container'));
  }
}
