import type { Db } from './db.js';
import type { EndpointRecord } from '../cluster/store.js';

interface Row {
  id: string; network_id: string; container_id: string; node: string; vtep: string; mac: string;
  ipv4: string | null; ipv6: string | null; names: string;
}

const toRecord = (r: Row): EndpointRecord => ({
  id: r.id, networkId: r.network_id, containerId: r.container_id, node: r.node, vtep: r.vtep, mac: r.mac,
  ipv4: r.ipv4, ipv6: r.ipv6, names: JSON.parse(r.names),
});

/** Endpoints other hosts have on global networks, as mirrored from the cluster store. */
export class RemoteEndpointRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      upsert: db.prepare(`INSERT INTO remote_endpoints (id, network_id, container_id, node, vtep, mac, ipv4, ipv6, names)
        VALUES (@id, @network_id, @container_id, @node, @vtep, @mac, @ipv4, @ipv6, @names)
        ON CONFLICT (id) DO UPDATE SET network_id = excluded.network_id, container_id = excluded.container_id, node = excluded.node,
          vtep = excluded.vtep, mac = excluded.mac, ipv4 = excluded.ipv4, ipv6 = excluded.ipv6, names = excluded.names`),
      delete: db.prepare('DELETE FROM remote_endpoints WHERE id = ?'),
      clear: db.prepare('DELETE FROM remote_endpoints'),
      on: db.prepare('SELECT * FROM remote_endpoints WHERE network_id = ? ORDER BY id'),
      all: db.prepare('SELECT * FROM remote_endpoints ORDER BY id'),
      byId: db.prepare('SELECT * FROM remote_endpoints WHERE id = ?'),
    };
  }

  upsert(e: EndpointRecord): void {
    this.q.upsert.run({
      id: e.id, network_id: e.networkId, container_id: e.containerId, node: e.node, vtep: e.vtep, mac: e.mac,
      ipv4: e.ipv4, ipv6: e.ipv6, names: JSON.stringify(e.names),
    });
  }

  get(id: string): EndpointRecord | undefined {
    const r = this.q.byId.get(id) as Row | undefined;
    return r && toRecord(r);
  }

  delete(id: string): void {
    this.q.delete.run(id);
  }

  /** Replaces the whole mirror (after a (re)join). */
  replaceAll(list: EndpointRecord[]): void {
    this.q.clear.run();
    for (const e of list) this.upsert(e);
  }

  on(networkId: string): EndpointRecord[] {
    return (this.q.on.all(networkId) as Row[]).map(toRecord);
  }

  list(): EndpointRecord[] {
    return (this.q.all.all() as Row[]).map(toRecord);
  }
}
