/**
 * Desired host state: what the drivers say should exist. Every object names its owner (the first 12
 * hex of a network id) or none for the shared base (hooks, shared chains), so that a reconcile can
 * be scoped to the networks a request touched.
 */
import type { Table } from '../host/state.js';

export interface DesiredLink {
  name: string;
  kind: 'bridge';
  /** ifalias that marks it as ours: "<instance>:<network id>" */
  alias: string;
  mtu: number;
  addresses: string[];
  owner: string;
}

/** A chain of ours. head: fixed rules first, in order; body: rules of any order, each with an owner. */
export interface DesiredChain {
  table: Table;
  name: string;
  head: string[];
  body: Array<{ spec: string; owner: string }>;
  /** a chain that belongs to one network as a whole (rules strictly ordered, no body) */
  owner?: string;
}

/** A rule in a built-in chain that jumps into ours. */
export interface DesiredHook {
  table: Table;
  chain: string;
  spec: string;
}

export interface DesiredState {
  links: DesiredLink[];
  chains: DesiredChain[];
  hooks: DesiredHook[];
  sysctls: Array<{ key: string; value: string }>;
}

/** What one network contributes: its links, its own chains, and rules in the shared chains. */
export interface NetworkObjects {
  links: DesiredLink[];
  chains: DesiredChain[];
  rules: Array<{ table: Table; chain: string; spec: string }>;
  sysctls: Array<{ key: string; value: string }>;
}

export const emptyObjects = (): NetworkObjects => ({ links: [], chains: [], rules: [], sysctls: [] });
