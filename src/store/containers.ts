import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import type { Container, ContainerState, Endpoint, EndpointSettingsInput, PortBinding } from '../model.js';

interface ContainerRow {
  id: string; name: string; created: string; config: string; host_config: string; network_mode: string;
  sandbox_key: string | null; netns: string | null; state: string; pid: number; exit_code: number; error: string;
  started_at: string; finished_at: string; sandbox_id: string; restart_count: number; paused: number;
  monitor_pid: number; pid_start: string; boot_id: string; has_inside: number; manually_stopped: number; image_id: string; health: string | null; mounts: string; links: string;
}

/** The part of a container that changes while it lives: its state and what its sandbox and process are. */
export type RunState = Pick<Container, 'state' | 'pid' | 'exitCode' | 'error' | 'startedAt' | 'finishedAt' | 'sandboxId' | 'netns'
  | 'restartCount' | 'paused' | 'monitorPid' | 'pidStart' | 'bootId' | 'hasInside' | 'manuallyStopped' | 'health'>;

const COLUMNS: Record<keyof RunState, string> = {
  state: 'state', pid: 'pid', exitCode: 'exit_code', error: 'error', startedAt: 'started_at', finishedAt: 'finished_at',
  sandboxId: 'sandbox_id', netns: 'netns', restartCount: 'restart_count', paused: 'paused', monitorPid: 'monitor_pid', pidStart: 'pid_start', bootId: 'boot_id',
  hasInside: 'has_inside', manuallyStopped: 'manually_stopped', health: 'health',
};
const toColumn = (v: unknown) => (typeof v === 'boolean' ? Number(v) : v !== null && typeof v === 'object' ? JSON.stringify(v) : v);

interface EndpointRow {
  id: string; container_id: string; network_id: string; config_key: string; ifname: string; host_ifname: string;
  mac: string; ipv4: string | null; ipv6: string | null; gw_priority: number; position: number;
}

const toEndpoint = (r: EndpointRow): Endpoint => ({
  id: r.id, containerId: r.container_id, networkId: r.network_id, configKey: r.config_key, ifname: r.ifname,
  hostIfname: r.host_ifname, mac: r.mac, ipv4: r.ipv4, ipv6: r.ipv6, gwPriority: r.gw_priority, position: r.position,
});

/** Containers, their endpoint configs, endpoints and addresses. Synchronous; group writes with tx(). */
export class ContainerRepo {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      insert: db.prepare(`INSERT INTO containers (id, name, created, config, host_config, network_mode, sandbox_key, image_id, mounts, links)
        VALUES (@id, @name, @created, @config, @host_config, @network_mode, @sandbox_key, @image_id, @mounts, @links)`),
      byId: db.prepare('SELECT * FROM containers WHERE id = ?'),
      byName: db.prepare('SELECT * FROM containers WHERE name = ?'),
      byIdPrefix: db.prepare("SELECT * FROM containers WHERE id >= ? AND id < ? || 'g' ORDER BY id"),
      all: db.prepare('SELECT * FROM containers ORDER BY created DESC, id'),
      running: db.prepare("SELECT * FROM containers WHERE state = 'running' ORDER BY created, id"),
      withNetns: db.prepare("SELECT id, netns FROM containers WHERE netns IS NOT NULL AND netns != ''"),
      ids: db.prepare('SELECT id FROM containers ORDER BY created DESC, id'),
      delete: db.prepare('DELETE FROM containers WHERE id = ?'),
      rename: db.prepare('UPDATE containers SET name = ? WHERE id = ?'),
      setHostConfig: db.prepare('UPDATE containers SET host_config = ? WHERE id = ?'),
      setLinks: db.prepare('UPDATE containers SET links = ? WHERE id = ?'),
      // links hold 64-hex ids: a LIKE on the JSON finds the parents without reading every row
      linkedTo: db.prepare("SELECT id FROM containers WHERE state = 'running' AND links LIKE '%\"' || ? || '\"%' ORDER BY id"),
      configs: db.prepare('SELECT network, settings FROM endpoint_configs WHERE container_id = ? ORDER BY position'),
      addConfig: db.prepare(`INSERT INTO endpoint_configs (container_id, network, position, settings)
        VALUES (?, ?, (SELECT coalesce(max(position), -1) + 1 FROM endpoint_configs WHERE container_id = ?), ?)`),
      removeConfig: db.prepare('DELETE FROM endpoint_configs WHERE container_id = ? AND network = ?'),
      endpointsOf: db.prepare('SELECT * FROM endpoints WHERE container_id = ? ORDER BY position'),
      endpointsOn: db.prepare('SELECT * FROM endpoints WHERE network_id = ? ORDER BY container_id'),
      countOn: db.prepare('SELECT count(*) AS n FROM endpoints WHERE network_id = ?'),
      allEndpoints: db.prepare('SELECT * FROM endpoints'),
      insertEndpoint: db.prepare(`INSERT INTO endpoints (id, container_id, network_id, config_key, ifname, host_ifname, mac, ipv4, ipv6, gw_priority, position)
        VALUES (@id, @container_id, @network_id, @config_key, @ifname, @host_ifname, @mac, @ipv4, @ipv6, @gw_priority, @position)`),
      deleteEndpoint: db.prepare('DELETE FROM endpoints WHERE id = ?'),
      deleteEndpointsOf: db.prepare('DELETE FROM endpoints WHERE container_id = ?'),
      addressesOn: db.prepare('SELECT address FROM addresses WHERE network_id = ?'),
      endpointByAddress: db.prepare('SELECT e.* FROM addresses a JOIN endpoints e ON e.id = a.endpoint_id WHERE a.address = ? LIMIT 1'),
      insertAddress: db.prepare('INSERT INTO addresses (network_id, address, endpoint_id) VALUES (?, ?, ?)'),
      counts: db.prepare("SELECT count(*) AS total, sum(state = 'running') AS running FROM containers"),
      insertPort: db.prepare('INSERT INTO port_bindings (container_id, proto, container_port, host_ip, host_port) VALUES (?, ?, ?, ?, ?)'),
      portsOf: db.prepare('SELECT proto, container_port, host_ip, host_port FROM port_bindings WHERE container_id = ? ORDER BY rowid'),
      deletePortsOf: db.prepare('DELETE FROM port_bindings WHERE container_id = ?'),
      staticRequests: db.prepare(`SELECT container_id, network, settings FROM endpoint_configs
        WHERE settings LIKE '%IPv4Address%' OR settings LIKE '%IPv6Address%'`),
    };
  }

  insert(c: Container): void {
    this.q.insert.run({
      id: c.id, name: c.name, created: c.created, config: JSON.stringify(c.config), host_config: JSON.stringify(c.hostConfig),
      network_mode: c.networkMode, sandbox_key: c.sandboxKey, image_id: c.imageId, mounts: JSON.stringify(c.mounts), links: JSON.stringify(c.links),
    });
    for (const e of c.endpointConfigs) this.addEndpointConfig(c.id, e.network, e.settings);
  }

  get(id: string): Container | undefined {
    const r = this.q.byId.get(id) as ContainerRow | undefined;
    return r && this.hydrate(r);
  }

  getByName(name: string): Container | undefined {
    const r = this.q.byName.get(name) as ContainerRow | undefined;
    return r && this.hydrate(r);
  }

  getByIdPrefix(prefix: string): Container[] {
    return (this.q.byIdPrefix.all(prefix, prefix) as ContainerRow[]).map((r) => this.hydrate(r));
  }

  list(): Container[] {
    return (this.q.all.all() as ContainerRow[]).map((r) => this.hydrate(r));
  }

  running(): Container[] {
    return (this.q.running.all() as ContainerRow[]).map((r) => this.hydrate(r));
  }

  /** Namespaces cnmd made and has not yet removed, each with its container's id (no row is hydrated). */
  ownedNetns(): Array<{ name: string; containerId: string }> {
    return (this.q.withNetns.all() as Array<{ id: string; netns: string }>).map((r) => ({ name: r.netns, containerId: r.id }));
  }

  /** Every container's id (no row is hydrated). */
  ids(): Set<string> {
    return new Set((this.q.ids.all() as Array<{ id: string }>).map((r) => r.id));
  }

  delete(id: string): void {
    this.q.delete.run(id);
  }

  counts(): { total: number; running: number } {
    const r = this.q.counts.get() as { total: number; running: number | null };
    return { total: r.total, running: r.running ?? 0 };
  }

  private readonly updates = new Map<string, Database.Statement<unknown[]>>();

  /**
   * Changes these fields of a container's run state, only while it is in one of the states `from`
   * (any state when omitted): a guarded transition. False when the container is gone or was not in
   * one of those states, so that two requests racing for one transition cannot both make it.
   */
  update(id: string, patch: Partial<RunState>, from?: ContainerState[]): boolean {
    const keys = (Object.keys(patch) as Array<keyof RunState>).filter((k) => patch[k] !== undefined).sort();
    if (!keys.length) return false;
    const sql = `UPDATE containers SET ${keys.map((k) => `${COLUMNS[k]} = ?`).join(', ')} WHERE id = ?` +
      (from ? ` AND state IN (${from.map(() => '?').join(', ')})` : '');
    let stmt = this.updates.get(sql);
    if (!stmt) this.updates.set(sql, (stmt = this.db.prepare(sql)));
    const args: unknown[] = [...keys.map((k) => toColumn(patch[k])), id, ...(from ?? [])];
    return stmt.run(...args).changes > 0;
  }

  rename(id: string, name: string): void {
    this.q.rename.run(name, id);
  }

  setHostConfig(id: string, hostConfig: Record<string, unknown>): void {
    this.q.setHostConfig.run(JSON.stringify(hostConfig), id);
  }

  setLinks(id: string, links: Container['links']): void {
    this.q.setLinks.run(JSON.stringify(links), id);
  }

  /** Running containers with a legacy link to this one. */
  linkedTo(id: string): string[] {
    return (this.q.linkedTo.all(id) as Array<{ id: string }>).map((r) => r.id);
  }

  addEndpointConfig(containerId: string, network: string, settings: EndpointSettingsInput): void {
    this.q.addConfig.run(containerId, network, containerId, JSON.stringify(settings));
  }

  removeEndpointConfig(containerId: string, network: string): boolean {
    return this.q.removeConfig.run(containerId, network).changes > 0;
  }

  endpointsOf(containerId: string): Endpoint[] {
    return (this.q.endpointsOf.all(containerId) as EndpointRow[]).map(toEndpoint);
  }

  endpointsOn(networkId: string): Endpoint[] {
    return (this.q.endpointsOn.all(networkId) as EndpointRow[]).map(toEndpoint);
  }

  countEndpointsOn(networkId: string): number {
    return (this.q.countOn.get(networkId) as { n: number }).n;
  }

  allEndpoints(): Endpoint[] {
    return (this.q.allEndpoints.all() as EndpointRow[]).map(toEndpoint);
  }

  insertEndpoint(e: Endpoint): void {
    this.q.insertEndpoint.run({
      id: e.id, container_id: e.containerId, network_id: e.networkId, config_key: e.configKey, ifname: e.ifname,
      host_ifname: e.hostIfname, mac: e.mac, ipv4: e.ipv4, ipv6: e.ipv6, gw_priority: e.gwPriority, position: e.position,
    });
    for (const a of [e.ipv4, e.ipv6]) if (a) this.q.insertAddress.run(e.networkId, a.split('/')[0], e.id);
  }

  /** Removes an endpoint and releases its addresses (ON DELETE CASCADE). */
  deleteEndpoint(id: string): void {
    this.q.deleteEndpoint.run(id);
  }

  deleteEndpointsOf(containerId: string): void {
    this.q.deleteEndpointsOf.run(containerId);
  }

  insertPortBindings(containerId: string, bindings: PortBinding[]): void {
    for (const b of bindings) this.q.insertPort.run(containerId, b.proto, b.containerPort, b.hostIp, b.hostPort);
  }

  portBindingsOf(containerId: string): PortBinding[] {
    return (this.q.portsOf.all(containerId) as Array<{ proto: 'tcp' | 'udp'; container_port: number; host_ip: string; host_port: number }>).map((r) => ({
      proto: r.proto, containerPort: r.container_port, hostIp: r.host_ip, hostPort: r.host_port,
    }));
  }

  deletePortBindingsOf(containerId: string): void {
    this.q.deletePortsOf.run(containerId);
  }

  /** Static addresses containers asked for (kept reserved while they are stopped), with the network as named. */
  staticRequests(): Array<{ containerId: string; network: string; addresses: string[] }> {
    return (this.q.staticRequests.all() as Array<{ container_id: string; network: string; settings: string }>).map((r) => {
      const ipam = (JSON.parse(r.settings) as EndpointSettingsInput).IPAMConfig ?? {};
      return { containerId: r.container_id, network: r.network, addresses: [ipam.IPv4Address, ipam.IPv6Address].filter((a): a is string => !!a) };
    });
  }

  endpointByAddress(address: string): Endpoint | undefined {
    const r = this.q.endpointByAddress.get(address) as EndpointRow | undefined;
    return r && toEndpoint(r);
  }

  addressesOn(networkId: string): string[] {
    return (this.q.addressesOn.all(networkId) as Array<{ address: string }>).map((r) => r.address);
  }

  private hydrate(r: ContainerRow): Container {
    return {
      id: r.id, name: r.name, created: r.created, config: JSON.parse(r.config), hostConfig: JSON.parse(r.host_config),
      networkMode: r.network_mode, sandboxKey: r.sandbox_key, netns: r.netns, state: r.state as ContainerState, pid: r.pid,
      exitCode: r.exit_code, error: r.error, startedAt: r.started_at, finishedAt: r.finished_at, sandboxId: r.sandbox_id,
      restartCount: r.restart_count, paused: r.paused === 1, monitorPid: r.monitor_pid, pidStart: r.pid_start, bootId: r.boot_id, hasInside: r.has_inside === 1,
      manuallyStopped: r.manually_stopped === 1, imageId: r.image_id, health: r.health ? JSON.parse(r.health) : null, mounts: JSON.parse(r.mounts), links: JSON.parse(r.links),
      endpointConfigs: (this.q.configs.all(r.id) as Array<{ network: string; settings: string }>).map((c) => ({ network: c.network, settings: JSON.parse(c.settings) })),
    };
  }
}
