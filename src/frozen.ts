/** Deep-freezes an object: shared objects (cached rows, kept plans) are frozen so a caller that changes one fails loudly. */
export function frozen<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) frozen(x);
    Object.freeze(v);
  }
  return v;
}
