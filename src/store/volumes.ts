import type { Db } from './db.js';

export interface VolumeRecord {
  name: string;
  driver: string;
  created: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** an anonymous volume's container and its mount point there */
  containerId: string | null;
  target: string | null;
}

interface Row { name: string; driver: string; created: string; labels: string; options: string; container_id: string | null; target: string | null }
const toVolume = (r: Row): VolumeRecord => ({
  name: r.name, driver: r.driver, created: r.created, labels: JSON.parse(r.labels), options: JSON.parse(r.options), containerId: r.container_id, target: r.target,
});

/** Named and anonymous volumes, and the mount points cnmd made for containers. Synchronous; group writes with tx(). */
export class VolumeRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insert: db.prepare('INSERT INTO volumes (name, driver, created, labels, options, container_id, target) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      get: db.prepare('SELECT * FROM volumes WHERE name = ?'),
      all: db.prepare('SELECT * FROM volumes ORDER BY name'),
      ofContainer: db.prepare('SELECT * FROM volumes WHERE container_id = ? ORDER BY target'),
      delete: db.prepare('DELETE FROM volumes WHERE name = ?'),
      addMade: db.prepare('INSERT OR IGNORE INTO made_paths (container_id, path) VALUES (?, ?)'),
      madeBy: db.prepare('SELECT path FROM made_paths WHERE container_id = ? ORDER BY path'),
      deleteMade: db.prepare('DELETE FROM made_paths WHERE container_id = ?'),
    };
  }

  insert(v: VolumeRecord): void {
    this.q.insert.run(v.name, v.driver, v.created, JSON.stringify(v.labels), JSON.stringify(v.options), v.containerId, v.target);
  }

  get(name: string): VolumeRecord | undefined {
    const r = this.q.get.get(name) as Row | undefined;
    return r && toVolume(r);
  }

  list(): VolumeRecord[] {
    return (this.q.all.all() as Row[]).map(toVolume);
  }

  /** The anonymous volumes made for a container. */
  ofContainer(containerId: string): VolumeRecord[] {
    return (this.q.ofContainer.all(containerId) as Row[]).map(toVolume);
  }

  delete(name: string): void {
    this.q.delete.run(name);
  }

  recordMade(containerId: string, path: string): void {
    this.q.addMade.run(containerId, path);
  }

  madeBy(containerId: string): string[] {
    return (this.q.madeBy.all(containerId) as Array<{ path: string }>).map((r) => r.path);
  }

  forgetMade(containerId: string): void {
    this.q.deleteMade.run(containerId);
  }
}
