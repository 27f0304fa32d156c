/**
 * Choosing a free subnet from address pools: first fit, lowest free subnet, pools in order
 * (Docker 27+). Pure: the caller passes every prefix already in use (networks and on-link host routes).
 */
import type { AddressPool } from '../config.js';
import { type Prefix, parsePrefix, network, lastAddr, hostMask, span } from './cidr.js';

/** Docker's built-in local pools (libnetwork ipamutils). */
export const DEFAULT_POOLS: AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

export const NO_POOL_V4 =
  'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network';
export const NO_POOL_V6 =
  'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network';

export function validatePools(pools: AddressPool[]): string | undefined {
  for (const p of pools) {
    const base = parsePrefix(p.base);
    if (!base) return `invalid default address pool base ${p.base}`;
    const max = base.family === 4 ? 32 : 128;
    if (p.size < base.bits || p.size > max) return `invalid default address pool ${p.base}: size ${p.size} must be between ${base.bits} and ${max}`;
  }
  return undefined;
}

/**
 * The lowest block of `pool.size` bits inside `pool.base` that overlaps nothing in `used`.
 * One sweep over the used prefixes sorted by start: O(used · log used) per pool, whatever the
 * number of candidate blocks a pool holds.
 */
export function firstFreeSubnet(pools: AddressPool[], used: Prefix[], family: 4 | 6): Prefix | undefined {
  const spans = used
    .filter((u) => u.family === family)
    .map(span)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const pool of pools) {
    const base = parsePrefix(pool.base);
    if (!base || base.family !== family) continue;
    const block = hostMask({ family, bits: pool.size }) + 1n;
    const end = lastAddr(base);
    let cand = network(base);
    let i = 0;
    while (cand + block - 1n <= end) {
      const candEnd = cand + block - 1n;
      // spans that end before the candidate can never matter again: cand only grows
      while (i < spans.length && spans[i][1] < cand) i++;
      let blockedUntil = -1n;
      for (let j = i; j < spans.length && spans[j][0] <= candEnd; j++) {
        if (spans[j][1] >= cand && spans[j][1] > blockedUntil) blockedUntil = spans[j][1];
      }
      if (blockedUntil < 0n) return { family, addr: cand, bits: pool.size };
      const past = blockedUntil + 1n;
      cand = ((past + block - 1n) / block) * block;
    }
  }
  return undefined;
}
