import type { Db } from './db.js';

export interface ImageRecord {
  id: string;
  created: string;
  labels: Record<string, string>;
  /** its references (repository:tag), sorted */
  tags: string[];
}

/** Images (names cnmd records) and their tags. Synchronous; group writes with tx(). */
export class ImageRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insert: db.prepare('INSERT INTO images (id, created, labels) VALUES (?, ?, ?)'),
      byId: db.prepare('SELECT * FROM images WHERE id = ?'),
      byIdPrefix: db.prepare("SELECT * FROM images WHERE id >= ? AND id < ? || 'g' ORDER BY id"),
      all: db.prepare('SELECT * FROM images ORDER BY created DESC, id'),
      delete: db.prepare('DELETE FROM images WHERE id = ?'),
      tag: db.prepare('INSERT INTO image_tags (reference, image_id) VALUES (?, ?) ON CONFLICT (reference) DO UPDATE SET image_id = excluded.image_id'),
      untag: db.prepare('DELETE FROM image_tags WHERE reference = ?'),
      byTag: db.prepare('SELECT image_id FROM image_tags WHERE reference = ?'),
      tagsOf: db.prepare('SELECT reference FROM image_tags WHERE image_id = ? ORDER BY reference'),
      allTags: db.prepare('SELECT reference, image_id FROM image_tags ORDER BY reference'),
    };
  }

  private hydrate(r: { id: string; created: string; labels: string } | undefined, tags?: string[]): ImageRecord | undefined {
    if (!r) return undefined;
    return { id: r.id, created: r.created, labels: JSON.parse(r.labels), tags: tags ?? (this.q.tagsOf.all(r.id) as Array<{ reference: string }>).map((t) => t.reference) };
  }

  get(id: string): ImageRecord | undefined {
    return this.hydrate(this.q.byId.get(id) as never);
  }

  byReference(reference: string): ImageRecord | undefined {
    const r = this.q.byTag.get(reference) as { image_id: string } | undefined;
    return r && this.get(r.image_id);
  }

  byIdPrefix(prefix: string): ImageRecord[] {
    return (this.q.byIdPrefix.all(prefix, prefix) as never[]).map((r) => this.hydrate(r)!);
  }

  list(): ImageRecord[] {
    const tags = new Map<string, string[]>();
    for (const t of this.q.allTags.all() as Array<{ reference: string; image_id: string }>) tags.set(t.image_id, [...(tags.get(t.image_id) ?? []), t.reference]);
    return (this.q.all.all() as never[]).map((r: { id: string }) => this.hydrate(r as never, tags.get(r.id) ?? [])!);
  }

  insert(id: string, created: string, labels: Record<string, string> = {}): void {
    this.q.insert.run(id, created, JSON.stringify(labels));
  }

  tag(reference: string, id: string): void {
    this.q.tag.run(reference, id);
  }

  untag(reference: string): boolean {
    return this.q.untag.run(reference).changes > 0;
  }

  delete(id: string): void {
    this.q.delete.run(id);
  }
}
