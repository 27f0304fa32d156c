import type { Db } from './db.js';

/** The iptables chains cnmd made, as "table chain" keys (see migrations/0008_firewall.sql). */
export class FirewallChainRepo {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      all: db.prepare('SELECT tbl, name FROM firewall_chains'),
      add: db.prepare('INSERT INTO firewall_chains (tbl, name) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      remove: db.prepare('DELETE FROM firewall_chains WHERE tbl = ? AND name = ?'),
    };
  }

  list(): Set<string> {
    return new Set((this.q.all.all() as Array<{ tbl: string; name: string }>).map((r) => `${r.tbl} ${r.name}`));
  }

  add(keys: Iterable<string>): void {
    this.each(keys, (t, n) => this.q.add.run(t, n));
  }

  remove(keys: Iterable<string>): void {
    this.each(keys, (t, n) => this.q.remove.run(t, n));
  }

  private each(keys: Iterable<string>, fn: (table: string, name: string) => void): void {
    const list = [...keys];
    if (!list.length) return;
    this.db.transaction(() => {
      for (const k of list) {
        const i = k.indexOf(' ');
        fn(k.slice(0, i), k.slice(i + 1));
      }
    })();
  }
}
