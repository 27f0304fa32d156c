/** The domain vocabulary shared by services, drivers and the store. */
import type { Family } from './ipam/cidr.js';

export interface Subnet {
  family: Family;
  subnet: string;
  ipRange?: string;
  gateway: string;
  aux: Record<string, string>;
  auto: boolean;
  /** the IPAM.Config entry inspect returns */
  shown: Record<string, unknown>;
}

export interface Network {
  id: string;
  name: string;
  driver: string;
  scope: string;
  /** RFC3339Nano */
  created: string;
  enableIPv4: boolean;
  enableIPv6: boolean;
  internal: boolean;
  attachable: boolean;
  ingress: boolean;
  configOnly: boolean;
  configFrom: string;
  ipamDriver: string;
  ipamOptions: Record<string, string> | null;
  options: Record<string, string>;
  labels: Record<string, string>;
  predefined: boolean;
  bridgeName: string | null;
  subnets: Subnet[];
}

export const PREDEFINED_NAMES = ['bridge', 'host', 'none'] as const;
/** Names that may never be created: the predefined ones, and 'default' (an alias of bridge). */
export const isPredefinedName = (name: string) => name === 'default' || (PREDEFINED_NAMES as readonly string[]).includes(name);
