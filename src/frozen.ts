/** Deep-freezes an object: shared objects (cached rows, kept plans) are frozen so a caller that changes one fails loudly. */
export function frozen<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) frozen(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * A pure function of a frozen object and a second argument, kept per object: the store hands out a
 * row as one frozen object until a write replaces it, so what is made from it can be made once.
 * Kept only for frozen objects, with the argument it was made with (compared by identity); what is
 * kept is frozen in turn, so a caller that changed it fails loudly instead of changing what the
 * next caller sees. Kept weakly: it goes with its object.
 */
export function keptWhileFrozen<K extends object, A, T>(make: (of: K, arg: A) => T): (of: K, arg: A) => T {
  const kept = new WeakMap<K, { arg: A; value: T }>();
  return (of, arg) => {
    const k = kept.get(of);
    if (k && k.arg === arg) return k.value;
    const value = make(of, arg);
    if (!Object.isFrozen(of)) return value;
    kept.set(of, { arg, value: frozen(value) });
    return value;
  };
}

/** keptWhileFrozen for a function of the object alone. */
export function keptOf<K extends object, T>(make: (of: K) => T): (of: K) => T {
  const kept = keptWhileFrozen((of: K, _: undefined) => make(of));
  return (of) => kept(of, undefined);
}
