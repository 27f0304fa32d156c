/**
 * Images as names: cnmd stores no layers (a container's commands come from the host's filesystem),
 * so an image is a record (its references, an id derived from the first, when it was made) that
 * exists once it was pulled, tagged or named by a container create. Enough for Compose and the SDKs
 * to see a consistent engine: inspect, list, tag, remove (409 while a container uses it), prune.
 */
import type { Container } from '../model.js';
import { conflict, notFound } from '../errors.js';
import { nowNs, formatRfc3339Nano } from '../ids.js';
import { type Db, tx } from '../store/db.js';
import type { ImageRepo, ImageRecord } from '../store/images.js';
import type { ContainerRepo } from '../store/containers.js';
import type { EventBus } from './events.js';
import { type Filters, boolFilter, matchLabels, parseTimestamp } from './filters.js';
import { imageIdFor, parseReference } from './references.js';

export const IMAGE_LIST_FILTERS = ['before', 'dangling', 'label', 'reference', 'since', 'until'] as const;
export const IMAGE_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

export interface ImageServiceDeps {
  db: Db;
  images: ImageRepo;
  containers: ContainerRepo;
  events: EventBus;
}

/** A reference pattern of the `reference` filter (path.Match on repository and repository:tag). */
function refMatch(pattern: string, tag: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  const repo = tag.slice(0, tag.lastIndexOf(':'));
  return re.test(tag) || re.test(repo);
}

export class ImageService {
  constructor(private readonly d: ImageServiceDeps) {}

  /** The image of this reference, recorded now when it is new (a pull, or a container that names it). */
  ensure(reference: string): { image: ImageRecord; created: boolean } {
    const ref = parseReference(reference);
    return tx(this.d.db, () => {
      const known = this.d.images.byReference(ref.text);
      if (known) return { image: known, created: false };
      const id = imageIdFor(ref);
      if (!this.d.images.get(id)) this.d.images.insert(id, formatRfc3339Nano(nowNs()));
      this.d.images.tag(ref.text, id);
      return { image: this.d.images.get(id)!, created: true };
    });
  }

  /** By reference (busybox, busybox:latest), by id (sha256:…, or a unique prefix): Docker's lookup. */
  find(term: string): ImageRecord {
    const id = term.replace(/^sha256:/, '');
    if (/^[0-9a-f]{64}$/.test(id)) {
      const byId = this.d.images.get(id);
      if (byId) return byId;
    }
    try {
      const byRef = this.d.images.byReference(parseReference(term).text);
      if (byRef) return byRef;
    } catch {
      // not a reference: maybe an id prefix
    }
    if (/^[0-9a-f]{1,63}$/.test(id)) {
      const matches = this.d.images.byIdPrefix(id);
      if (matches.length === 1) return matches[0];
    }
    throw notFound(`No such image: ${safeRef(term)}`);
  }

  usedBy(id: string): Container[] {
    return this.d.containers.list().filter((c) => c.imageId === id);
  }

  list(filters: Filters): ImageRecord[] {
    const dangling = boolFilter(filters, 'dangling');
    const at = (key: string) => (filters.get(key) ?? []).map((v) => this.find(v).created);
    const before = at('before'), since = at('since');
    const until = (filters.get('until') ?? []).map((v) => parseTimestamp(v, Date.now()));
    return this.d.images.list().filter((i) => {
      if (dangling !== undefined && dangling !== (i.tags.length === 0)) return false;
      if (before.length && !before.every((b) => i.created < b)) return false;
      if (since.length && !since.every((b) => i.created > b)) return false;
      if (until.length && !until.every((u) => Date.parse(i.created) <= u)) return false;
      const refs = filters.get('reference') ?? [];
      if (refs.length && !refs.some((p) => i.tags.some((t) => refMatch(p, t)))) return false;
      return matchLabels(filters.get('label') ?? [], i.labels);
    });
  }

  /** POST /images/{name}/tag: another name for the image (an existing one moves here). */
  tag(term: string, repo: string, tag: string): void {
    const image = this.find(term);
    const ref = parseReference(tag ? `${repo}:${tag}` : repo);
    tx(this.d.db, () => this.d.images.tag(ref.text, image.id));
    this.d.events.emit('image', 'tag', `sha256:${image.id}`, { name: ref.text });
  }

  /**
   * DELETE /images/{name}: by a name, that name goes (the image with its last one, unless a container
   * uses it); by id, every name and the image. Docker's 409s while containers use it.
   */
  remove(term: string, force: boolean): Array<{ Untagged?: string; Deleted?: string }> {
    const image = this.find(term);
    const users = this.usedBy(image.id);
    const running = users.find((c) => c.state === 'running' || c.state === 'restarting');
    const byId = /^(sha256:)?[0-9a-f]{4,64}$/.test(term) && !image.tags.includes(safeRef(term));
    const names = byId ? image.tags : [parseReference(term).text];
    const last = names.length >= image.tags.length;
    if (byId && image.tags.length > 1 && !force) {
      throw conflict(`conflict: unable to delete ${short(image.id)} (must be forced) - image is referenced in multiple repositories`);
    }
    if (running && (byId || last) && force) {
      throw conflict(`conflict: unable to delete ${short(image.id)} (cannot be forced) - image is being used by running container ${short(running.id)}`);
    }
    if (users.length && (byId || last) && !force) {
      throw conflict(byId
        ? `conflict: unable to delete ${short(image.id)} (must be forced) - image is being used by stopped container ${short(users[0].id)}`
        : `conflict: unable to remove repository reference "${term}" (must force) - container ${short(users[0].id)} is using its referenced image ${short(image.id)}`);
    }
    const out: Array<{ Untagged?: string; Deleted?: string }> = [];
    tx(this.d.db, () => {
      for (const n of names) if (this.d.images.untag(n)) out.push({ Untagged: n });
      if ((byId || last) && !users.length) {
        this.d.images.delete(image.id);
        out.push({ Deleted: `sha256:${image.id}` });
      }
    });
    for (const o of out) {
      if (o.Untagged) this.d.events.emit('image', 'untag', `sha256:${image.id}`, { name: o.Untagged });
      if (o.Deleted) this.d.events.emit('image', 'delete', o.Deleted, { name: o.Deleted });
    }
    return out;
  }

  /** POST /images/prune: dangling images (none, unless tags were removed), or with dangling=false all unused ones. */
  prune(filters: Filters): { ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed: number } {
    const danglingOnly = boolFilter(filters, 'dangling') ?? true;
    const until = (filters.get('until') ?? []).map((v) => parseTimestamp(v, Date.now()));
    const deleted: Array<{ Untagged?: string; Deleted?: string }> = [];
    for (const i of this.d.images.list()) {
      if (danglingOnly && i.tags.length) continue;
      if (this.usedBy(i.id).length) continue;
      if (until.length && !until.every((u) => Date.parse(i.created) <= u)) continue;
      if (!matchLabels(filters.get('label') ?? [], i.labels)) continue;
      if ((filters.get('label!') ?? []).length && matchLabels(filters.get('label!')!, i.labels)) continue;
      deleted.push(...this.remove(i.id, true));
    }
    return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 };
  }
}

const short = (id: string) => id.slice(0, 12);
function safeRef(term: string): string {
  try {
    return parseReference(term).text;
  } catch {
    return term;
  }
}
