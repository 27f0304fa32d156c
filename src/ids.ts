import { randomBytes } from 'node:crypto';

/** A Docker-style object id: 64 lowercase hex characters. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

export const shortId = (id: string) => id.slice(0, 12);

/**
 * RFC3339 with nanoseconds and trailing zeros trimmed, as Go's time.RFC3339Nano prints UTC times.
 */
export function formatRfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? '.' + frac : ''}Z`;
}

let lastNs = 0n;
/** Wall-clock nanoseconds, strictly increasing within this process. */
export function nowNs(): bigint {
  const ns = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  lastNs = ns > lastNs ? ns : lastNs + 1n;
  return lastNs;
}
