/**
 * The iptables backend's plan: the chain and rule changes that bring iptables (or ip6tables) from
 * what was read to what ./iptables.ts describes, within a plan's scope, and the adoption of the
 * result into the remembered state. Chains cnmd did not make (its record, RuleState.made) are never
 * removed, nor the jumps into them.
 */
import type { DesiredChain, IptablesDesired } from './iptables.js';
import { chainNames } from './iptables.js';
import type { IptLine } from '../host/iptables-text.js';
import { type ChainRules, type RuleState, type Table, chainKey, indexRule } from '../host/state.js';
import { type PlanOptions, NeedsFullReconcile, counts, inScope } from '../reconcile/scope.js';

/** A rule change; phase: 0 declare (creates, or flushes an existing chain), 1 delete rules, 2 add rules, 3 flush and delete chains */
export interface IptablesStep {
  kind: 'iptables';
  table: Table;
  phase: 0 | 1 | 2 | 3;
  line: IptLine;
  /** 6: ip6tables */
  family?: 4 | 6;
}

/** The actual body rules of a shared chain that the plan may look at: all of them, or the scope's. */
function actualBody(d: DesiredChain, actual: ChainRules, rules: RuleState, o: PlanOptions): Map<string, number> {
  const key = chainKey(d.table, d.name);
  const head = new Set(d.head);
  if (o.owners === null) return new Map([...actual].filter(([s]) => !head.has(s)));
  const out = new Map<string, number>();
  for (const owner of o.owners) {
    for (const s of rules.byOwner.get(owner)?.get(key) ?? []) {
      const n = actual.get(s);
      if (n) out.set(s, n);
    }
  }
  return out;
}

function startsWithHead(actual: ChainRules, head: string[]): boolean {
  if (head.length === 0) return true;
  let i = 0;
  for (const [s, n] of actual) {
    if (s !== head[i] || n !== 1) return false;
    if (++i === head.length) return true;
  }
  return false;
}

const step = (table: Table, phase: IptablesStep['phase'], line: IptLine): IptablesStep => ({ kind: 'iptables', table, phase, line });

function planChain(d: DesiredChain, rules: RuleState, o: PlanOptions): IptablesStep[] {
  const t = d.table;
  const actual = rules.chains.get(chainKey(t, d.name));
  const add = (s: string) => step(t, 2, { op: 'append', chain: d.name, spec: s });
  // declaring an existing chain in iptables-restore empties it: the user's chain is only ever made
  if (d.user) return actual ? [] : [step(t, 0, { op: 'declare', chain: d.name })];
  const body = d.body.filter((b) => inScope(o.owners, b.owner)).map((b) => b.spec);
  const rewrite = () => {
    // A shared chain holds rules of networks outside the scope, which a scoped plan does not know.
    if (o.owners !== null && d.owner === undefined) throw new NeedsFullReconcile(`chain ${d.name} must be rebuilt`);
    return [step(t, 0, { op: 'declare', chain: d.name }), ...d.head.map(add), ...body.map(add)];
  };
  if (!actual) return rewrite();
  if (d.owner !== undefined) {
    const same = actual.size === d.head.length && startsWithHead(actual, d.head);
    return same ? [] : rewrite();
  }
  if (!startsWithHead(actual, d.head)) return rewrite();
  const have = actualBody(d, actual, rules, o);
  const want = counts(body);
  const steps: IptablesStep[] = [];
  for (const [s, n] of have) for (let i = want.get(s) ?? 0; i < n; i++) steps.push(step(t, 1, { op: 'delete', chain: d.name, spec: s }));
  for (const [s, n] of want) for (let i = have.get(s) ?? 0; i < n; i++) steps.push(add(s));
  return steps;
}

/** The rule changes that bring iptables from actual to desired, within the scope. */
export function planIptables(desired: IptablesDesired, actual: RuleState, o: PlanOptions): IptablesStep[] {
  const steps: IptablesStep[] = [];
  const wanted = new Set(desired.chains.map((c) => chainKey(c.table, c.name)));
  for (const d of desired.chains) {
    if (d.owner !== undefined && !inScope(o.owners, d.owner)) continue;
    steps.push(...planChain(d, actual, o));
  }
  // Chains of ours that should not exist: all of them in a full plan; the scope's own chains otherwise.
  // Of ours: those cnmd made (its record); a chain named like ours that it did not make is someone else's.
  const c = chainNames(o.chainPrefix);
  const made = (key: string) => !actual.made || actual.made.has(key);
  const candidates = (
    o.owners === null
      ? [...actual.chains.keys()]
      : [...o.owners].flatMap((owner) => [chainKey('filter', c.network(owner)), chainKey('mangle', c.guardOf(owner))]).filter((k) => actual.chains.has(k))
  ).filter(made);
  for (const key of candidates) {
    if (wanted.has(key)) continue;
    const [table, name] = key.split(' ') as [Table, string];
    if (actual.chains.get(key)!.size) steps.push(step(table, 3, { op: 'flush', chain: name }));
    steps.push(step(table, 3, { op: 'remove', chain: name }));
  }
  // Hooks in built-in chains: exactly one of each desired jump, none other into chains of ours.
  const hookKeys = new Set([...desired.hooks.map((h) => chainKey(h.table, h.chain)), ...actual.hooks.keys()]);
  for (const key of hookKeys) {
    const [table, chain] = key.split(' ') as [Table, string];
    const want = new Set(desired.hooks.filter((h) => chainKey(h.table, h.chain) === key).map((h) => h.spec));
    const intoOurs = (s: string) => want.has(s) || wanted.has(chainKey(table, jumpTarget(s))) || made(chainKey(table, jumpTarget(s)));
    const have = counts((actual.hooks.get(key) ?? []).filter(intoOurs));
    for (const [s, n] of have) for (let i = want.has(s) ? 1 : 0; i < n; i++) steps.push(step(table, 1, { op: 'delete', chain, spec: s }));
    for (const s of want) if (!have.has(s)) steps.push(step(table, 2, { op: 'insert', chain, spec: s }));
  }
  return steps;
}

/** The chain a rule jumps or goes to (its -j or -g target). */
const jumpTarget = (s: string) => / -[jg] (\S+)$|^-[jg] (\S+)$/.exec(s)?.slice(1).find(Boolean) ?? '';

/** After the plan was applied: iptables holds desired within the scope. */
export function adoptIptables(rules: RuleState, desired: IptablesDesired, o: PlanOptions): void {
  const c = chainNames(o.chainPrefix);
  if (o.owners === null) {
    rules.chains = new Map();
    rules.byOwner = new Map();
  } else {
    for (const owner of o.owners) {
      for (const [key, specs] of rules.byOwner.get(owner) ?? []) for (const s of specs) rules.chains.get(key)?.delete(s);
      rules.byOwner.delete(owner);
      const kept = new Set(desired.chains.filter((x) => x.owner === owner).map((x) => chainKey(x.table, x.name)));
      for (const key of [chainKey('filter', c.network(owner)), chainKey('mangle', c.guardOf(owner))]) if (!kept.has(key)) rules.chains.delete(key);
    }
  }
  for (const d of desired.chains) {
    if (d.owner !== undefined && !inScope(o.owners, d.owner)) continue;
    const key = chainKey(d.table, d.name);
    let chain = rules.chains.get(key);
    if (d.user) {
      if (!chain) rules.chains.set(key, new Map());
      continue;
    }
    if (!chain || d.owner !== undefined || !startsWithHead(chain, d.head)) {
      const kept = chain && d.owner === undefined ? [...chain].filter(([s]) => !d.head.includes(s)) : [];
      chain = new Map([...d.head.map((h) => [h, 1] as [string, number]), ...kept]);
      rules.chains.set(key, chain);
    }
    for (const b of d.body) {
      if (!inScope(o.owners, b.owner)) continue;
      chain.set(b.spec, 1);
      indexRule(rules, b.owner, key, b.spec);
    }
  }
  rules.hooks = new Map();
  for (const h of desired.hooks) {
    const key = chainKey(h.table, h.chain);
    rules.hooks.set(key, [...(rules.hooks.get(key) ?? []), h.spec]);
  }
}
