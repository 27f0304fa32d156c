/** The pending restarts of containers (restart policies): Docker's growing delay per container, and one timer each. */
import { nextDelay } from './restart-policy.js';

export class RestartTimers {
  private readonly delays = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** The delay before the next restart of a container that ran since startedAt (it doubles while runs are short). */
  nextDelay(id: string, startedAt: string): number {
    const delay = nextDelay(this.delays.get(id) ?? 0, Date.now() - Date.parse(startedAt));
    this.delays.set(id, delay);
    return delay;
  }

  schedule(id: string, delay: number, fire: () => void): void {
    this.cancel(id);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      fire();
    }, delay);
    timer.unref();
    this.timers.set(id, timer);
  }

  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
