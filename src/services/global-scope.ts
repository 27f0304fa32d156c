/**
 * What the services need of the store of global networks (the cluster store, etcd): they know a
 * network's scope, never which store holds it. Every call fails with 503 while the store is away.
 */
import type { Network } from '../model.js';

export interface GlobalScope {
  readonly available: boolean;
  /** Creates a global network whose name, subnets and VXLAN id are free cluster-wide, atomically. */
  createNetwork(n: Network, vni: number): Promise<'name' | 'subnet' | 'vni' | undefined>;
  /** Deletes it when no host has an endpoint on it; false when one has. */
  deleteNetwork(n: Network): Promise<boolean>;
  /** VXLAN ids and subnets global networks use (as mirrored here) */
  usedVnis(): number[];
  /** Claims an address on a global network for an endpoint of this host; false when another host has it. */
  claimAddress(networkId: string, ip: string, endpointId: string): Promise<boolean>;
  releaseAddress(networkId: string, ip: string): Promise<void>;
  /** Makes a container's endpoints on global networks known to the other hosts, or withdraws them. */
  syncContainer(containerId: string): Promise<void>;
  /** addresses other hosts' endpoints hold on a global network */
  remoteAddresses(networkId: string): string[];
}
