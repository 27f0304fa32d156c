import type { Db } from './db.js';
import type { Network, Subnet } from '../model.js';
import { RowCache } from './row-cache.js';

interface NetworkRow {
  id: string; name: string; driver: string; scope: string; created: string;
  enable_ipv4: number; enable_ipv6: number; internal: number; attachable: number; ingress: number;
  config_only: number; config_from: string; ipam_driver: string; ipam_options: string | null;
  options: string; labels: string; predefined: number; bridge_name: string | null;
}

interface SubnetRow {
  network_id: string; position: number; family: number; subnet: string; ip_range: string | null;
  gateway: string; aux: string; auto: number; shown: string;
}

function toSubnet(r: SubnetRow): Subnet {
  return {
    family: r.family as 4 | 6,
    subnet: r.subnet,
    ipRange: r.ip_range ?? undefined,
    gateway: r.gateway,
    aux: JSON.parse(r.aux),
    auto: r.auto === 1,
    shown: JSON.parse(r.shown),
  };
}

const shared = new WeakMap<Db, RowCache<Network>>();

/**
 * Networks and their subnets. Synchronous; callers group writes with tx().
 * Reads come from a RowCache (every write to these tables goes through this repository and touches its
 * row): a list or lookup costs no query and no parsing at any number of networks, and a write costs the
 * reading of its own row only. The objects are frozen and shared.
 */
export class NetworkRepo {
  private readonly q;
  private readonly rows: RowCache<Network>;
  /** networks by bridge name, for one list (a list is never changed once returned: a write makes a new one) */
  private bridges: { of: readonly Network[]; byName: Map<string, Network> } | undefined;

  constructor(private readonly db: Db) {
    this.q = {
      insert: db.prepare(`INSERT INTO networks (id, name, driver, scope, created, enable_ipv4, enable_ipv6, internal,
        attachable, ingress, config_only, config_from, ipam_driver, ipam_options, options, labels, predefined, bridge_name)
        VALUES (@id, @name, @driver, @scope, @created, @enable_ipv4, @enable_ipv6, @internal, @attachable, @ingress,
        @config_only, @config_from, @ipam_driver, @ipam_options, @options, @labels, @predefined, @bridge_name)`),
      insertSubnet: db.prepare(`INSERT INTO subnets (network_id, position, family, subnet, ip_range, gateway, aux, auto, shown)
        VALUES (@network_id, @position, @family, @subnet, @ip_range, @gateway, @aux, @auto, @shown)`),
      byId: db.prepare('SELECT * FROM networks WHERE id = ?'),
      byName: db.prepare('SELECT * FROM networks WHERE name = ?'),
      all: db.prepare('SELECT * FROM networks ORDER BY created, id'),
      subnetsOf: db.prepare('SELECT * FROM subnets WHERE network_id = ? ORDER BY position'),
      allSubnets: db.prepare('SELECT * FROM subnets ORDER BY network_id, position'),
      delete: db.prepare('DELETE FROM networks WHERE id = ?'),
      deleteSubnets: db.prepare('DELETE FROM subnets WHERE network_id = ?'),
      count: db.prepare('SELECT count(*) AS n FROM networks'),
      updateBridge: db.prepare('UPDATE networks SET options = ?, bridge_name = ? WHERE id = ?'),
    };
    // one cache per database, so that every repository on it sees every write
    let rows = shared.get(db);
    if (!rows) {
      rows = new RowCache<Network>({
        all: () => this.readAll(),
        one: (id) => this.one(this.q.byId.get(id)),
        oneByName: (name) => this.one(this.q.byName.get(name)),
        order: (a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
        inTransaction: () => db.inTransaction,
      });
      shared.set(db, rows);
    }
    this.rows = rows;
  }

  private readAll(): Network[] {
    const subnets = new Map<string, Subnet[]>();
    for (const s of this.q.allSubnets.all() as SubnetRow[]) {
      const l = subnets.get(s.network_id) ?? [];
      l.push(toSubnet(s));
      subnets.set(s.network_id, l);
    }
    return (this.q.all.all() as NetworkRow[]).map((r) => this.fromRow(r, subnets.get(r.id) ?? []));
  }

  private one(row: unknown): Network | undefined {
    const r = row as NetworkRow | undefined;
    return r && this.fromRow(r, (this.q.subnetsOf.all(r.id) as SubnetRow[]).map(toSubnet));
  }

  /** The predefined bridge's options and link name, as the daemon's flags now set them. */
  updateBridge(id: string, options: Record<string, string>, bridgeName: string): void {
    this.rows.touch(id);
    this.q.updateBridge.run(JSON.stringify(options), bridgeName, id);
  }

  insert(n: Network): void {
    this.rows.touch(n.id);
    this.q.insert.run({
      id: n.id, name: n.name, driver: n.driver, scope: n.scope, created: n.created,
      enable_ipv4: +n.enableIPv4, enable_ipv6: +n.enableIPv6, internal: +n.internal, attachable: +n.attachable,
      ingress: +n.ingress, config_only: +n.configOnly, config_from: n.configFrom, ipam_driver: n.ipamDriver,
      ipam_options: n.ipamOptions === null ? null : JSON.stringify(n.ipamOptions),
      options: JSON.stringify(n.options), labels: JSON.stringify(n.labels), predefined: +n.predefined,
      bridge_name: n.bridgeName,
    });
    this.insertSubnets(n.id, n.subnets);
  }

  replaceSubnets(id: string, subnets: Subnet[]): void {
    this.rows.touch(id);
    this.q.deleteSubnets.run(id);
    this.insertSubnets(id, subnets);
  }

  private insertSubnets(id: string, subnets: Subnet[]): void {
    subnets.forEach((s, position) =>
      this.q.insertSubnet.run({
        network_id: id, position, family: s.family, subnet: s.subnet, ip_range: s.ipRange ?? null,
        gateway: s.gateway, aux: JSON.stringify(s.aux), auto: +s.auto, shown: JSON.stringify(s.shown),
      }),
    );
  }

  get(id: string): Network | undefined {
    return this.rows.get(id);
  }

  getByName(name: string): Network | undefined {
    return this.rows.getByName(name);
  }

  /** The network whose bridge is named so. The route monitor asks for each line it reads. */
  getByBridgeName(name: string): Network | undefined {
    const list = this.rows.list();
    if (this.bridges?.of !== list) {
      const byName = new Map<string, Network>();
      for (const n of list) if (n.bridgeName !== null && !byName.has(n.bridgeName)) byName.set(n.bridgeName, n);
      this.bridges = { of: list, byName };
    }
    return this.bridges.byName.get(name);
  }

  countConfigFrom(name: string): number {
    return this.rows.list().filter((n) => n.configFrom === name).length;
  }

  /** Networks whose id starts with prefix (prefix is lowercase hex; the caller checks), in id order. */
  getByIdPrefix(prefix: string): Network[] {
    return this.rows.list().filter((n) => n.id.startsWith(prefix)).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Every network, oldest first; the array is shared and frozen. */
  list(): readonly Network[] {
    return this.rows.list();
  }

  allSubnets(): Subnet[] {
    return this.rows.list().flatMap((n) => n.subnets);
  }

  delete(id: string): boolean {
    this.rows.touch(id);
    return this.q.delete.run(id).changes > 0;
  }

  count(): number {
    return (this.q.count.get() as { n: number }).n;
  }

  private fromRow(r: NetworkRow, subnets: Subnet[]): Network {
    return {
      id: r.id, name: r.name, driver: r.driver, scope: r.scope, created: r.created,
      enableIPv4: r.enable_ipv4 === 1, enableIPv6: r.enable_ipv6 === 1, internal: r.internal === 1,
      attachable: r.attachable === 1, ingress: r.ingress === 1, configOnly: r.config_only === 1,
      configFrom: r.config_from, ipamDriver: r.ipam_driver,
      ipamOptions: r.ipam_options === null ? null : JSON.parse(r.ipam_options),
      options: JSON.parse(r.options), labels: JSON.parse(r.labels), predefined: r.predefined === 1,
      bridgeName: r.bridge_name, subnets,
    };
  }
}

export class MetaRepo {
  constructor(private readonly db: Db) {}
  get(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }
  set(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
