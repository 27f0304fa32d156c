/**
 * Allow-lists for published ports: the container label and the network option `cnmd.ports.allow`,
 * comma-separated IPv4 and IPv6 addresses and CIDRs. Who may reach a published port is whoever both
 * lists (where set) allow. Pure.
 */
import { containsPrefix, formatPrefix, isMasked, parseAddr, parsePrefix, type Prefix } from '../ipam/cidr.js';
import { invalid } from '../errors.js';

export const ALLOW_KEY = 'cnmd.ports.allow';

/** "10.0.0.0/8, 192.0.2.7, 2001:db8::/32" -> canonical CIDRs; a client's mistake is a 400 naming it. */
export function parseAllowList(text: string, where: string): Prefix[] {
  const out: Prefix[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const a = entry.includes('/') ? undefined : parseAddr(entry);
    const p = a ? parsePrefix(`${entry}/${a.family === 4 ? 32 : 128}`) : parsePrefix(entry);
    if (!p) throw invalid(`invalid ${ALLOW_KEY} entry "${entry}" in ${where}: an IPv4 or IPv6 address or CIDR`);
    if (!isMasked(p)) throw invalid(`invalid ${ALLOW_KEY} entry "${entry}" in ${where}: host bits are set (did you mean ${formatPrefix({ ...p, addr: p.addr & ~((1n << BigInt((p.family === 4 ? 32 : 128) - p.bits)) - 1n) })}?)`);
    out.push(p);
  }
  if (!out.length) throw invalid(`${ALLOW_KEY} in ${where} is empty: give the addresses or CIDRs that may reach the published ports`);
  return out;
}

/** The sources both lists allow: for each pair, the smaller prefix when one holds the other. */
export function intersect(a: Prefix[], b: Prefix[]): Prefix[] {
  const out: Prefix[] = [];
  for (const x of a) for (const y of b) {
    if (containsPrefix(x, y)) out.push(y);
    else if (containsPrefix(y, x)) out.push(x);
  }
  const seen = new Set<string>();
  return out.filter((p) => !seen.has(formatPrefix(p)) && !!seen.add(formatPrefix(p)));
}

/**
 * The effective list of a published port, as CIDR text: undefined when neither the container nor
 * the network limits it, [] when nothing may reach it. Values in the store were checked when they
 * were given; one that no longer parses allows no one.
 */
export function effectiveAllowList(containerLabel: string | undefined, networkOption: string | undefined): string[] | undefined {
  const lists = [containerLabel, networkOption].filter((x): x is string => x !== undefined).map((x) => {
    try {
      return parseAllowList(x, 'store');
    } catch {
      return [];
    }
  });
  if (!lists.length) return undefined;
  return lists.reduce((acc, l) => intersect(acc, l)).map(formatPrefix);
}
