/**
 * The nftables backend: one table of cnmd's own (`inet <instance>`), whose chains are fixed and whose
 * per-network and per-port facts are elements of sets and maps. Creating or deleting a network adds or
 * removes elements, never chains, in one `nft -f -` transaction (./nftables-plan.ts): cnmd's own work
 * does not grow with the number of networks (nft's userspace cache does, see the README's Speed).
 * Nothing outside the table is read as ours or changed.
 *
 * forward (filter)  jump user (never filled by cnmd: the place for a user's own rules)
 *                   oifname @bridges jump into      traffic into one of our networks
 *                   nfproto . iifname in @egressdrop / @egressmasq / @egressallow
 *                                                   out of a network to another link: drop (internal),
 *                                                   or mark (with MASQ_MARK under NAT) and accept
 * into              established allow; iifname . oifname in @icc allow, in @iccoff drop (same bridge);
 *                   DNATed to a network with published ports allow; drop (isolation)
 * input (filter)    VXLAN (@underlay) not from a member (@vteps4): counter drop (the underlay guard);
 *                   VXLAN over IPv6 not on a WireGuard link of ours (wg*): counter drop;
 *                   from a bridge to 127.0.0.0/8, not a reply: drop (the localhost guard);
 *                   DNS to the gateways of networks the embedded server answers on: allow
 * allow             sets ACCEPT_MARK and accepts. An accept ends only this table's chain: another
 *                   firewall's drop (iptables' FORWARD policy DROP, ufw) still applies. Our filter
 *                   chains run first (priority -10), and that firewall accepts what carries the mark
 *                   (rules cnmd keeps there, see ../firewall/index.ts).
 * prerouting (nat)  127.0.0.11:53 -> the server on the gateway; local addresses -> ports
 * output (nat)      local addresses -> ports; 127.0.0.0/8 -> ports-lo (ports bound to loopback)
 * guard (filter, prerouting, before the DNAT)  a published port with an allow-list: other sources dropped
 * ports, ports-lo   dnat by maps: address . protocol . port -> container address . port
 * postrouting (nat) a container reaching its own published port; the host's own connections to
 *                   published ports; SNAT and masquerade for subnets leaving their bridge
 */
import type { FirewallIntent, NetworkIntent } from './intent.js';
import { keptWhileFrozen } from '../frozen.js';
import { UNDERLAY_OWNER, WIREGUARD_LINK_PREFIX, isIPv6Port, isLoopbackPort } from './intent.js';
import type { NftChain, NftElement, NftRule, NftSet } from '../host/nft.js';

export interface DesiredNftChain extends NftChain {
  rules: NftRule[];
  /** the user's chain: made when missing, its rules never looked at */
  user?: boolean;
}

export interface NftDesired {
  sets: NftSet[];
  chains: DesiredNftChain[];
  elements: NftElement[];
}

/** The packet mark bit of what cnmd's filter chains accepted (bit 21; Kubernetes uses bits 14 and 15). */
export const ACCEPT_MARK = 0x00200000;
/** The bit of a connection from a network with NAT to another link: masqueraded in postrouting (bit 22). */
export const MASQ_MARK = 0x00400000;
const FILTER_PRIORITY = -10;
const allow = { jump: 'allow' } as const;
/**
 * From one of our bridges, the family's egress outcome: a drop when internal, else allow (with the
 * masquerade mark under NAT). Sets by outcome, not a verdict map of jumps: at each commit the kernel
 * checks every jump element of a map, which made a create's `nft` line grow with the networks.
 */
const fromBridge = (matches: NftRule['matches'] = []): NftRule[] => {
  const from = (set: string) => [...matches, { keys: ['meta nfproto' as const, 'iifname' as const], set }];
  return [
    { matches: from('egressdrop'), then: 'drop' },
    { matches: from('egressmasq'), then: { markAccept: ACCEPT_MARK | MASQ_MARK } },
    { matches: from('egressallow'), then: { markAccept: ACCEPT_MARK } },
  ];
};

const SETS: NftSet[] = [
  { name: 'bridges', type: ['ifname'] },
  // the underlay: VXLAN's port while this host has overlay networks, and the members it accepts it from
  { name: 'underlay', type: ['inet_proto', 'inet_service'] },
  { name: 'vteps4', type: ['ipv4_addr'] },
  // a network's bridge to itself: allowed (icc), or dropped (enable_icc=false)
  { name: 'icc', type: ['ifname', 'ifname'] },
  { name: 'iccoff', type: ['ifname', 'ifname'] },
  // by family, what leaves a bridge: allowed, allowed and masqueraded once it leaves (MASQ_MARK), or dropped (internal)
  { name: 'egressallow', type: ['nf_proto', 'ifname'] },
  { name: 'egressmasq', type: ['nf_proto', 'ifname'] },
  { name: 'egressdrop', type: ['nf_proto', 'ifname'] },
  { name: 'published', type: ['ifname'] },
  { name: 'dns', type: ['ifname'] },
  { name: 'hostmasq', type: ['ifname'] },
  // the gateways (the host's own addresses in a network) and their bridges: the host's own
  // connections from a gateway to another link are masqueraded. Exact keys, no interval sets on the
  // path of a network create: nft fetches every element of every interval set of the table first.
  { name: 'gateways4', type: ['ipv4_addr'] },
  { name: 'gwown4', type: ['ipv4_addr', 'ifname'] },
  // SNAT to a chosen address (com.docker.network.host_ipv4): subnets, for those networks only
  { name: 'own4', type: ['ipv4_addr', 'ifname'], interval: true },
  { name: 'snat4', type: ['ipv4_addr'], map: ['ipv4_addr'], interval: true },
  { name: 'ports4', type: ['ipv4_addr', 'inet_proto', 'inet_service'], map: ['ipv4_addr', 'inet_service'] },
  { name: 'ports4any', type: ['inet_proto', 'inet_service'], map: ['ipv4_addr', 'inet_service'] },
  { name: 'ports4lo', type: ['ipv4_addr', 'inet_proto', 'inet_service'], map: ['ipv4_addr', 'inet_service'] },
  { name: 'hairpin4', type: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'] },
  // published ports with an allow-list (cnmd.ports.allow), and the sources each allows
  { name: 'guard4', type: ['ipv4_addr', 'inet_proto', 'inet_service'] },
  { name: 'guard4any', type: ['inet_proto', 'inet_service'] },
  { name: 'allow4', type: ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr'], interval: true },
  { name: 'allow4any', type: ['inet_proto', 'inet_service', 'ipv4_addr'], interval: true },
  // gateway modes: networks (by family) open to direct routing, and the published ports of routed ones
  { name: 'unprotected', type: ['nf_proto', 'ifname'] },
  { name: 'routed', type: ['nf_proto', 'ifname'] },
  { name: 'direct4', type: ['ipv4_addr', 'inet_proto', 'inet_service'] },
  { name: 'direct6', type: ['ipv6_addr', 'inet_proto', 'inet_service'] },
  // the same for IPv6
  { name: 'gateways6', type: ['ipv6_addr'] },
  { name: 'gwown6', type: ['ipv6_addr', 'ifname'] },
  { name: 'ports6', type: ['ipv6_addr', 'inet_proto', 'inet_service'], map: ['ipv6_addr', 'inet_service'] },
  { name: 'ports6any', type: ['inet_proto', 'inet_service'], map: ['ipv6_addr', 'inet_service'] },
  { name: 'hairpin6', type: ['ipv6_addr', 'ipv6_addr', 'inet_proto', 'inet_service'] },
  { name: 'guard6', type: ['ipv6_addr', 'inet_proto', 'inet_service'] },
  { name: 'guard6any', type: ['inet_proto', 'inet_service'] },
  { name: 'allow6', type: ['ipv6_addr', 'inet_proto', 'inet_service', 'ipv6_addr'], interval: true },
  { name: 'allow6any', type: ['inet_proto', 'inet_service', 'ipv6_addr'], interval: true },
];

const DNS_ADDRESS = '127.0.0.11';
const dns53 = [{ keys: ['meta l4proto' as const], values: ['tcp', 'udp'] }, { keys: ['th dport' as const], values: [53] }];
const PORT_KEY = ['ip daddr', 'meta l4proto', 'th dport'] as const;
const PORT_KEY6 = ['ip6 daddr', 'meta l4proto', 'th dport'] as const;
const local = { keys: ['fib daddr type' as const], values: ['local'] };
const v6 = { keys: ['meta nfproto' as const], values: ['ipv6'] };

const CHAINS: DesiredNftChain[] = [
  { name: 'user', rules: [], user: true },
  { name: 'allow', rules: [{ matches: [], then: { markAccept: ACCEPT_MARK } }] },
  {
    name: 'forward', base: { type: 'filter', hook: 'forward', priority: FILTER_PRIORITY },
    rules: [
      { matches: [], then: { jump: 'user' } },
      { matches: [{ keys: ['oifname'], set: 'bridges' }], then: { jump: 'into' } },
      ...fromBridge(),
    ],
  },
  {
    name: 'into',
    rules: [
      { matches: [{ keys: ['ct state'], values: ['established', 'related'] }], then: allow },
      { matches: [{ keys: ['iifname', 'oifname'], set: 'icc' }], then: { markAccept: ACCEPT_MARK } },
      { matches: [{ keys: ['iifname', 'oifname'], set: 'iccoff' }], then: 'drop' },
      // what may come in from another network takes that network's egress verdict (NAT: masqueraded,
      // as Docker's -s SUBNET ! -o BRIDGE), from elsewhere it is allowed
      ...([
        // a published port, DNATed
        [{ keys: ['ct status'], values: ['dnat'] }, { keys: ['oifname'], set: 'published' }],
        // routed: published ports at the containers' own addresses, from anywhere, and ICMP
        [{ keys: ['ip daddr', 'meta l4proto', 'th dport'], set: 'direct4' }],
        [{ keys: ['ip6 daddr', 'meta l4proto', 'th dport'], set: 'direct6' }],
        [{ keys: ['meta nfproto', 'oifname'], set: 'routed' }, { keys: ['meta l4proto'], values: ['icmp', 'ipv6-icmp'] }],
      ] as NftRule['matches'][]).flatMap((matches) => [...fromBridge(matches), { matches, then: allow }]),
      // nat-unprotected: every port by direct routing, but not from other networks
      { matches: [{ keys: ['iifname'], op: '!=', set: 'bridges' }, { keys: ['meta nfproto', 'oifname'], set: 'unprotected' }], then: allow },
      { matches: [], then: 'drop' },
    ],
  },
  {
    name: 'input', base: { type: 'filter', hook: 'input', priority: FILTER_PRIORITY },
    rules: [
      // the underlay guard: VXLAN only from the cluster's members (else anyone could inject frames)
      { matches: [{ keys: ['meta l4proto', 'th dport'], set: 'underlay' }, { keys: ['ip saddr'], op: '!=', set: 'vteps4' }], then: 'counter drop' },
      // VXLAN over IPv6 is that of encrypted overlays, inside cnmd's WireGuard links: from anywhere else dropped
      { matches: [{ keys: ['meta nfproto'], values: ['ipv6'] }, { keys: ['meta l4proto', 'th dport'], set: 'underlay' }, { keys: ['iifname'], op: '!=', values: [{ name: `${WIREGUARD_LINK_PREFIX}*` }] }], then: 'counter drop' },
      // the localhost guard: bridges have route_localnet (for ports published on 127.0.0.1), so a
      // container could address the host's 127.0.0.0/8 services; only replies get through
      { matches: [{ keys: ['iifname'], set: 'bridges' }, { keys: ['ip daddr'], values: [{ prefix: '127.0.0.0', len: 8 }] }, { keys: ['ct state'], op: '!=', values: ['established', 'related'] }], then: 'drop' },
      { matches: [{ keys: ['iifname'], set: 'dns' }, ...dns53], then: allow },
    ],
  },
  {
    // before the DNAT: a published port with an allow-list drops every other source
    name: 'guard', base: { type: 'filter', hook: 'prerouting', priority: -150 },
    rules: [
      {
        matches: [{ keys: ['fib daddr type'], values: ['local'] }, { keys: [...PORT_KEY], set: 'guard4' }, { keys: [...PORT_KEY, 'ip saddr'], op: '!=', set: 'allow4' }],
        then: 'drop',
      },
      {
        matches: [{ keys: ['fib daddr type'], values: ['local'] }, { keys: ['meta l4proto', 'th dport'], set: 'guard4any' }, { keys: ['meta l4proto', 'th dport', 'ip saddr'], op: '!=', set: 'allow4any' }],
        then: 'drop',
      },
      { matches: [local, { keys: [...PORT_KEY6], set: 'guard6' }, { keys: [...PORT_KEY6, 'ip6 saddr'], op: '!=', set: 'allow6' }], then: 'drop' },
      { matches: [local, v6, { keys: ['meta l4proto', 'th dport'], set: 'guard6any' }, { keys: ['meta l4proto', 'th dport', 'ip6 saddr'], op: '!=', set: 'allow6any' }], then: 'drop' },
    ],
  },
  {
    name: 'prerouting', base: { type: 'nat', hook: 'prerouting', priority: -100 },
    rules: [
      { matches: [{ keys: ['ip daddr'], values: [DNS_ADDRESS] }, ...dns53], then: 'redirect' },
      { matches: [{ keys: ['ip daddr'], op: '!=', values: [DNS_ADDRESS] }, { keys: ['fib daddr type'], values: ['local'] }], then: { jump: 'ports' } },
      { matches: [v6, local], then: { jump: 'ports' } },
    ],
  },
  {
    name: 'output', base: { type: 'nat', hook: 'output', priority: -100 },
    rules: [
      { matches: [{ keys: ['fib daddr type'], values: ['local'] }], then: { jump: 'ports' } },
      { matches: [{ keys: ['ip daddr'], values: [{ prefix: '127.0.0.0', len: 8 }] }], then: { jump: 'ports-lo' } },
    ],
  },
  {
    name: 'ports',
    rules: [
      { matches: [], then: { dnat: { keys: [...PORT_KEY], map: 'ports4' } } },
      { matches: [{ keys: ['meta nfproto'], values: ['ipv4'] }], then: { dnat: { keys: ['meta l4proto', 'th dport'], map: 'ports4any' } } },
      // IPv6 has no route_localnet: the host's own ::1 is served by the daemon's proxy
      { matches: [{ keys: ['ip6 daddr'], values: ['::1'] }], then: 'return' },
      { matches: [], then: { dnat: { keys: [...PORT_KEY6], map: 'ports6', family: 'ip6' } } },
      { matches: [v6], then: { dnat: { keys: ['meta l4proto', 'th dport'], map: 'ports6any', family: 'ip6' } } },
    ],
  },
  { name: 'ports-lo', rules: [{ matches: [], then: { dnat: { keys: [...PORT_KEY], map: 'ports4lo' } } }] },
  {
    name: 'postrouting', base: { type: 'nat', hook: 'postrouting', priority: 100 },
    rules: [
      { matches: [{ keys: ['ip saddr', 'ip daddr', 'meta l4proto', 'th dport'], set: 'hairpin4' }], then: 'masquerade' },
      { matches: [{ keys: ['oifname'], set: 'hostmasq' }, { keys: ['fib saddr type'], values: ['local'] }], then: 'masquerade' },
      { matches: [{ keys: ['ip saddr', 'oifname'], op: '!=', set: 'own4' }], then: { snat: { keys: ['ip saddr'], map: 'snat4' } } },
      { matches: [{ keys: ['ip6 saddr', 'ip6 daddr', 'meta l4proto', 'th dport'], set: 'hairpin6' }], then: 'masquerade' },
      // marked in forward: from a network with NAT to another link
      { matches: [{ keys: ['meta mark'], bits: MASQ_MARK }], then: 'masquerade' },
      // the host's own, from a gateway to another link
      { matches: [{ keys: ['ip saddr'], set: 'gateways4' }, { keys: ['ip saddr', 'oifname'], op: '!=', set: 'gwown4' }], then: 'masquerade' },
      { matches: [{ keys: ['ip6 saddr'], set: 'gateways6' }, { keys: ['ip6 saddr', 'oifname'], op: '!=', set: 'gwown6' }], then: 'masquerade' },
    ],
  },
];

export function prefix(cidr: string) {
  const [addr, len] = cidr.split('/');
  return { prefix: addr, len: Number(len) };
}

type ElementAdder = (set: string, owner: string, key: NftElement['key'], value?: NftElement['value']) => void;

const elementAdder = (elements: NftElement[], instance: string): ElementAdder => (set, owner, key, value) =>
  void elements.push({ set, key, ...(value !== undefined ? { value } : {}), owner: `${instance}:${owner}` });

/** One network's elements. */
function makeNetworkElements(n: NetworkIntent, instance: string): NftElement[] {
  const elements: NftElement[] = [];
  const add = elementAdder(elements, instance);
  const br = { name: n.bridge };
  add('bridges', n.owner, [br]);
  add(n.icc ? 'icc' : 'iccoff', n.owner, [br, br]);
  const egress = (nat: boolean) => (n.internal ? 'egressdrop' : nat ? 'egressmasq' : 'egressallow');
  add(egress(n.nat4?.kind === 'masquerade'), n.owner, ['ipv4', br]);
  add(egress(!!n.nat6), n.owner, ['ipv6', br]);
  if (!n.internal) add('published', n.owner, [br]);
  if (n.dns) add('dns', n.owner, [br]);
  for (const f of [4, 6] as const) {
    const family = f === 4 ? 'ipv4' : 'ipv6';
    if (n.internal || (f === 6 && !n.subnets6.length)) continue;
    if (n.modes[f] === 'routed') add('routed', n.owner, [family, br]);
    if (n.modes[f] === 'nat-unprotected') add('unprotected', n.owner, [family, br]);
  }
  if (n.hostMasquerade) add('hostmasq', n.owner, [br]);
  const snat = n.nat4?.kind === 'snat' ? n.nat4 : undefined;
  for (const sub of snat ? n.subnets4 : []) {
    add('own4', n.owner, [prefix(sub), br]);
    add('snat4', n.owner, [prefix(sub)], [snat!.source]);
  }
  if (n.nat4?.kind === 'masquerade') for (const gw of n.gateways4 ?? []) add('gateways4', n.owner, [gw]), add('gwown4', n.owner, [gw, br]);
  if (n.nat6) for (const gw of n.gateways6 ?? []) add('gateways6', n.owner, [gw]), add('gwown6', n.owner, [gw, br]);
  return elements;
}

/**
 * A network's elements, kept per network intent (src/frozen.ts): a bridge network's intent is one
 * frozen object while the network is unchanged, and every full plan renders all of them (11 MB of
 * garbage in four repairs at 1000 networks).
 */
const networkElements = keptWhileFrozen(makeNetworkElements);

/** The table an intent asks for: fixed sets and chains, and the elements of each network and port. */
export function nftDesired(intent: FirewallIntent, instance: string): NftDesired {
  const elements: NftElement[] = [];
  const add = elementAdder(elements, instance);
  for (const n of intent.networks) elements.push(...networkElements(n, instance));
  for (const p of intent.ports) {
    const f = isIPv6Port(p) ? '6' : '4';
    const to = [p.ip, p.port];
    const any = p.hostIp === '0.0.0.0' || p.hostIp === '::';
    if (f === '6' && isLoopbackPort(p)) continue;
    if (p.routed) {
      // the host port is not used: the container's own port is reachable (Docker's routed mode)
      add(`direct${f}`, p.owner, [p.ip, p.proto, p.port]);
      continue;
    }
    if (any) add(`ports${f}any`, p.owner, [p.proto, p.hostPort], to);
    else add(isLoopbackPort(p) ? 'ports4lo' : `ports${f}`, p.owner, [p.hostIp, p.proto, p.hostPort], to);
    add(`hairpin${f}`, p.owner, [p.ip, p.ip, p.proto, p.port]);
    if (!p.allow || isLoopbackPort(p)) continue;
    const port = any ? [p.proto, p.hostPort] : [p.hostIp, p.proto, p.hostPort];
    add(any ? `guard${f}any` : `guard${f}`, p.owner, port);
    for (const cidr of p.allow.filter((a) => a.includes(':') === (f === '6'))) add(any ? `allow${f}any` : `allow${f}`, p.owner, [...port, prefix(cidr)]);
  }
  if (intent.underlay) {
    add('underlay', UNDERLAY_OWNER, ['udp', intent.underlay.port]);
    for (const peer of new Set(intent.underlay.peers)) add('vteps4', UNDERLAY_OWNER, [peer]);
  }
  return { sets: SETS, chains: CHAINS, elements };
}
