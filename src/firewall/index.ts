/**
 * The firewall: the intent (./intent.ts) rendered by the backend in use. The reconciler plans and
 * adopts through here only; a new backend is one more module and one more case below.
 */
import type { FirewallIntent } from './intent.js';
import type { HostState } from '../host/state.js';
import type { PlanOptions } from '../reconcile/scope.js';
import { type IptablesStep, adoptIptables, besideNftables, chainKeys, iptablesDesired, isChainName, planIptables } from './iptables.js';
import { type NftStep, ACCEPT_MARK, adoptNftables, nftDesired, planNftables } from './nftables.js';

export type FirewallStep = IptablesStep | NftStep;
export type { FirewallBackendName } from './intent.js';

/**
 * The other backend's objects, when the host has its tool: the nftables backend keeps marked accepts in
 * iptables (besideNftables) and so removes the iptables backend's chains; the iptables backend removes
 * the nftables table (read only at start: a migration happens when the daemon starts on a new backend).
 */
export function planFirewall(intent: FirewallIntent, actual: HostState, o: PlanOptions): FirewallStep[] {
  if (!intent.enabled) return [];
  switch (o.firewall ?? 'iptables') {
    case 'iptables': {
      const steps: FirewallStep[] = planIptables(iptablesDesired(intent, o), actual.rules, o);
      if (o.owners === null && actual.nft) steps.push({ kind: 'nft', table: o.instance, op: { op: 'delete table' } });
      return steps;
    }
    case 'nftables': {
      const steps: FirewallStep[] = planNftables(nftDesired(intent, o.instance), actual.nft, o);
      if (o.besideIptables) steps.push(...planIptables(besideNftables(o.chainPrefix, ACCEPT_MARK), actual.rules, o));
      return steps;
    }
    case 'none': return [];
  }
}

export function adoptFirewall(state: HostState, intent: FirewallIntent, o: PlanOptions): void {
  if (!intent.enabled) return;
  switch (o.firewall ?? 'iptables') {
    case 'iptables':
      adoptIptables(state.rules, iptablesDesired(intent, o), o);
      if (o.owners === null) delete state.nft;
      break;
    case 'nftables':
      state.nft = adoptNftables(state.nft, nftDesired(intent, o.instance), o);
      if (o.besideIptables) adoptIptables(state.rules, besideNftables(o.chainPrefix, ACCEPT_MARK), o);
      break;
    case 'none': break;
  }
}

/** The iptables chains ("table chain") this intent keeps, on the backend in use: recorded as made before a plan runs. */
export function keptChains(intent: FirewallIntent, o: PlanOptions): string[] {
  if (!intent.enabled) return [];
  if ((o.firewall ?? 'iptables') === 'iptables') return chainKeys(iptablesDesired(intent, o));
  return o.firewall === 'nftables' && o.besideIptables ? chainKeys(besideNftables(o.chainPrefix, ACCEPT_MARK)) : [];
}

/** The chains an iptables plan makes and removes ("table chain"): the record follows them. */
export function chainChanges(steps: FirewallStep[]): { made: string[]; removed: string[] } {
  const made: string[] = [], removed: string[] = [];
  for (const s of steps) {
    if (s.kind !== 'iptables') continue;
    if (s.line.op === 'declare') made.push(`${s.table} ${s.line.chain}`);
    if (s.line.op === 'remove') removed.push(`${s.table} ${s.line.chain}`);
  }
  return { made, removed };
}

/** A host with chains of ours and no record of them (an install from before the record): its chains by their names. */
export const chainsToRecord = (chains: Iterable<string>, prefix: string) => [...chains].filter((k) => isChainName(prefix, k.slice(k.indexOf(' ') + 1)));
