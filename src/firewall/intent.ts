/**
 * What cnmd wants of the host firewall, said once as data and independent of any backend: per
 * network (isolation, NAT, the embedded DNS server's input) and per published port. The backends
 * (./iptables.ts, ./nftables.ts) turn it into their own objects; ./none is the empty intent.
 * Drivers and the reconciler only ever produce this; no rule text exists outside src/host/.
 */

/** A network whose containers sit behind a bridge of this host that is their gateway (bridge, overlay). */
export interface NetworkIntent {
  /** 12 hex of the network id */
  owner: string;
  bridge: string;
  /** IPv4 subnets (CIDR) */
  subnets4: string[];
  /** IPv6 subnets (CIDR), when the network has IPv6 */
  subnets6: string[];
  /** the gateway addresses on the bridge (the host's own in the subnets), by family */
  gateways4?: string[];
  gateways6?: string[];
  internal: boolean;
  /** containers of the network may talk to each other */
  icc: boolean;
  /** how connections from the IPv4 subnets leave for other links: masqueraded, SNATed to an address, or as they are */
  nat4?: { kind: 'masquerade' } | { kind: 'snat'; source: string };
  /** connections from the IPv6 subnets are masqueraded (Docker 27+'s default, gateway mode nat) */
  nat6?: { kind: 'masquerade' };
  /** Docker's gateway mode per family (../drivers/bridge.ts): routed and nat-unprotected change what may come in */
  modes: { 4: 'nat' | 'nat-unprotected' | 'routed' | 'isolated'; 6: 'nat' | 'nat-unprotected' | 'routed' | 'isolated' };
  /** the embedded DNS server answers on the gateway: its input is accepted */
  dns: boolean;
  /** connections from the host itself (127.0.0.1 included) to published ports leave with the bridge's address */
  hostMasquerade: boolean;
}

/** A published port on a host address, DNATed to the container's address of that family. */
export interface PortIntent {
  /** 12 hex of the container id */
  owner: string;
  proto: 'tcp' | 'udp' | 'sctp';
  /** '0.0.0.0' or '::': every local address of that family; 127.x: from the host only; else one address of the host */
  hostIp: string;
  hostPort: number;
  /** the container's address and port */
  ip: string;
  port: number;
  /** who may reach it (CIDRs of both families); absent: anyone; empty: no one (./allow.ts) */
  allow?: string[];
  /** its network is routed for this family: no DNAT, the container's own address and port are reachable */
  routed?: boolean;
}

/** The underlay of overlay networks: VXLAN (UDP port) is accepted from these hosts only (the cluster's members). */
export interface UnderlayIntent {
  port: number;
  /** IPv4 addresses of the current members (their VTEPs) */
  peers: string[];
}

/** cnmd's WireGuard links (encrypted overlays) are named wg…: VXLAN over IPv6 comes in on them only */
export const WIREGUARD_LINK_PREFIX = 'wg';

/** The pseudo-owner of the underlay's elements (no network's: a scoped plan leaves them to full runs). */
export const UNDERLAY_OWNER = '000000000000';

export interface FirewallIntent {
  /** false: cnmd programs no firewall at all (--iptables=false, or the backend none) */
  enabled: boolean;
  networks: NetworkIntent[];
  ports: PortIntent[];
  /** present while this host has overlay networks (a VXLAN port) */
  underlay?: UnderlayIntent;
}

export const emptyIntent = (enabled: boolean): FirewallIntent => ({ enabled, networks: [], ports: [] });

export type FirewallBackendName = 'nftables' | 'iptables' | 'none';

/** The loopback range a published port bound there is reached from (the host only). */
export const isLoopbackPort = (p: PortIntent) => p.hostIp.startsWith('127.') || p.hostIp === '::1';

export const isIPv6Port = (p: PortIntent) => p.hostIp.includes(':');
