/**
 * A plan's scope: the whole host, or the objects of some owners (12 hex of network or container ids)
 * plus the shared base, which keeps the cost of one request independent of how many networks exist.
 */
import type { FirewallBackendName } from '../firewall/intent.js';

export interface PlanOptions {
  instance: string;
  chainPrefix: string;
  /** the firewall backend in use (iptables when not said) */
  firewall?: FirewallBackendName;
  /** the nftables backend on a host that has iptables: marked accepts kept there too */
  besideIptables?: boolean;
  /** null: the whole host; otherwise only these owners (12-hex network id prefixes) plus the shared base */
  owners: Set<string> | null;
}

/** A scoped plan found shared state it cannot repair alone: the caller runs a full plan instead. */
export class NeedsFullReconcile extends Error {
  override name = 'NeedsFullReconcile';
}

export const inScope = (owners: Set<string> | null, owner: string | undefined) => owners === null || (owner !== undefined && owners.has(owner));

/** Counts of each string, for multiset differences. */
export function counts(list: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of list) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
}
