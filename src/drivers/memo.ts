import type { Network } from '../model.js';
import type { DriverContext } from './driver.js';
import { frozen } from '../frozen.js';

/**
 * A driver's pure function of a network, kept per network object. The store hands out a network as
 * one frozen object until a write changes it, and every full plan (each periodic repair) asks for
 * all networks' objects, twice: at 1000 networks 5 ms and 3 MB of garbage each time. Kept only for
 * frozen networks and the context it was made with; what is kept is frozen in turn, so a caller that
 * changed it would fail loudly instead of changing what the next plan sees.
 */
export function perNetwork<T>(make: (n: Network, ctx: DriverContext) => T): (n: Network, ctx: DriverContext) => T {
  const kept = new WeakMap<Network, { ctx: DriverContext; value: T }>();
  return (n, ctx) => {
    const k = kept.get(n);
    if (k && k.ctx === ctx) return k.value;
    const value = make(n, ctx);
    if (!Object.isFrozen(n)) return value;
    kept.set(n, { ctx, value: frozen(value) });
    return value;
  };
}
