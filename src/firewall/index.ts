/**
 * The firewall: the intent (./intent.ts) rendered by the backend in use. The reconciler plans and
 * adopts through here only; a new backend is one more module and one more case below.
 */
import type { FirewallIntent } from './intent.js';
import type { HostState } from '../host/state.js';
import type { PlanOptions } from '../reconcile/scope.js';
import { type IptablesDesired, besideNftables, chainKeys, iptablesDesired, isChainName } from './iptables.js';
import { type IptablesStep, adoptIptables, planIptables } from './iptables-plan.js';
import { ACCEPT_MARK, nftDesired } from './nftables.js';
import { type NftStep, adoptNftables, planNftables } from './nftables-plan.js';

export type FirewallStep = IptablesStep | NftStep;
export type { FirewallBackendName } from './intent.js';

/** The iptables desired of the backend in use, per family: its chains, or the marked accepts the nftables backend keeps there. */
function iptablesOf(intent: FirewallIntent, o: PlanOptions, family: 4 | 6): IptablesDesired | undefined {
  if (!intent.enabled) return undefined;
  if ((o.firewall ?? 'iptables') === 'iptables') return iptablesDesired(intent, o, family);
  return o.firewall === 'nftables' && o.besideIptables ? besideNftables(o.chainPrefix, ACCEPT_MARK) : undefined;
}

const FAMILIES = [4, 6] as const;
const rulesOf = (state: HostState, family: 4 | 6) => (family === 4 ? state.rules : state.rules6);
const v6 = (steps: IptablesStep[]) => steps.map((s): IptablesStep => ({ ...s, family: 6 }));

/**
 * The other backend's objects, when the host has its tool: the nftables backend keeps marked accepts in
 * iptables and ip6tables (besideNftables) and so removes the iptables backend's chains; the iptables
 * backend removes the nftables table (read only at start: a migration happens when the daemon starts on
 * a new backend).
 */
export function planFirewall(intent: FirewallIntent, actual: HostState, o: PlanOptions): FirewallStep[] {
  if (!intent.enabled || o.firewall === 'none') return [];
  const steps: FirewallStep[] = o.firewall === 'nftables' ? planNftables(nftDesired(intent, o.instance), actual.nft, o) : [];
  for (const family of FAMILIES) {
    const d = iptablesOf(intent, o, family);
    if (!d || rulesOf(actual, family).unavailable) continue;
    const planned = planIptables(d, rulesOf(actual, family), o);
    steps.push(...(family === 6 ? v6(planned) : planned));
  }
  if ((o.firewall ?? 'iptables') === 'iptables' && o.owners === null && actual.nft) steps.push({ kind: 'nft', table: o.instance, op: { op: 'delete table' } });
  return steps;
}

export function adoptFirewall(state: HostState, intent: FirewallIntent, o: PlanOptions): void {
  if (!intent.enabled || o.firewall === 'none') return;
  if (o.firewall === 'nftables') state.nft = adoptNftables(state.nft, nftDesired(intent, o.instance), o);
  else if (o.owners === null) delete state.nft;
  for (const family of FAMILIES) {
    const d = iptablesOf(intent, o, family);
    if (d && !rulesOf(state, family).unavailable) adoptIptables(rulesOf(state, family), d, o);
  }
}

/** A chain's key in the record: "table chain", "6:table chain" for ip6tables. */
const recordKey = (family: 4 | 6 | undefined, key: string) => (family === 6 ? `6:${key}` : key);

/** The iptables chains this intent keeps, on the backend in use (record keys): recorded as made before a plan runs. */
export function keptChains(intent: FirewallIntent, o: PlanOptions): string[] {
  return FAMILIES.flatMap((family) => {
    const d = iptablesOf(intent, o, family);
    return d ? chainKeys(d).map((k) => recordKey(family, k)) : [];
  });
}

/** The chains an iptables plan makes and removes (record keys): the record follows them. */
export function chainChanges(steps: FirewallStep[]): { made: string[]; removed: string[] } {
  const made: string[] = [], removed: string[] = [];
  for (const s of steps) {
    if (s.kind !== 'iptables') continue;
    const key = recordKey(s.family, `${s.table} ${s.line.chain}`);
    if (s.line.op === 'declare') made.push(key);
    if (s.line.op === 'remove') removed.push(key);
  }
  return { made, removed };
}

/** A record key's family and "table chain". */
export const fromRecordKey = (key: string): [4 | 6, string] => (key.startsWith('6:') ? [6, key.slice(2)] : [4, key]);

/** A host with chains of ours and no record of them (an install from before the record): its chains by their names. */
export const chainsToRecord = (state: HostState, prefix: string) =>
  FAMILIES.flatMap((f) => [...rulesOf(state, f).chains.keys()].filter((k) => isChainName(prefix, k.slice(k.indexOf(' ') + 1))).map((k) => recordKey(f, k)));
