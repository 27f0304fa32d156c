/**
 * Beside firewalld: an accept in cnmd's own nftables table does not override firewalld's, which
 * rejects what it forwards for interfaces in no zone of its own. While firewalld runs, each bridge of
 * cnmd's networks is in firewalld's built-in `trusted` zone (target ACCEPT: what a bridge sends is
 * let through, as Docker's `docker` zone does), at runtime only, so that the host's permanent
 * firewalld configuration stays as its owner wrote it. A firewalld reload or restart drops runtime
 * interfaces: the periodic repair puts them back within one interval, and finds a firewalld that
 * started after cnmd.
 */
import type { Executor } from '../host/executor.js';
import { firewalld, replyStrings, isAlreadyDone } from '../host/firewalld.js';
import type { NetworkRepo } from '../store/networks.js';
import type { EventBus } from './events.js';

export const FIREWALLD_ZONE = 'trusted';

export interface FirewalldZoneDeps {
  exec: Pick<Executor, 'run'>;
  networks: Pick<NetworkRepo, 'list' | 'get'>;
  events: EventBus;
  log: () => { info(obj: unknown, msg: string): void; warn(obj: unknown, msg: string): void };
}

export class FirewalldZone {
  /** bridges cnmd put in the zone, by network id */
  private readonly added = new Map<string, string>();
  /** no dbus-send on this host: firewalld cannot run here, nothing more is tried */
  private absent = false;
  private running = false;

  constructor(private readonly d: FirewalldZoneDeps) {}

  async start(): Promise<void> {
    this.d.events.subscribe((e) => {
      if (e.Type !== 'network') return;
      if (e.Action === 'create' && this.running) void this.add(e.Actor.ID);
      // forgotten even while firewalld is away (its next start has none of our runtime interfaces)
      if (e.Action === 'destroy') void this.remove(e.Actor.ID);
    });
    await this.repair();
  }

  /** Every bridge of ours in the zone (firewalld reloaded, restarted or started since): what was put back. */
  async repair(): Promise<string[]> {
    const inZone = await this.interfaces();
    const was = this.running;
    this.running = inZone !== undefined;
    if (!inZone) return [];
    if (!was) this.d.log().info({ zone: FIREWALLD_ZONE }, 'firewalld runs: the bridges of cnmd\'s networks go into its trusted zone (runtime only)');
    const put: string[] = [];
    for (const n of this.d.networks.list()) {
      if (!n.bridgeName || n.configOnly) continue;
      this.added.set(n.id, n.bridgeName);
      if (inZone.includes(n.bridgeName)) continue;
      if (await this.call(firewalld.addInterface(FIREWALLD_ZONE, n.bridgeName))) put.push(`firewalld/${FIREWALLD_ZONE}/${n.bridgeName}`);
    }
    return was ? put : [];
  }

  private async add(id: string): Promise<void> {
    const n = this.d.networks.get(id);
    if (!n?.bridgeName || n.configOnly) return;
    this.added.set(id, n.bridgeName);
    await this.call(firewalld.addInterface(FIREWALLD_ZONE, n.bridgeName));
  }

  private async remove(id: string): Promise<void> {
    const bridge = this.added.get(id);
    this.added.delete(id);
    if (bridge && this.running) await this.call(firewalld.removeInterface(FIREWALLD_ZONE, bridge));
  }

  /** the zone's interfaces, or undefined when firewalld does not answer */
  private async interfaces(): Promise<string[] | undefined> {
    if (this.absent) return undefined;
    try {
      const r = await this.d.exec.run('dbus-send', firewalld.interfacesOf(FIREWALLD_ZONE), { timeoutMs: 6000 });
      return r.stdout.includes('array [') ? replyStrings(r.stdout) : undefined;
    } catch (e) {
      if ((e as { missing?: boolean }).missing) this.absent = true;
      return undefined;
    }
  }

  private async call(args: string[]): Promise<boolean> {
    try {
      await this.d.exec.run('dbus-send', args, { timeoutMs: 6000 });
      return true;
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message);
      if (!isAlreadyDone(stderr)) this.d.log().warn({ err: stderr.trim().slice(0, 300) }, 'firewalld: cannot change the trusted zone');
      return false;
    }
  }
}
