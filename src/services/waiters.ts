/** `POST /containers/{id}/wait`: callers held until their condition holds (not-running, next-exit, removed). */
import { invalid } from '../errors.js';

type Condition = 'not-running' | 'next-exit' | 'removed';

export class Waiters {
  private readonly byId = new Map<string, Array<{ condition: Condition; resolve: (code: number) => void }>>();

  static condition(c: string): Condition {
    if (!['not-running', 'next-exit', 'removed', ''].includes(c)) throw invalid(`invalid condition: "${c}"`);
    return (c || 'not-running') as Condition;
  }

  add(id: string, condition: Condition): Promise<number> {
    return new Promise((resolve) => {
      const list = this.byId.get(id) ?? [];
      list.push({ condition, resolve });
      this.byId.set(id, list);
    });
  }

  /** The container stopped (exit) or went (removed): the callers whose condition that meets get the code. */
  notify(id: string, what: 'exit' | 'removed', code: number): void {
    const list = this.byId.get(id);
    if (!list) return;
    const keep = list.filter((w) => {
      const fire = what === 'removed' || w.condition !== 'removed';
      if (fire) w.resolve(code);
      return !fire;
    });
    if (keep.length) this.byId.set(id, keep);
    else this.byId.delete(id);
  }
}
