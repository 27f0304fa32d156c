/**
 * The nftables backend's plan: the operations, in one `nft -f -` transaction, that bring the table
 * from what `nft -j` read to what ./nftables.ts describes, within a plan's scope (elements by owner,
 * chains by their rules' tags), and the adoption of the result into the remembered state.
 */
import type { NftDesired } from './nftables.js';
import { prefix } from './nftables.js';
import {
  type NftChain, type NftChainState, type NftElement, type NftOp, type NftSet, type NftSetState, type NftState,
  dropElement, keyText, putElement, ruleTag, valueText,
} from '../host/nft.js';
import { type PlanOptions, NeedsFullReconcile, inScope } from '../reconcile/scope.js';
import { keptOf } from '../frozen.js';

export interface NftStep {
  kind: 'nft';
  /** the table's name (the instance) */
  table: string;
  op: NftOp;
}

const sameBase = (a: NftChain['base'], b: NftChain['base']) =>
  a?.type === b?.type && a?.hook === b?.hook && a?.priority === b?.priority;

const sameSet = (d: NftSet, a: NonNullable<ReturnType<NftState['sets']['get']>>) =>
  d.type.join() === a.type.join() && String(d.map ?? '') === String(a.map ?? '') && !!d.interval === a.interval;

const ownerOf = (comment: string | undefined) => comment?.slice(comment.indexOf(':') + 1);

/**
 * A desired element's key and value as the table lists them, kept per element: a network's elements
 * are frozen objects kept while it is unchanged (./nftables.ts), and every full plan compares them all
 * (src/frozen.ts).
 */
const textsOf = keptOf((e: NftElement) => ({ key: keyText(e.key), value: valueText(e.value) }));

/** Everything, on an empty table (or after deleting one that cannot be mended in place). */
function build(d: NftDesired, from: 'missing' | 'rebuild'): NftOp[] {
  return [
    ...(from === 'rebuild' ? [{ op: 'delete table' } as const] : []),
    { op: 'add table' },
    ...d.sets.map((set) => ({ op: 'add set', set }) as const),
    ...d.chains.map(({ name, base }) => ({ op: 'add chain', chain: { name, ...(base ? { base } : {}) } }) as const),
    ...d.elements.map((element) => ({ op: 'add element', element }) as const),
    ...d.chains.flatMap((c) => c.rules.map((rule) => ({ op: 'add rule', chain: c.name, rule }) as const)),
  ];
}

/** What brings the table from actual to desired, within the scope; undefined actual: the table is missing. */
export function planNftables(d: NftDesired, actual: NftState | undefined, o: PlanOptions): NftStep[] {
  const wrap = (ops: NftOp[]) => ops.map((op): NftStep => ({ kind: 'nft', table: o.instance, op }));
  const full = o.owners === null;
  const needsBuild = !actual ? 'missing' : d.sets.some((s) => actual.sets.has(s.name) && !sameSet(s, actual.sets.get(s.name)!)) ||
    d.chains.some((c) => actual.chains.has(c.name) && !sameBase(c.base, actual.chains.get(c.name)!.base)) ? 'rebuild' : undefined;
  const missingSet = actual && d.sets.some((s) => !actual.sets.has(s.name));
  if ((needsBuild || missingSet) && !full) throw new NeedsFullReconcile('the nftables table must be rebuilt');
  if (needsBuild || !actual) return wrap(build(d, needsBuild ?? 'missing'));
  const ops: { sets: NftOp[]; chains: NftOp[]; flush: NftOp[]; del: NftOp[]; add: NftOp[]; rules: NftOp[]; drop: NftOp[] } = {
    sets: [], chains: [], flush: [], del: [], add: [], rules: [], drop: [],
  };
  for (const s of d.sets) if (!actual.sets.has(s.name)) ops.sets.push({ op: 'add set', set: s });
  for (const c of d.chains) {
    const a: NftChainState | undefined = actual.chains.get(c.name);
    if (!a) ops.chains.push({ op: 'add chain', chain: { name: c.name, ...(c.base ? { base: c.base } : {}) } });
    if (c.user) continue;
    const want = c.rules.map(ruleTag);
    if (a && a.tags.length === want.length && a.tags.every((t, i) => t === want[i])) continue;
    if (a) ops.flush.push({ op: 'flush chain', chain: c.name });
    for (const rule of c.rules) ops.rules.push({ op: 'add rule', chain: c.name, rule });
  }
  planElements(d, actual, o, ops);
  if (full) {
    const chains = new Set(d.chains.map((c) => c.name));
    const extra = [...actual.chains.keys()].filter((c) => !chains.has(c));
    for (const c of extra) ops.flush.push({ op: 'flush chain', chain: c });
    for (const c of extra) ops.drop.push({ op: 'delete chain', chain: c });
    const sets = new Set(d.sets.map((s) => s.name));
    for (const s of actual.sets.keys()) if (!sets.has(s)) ops.drop.push({ op: 'delete set', set: s });
  }
  return wrap([...ops.sets, ...ops.chains, ...ops.flush, ...ops.del, ...ops.add, ...ops.rules, ...ops.drop]);
}

function planElements(d: NftDesired, actual: NftState, o: PlanOptions, ops: { del: NftOp[]; add: NftOp[] }): void {
  const bySet = new Map<string, NftElement[]>();
  for (const e of d.elements) {
    if (!inScope(o.owners, ownerOf(e.owner))) continue;
    // in place: a copy per element made a full plan's cost grow with the square of the networks
    const list = bySet.get(e.set);
    if (list) list.push(e);
    else bySet.set(e.set, [e]);
  }
  const comments = o.owners === null ? [] : [...o.owners].map((owner) => `${o.instance}:${owner}`);
  for (const s of d.sets) {
    const set = actual.sets.get(s.name);
    const want = new Map((bySet.get(s.name) ?? []).map((e) => [textsOf(e).key, e]));
    // what the plan may look at: every element in a full plan; else the scope's, and those in the way of its own
    const keys = !set ? [] : o.owners === null ? [...set.elements.keys()] : [...new Set([...comments.flatMap((c) => [...(set.byOwner.get(c) ?? [])]), ...want.keys()])];
    for (const key of keys) {
      const a = set!.elements.get(key);
      if (!a) continue;
      const w = want.get(key);
      if (w && textsOf(w).value === a.value && w.owner === a.owner) continue;
      ops.del.push({ op: 'delete element', element: w ?? { set: s.name, key: keyFromText(key, s), owner: a.owner ?? '' } });
    }
    for (const [key, w] of want) {
      const a = set?.elements.get(key);
      if (!a || textsOf(w).value !== a.value || w.owner !== a.owner) ops.add.push({ op: 'add element', element: w });
    }
  }
}

/** A key read back, as the values a delete names it by (numbers stay numbers, prefixes prefixes). */
function keyFromText(key: string, set: NftSet): NftElement['key'] {
  return key.split(' . ').map((v, i) => (set.type[i] === 'ifname' ? { name: v } : /^\d+$/.test(v) ? Number(v) : v.includes('/') ? prefix(v) : v));
}

/** After the plan was applied: the table holds desired within the scope. Costs O(scope) for a scoped plan. */
export function adoptNftables(state: NftState | undefined, d: NftDesired, o: PlanOptions): NftState {
  const next: NftState = state ?? { sets: new Map(), chains: new Map() };
  for (const c of d.chains) {
    const tags = c.user ? (next.chains.get(c.name)?.tags ?? []) : c.rules.map(ruleTag);
    next.chains.set(c.name, { ...(c.base ? { base: c.base } : {}), tags });
  }
  if (o.owners === null) for (const name of [...next.chains.keys()]) if (!d.chains.some((c) => c.name === name)) next.chains.delete(name);
  const comments = o.owners === null ? [] : [...o.owners].map((owner) => `${o.instance}:${owner}`);
  for (const s of d.sets) {
    const prev = next.sets.get(s.name);
    const fresh = o.owners === null || !prev || !sameSet(s, prev);
    const set: NftSetState = fresh ? { type: s.type, ...(s.map ? { map: s.map } : {}), interval: !!s.interval, elements: new Map(), byOwner: new Map() } : prev;
    if (!fresh) for (const c of comments) for (const key of [...(set.byOwner.get(c) ?? [])]) dropElement(set, key);
    next.sets.set(s.name, set);
  }
  if (o.owners === null) for (const name of [...next.sets.keys()]) if (!d.sets.some((s) => s.name === name)) next.sets.delete(name);
  for (const e of d.elements) {
    if (!inScope(o.owners, ownerOf(e.owner))) continue;
    const t = textsOf(e);
    putElement(next.sets.get(e.set)!, t.key, { value: t.value, owner: e.owner });
  }
  return next;
}
