/** What /version and /info report about this daemon and its host. */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { API_VERSION, MIN_API_VERSION, CNMD_VERSION } from '../api/version.js';

function operatingSystem(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1] : 'Linux';
  } catch {
    return 'Linux';
  }
}

const arch = () => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' })[process.arch as string] ?? process.arch;

export interface SystemCounts {
  containers: number;
  running: number;
  stopped: number;
}

export function versionInfo(): Record<string, unknown> {
  const details = {
    ApiVersion: API_VERSION,
    Arch: arch(),
    BuildTime: '',
    Experimental: 'false',
    GitCommit: '',
    GoVersion: `node ${process.version}`,
    KernelVersion: os.release(),
    MinAPIVersion: MIN_API_VERSION,
    Os: 'linux',
  };
  return {
    Platform: { Name: 'cnmd' },
    Components: [{ Name: 'Engine', Version: CNMD_VERSION, Details: details }],
    Version: CNMD_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: details.GoVersion,
    Os: 'linux',
    Arch: details.Arch,
    KernelVersion: details.KernelVersion,
    BuildTime: '',
  };
}

/** The cluster as /info shows it (cnmd's extension CnmdCluster), when the daemon is in one. */
export interface ClusterInfo {
  available: boolean;
  nodes: Array<{ id: string; name: string; address: string }>;
}

export function systemInfo(config: Config, daemonId: string, counts: SystemCounts, pools: Array<{ base: string; size: number }>, cluster?: ClusterInfo): Record<string, unknown> {
  return {
    ID: daemonId,
    Containers: counts.containers,
    ContainersRunning: counts.running,
    ContainersPaused: 0,
    ContainersStopped: counts.stopped,
    Images: 0,
    Driver: 'none',
    DriverStatus: [],
    Plugins: { Volume: [], Network: ['bridge', 'host', 'macvlan', 'null', 'overlay'], Authorization: null, Log: [] },
    MemoryLimit: false,
    SwapLimit: false,
    IPv4Forwarding: config.ipForward,
    Debug: config.logLevel === 'debug',
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'none',
    NEventsListener: 0,
    KernelVersion: os.release(),
    OperatingSystem: operatingSystem(),
    OSVersion: '',
    OSType: 'linux',
    Architecture: os.machine(),
    IndexServerAddress: '',
    RegistryConfig: null,
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    DockerRootDir: config.dataRoot,
    Name: os.hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: CNMD_VERSION,
    // no OCI runtime: a container's processes are placed in its namespaces with nsenter
    Runtimes: { cnmd: { path: 'nsenter' } },
    DefaultRuntime: 'cnmd',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: '',
    SecurityOptions: [],
    DefaultAddressPools: pools.map((p) => ({ Base: p.base, Size: p.size })),
    // dockerd's fields for --cluster-store and --cluster-advertise (API < 1.41)
    ClusterStore: config.clusterStore ?? '',
    ClusterAdvertise: config.clusterAdvertise ?? '',
    ...(cluster
      ? { CnmdCluster: { Available: cluster.available, Nodes: cluster.nodes.map((n) => ({ ID: n.id, Name: n.name, Addr: n.address })) } }
      : {}),
    Warnings: [
      ...(config.dryRun ? ['cnmd runs with --dry-run: host commands are recorded, not run'] : []),
      ...(cluster && !cluster.available ? [`the cluster store ${config.clusterStore} is unavailable: overlay networks cannot change`] : []),
    ],
  };
}
