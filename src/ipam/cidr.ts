/**
 * Pure address math over bigints, for IPv4 and IPv6 alike. Parsing validation leans on ip-cidr;
 * the arithmetic (overlap, containment, carving) is ours and has no I/O.
 */
import IPCIDR from 'ip-cidr';
import { isIPv4, isIPv6 } from 'node:net';
import { keptOf } from '../frozen.js';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** The address as written (host bits possibly set). */
  addr: bigint;
  bits: number;
}

const width = (f: Family) => (f === 4 ? 32 : 128);

export function parseAddr(s: string): { family: Family; value: bigint } | undefined {
  if (isIPv4(s)) {
    const p = s.split('.').map(Number);
    return { family: 4, value: BigInt(((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3]) };
  }
  if (isIPv6(s) && !s.includes('%')) {
    let text = s;
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = parseAddr(v4[1])!.value;
      text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    let value = 0n;
    for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
    return { family: 6, value };
  }
  return undefined;
}

export function formatAddr(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on a tie.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

const parsed = new Map<string, Prefix | undefined>();

/** Parses "addr/bits" (host bits allowed). Results are shared and must not be mutated. */
export function parsePrefix(s: string): Prefix | undefined {
  if (typeof s !== 'string') return undefined;
  if (parsed.has(s)) return parsed.get(s);
  const p = parsePrefixUncached(s);
  if (parsed.size > 50_000) parsed.clear();
  parsed.set(s, p);
  return p;
}

function parsePrefixUncached(s: string): Prefix | undefined {
  if (!IPCIDR.isValidCIDR(s)) return undefined;
  const slash = s.lastIndexOf('/');
  const a = parseAddr(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!a || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > width(a.family)) return undefined;
  return Object.freeze({ family: a.family, addr: a.value, bits });
}

export function hostMask(p: { family: Family; bits: number }): bigint {
  return (1n << BigInt(width(p.family) - p.bits)) - 1n;
}

export function network(p: Prefix): bigint {
  return p.addr & ~hostMask(p);
}

export function lastAddr(p: Prefix): bigint {
  return network(p) | hostMask(p);
}

export function masked(p: Prefix): Prefix {
  return Object.freeze({ ...p, addr: network(p) });
}

export function isMasked(p: Prefix): boolean {
  return p.addr === network(p);
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddr(p.family, p.addr)}/${p.bits}`;
}

/**
 * First and last address of frozen prefixes (parsePrefix's, the store's), kept (src/frozen.ts): a
 * create compares its subnet with every network's, and each comparison otherwise built four bigints.
 */
export const span = keptOf((p: Prefix): readonly [bigint, bigint] => [network(p), lastAddr(p)]);

export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const sa = span(a);
  const sb = span(b);
  return sa[0] <= sb[1] && sb[0] <= sa[1];
}

export function containsAddr(p: Prefix, family: Family, value: bigint): boolean {
  return p.family === family && value >= network(p) && value <= lastAddr(p);
}

/** a contains all of b */
export function containsPrefix(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.bits <= b.bits && containsAddr(a, b.family, network(b));
}

export function size(p: Prefix): bigint {
  return hostMask(p) + 1n;
}
