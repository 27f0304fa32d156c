/**
 * nftables objects as data, their text for one `nft -f -` transaction, and the parser of
 * `nft -j list table`. The only place that writes nft text. Every name, address and number is
 * checked here as it is rendered: nothing but the shapes below ever reaches nft. Interface names are
 * always quoted, so that a bridge called "tcp" is never read as a keyword.
 */
import { createHash } from 'node:crypto';
import { nftLine as gate, refuse } from './text-gate.js';

/** A literal: an address, a keyword (tcp, established, local), a port; an interface name; a prefix (an interval set's element). */
export type NftValue = string | number | { name: string } | { prefix: string; len: number };

/** What a rule looks at. */
export type NftKey =
  | 'iifname' | 'oifname' | 'ip saddr' | 'ip daddr' | 'ip6 saddr' | 'ip6 daddr' | 'meta l4proto' | 'th dport' | 'ct state' | 'ct status'
  | 'fib daddr type' | 'fib saddr type' | 'meta nfproto' | 'meta mark';

/** keys (concatenated when more than one) compared to a named set (@set) or to literals (an anonymous set when several). */
export interface NftMatch {
  keys: NftKey[];
  op?: '==' | '!=';
  set?: string;
  values?: NftValue[];
  /** every one of these bits is set (`meta mark and BITS == BITS`) */
  bits?: number;
}

export type NftVerdictValue = 'accept' | 'drop' | { jump: string };

export type NftStatement =
  | NftVerdictValue
  | 'masquerade'
  | 'redirect'
  /** counted (nft list chain shows how many), then dropped */
  | 'counter drop'
  /** set these bits of the packet's mark and accept: other firewalls let marked packets pass */
  | { markAccept: number }
  | { dnat: { keys: NftKey[]; map: string; family?: 'ip' | 'ip6' } }
  | { snat: { keys: NftKey[]; map: string; family?: 'ip' | 'ip6' } }
  | 'return';

export interface NftRule {
  matches: NftMatch[];
  then?: NftStatement;
}

export type NftHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface NftChain {
  name: string;
  base?: { type: 'filter' | 'nat'; hook: NftHook; priority: number };
}

export interface NftSet {
  name: string;
  /** the key's types, concatenated when more than one */
  type: string[];
  /** a map: its value's types, or verdict */
  map?: string[] | 'verdict';
  interval?: boolean;
}

export interface NftElement {
  set: string;
  key: NftValue[];
  value?: NftValue[] | NftVerdictValue;
  /** the comment that says whose it is: "<instance>:<12 hex>" */
  owner: string;
}

export type NftOp =
  | { op: 'add table' }
  | { op: 'delete table' }
  | { op: 'add set'; set: NftSet }
  | { op: 'delete set'; set: string }
  | { op: 'add chain'; chain: NftChain }
  | { op: 'flush chain'; chain: string }
  | { op: 'delete chain'; chain: string }
  | { op: 'add rule'; chain: string; rule: NftRule }
  | { op: 'add element'; element: NftElement }
  | { op: 'delete element'; element: NftElement };

/** The table cnmd owns: inet (IPv4 and IPv6 alike), named after the instance. */
export interface NftTableRef {
  name: string;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/** an interface name; a trailing * matches every name that starts with the rest */
const IFNAME = /^[A-Za-z0-9_.@+-]{1,15}\*?$/;
const ADDR = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+(?:\.\d{1,3}(?:\.\d{1,3}){3})?)$/;
const WORD = /^[a-z][a-z0-9_-]*$/;
const OWNER = /^[a-z][a-z0-9]*:[0-9a-f]{12}$/;

const name = (n: string): string => (NAME.test(n) ? n : refuse('nft', n));

function value(v: NftValue): string {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? (v > 0xffff ? `0x${v.toString(16)}` : String(v)) : refuse('nft', String(v));
  if (typeof v === 'object' && 'name' in v) return IFNAME.test(v.name) ? `"${v.name}"` : refuse('nft', v.name);
  if (typeof v === 'object') {
    if (!ADDR.test(v.prefix) || !Number.isInteger(v.len) || v.len < 0 || v.len > 128) refuse('nft', `${v.prefix}/${v.len}`);
    return `${v.prefix}/${v.len}`;
  }
  return ADDR.test(v) || WORD.test(v) ? v : refuse('nft', v);
}

const values = (vs: NftValue[]) => vs.map(value).join(' . ');

function verdictText(v: NftVerdictValue): string {
  return typeof v === 'string' ? v : `jump ${name(v.jump)}`;
}

function matchText(m: NftMatch): string {
  const left = m.keys.join(' . ');
  const op = m.op === '!=' ? '!= ' : '';
  if (m.bits !== undefined) return `${left} and ${value(m.bits)} ${m.op === '!=' ? '!=' : '=='} ${value(m.bits)}`;
  if (m.set) return `${left} ${op}@${name(m.set)}`;
  const vs = m.values ?? [];
  return `${left} ${op}${vs.length === 1 ? value(vs[0]) : `{ ${vs.map(value).join(', ')} }`}`;
}

function statementText(s: NftStatement): string {
  if (s === 'masquerade' || s === 'redirect' || s === 'return' || s === 'counter drop') return s;
  if (typeof s === 'string' || 'jump' in s) return verdictText(s);
  if ('markAccept' in s) return `meta mark set meta mark or ${value(s.markAccept)} accept`;
  const [kind, m] = 'dnat' in s ? ['dnat', s.dnat] : ['snat', s.snat];
  return `${kind} ${m.family ?? 'ip'} to ${m.keys.join(' . ')} map @${name(m.map)}`;
}

/** A rule's text, without its comment. */
export function ruleText(r: NftRule): string {
  return [...r.matches.map(matchText), ...(r.then ? [statementText(r.then)] : [])].join(' ');
}

const tags = new WeakMap<NftRule, string>();

/**
 * The comment that identifies a rule by what it says: a rule read back with another comment is not
 * ours or not current. Kept per rule object: the table's rules are fixed objects, and every plan
 * compares all of them (rendering and hashing them each time was 0.45 ms a create).
 */
export function ruleTag(r: NftRule): string {
  let tag = tags.get(r);
  if (tag === undefined) tags.set(r, (tag = createHash('sha256').update(ruleText(r)).digest('hex').slice(0, 16)));
  return tag;
}

function elementText(e: NftElement): string {
  if (!OWNER.test(e.owner)) refuse('nft', e.owner);
  const key = `${values(e.key)} comment "${e.owner}"`;
  if (e.value === undefined) return key;
  const v = Array.isArray(e.value) ? values(e.value) : verdictText(e.value);
  return `${key} : ${v}`;
}

function setText(s: NftSet): string {
  const type = s.type.map((t) => (WORD.test(t) ? t : refuse('nft', t))).join(' . ');
  const head = s.map ? `map ${name(s.name)} { type ${type} : ${s.map === 'verdict' ? 'verdict' : s.map.join(' . ')};` : `set ${name(s.name)} { type ${type};`;
  return `${head}${s.interval ? ' flags interval;' : ''} }`;
}

function chainText(c: NftChain): string {
  if (!c.base) return `chain ${name(c.name)} { }`;
  const b = c.base;
  return `chain ${name(c.name)} { type ${b.type} hook ${b.hook} priority ${b.priority}; policy accept; }`;
}

/** One transaction: the lines of `nft -f -`, in the order given. */
export function nftScript(t: NftTableRef, ops: NftOp[]): string {
  const tbl = `inet ${name(t.name)}`;
  return ops.map((o) => gate(nftLine(tbl, o))).join('\n') + '\n';
}

/** One change as a command a person would type (the reconcile report). */
export const describeNft = (t: NftTableRef, o: NftOp): string => `nft ${nftLine(`inet ${t.name}`, o)}`;

function nftLine(tbl: string, o: NftOp): string {
  switch (o.op) {
    case 'add table': return `add table ${tbl}`;
    case 'delete table': return `delete table ${tbl}`;
    case 'add set': return `add ${setText(o.set).replace(/^(set|map) /, `$1 ${tbl} `)}`;
    case 'delete set': return `delete set ${tbl} ${name(o.set)}`;
    case 'add chain': return `add ${chainText(o.chain).replace(/^chain /, `chain ${tbl} `)}`;
    case 'flush chain': return `flush chain ${tbl} ${name(o.chain)}`;
    case 'delete chain': return `delete chain ${tbl} ${name(o.chain)}`;
    case 'add rule': return `add rule ${tbl} ${name(o.chain)} ${ruleText(o.rule)} comment "${ruleTag(o.rule)}"`;
    case 'add element': return `add element ${tbl} ${name(o.element.set)} { ${elementText(o.element)} }`;
    case 'delete element': return `delete element ${tbl} ${name(o.element.set)} { ${values(o.element.key)} }`;
  }
}

/** An element as the plan compares it: its key's text, its value's text, its owner. */
/** A prefix as nft lists it: a single address (a /32 or /128) without its length. */
const prefixText = (addr: string, len: number) => (len === (addr.includes(':') ? 128 : 32) ? addr : `${addr}/${len}`);

export const keyText = (k: NftValue[]) => k.map((v) => (typeof v !== 'object' ? String(v) : 'name' in v ? v.name : prefixText(v.prefix, v.len))).join(' . ');
export const valueText = (v: NftElement['value']): string =>
  v === undefined ? '' : Array.isArray(v) ? keyText(v) : typeof v === 'string' ? v : `jump ${v.jump}`;

export interface NftSetState {
  type: string[];
  map?: string[] | 'verdict';
  interval: boolean;
  /** by key text */
  elements: Map<string, { value: string; owner?: string }>;
  /** owner comment -> the keys of its elements: a scoped plan looks at its owners' elements only */
  byOwner: Map<string, Set<string>>;
}

/** Sets an element of a set's state, keeping the owner index. */
export function putElement(set: NftSetState, key: string, e: { value: string; owner?: string }): void {
  dropElement(set, key);
  set.elements.set(key, e);
  if (e.owner) {
    let keys = set.byOwner.get(e.owner);
    if (!keys) set.byOwner.set(e.owner, (keys = new Set()));
    keys.add(key);
  }
}

export function dropElement(set: NftSetState, key: string): void {
  const owner = set.elements.get(key)?.owner;
  set.elements.delete(key);
  if (owner) set.byOwner.get(owner)?.delete(key);
}

export interface NftChainState {
  base?: NftChain['base'];
  /** its rules' comments, in order ('' for a rule without one) */
  tags: string[];
}

export interface NftState {
  sets: Map<string, NftSetState>;
  chains: Map<string, NftChainState>;
}

type Json = unknown;
const obj = (x: Json) => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, Json>) : undefined);

/** An element's key or value from nft's JSON: a literal, a prefix, a concatenation, a verdict. */
function jsonValue(x: Json): string {
  if (typeof x === 'string' || typeof x === 'number') return String(x);
  const o = obj(x);
  if (!o) return '';
  if (Array.isArray(o.concat)) return o.concat.map(jsonValue).join(' . ');
  const p = obj(o.prefix);
  if (p) return prefixText(String(p.addr), Number(p.len));
  if ('accept' in o) return 'accept';
  if ('drop' in o) return 'drop';
  const j = obj(o.jump);
  if (j) return `jump ${String(j.target)}`;
  return JSON.stringify(x);
}

function jsonElement(e: Json, isMap: boolean): [string, { value: string; owner?: string }] {
  const [k, v] = isMap && Array.isArray(e) ? e : [e, undefined];
  const inner = obj(obj(k)?.elem);
  const key = inner ? inner.val : k;
  const owner = inner && typeof inner.comment === 'string' ? inner.comment : undefined;
  return [jsonValue(key), { value: v === undefined ? '' : jsonValue(v), ...(owner ? { owner } : {}) }];
}

const types = (t: Json): string[] => (Array.isArray(t) ? t.map(String) : [String(t)]);

/** `nft -j list table inet NAME` -> the table's sets, maps and chains. */
export function parseNftTable(text: string): NftState {
  const state: NftState = { sets: new Map(), chains: new Map() };
  const list = (obj(JSON.parse(text))?.nftables ?? []) as Json[];
  for (const item of list) {
    const o = obj(item) ?? {};
    const s = obj(o.set) ?? obj(o.map);
    if (s) {
      const isMap = !!obj(o.map);
      const map = isMap ? (s.map === 'verdict' ? 'verdict' : String(s.map).split(' . ')) : undefined;
      const set: NftSetState = { type: types(s.type), ...(map ? { map } : {}), interval: types(s.flags ?? []).includes('interval'), elements: new Map(), byOwner: new Map() };
      for (const e of (s.elem ?? []) as Json[]) putElement(set, ...jsonElement(e, isMap));
      state.sets.set(String(s.name), set);
      continue;
    }
    const c = obj(o.chain);
    if (c) {
      const base = c.hook ? { type: String(c.type) as 'filter' | 'nat', hook: String(c.hook) as NftHook, priority: Number(c.prio) } : undefined;
      state.chains.set(String(c.name), { ...(base ? { base } : {}), tags: [] });
      continue;
    }
    const r = obj(o.rule);
    if (r) state.chains.get(String(r.chain))?.tags.push(typeof r.comment === 'string' ? r.comment : '');
  }
  return state;
}
