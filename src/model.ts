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

/** EndpointSettings as a client sends them (create's EndpointsConfig, connect's EndpointConfig). */
export interface EndpointSettingsInput {
  IPAMConfig?: { IPv4Address?: string | null; IPv6Address?: string | null; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string | null;
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number | null;
}

/**
 * removing: `rm -f` recorded its intent; a start-up after a crash finishes the removal.
 * restarting: its command ended and its restart policy brings it back after a delay (no sandbox meanwhile).
 */
export type ContainerState = 'created' | 'running' | 'exited' | 'removing' | 'restarting';

export interface Container {
  id: string;
  /** without the leading '/' */
  name: string;
  created: string;
  config: Record<string, any>;
  hostConfig: Record<string, any>;
  /** bridge | host | none | container:<full id> | a network name or id as given */
  networkMode: string;
  /** an adopted namespace (path); null when cnmd makes the namespace */
  sandboxKey: string | null;
  /** the /run/netns name cnmd made (<instance>-<12 hex of the id>), while running */
  netns: string | null;
  state: ContainerState;
  pid: number;
  exitCode: number;
  error: string;
  startedAt: string;
  finishedAt: string;
  sandboxId: string;
  restartCount: number;
  /** its processes are stopped (SIGSTOP) by `docker pause` */
  paused: boolean;
  /** the shim that holds the command's terminal or stdin (0: the command runs without one) */
  monitorPid: number;
  /** the kernel's start time of the process at pid ('' when not recorded): with the pid, its identity */
  pidStart: string;
  /** the boot (/proc/sys/kernel/random/boot_id) in which it last started ('' when not recorded) */
  bootId: string;
  /** its mount and UTS namespaces exist while it runs (made for its command, or by a first exec) */
  hasInside: boolean;
  /** stopped by the user: a restart policy leaves it alone */
  manuallyStopped: boolean;
  /** the image it was created from (images.id) */
  imageId: string;
  /** State.Health while a health check runs */
  health: ContainerHealth | null;
  /** its mounts, resolved at create (services/mounts.ts) */
  mounts: import('./services/mounts.js').MountSpec[];
  /** legacy links on the default bridge, resolved at create (services/links.ts) */
  links: import('./services/links.js').LegacyLink[];
  endpointConfigs: Array<{ network: string; settings: EndpointSettingsInput }>;
}

export interface Endpoint {
  id: string;
  containerId: string;
  networkId: string;
  /** the endpoint_configs entry (network as the client named it) this endpoint realizes */
  configKey: string;
  ifname: string;
  hostIfname: string;
  mac: string;
  /** address/prefix */
  ipv4: string | null;
  ipv6: string | null;
  gwPriority: number;
  position: number;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Docker's State.Health: starting, healthy or unhealthy, with the last results. */
export interface ContainerHealth {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

/** A host port published for a running container. */
export interface PortBinding {
  proto: 'tcp' | 'udp';
  containerPort: number;
  /** 0.0.0.0 for every address of the host */
  hostIp: string;
  hostPort: number;
}
