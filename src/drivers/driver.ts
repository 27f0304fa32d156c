import type { Endpoint, Network } from '../model.js';
import type { EndpointObjects, NetworkObjects } from '../reconcile/model.js';
import type { FirewallBackendName } from '../firewall/intent.js';

/** Daemon settings the drivers need; derived from Config once. */
export interface DriverContext {
  /** marks owned links (ifalias "<instance>:<id>") and rule comments */
  instance: string;
  /** our chains are "<chainPrefix>-…" */
  chainPrefix: string;
  /** the backend that renders the firewall: none when --iptables=false (no firewall at all) */
  firewall: FirewallBackendName;
  /** which firewall tools the host has (found at start): the other backend's objects are looked after too */
  firewallTools?: { iptables: boolean; nft: boolean };
  ipForward: boolean;
  ipMasq: boolean;
  /** icc and mtu of the daemon apply to the predefined bridge network, as in dockerd */
  icc: boolean;
  mtu: number;
  defaultBridgeName: string;
  /** set when the daemon is in a cluster (--cluster-store): what overlay networks need to know */
  cluster?: {
    /** this host's underlay address */
    vtep: string;
    /** the MTU of the underlay link (overlay links get 50 less) */
    mtu: number;
    /** endpoints other hosts have on a global network (from the cluster store's mirror) */
    remoteEndpoints(networkId: string): Array<{ mac: string; ipv4: string | null; vtep: string; node: string }>;
    /** the underlay addresses of the cluster's current members (VXLAN is accepted from these only) */
    members(): string[];
    /** this host's node id (64 hex) */
    nodeId: string;
    /** a member by node id: its underlay address and WireGuard public key (when it has WireGuard) */
    node(id: string): { address: string; wireguard?: string } | undefined;
    /** WireGuard on this host (encrypted overlay networks): its key pair's file and public key; undefined: none here */
    wireguard?: { keyFile: string; publicKey: string; kernel: boolean };
  };
}

export interface CreateRequest {
  id: string;
  name: string;
  options: Record<string, string>;
  internal: boolean;
  predefined: boolean;
}

/** What a driver may know of the host when a network is created: the names of its links. */
export interface HostLinks {
  links: ReadonlySet<string>;
}

export interface Driver {
  readonly name: string;
  /** prepare() wants the host's link names (one process start at create) */
  readonly readsHostLinks?: boolean;
  /** whether networks of this driver get subnets from IPAM */
  readonly ipam: boolean;
  /** whether more than the one predefined network of this driver may exist */
  readonly multiple: boolean;
  /** networks of this driver are global: shared by every host through the cluster store */
  readonly global?: boolean;
  /**
   * The network's gateway is an address of this host, on a bridge its endpoints are ports of (where it
   * has endpoints, for a global network): published ports are DNATed there and DNS is served there. Not
   * so where containers sit on the wire themselves (macvlan).
   */
  readonly localGateway?: boolean;
  /** Validates driver options (throws DomainError); returns the host link the network will own, if any. */
  prepare(req: CreateRequest, ctx: DriverContext, host?: HostLinks): { linkName: string | null };
  /** Why this new network cannot coexist with the driver's other networks (checked in the store's transaction). */
  conflict?(candidate: { id: string; options: Record<string, string> }, others: Network[]): string | undefined;
  /** A clear client-side error for a host failure this driver understands (e.g. a kernel feature missing). */
  explainFailure?(n: Network, e: Error): Error | undefined;
  /** The host objects a network of this driver needs (pure). */
  objects(network: Network, ctx: DriverContext): NetworkObjects;
  /** Whether this family of the network is routed (Docker's gateway mode): its published ports are reached at the containers' own addresses, not DNATed. */
  routed?(network: Network, family: 4 | 6): boolean;
  /** The objects of one endpoint on a network of this driver, whose sandbox is entered as netns (a name or a path). */
  endpoint?(network: Network, endpoint: Endpoint, containerId: string, netns: string, ctx: DriverContext): EndpointObjects;
}
