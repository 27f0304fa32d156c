/**
 * Desired host state: what the drivers say should exist. Every object names its owner (the first 12
 * hex of a network id) or none for the shared base, so that a reconcile can
 * be scoped to the networks a request touched.
 */
import type { FirewallIntent, NetworkIntent } from '../firewall/intent.js';
import type { IpLinkSpec } from '../host/ip-text.js';
import type { WireguardConfig } from '../host/wg-text.js';
import type { Container, Endpoint, Network, PortBinding } from '../model.js';

export interface DesiredLink {
  name: string;
  kind: 'bridge' | 'veth' | 'vlan' | 'vxlan' | 'wireguard';
  /** ifalias that marks it as ours: "<instance>:<owner's full id>…" */
  alias: string;
  mtu: number;
  addresses: string[];
  owner: string;
  /** bridge: its MAC, fixed so that it does not follow its ports (containers' ARP caches would go stale) */
  mac?: string;
  /** veth: the bridge its host end is a port of */
  master?: string;
  /** veth: the other end, made directly inside the sandbox (netns: a /run/netns name or a path) */
  peer?: { name: string; mac: string; netns: string };
  /** bridge port in hairpin mode: a container can reach itself through a published port */
  hairpin?: boolean;
  /** vlan: the 802.1Q sub-interface of base with this id */
  vlan?: { base: string; id: number };
  /** vxlan: its id, the local underlay address, the UDP port */
  vxlan?: { id: number; local: string; port: number };
  /** wireguard: its configuration; kernel: made by `ip link add … type wireguard`, else by wireguard-go */
  wireguard?: WireguardConfig & { kernel: boolean };
}

/** An endpoint on another host, as this host's VXLAN port must know it: IP -> MAC -> that host. */
export interface DesiredNeighbor {
  dev: string;
  ip: string;
  mac: string;
  vtep: string;
  owner: string;
}

/** A sandbox namespace and what cnmd sets inside it. */
export interface DesiredSandbox {
  /** 12 hex of the container id */
  owner: string;
  /** how cnmd enters it (nsenter --net=PATH) */
  path: string;
  /** the /run/netns name cnmd creates and removes; absent for an adopted namespace */
  netns?: string;
  /**
   * name inside; veth: the host end of its pair (when it has to be made, the inside end is new too);
   * make: how the host makes this interface directly inside when it is missing (a macvlan), and the
   * alias that marks it as ours there
   */
  interfaces: Array<{ name: string; addresses: string[]; veth?: string; make?: InsideLink }>;
  /** default routes */
  gateways: Array<{ via: string; dev: string; family: 4 | 6 }>;
  /** sysctls set inside when cnmd makes the namespace */
  sysctls: Array<{ key: string; value: string }>;
  /**
   * A live process inside (the container's command). When someone deletes the /run/netns name, that
   * process still holds the namespace with its interfaces: the name is attached to it again rather
   * than a new, empty namespace made.
   */
  holderPid?: number;
  /** the route that takes 127.0.0.11 to the embedded DNS server, through this gateway (Docker's resolver address) */
  dnsRoute?: { via: string; dev: string };
}

/**
 * A running container's mount and UTS namespaces, for the processes cnmd runs in it: in the mount
 * namespace /etc/resolv.conf, /etc/hosts, /etc/hostname and its volumes are its own (the binds of
 * its fstab); the UTS namespace has its hostname. Persisted as bind-mounted namespace files under the
 * exec root, like `ip netns` does, so every exec joins the same ones.
 */
export interface DesiredInside {
  /** 12 hex of the container id */
  owner: string;
  mnt: string;
  /** absent: the host's UTS namespace (host network mode) */
  uts?: string;
  hostname: string;
  domainname: string;
  /** the fstab whose binds are made in a new mount namespace (a DesiredFile) */
  fstab: string;
  /** a live process in them: a lost namespace file is bound to its namespaces again */
  holderPid?: number;
}

/** A file cnmd keeps for a container (resolv.conf, hosts, hostname, fstab), rewritten when it differs. */
export interface DesiredFile {
  path: string;
  content: string;
  /** 12 hex of the container id */
  owner: string;
}

export interface DesiredState {
  links: DesiredLink[];
  /** what the firewall should do, for the backend to render */
  firewall: FirewallIntent;
  sysctls: Array<{ key: string; value: string }>;
  sandboxes: DesiredSandbox[];
  neighbors: DesiredNeighbor[];
  /** namespaces the store says cnmd made (running or being torn down), by owner: the only ones it may remove */
  ownedNetns: Array<{ name: string; owner: string }>;
  insides: DesiredInside[];
  files: DesiredFile[];
  /**
   * Directories that belong to containers by where they are: one per container under the data root
   * (its files and logs, as long as it exists) and one per running container under the exec root
   * (namespace files, the shim's socket). Those of a container in scope that is not listed go.
   */
  dirs: { dataRoot: string; runRoot: string; data: string[]; run: string[] };
}

/** What one network contributes: its links, what it asks of the firewall, sysctls. */
export interface NetworkObjects {
  links: DesiredLink[];
  firewall?: NetworkIntent;
  sysctls: Array<{ key: string; value: string }>;
  neighbors?: DesiredNeighbor[];
}

export const emptyObjects = (): NetworkObjects => ({ links: [], sysctls: [] });

/** A running container as the store has it: what its sandbox needs. */
export interface SandboxSpec {
  container: Container;
  endpoints: Array<{ endpoint: Endpoint; network: Network }>;
  /** published ports: DNAT to the endpoint that gives the default route */
  ports?: PortBinding[];
  /** the container's command, when it is alive */
  pid?: number;
  /** its mount and UTS namespaces, while it has processes (or may get them: exec) */
  inside?: Omit<DesiredInside, 'owner' | 'holderPid'>;
  /** resolv.conf, hosts, hostname, fstab */
  files?: Array<Omit<DesiredFile, 'owner'>>;
  /** the network whose gateway serves it DNS at 127.0.0.11 (a route in its namespace) */
  dnsNetworkId?: string;
}

/** An interface made from the host directly inside a sandbox: the link, and its alias. */
export interface InsideLink {
  link: Extract<IpLinkSpec, { type: 'macvlan' }>;
  alias: string;
}

/** What an endpoint contributes: the host end of its veth (if any), the interface inside, and gateway candidates. */
export interface EndpointObjects {
  link?: DesiredLink;
  iface: { name: string; addresses: string[]; veth?: string; make?: InsideLink };
  gateways: Array<{ via: string; family: 4 | 6 }>;
}
