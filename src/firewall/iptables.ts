/**
 * The iptables backend: the intent (./intent.ts) as chains of our own, for iptables and ip6tables;
 * ./iptables-plan.ts brings the host there through one `iptables-restore --noflush` (and one
 * `ip6tables-restore`). Chains, for prefix P (the instance in capitals):
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
 * filter INPUT     -j P-INPUT: -p udp --dport 4789 -j P-VXLAN (with overlay networks: -s MEMBER -j RETURN
 *                  for each member of the cluster, then DROP: the underlay guard);
 *                  -d 127.0.0.0/8 -i BR, not a reply -> DROP (the localhost guard);
 *                  DNS to the gateways of networks the embedded server answers on
 * nat POSTROUTING  -j P-POSTROUTING: -s SUBNET ! -o BR -j MASQUERADE (or SNAT), the host's own
 *                  connections to published ports, a container reaching its own published port
 * nat PREROUTING, OUTPUT -> P-DNAT, P-DNAT-LO (published ports), P-DNS (127.0.0.11 -> the server)
 * mangle PREROUTING -> P-GUARD -> P-G-<container>: before the DNAT, a published port with an
 *                  allow-list returns for the sources it allows and drops the rest
 *
 * Three rules per network in shared chains and one chain of its own: iptables-nft's cost for changing
 * existing rules grows with the size of the table, so fewer rules keep deletes cheap.
 */
import type { FirewallIntent, NetworkIntent, PortIntent } from './intent.js';
import { WIREGUARD_LINK_PREFIX, isIPv6Port, isLoopbackPort } from './intent.js';
import { type IptRule, dnatTo, ruleSpec } from '../host/iptables-text.js';
import { type Table, chainKey } from '../host/state.js';
import type { PlanOptions } from '../reconcile/scope.js';

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
  /** the underlay guard: VXLAN from the cluster's members returns, the rest is dropped (and counted by the rule) */
  vxlan: `${prefix}-VXLAN`,
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
  // the localhost guard: the bridge has route_localnet (ports published on 127.0.0.1), so a container
  // could address the host's 127.0.0.0/8 services; only replies get through
  if (family === 4 && !n.internal) {
    rules.push({ table: 'filter', chain: c.input, spec: spec({ dst: '127.0.0.0/8', in: br, ctstate: 'RELATED,ESTABLISHED', notCtstate: true, comment, target: 'DROP' }) });
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
  if (intent.underlay && family === 4) {
    const c = chainNames(o.chainPrefix);
    const u = intent.underlay;
    d.chains.push({ table: 'filter', name: c.vxlan, head: [...[...new Set(u.peers)].map((src) => spec({ src, target: { jump: 'RETURN' } })), spec({ target: 'DROP' })], body: [] });
    shared.get(chainKey('filter', c.input))!.head.push(spec({ proto: 'udp', dport: u.port, target: { jump: c.vxlan } }));
  }
  // VXLAN over IPv6 is that of encrypted overlays, between tunnel addresses inside cnmd's WireGuard
  // links (wg…): from anywhere else (the underlay's link-local addresses) it is dropped
  if (intent.underlay && family === 6) shared.get(chainKey('filter', chainNames(o.chainPrefix).input))!.head.push(spec({ in: `${WIREGUARD_LINK_PREFIX}+`, notIn: true, proto: 'udp', dport: intent.underlay.port, target: 'DROP' }));
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

/** Whether a chain's name is one the iptables backend gives (the record starts from these on a host that had none). */
export function isChainName(prefix: string, name: string): boolean {
  const c = chainNames(prefix);
  return [c.forward, c.user, c.dest, c.src, c.postrouting, c.input, c.dnat, c.dnatLocal, c.dns, c.guard, c.vxlan].includes(name) || new RegExp(`^${prefix}-[NG]-[0-9a-f]{12}$`).test(name);
}

/** The "table chain" keys of the chains an iptables plan makes or keeps: what cnmd records as made. */
export const chainKeys = (d: IptablesDesired) => d.chains.map((c) => chainKey(c.table, c.name));

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
