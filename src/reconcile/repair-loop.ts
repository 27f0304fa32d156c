/**
 * Drift (iptables -F, a deleted bridge or veth, a removed namespace, a closed port socket, a dead DNS
 * listener) is repaired every interval: the reconciler's repair, then the daemon's own sockets.
 * Each repair is counted, logged and emitted as an event.
 */
import type { Reconciler, ReconcileReport } from './reconciler.js';

export interface RepairLoopDeps {
  reconciler: Reconciler;
  /** the daemon's own sockets (and firewalld's zone of our bridges) that should be there: each returns what it had to make again */
  sockets: Array<() => Promise<string[]>>;
  onRepair: (what: { steps: string[]; report?: ReconcileReport }) => void;
  log: () => { error(obj: unknown, msg: string): void };
}

export class RepairLoop {
  last: ReconcileReport | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: RepairLoopDeps) {}

  start(seconds: number): void {
    if (seconds <= 0) return;
    this.timer = setInterval(() => void this.once(), seconds * 1000);
    this.timer.unref();
  }

  async once(): Promise<void> {
    try {
      const r = await this.d.reconciler.repair();
      const sockets = (await Promise.all(this.d.sockets.map((f) => f().catch(() => [])))).flat();
      const steps = [...(r?.steps ?? []), ...sockets];
      if (r?.steps.length) this.last = r;
      if (steps.length) this.d.onRepair({ steps, ...(r?.steps.length ? { report: r } : {}) });
    } catch (e) {
      this.d.log().error({ err: (e as Error).message }, 'periodic reconcile failed');
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
