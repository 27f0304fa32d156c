/** The pending restarts of containers (restart policies): Docker's growing delay per container, and one timer each. */
import { nextDelay } from './restart-policy.js';
import { KeyedTimers } from '../runtime/timers.js';

export class RestartTimers extends KeyedTimers {
  private readonly delays = new Map<string, number>();

  /** The delay before the next restart of a container that ran since startedAt (it doubles while runs are short). */
  nextDelay(id: string, startedAt: string): number {
    const delay = nextDelay(this.delays.get(id) ?? 0, Date.now() - Date.parse(startedAt));
    this.delays.set(id, delay);
    return delay;
  }
}
