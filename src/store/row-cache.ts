import { frozen } from '../frozen.js';

export interface RowSource<T> {
  /** every row, in list order */
  all(): T[];
  one(id: string): T | undefined;
  oneByName(name: string): T | undefined;
  /** list order: negative when a comes first */
  order(a: T, b: T): number;
  inTransaction(): boolean;
}

/**
 * The committed rows of one table, read once and then kept current row by row: a write marks its row
 * dirty (touch), and the next read outside a transaction reads just the dirty rows again by key. A
 * transaction that wrote sees its own rows (read by key, not kept); rows it wrote and then rolled back
 * are read again after it, so they never stay. Every write to the table must touch its row.
 */
export class RowCache<T extends { id: string; name: string }> {
  private rows: T[] | undefined;
  private view: readonly T[] | undefined;
  private readonly byId = new Map<string, T>();
  private readonly byName = new Map<string, T>();
  private readonly dirty = new Set<string>();

  constructor(private readonly src: RowSource<T>) {}

  touch(id: string): void {
    this.dirty.add(id);
  }

  get(id: string): T | undefined {
    if (!this.writing()) return this.settled().byId.get(id);
    return this.dirty.has(id) || !this.rows ? this.src.one(id) : this.byId.get(id);
  }

  getByName(name: string): T | undefined {
    return this.writing() ? this.src.oneByName(name) : this.settled().byName.get(name);
  }

  /** Every row in list order: frozen, and never changed once returned. */
  list(): readonly T[] {
    if (!this.writing()) return this.settled().view;
    // a transaction that wrote: the kept rows it did not touch, and its own as it sees them
    const clean = (this.rows ?? this.src.all()).filter((r) => !this.dirty.has(r.id));
    const own = [...this.dirty].map((id) => this.src.one(id)).filter((r): r is T => r !== undefined);
    return Object.freeze([...clean, ...own].sort((a, b) => this.src.order(a, b)));
  }

  /** Inside a transaction that has written: what is kept may not be what it sees. */
  private writing(): boolean {
    return this.dirty.size > 0 && this.src.inTransaction();
  }

  /** The kept rows brought up to date (never called while writing()). */
  private settled(): { view: readonly T[]; byId: Map<string, T>; byName: Map<string, T> } {
    if (!this.rows) {
      this.rows = this.src.all().map(frozen);
      for (const r of this.rows) this.index(r);
      this.dirty.clear();
    }
    if (this.dirty.size > 0) {
      for (const id of this.dirty) this.replace(id, this.src.one(id));
      this.dirty.clear();
      this.view = undefined;
    }
    this.view ??= Object.freeze([...this.rows]);
    return { view: this.view, byId: this.byId, byName: this.byName };
  }

  private replace(id: string, next: T | undefined): void {
    const rows = this.rows!;
    const old = this.byId.get(id);
    if (old) {
      rows.splice(rows.indexOf(old), 1);
      this.byId.delete(id);
      if (this.byName.get(old.name) === old) this.byName.delete(old.name);
    }
    if (!next) return;
    frozen(next);
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.src.order(rows[mid]!, next) <= 0) lo = mid + 1;
      else hi = mid;
    }
    rows.splice(lo, 0, next);
    this.index(next);
  }

  private index(r: T): void {
    this.byId.set(r.id, r);
    this.byName.set(r.name, r);
  }
}
