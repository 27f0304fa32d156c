/**
 * One object changes under one lock at a time: requests on one container (or one network) run one
 * after the other, in arrival order; requests on different objects do not wait for each other.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs fn once every earlier holder of key is done; the lock is released however fn ends. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Whether anyone holds or waits for key. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
