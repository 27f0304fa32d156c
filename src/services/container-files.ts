/**
 * `docker cp`: a container's view of the filesystem is the host's with its binds, volumes, tmpfs and
 * its /etc files over it. A running container that has a mount namespace is read and written
 * there (nsenter --mount); one without (stopped, or a sandbox nobody entered) through its binds on
 * the host, where a tmpfs holds nothing, as in Docker once the container stopped.
 */
import type { Readable } from 'node:stream';
import { posix } from 'node:path';
import type { Container } from '../model.js';
import type { Executor } from '../host/executor.js';
import type { PathStat, TarStream } from '../host/archive.js';
import { invalid, notFound } from '../errors.js';
import { archiveTarget, withOwner } from '../runtime/archive.js';
import { hostUser } from '../runtime/users.js';
import type { EventBus } from './events.js';
import { isUp } from './container-runs.js';
import type { Sandboxes } from './sandboxes.js';

export interface ContainerFilesDeps {
  exec: Executor;
  sandboxes: Sandboxes;
  events: EventBus;
  find: (term: string) => Container;
}

interface Place {
  path: string;
  mnt?: string;
  /** under a read-only mount */
  readOnly: boolean;
}

export class ContainerFiles {
  constructor(private readonly d: ContainerFilesDeps) {}

  /** HEAD /containers/{id}/archive */
  async stat(term: string, path: string | undefined): Promise<PathStat> {
    const c = this.d.find(term);
    const { abs } = archiveTarget(checked(path));
    return this.statAt(c, term, abs);
  }

  /** GET /containers/{id}/archive: the stat and a tar of the path (entries named from its base name). */
  async archive(term: string, path: string | undefined): Promise<{ stat: PathStat; tar: TarStream }> {
    const c = this.d.find(term);
    const t = archiveTarget(checked(path));
    const stat = await this.statAt(c, term, t.abs);
    const tar = this.tarOf(c, t);
    this.d.events.emit('container', 'archive-path', c.id, { image: c.config.Image, name: c.name });
    return { stat, tar };
  }

  /** PUT /containers/{id}/archive: the tar extracted into a directory of the container's view. */
  async extract(term: string, path: string | undefined, input: Readable, copyUIDGID: boolean): Promise<void> {
    const c = this.d.find(term);
    const { abs } = archiveTarget(checked(path));
    const dir = abs.replace(/\/\.$/, '') || '/';
    const stat = await this.statAt(c, term, dir);
    if (stat.mode < 2 ** 31) throw invalid('extraction point is not a directory');
    const place = this.place(c, dir)!;
    if (place.readOnly) throw invalid(`container rootfs is marked read-only: the mount at ${dir} is read-only`);
    let body = input;
    if (copyUIDGID && c.config.User) {
      const u = await hostUser(this.d.exec, String(c.config.User));
      body = withOwner(input, u.uid, u.gid);
    }
    await this.d.exec.tarIn(place.path, body, place.mnt).catch((e: Error) => {
      throw invalid(`the archive could not be extracted into ${dir}: ${e.message}`);
    });
    this.d.events.emit('container', 'extract-to-dir', c.id, { image: c.config.Image, name: c.name });
  }

  private async statAt(c: Container, term: string, abs: string): Promise<PathStat> {
    const place = this.place(c, abs.replace(/\/\.$/, '') || '/');
    const stat = place && (await this.d.exec.statPath(place.path, place.mnt));
    if (!stat) throw notFound(`Could not find the file ${abs} in container ${term}`);
    return { ...stat, name: abs === '/' ? '/' : posix.basename(abs) };
  }

  /** In its mount namespace as asked; through a bind on the host from the bind's source, renamed as asked. */
  private tarOf(c: Container, t: { abs: string; dir: string; name: string }): TarStream {
    const place = this.place(c, t.abs.replace(/\/\.$/, '') || '/')!;
    if (place.mnt) return this.d.exec.tarOut(t.dir, t.name, place.mnt);
    if (t.name === '.') return this.d.exec.tarOut(place.path, '.');
    return this.d.exec.tarOut(posix.dirname(place.path), posix.basename(place.path), undefined, t.name);
  }

  /** Where a path of the container's view is: in its mount namespace, or on the host through its binds. */
  private place(c: Container, abs: string): Place | undefined {
    const view = this.d.sandboxes.view(c);
    const under = view
      .filter((m) => abs === m.target || abs.startsWith(m.target.replace(/\/$/, '') + '/'))
      .sort((a, b) => b.target.length - a.target.length)[0];
    const readOnly = !!under?.readOnly;
    if (isUp(c) && c.hasInside) return { path: abs, mnt: this.d.sandboxes.paths(c).mnt, readOnly };
    if (!under) return { path: abs, readOnly };
    if (under.kind === 'tmpfs') return undefined;
    return { path: under.source + abs.slice(under.target.length), readOnly };
  }
}

function checked(path: string | undefined): string {
  if (!path) throw invalid('bad parameter: path cannot be empty');
  if (path.includes('\0')) throw invalid('bad parameter: path has a NUL byte');
  return path;
}
