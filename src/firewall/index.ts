/**
 * The firewall: the intent (./intent.ts) rendered by the backend in use. The reconciler plans and
 * adopts through here only; a new backend is one more module and one more case below.
 */
import type { FirewallIntent } from './intent.js';
import type { HostState } from '../host/state.js';
import type { PlanOptions } from '../reconcile/scope.js';
import { type IptablesStep, adoptIptables, iptablesDesired, planIptables } from './iptables.js';
import { type NftStep, adoptNftables, nftDesired, planNftables } from './nftables.js';

export type FirewallStep = IptablesStep | NftStep;
export type { FirewallBackendName } from './intent.js';

export function planFirewall(intent: FirewallIntent, actual: HostState, o: PlanOptions): FirewallStep[] {
  if (!intent.enabled) return [];
  switch (o.firewall ?? 'iptables') {
    case 'iptables': return planIptables(iptablesDesired(intent, o), actual.rules, o);
    case 'nftables': return planNftables(nftDesired(intent, o.instance), actual.nft, o);
    case 'none': return [];
  }
}

export function adoptFirewall(state: HostState, intent: FirewallIntent, o: PlanOptions): void {
  if (!intent.enabled) return;
  switch (o.firewall ?? 'iptables') {
    case 'iptables': adoptIptables(state.rules, iptablesDesired(intent, o), o); break;
    case 'nftables': state.nft = adoptNftables(state.nft, nftDesired(intent, o.instance), o); break;
    case 'none': break;
  }
}
