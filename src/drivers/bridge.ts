/**
 * The bridge driver: a Linux bridge per network with the gateway addresses, and what the network asks
 * of the firewall (isolation, NAT, DNS input) as an intent that the firewall backend renders
 * (src/firewall/). Pure: it describes what should exist; reconcile/ makes it so.
 */
import type { Driver, DriverContext, CreateRequest } from './driver.js';
import type { Endpoint, Network } from '../model.js';
import type { EndpointObjects, NetworkObjects } from '../reconcile/model.js';
import type { NetworkIntent } from '../firewall/intent.js';
import { invalid } from '../errors.js';
import { parseAddr } from '../ipam/cidr.js';
import { boolOption } from './options.js';
import { keptWhileFrozen } from '../frozen.js';
import { ALLOW_KEY, parseAllowList } from '../firewall/allow.js';

export const OPT = {
  name: 'com.docker.network.bridge.name',
  masq: 'com.docker.network.bridge.enable_ip_masquerade',
  icc: 'com.docker.network.bridge.enable_icc',
  hostBinding: 'com.docker.network.bridge.host_binding_ipv4',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  inhibitIpv4: 'com.docker.network.bridge.inhibit_ipv4',
  gwMode4: 'com.docker.network.bridge.gateway_mode_ipv4',
  gwMode6: 'com.docker.network.bridge.gateway_mode_ipv6',
  trusted: 'com.docker.network.bridge.trusted_host_interfaces',
  mtu: 'com.docker.network.driver.mtu',
  ifacePrefix: 'com.docker.network.container_iface_prefix',
  hostIpv4: 'com.docker.network.host_ipv4',
  hostIpv6: 'com.docker.network.host_ipv6',
} as const;

/** Generic options the networks service reads itself; valid for every driver. */
export const GENERIC_OPTIONS = ['com.docker.network.enable_ipv4', 'com.docker.network.enable_ipv6', 'com.docker.network.internal'];

/** Docker's gateway modes (per address family): how a network meets the world outside the host. */
export const GATEWAY_MODES = ['nat', 'nat-unprotected', 'routed', 'isolated'] as const;
export type GatewayMode = (typeof GATEWAY_MODES)[number];

export interface BridgeSettings {
  /** nat: NAT, published ports via host addresses; nat-unprotected: and every port reachable by direct routing;
   * routed: no NAT, published ports (and ICMP) at the containers' own addresses; isolated: no address on the host */
  mode4: GatewayMode;
  mode6: GatewayMode;
  icc: boolean;
  masq: boolean;
  mtu: number;
  inhibitIpv4: boolean;
  snatSource?: string;
}

export const MAX_IFNAME = 15;

export function validateLinkName(name: string): void {
  // Docker's text (it answers 500; this is the client's mistake, so 400).
  if (name.length > MAX_IFNAME) throw invalid('failed to check bridge interface existence: numerical result out of range');
  // the kernel takes more; cnmd takes what can reach a batch line, a rule and a sysctl path unquoted
  if (!name || name === '.' || name === '..' || !/^[A-Za-z0-9_.@+-]+$/.test(name)) throw invalid(`invalid bridge name "${name}"`);
}

/** A gateway mode option; routed and nat-unprotected need per-port and per-family filtering that only the nftables backend has. */
function gatewayMode(key: string, value: string | undefined, ctx: DriverContext): GatewayMode {
  if (value === undefined || value === '') return 'nat';
  if (!(GATEWAY_MODES as readonly string[]).includes(value)) throw invalid(`invalid ${key} "${value}": must be one of ${GATEWAY_MODES.join(', ')}`);
  if ((value === 'routed' || value === 'nat-unprotected') && ctx.firewall === 'iptables') {
    throw invalid(`${key}=${value} needs the nftables firewall backend (--firewall-backend nftables)`);
  }
  return value as GatewayMode;
}

/** Parses and checks every documented bridge option; an option cnmd cannot honour is refused, never dropped. */
export function bridgeSettings(options: Record<string, string>, predefined: boolean, ctx: DriverContext): BridgeSettings {
  for (const key of Object.keys(options)) {
    if (key.startsWith('com.docker.network.') && !Object.values(OPT).includes(key as never) && !GENERIC_OPTIONS.includes(key)) {
      throw invalid(`the bridge driver does not know the option ${key}`);
    }
  }
  let mtu = predefined ? ctx.mtu : 1500;
  if (OPT.mtu in options) {
    const raw = options[OPT.mtu];
    if (!/^-?\d+$/.test(raw)) throw invalid(`strconv.Atoi: parsing "${raw}": invalid syntax`);
    mtu = Number(raw);
    if (mtu < 68 || mtu > 65535) throw invalid(`invalid MTU number: ${mtu}`);
  }
  if (!predefined && boolOption(options, OPT.defaultBridge, false)) {
    throw invalid(`${OPT.defaultBridge} is reserved for the predefined bridge network`);
  }
  if (options[ALLOW_KEY] !== undefined) parseAllowList(options[ALLOW_KEY], `the network option ${ALLOW_KEY}`);
  if (options[OPT.trusted]) throw invalid(`${OPT.trusted} is not supported by cnmd`);
  if (options[OPT.hostIpv6]) throw invalid(`${OPT.hostIpv6} is not supported by cnmd: cnmd does not program IPv6 NAT`);
  const mode4 = gatewayMode(OPT.gwMode4, options[OPT.gwMode4], ctx);
  const mode6 = gatewayMode(OPT.gwMode6, options[OPT.gwMode6], ctx);
  for (const key of [OPT.hostBinding, OPT.hostIpv4]) {
    if (options[key] && parseAddr(options[key])?.family !== 4) throw invalid(`invalid IPv4 address "${options[key]}" for option ${key}`);
  }
  if (OPT.ifacePrefix in options && !/^[a-zA-Z][a-zA-Z0-9_-]{0,9}$/.test(options[OPT.ifacePrefix])) {
    throw invalid(`invalid ${OPT.ifacePrefix} "${options[OPT.ifacePrefix]}": up to 10 letters, digits, '-' or '_', starting with a letter`);
  }
  return {
    mode4,
    mode6,
    icc: boolOption(options, OPT.icc, predefined ? ctx.icc : true),
    masq: ctx.ipMasq && boolOption(options, OPT.masq, true),
    mtu,
    inhibitIpv4: boolOption(options, OPT.inhibitIpv4, false),
    snatSource: options[OPT.hostIpv4] || undefined,
  };
}

export function defaultLinkName(id: string, ctx: DriverContext): string {
  return `${ctx.instance}-${id.slice(0, MAX_IFNAME - ctx.instance.length - 1)}`;
}

/** What the network asks of the firewall. */
function firewallIntent(n: Network, s: BridgeSettings): NetworkIntent {
  const translated = (m: GatewayMode) => m === 'nat' || m === 'nat-unprotected';
  const nat = !n.internal && s.masq && !s.inhibitIpv4 && translated(s.mode4);
  return {
    owner: n.id.slice(0, 12),
    bridge: n.bridgeName!,
    subnets4: n.subnets.filter((x) => x.family === 4).map((x) => x.subnet),
    subnets6: n.enableIPv6 ? n.subnets.filter((x) => x.family === 6).map((x) => x.subnet) : [],
    gateways4: s.inhibitIpv4 ? [] : n.subnets.filter((x) => x.family === 4 && x.gateway).map((x) => x.gateway),
    gateways6: n.enableIPv6 ? n.subnets.filter((x) => x.family === 6 && x.gateway).map((x) => x.gateway) : [],
    internal: n.internal,
    icc: s.icc,
    ...(nat ? { nat4: s.snatSource ? { kind: 'snat' as const, source: s.snatSource } : { kind: 'masquerade' as const } } : {}),
    ...(!n.internal && s.masq && n.enableIPv6 && translated(s.mode6) ? { nat6: { kind: 'masquerade' as const } } : {}),
    modes: { 4: s.mode4, 6: s.mode6 },
    // not on the predefined bridge: its containers get the host's resolvers, as in Docker; nor without a gateway address
    dns: !n.predefined && !s.inhibitIpv4 && s.mode4 !== 'isolated',
    hostMasquerade: !n.internal && !s.inhibitIpv4,
  };
}

/**
 * A bridge takes the lowest MAC of its ports unless it was given one: when a container leaves, the
 * gateway's MAC would change under the other containers' ARP caches. A fixed, locally administered
 * MAC derived from the network id keeps it.
 */
export function bridgeMac(id: string): string {
  return ['02', id.slice(0, 2), id.slice(2, 4), id.slice(4, 6), id.slice(6, 8), id.slice(8, 10)].join(':');
}

/** MTU of a network's links: its option, or the daemon's for the predefined bridge network. */
export function networkMtu(n: Network, ctx: DriverContext): number {
  return bridgeSettings(n.options, n.predefined, ctx).mtu;
}

/**
 * Kept per network object and context (src/frozen.ts): every full plan (each periodic repair) asks
 * for all networks' objects, twice; at 1000 networks that was 5 ms and 3 MB of garbage each time.
 */
const bridgeObjects = keptWhileFrozen((n: Network, ctx: DriverContext): NetworkObjects => {
  const s = bridgeSettings(n.options, n.predefined, ctx);
  // isolated: the family has no address on the host (and for IPv6 not even a link-local one)
  const addresses = n.subnets
    .filter((x) => (x.family === 4 ? !s.inhibitIpv4 && s.mode4 !== 'isolated' : n.enableIPv6 && s.mode6 !== 'isolated'))
    .map((x) => `${x.gateway}/${x.subnet.split('/')[1]}`);
  const owner = n.id.slice(0, 12);
  return {
    links: [{ name: n.bridgeName!, kind: 'bridge', alias: `${ctx.instance}:${n.id}`, mtu: s.mtu, addresses, owner, mac: bridgeMac(n.id) }],
    firewall: firewallIntent(n, s),
    sysctls: [
      // Traffic inside one bridge only meets iptables (and so icc=false) when bridged frames are passed to it.
      ...(s.icc ? [] : [{ key: 'net.bridge.bridge-nf-call-iptables', value: '1' }]),
      ...(s.icc || !n.enableIPv6 ? [] : [{ key: 'net.bridge.bridge-nf-call-ip6tables', value: '1' }]),
      // 127.0.0.1:PORT on the host is DNATed to a container: such packets may leave through the bridge
      ...(n.internal ? [] : [{ key: interfaceSysctl(n.bridgeName!, 'route_localnet'), value: '1' }]),
      ...(n.enableIPv6 && s.mode6 === 'isolated' ? [{ key: interfaceSysctl(n.bridgeName!, 'disable_ipv6', 6), value: '1' }] : []),
    ],
  };
});

export const bridgeDriver: Driver = {
  name: 'bridge',
  ipam: true,
  multiple: true,
  localGateway: true,
  prepare(req: CreateRequest, ctx: DriverContext) {
    const s = bridgeSettings(req.options, req.predefined, ctx);
    // Docker's text (it answers 500; the client's mistake, so 400)
    if ((s.mode4 === 'isolated' || s.mode6 === 'isolated') && !req.internal) throw invalid("gateway mode 'isolated' can only be used for an internal network");
    const linkName = req.options[OPT.name] || (req.predefined ? ctx.defaultBridgeName : defaultLinkName(req.id, ctx));
    validateLinkName(linkName);
    return { linkName };
  },
  objects: bridgeObjects,
  routed(n: Network, family: 4 | 6) {
    return n.options[family === 4 ? OPT.gwMode4 : OPT.gwMode6] === 'routed';
  },
  endpoint(n: Network, ep: Endpoint, containerId: string, netns: string, ctx: DriverContext): EndpointObjects {
    const addresses = [ep.ipv4, ep.ipv6].filter((a): a is string => !!a);
    return {
      link: {
        name: ep.hostIfname, kind: 'veth', alias: `${ctx.instance}:${containerId}:${n.id.slice(0, 12)}`, mtu: networkMtu(n, ctx),
        addresses: [], owner: containerId.slice(0, 12), master: n.bridgeName!, peer: { name: ep.ifname, mac: ep.mac, netns },
      },
      iface: { name: ep.ifname, addresses, veth: ep.hostIfname },
      gateways: n.internal
        ? []
        : n.subnets.filter((sub) => (sub.family === 4 ? !!ep.ipv4 : !!ep.ipv6)).map((sub) => ({ via: sub.gateway, family: sub.family })),
    };
  },
};

/** net.ipv4.conf.<name>.<key>, in the slashed form when the name holds a dot (as sysctl(8) spells it). */
export const interfaceSysctl = (name: string, key: string, family: 4 | 6 = 4) =>
  name.includes('.') ? `net/ipv${family}/conf/${name}/${key}` : `net.ipv${family}.conf.${name}.${key}`;
