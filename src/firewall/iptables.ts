/**
 * The iptables backend: the intent (./intent.ts) as chains of our own, and the plan that brings
 * iptables there through one `iptables-restore --noflush`. Chains, for prefix P (the instance in
 * capitals):
 *
 * filter FORWARD   -j P-FORWARD                          (hook)
 * P-FORWARD        -j P-USER, -j P-DEST, -j P-SRC        (head)
 * P-USER           never filled by cnmd, never flushed: the place for a user's own rules (DOCKER-USER)
 * P-DEST           -o BR -j P-N-<id>                     one per network: traffic into a network
 * P-N-<id>         established -> ACCEPT; from BR itself -> ACCEPT (icc) or DROP; DNATed -> ACCEPT
 *                  (not internal); anything else -> DROP. So traffic from other networks (isolation)
 *                  and from outside (no direct access) ends here.
 * P-SRC            -i BR -j ACCEPT (or DROP if internal)  one per network: traffic out of a network, which
 *                  P-DEST did not claim, so it leaves for a link that is not one of our bridges
 * filter INPUT     -j P-INPUT: DNS to the gateways of networks the embedded server answers on
 * nat POSTROUTING  -j P-POSTROUTING: -s SUBNET ! -o BR -j MASQUERADE (or SNAT), the host's own
 *                  connections to published ports, a container reaching its own published port
 * nat PREROUTING, OUTPUT -> P-DNAT, P-DNAT-LO (published ports), P-DNS (127.0.0.11 -> the server)
 * mangle PREROUTING -> P-GUARD -> P-G-<container>: before the DNAT, a published port with an
 *                  allow-list returns for the sources it allows and drops the rest
 *
 * Two rules per network in shared chains and one chain of its own: iptables-nft's cost for changing
 * existing rules grows with the size of the table, so fewer rules keep deletes cheap.
 */
import type { FirewallIntent, NetworkIntent, PortIntent } from './intent.js';
import { isIPv6Port, isLoopbackPort } from './intent.js';
import { type IptLine, type IptRule, dnatTo, ruleSpec } from '../host/iptables-text.js';
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

/** A chain of ours. head: fixed rules first, in order; body: rules of any order, each with an owner. */
export interface DesiredChain {
  table: Table;
  name: string;
  head: string[];
  body: Array<{ spec: string; owner: string }>;
  /** a chain that belongs to one network as a whole (rules strictly ordered, no body) */
  owner?: string;
  /** the user's chain: made when missing, its rules never looked at */
  user?: boolean;
}

/** A rule in a built-in chain that jumps into ours. */
export interface DesiredHook {
  table: Table;
  chain: string;
  spec: string;
}

export interface IptablesDesired {
  chains: DesiredChain[];
  hooks: DesiredHook[];
}

export const chainNames = (prefix: string) => ({
  forward: `${prefix}-FORWARD`,
  user: `${prefix}-USER`,
  dest: `${prefix}-DEST`,
  src: `${prefix}-SRC`,
  postrouting: `${prefix}-POSTROUTING`,
  input: `${prefix}-INPUT`,
  dnat: `${prefix}-DNAT`,
  dnatLocal: `${prefix}-DNAT-LO`,
  dns: `${prefix}-DNS`,
  guard: `${prefix}-GUARD`,
  network: (owner: string) => `${prefix}-N-${owner}`,
  /** a container's published ports with allow-lists */
  guardOf: (owner: string) => `${prefix}-G-${owner}`,
});

const spec = ruleSpec;

/** The shared chains and hooks every network hangs off; for IPv6 without the 127.0.0.x ones (DNS, ports on loopback). */
function base(prefix: string, family: 4 | 6): IptablesDesired {
  const c = chainNames(prefix);
  const jump = (chain: string): IptRule => ({ target: { jump: chain } });
  if (family === 6) {
    const v4 = base(prefix, 4);
    const hooks: DesiredHook[] = [
      { table: 'filter', chain: 'FORWARD', spec: spec(jump(c.forward)) },
      { table: 'filter', chain: 'INPUT', spec: spec(jump(c.input)) },
      { table: 'nat', chain: 'POSTROUTING', spec: spec(jump(c.postrouting)) },
      { table: 'nat', chain: 'PREROUTING', spec: spec({ dstType: 'LOCAL', target: { jump: c.dnat } }) },
      // the host's own ::1 cannot be DNATed out of loopback (IPv6 has no route_localnet): the daemon's proxy serves it
      { table: 'nat', chain: 'OUTPUT', spec: spec({ dst: '::1', notDst: true, dstType: 'LOCAL', target: { jump: c.dnat } }) },
      { table: 'mangle', chain: 'PREROUTING', spec: spec({ dstType: 'LOCAL', target: { jump: c.guard } }) },
    ];
    return { chains: v4.chains.filter((x) => x.name !== c.dns && x.name !== c.dnatLocal), hooks };
  }
  return {
    chains: [
      { table: 'filter', name: c.forward, head: [spec(jump(c.user)), spec(jump(c.dest)), spec(jump(c.src))], body: [] },
      { table: 'filter', name: c.user, head: [], body: [], user: true },
      { table: 'filter', name: c.dest, head: [], body: [] },
      { table: 'filter', name: c.src, head: [], body: [] },
      { table: 'filter', name: c.input, head: [], body: [] },
      { table: 'nat', name: c.postrouting, head: [], body: [] },
      { table: 'nat', name: c.dnat, head: [], body: [] },
      { table: 'nat', name: c.dnatLocal, head: [], body: [] },
      { table: 'mangle', name: c.guard, head: [], body: [] },
      // queries to 127.0.0.11 arrive from sandboxes on their gateway: to the server on that gateway
      { table: 'nat', name: c.dns, head: (['udp', 'tcp'] as const).map((proto) => spec({ proto, dport: 53, target: 'REDIRECT' })), body: [] },
    ],
    hooks: [
      { table: 'filter', chain: 'FORWARD', spec: spec(jump(c.forward)) },
      // the embedded DNS server on the gateways, even when the host's INPUT policy drops (ufw and the like)
      { table: 'filter', chain: 'INPUT', spec: spec(jump(c.input)) },
      { table: 'nat', chain: 'POSTROUTING', spec: spec(jump(c.postrouting)) },
      // published ports: from other machines and from the host itself (127.0.0.1 included) …
      { table: 'nat', chain: 'PREROUTING', spec: spec({ dst: '127.0.0.11', notDst: true, dstType: 'LOCAL', target: { jump: c.dnat } }) },
      // … except DNS queries of sandboxes, even when a container publishes port 53
      { table: 'nat', chain: 'PREROUTING', spec: spec({ dst: '127.0.0.11', target: { jump: c.dns } }) },
      { table: 'nat', chain: 'OUTPUT', spec: spec({ dstType: 'LOCAL', target: { jump: c.dnat } }) },
      // … and ports bound to a loopback address, from the host only: never reachable from outside
      { table: 'nat', chain: 'OUTPUT', spec: spec({ dst: '127.0.0.0/8', target: { jump: c.dnatLocal } }) },
      // allow-lists of published ports, before the DNAT
      { table: 'mangle', chain: 'PREROUTING', spec: spec({ dstType: 'LOCAL', target: { jump: c.guard } }) },
    ],
  };
}

type Placed = { table: Table; chain: string; spec: string };

function networkRules(n: NetworkIntent, prefix: string, comment: string, family: 4 | 6): { chain: DesiredChain; rules: Placed[] } {
  const c = chainNames(prefix);
  const own = c.network(n.owner);
  const br = n.bridge;
  const head = [
    spec({ ctstate: 'RELATED,ESTABLISHED', target: 'ACCEPT' }),
    spec({ in: br, target: n.icc ? 'ACCEPT' : 'DROP' }),
    // published ports: connections our DNAT rules redirected into this network
    ...(n.internal ? [] : [spec({ ctstate: 'DNAT', target: 'ACCEPT' })]),
    spec({ target: 'DROP' }),
  ];
  const rules: Placed[] = [
    { table: 'filter', chain: c.dest, spec: spec({ out: br, comment, target: { jump: own } }) },
    { table: 'filter', chain: c.src, spec: spec({ in: br, comment, target: n.internal ? 'DROP' : 'ACCEPT' }) },
  ];
  const nat = family === 4 ? n.nat4 : n.nat6;
  if (nat) {
    const target = nat.kind === 'snat' ? { snat: nat.source } : 'MASQUERADE';
    for (const sub of family === 4 ? n.subnets4 : n.subnets6) rules.push({ table: 'nat', chain: c.postrouting, spec: spec({ src: sub, out: br, notOut: true, comment, target }) });
  }
  if (n.dns && family === 4) {
    for (const proto of ['udp', 'tcp'] as const) rules.push({ table: 'filter', chain: c.input, spec: spec({ in: br, proto, dport: 53, comment, target: 'ACCEPT' }) });
  }
  if (n.hostMasquerade) rules.push({ table: 'nat', chain: c.postrouting, spec: spec({ out: br, srcType: 'LOCAL', comment, target: 'MASQUERADE' }) });
  return { chain: { table: 'filter', name: own, head, body: [], owner: n.owner }, rules };
}

function portRules(p: PortIntent, prefix: string, comment: string): Placed[] {
  const c = chainNames(prefix);
  const any = p.hostIp === '0.0.0.0' || p.hostIp === '::';
  return [
    {
      table: 'nat', chain: isLoopbackPort(p) ? c.dnatLocal : c.dnat,
      spec: spec({ ...(any ? {} : { dst: p.hostIp }), proto: p.proto, dport: p.hostPort, comment, target: { dnat: dnatTo(p.ip, p.port) } }),
    },
    // a container reaching its own published port through the host: the reply must come back the same way
    { table: 'nat', chain: c.postrouting, spec: spec({ src: p.ip, dst: p.ip, proto: p.proto, dport: p.port, comment, target: 'MASQUERADE' }) },
  ];
}

/**
 * The chains and hooks of an intent for one family (4: iptables, 6: ip6tables): rules in
 * iptables-save's canonical form, each tagged with its owner. IPv6 rules are for networks with IPv6.
 */
export function iptablesDesired(intent: FirewallIntent, o: Pick<PlanOptions, 'instance' | 'chainPrefix'>, family: 4 | 6 = 4): IptablesDesired {
  if (!intent.enabled) return { chains: [], hooks: [] };
  const d = base(o.chainPrefix, family);
  const shared = new Map(d.chains.map((c) => [chainKey(c.table, c.name), c]));
  const place = (rules: Placed[], owner: string) => {
    for (const r of rules) shared.get(chainKey(r.table, r.chain))!.body.push({ spec: r.spec, owner });
  };
  for (const n of intent.networks) {
    if (family === 6 && !n.subnets6.length) continue;
    const { chain, rules } = networkRules(n, o.chainPrefix, `${o.instance}:${n.owner}`, family);
    d.chains.push(chain);
    place(rules, n.owner);
  }
  // routed ports (a network made on nftables) are not DNATed, and their direct access is nftables' alone;
  // ports on ::1 are the daemon's proxy's
  const ports = intent.ports.filter((p) => isIPv6Port(p) === (family === 6) && !p.routed && p.hostIp !== '::1');
  for (const p of ports) place(portRules(p, o.chainPrefix, `${o.instance}:${p.owner}`), p.owner);
  for (const [owner, list] of guarded(ports)) {
    const chain = chainNames(o.chainPrefix).guardOf(owner);
    d.chains.push({ table: 'mangle', name: chain, head: list.flatMap(guardRules), body: [], owner });
    place([{ table: 'mangle', chain: chainNames(o.chainPrefix).guard, spec: spec({ comment: `${o.instance}:${owner}`, target: { jump: chain } }) }], owner);
  }
  return d;
}

/** The published ports with an allow-list, by container (ports bound to loopback are the host's own). */
function guarded(ports: PortIntent[]): Map<string, PortIntent[]> {
  const out = new Map<string, PortIntent[]>();
  for (const p of ports) if (p.allow && !isLoopbackPort(p)) out.set(p.owner, [...(out.get(p.owner) ?? []), p]);
  return out;
}

/** A port's allowed sources of its family return (on to the DNAT); every other source is dropped. */
function guardRules(p: PortIntent): string[] {
  const v6 = isIPv6Port(p);
  const to = { ...(p.hostIp === '0.0.0.0' || p.hostIp === '::' ? {} : { dst: p.hostIp }), proto: p.proto, dport: p.hostPort };
  return [...(p.allow ?? []).filter((a) => a.includes(':') === v6).map((src) => spec({ src, ...to, target: { jump: 'RETURN' } })), spec({ ...to, target: 'DROP' })];
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

/** Whether a chain's name is one the iptables backend gives (the record starts from these on a host that had none). */
export function isChainName(prefix: string, name: string): boolean {
  const c = chainNames(prefix);
  return [c.forward, c.user, c.dest, c.src, c.postrouting, c.input, c.dnat, c.dnatLocal, c.dns, c.guard].includes(name) || new RegExp(`^${prefix}-[NG]-[0-9a-f]{12}$`).test(name);
}

/** The "table chain" keys of the chains an iptables plan makes or keeps: what cnmd records as made. */
export const chainKeys = (d: IptablesDesired) => d.chains.map((c) => chainKey(c.table, c.name));

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

/**
 * What the nftables backend keeps in iptables where iptables is there: an accept, at the head of
 * FORWARD and INPUT, for packets cnmd's nftables chains accepted (they carry its mark), so that an
 * iptables policy of DROP (a Docker engine sets one on FORWARD; ufw on INPUT) does not undo them.
 * Planned fully, this also takes away every other chain of ours: iptables -> nftables migration.
 */
export function besideNftables(prefix: string, mark: number): IptablesDesired {
  const c = chainNames(prefix);
  const head = [spec({ mark, target: 'ACCEPT' })];
  return {
    chains: [
      { table: 'filter', name: c.forward, head, body: [] },
      { table: 'filter', name: c.input, head, body: [] },
    ],
    hooks: [
      { table: 'filter', chain: 'FORWARD', spec: spec({ target: { jump: c.forward } }) },
      { table: 'filter', chain: 'INPUT', spec: spec({ target: { jump: c.input } }) },
    ],
  };
}
