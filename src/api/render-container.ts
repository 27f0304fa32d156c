/** Containers in Docker's JSON shapes (inspect, list), by API version. */
import type { Container, Endpoint, EndpointSettingsInput, Network, PortBinding } from '../model.js';
import { statusOf } from '../services/containers.js';

/**
 * HostConfig.NetworkMode: a container created without one says `default` up to API 1.44, as Docker
 * 20.10 stores it; from 1.45 (Docker 26.1) it shows the network it means, `bridge`.
 */
/**
 * HostConfig as Docker shows it: every field, its default where the client sent none (docker-py
 * sends a sparse one and then reads HostConfig.LogConfig.Type). cnmd sets no cgroups, masks no
 * paths and runs no OCI runtime: those fields are Docker's zero values; its processes share the
 * host's PID, IPC and cgroup namespaces, and the modes say so.
 */
export function hostConfigShown(c: Container, api: number, links: string[] | null): Record<string, unknown> {
  const hc = c.hostConfig;
  const log = (hc.LogConfig ?? {}) as { Type?: string; Config?: Record<string, string> };
  return {
    Binds: null, ContainerIDFile: '', PortBindings: {}, AutoRemove: false, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [0, 0],
    CapAdd: null, CapDrop: null, Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null,
    Cgroup: '', OomScoreAdj: 0, Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false,
    SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 67108864, Runtime: 'cnmd', Isolation: '', CpuShares: 0, Memory: 0,
    NanoCpus: 0, CgroupParent: '', BlkioWeight: 0, BlkioWeightDevice: [], BlkioDeviceReadBps: [], BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [], BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0,
    CpusetCpus: '', CpusetMems: '', Devices: [], DeviceCgroupRules: null, DeviceRequests: null, MemoryReservation: 0, MemorySwap: 0,
    MemorySwappiness: null, OomKillDisable: false, PidsLimit: null, Ulimits: [], CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0,
    IOMaximumBandwidth: 0, MaskedPaths: null, ReadonlyPaths: null,
    ...hc,
    LogConfig: { Type: log.Type || 'json-file', Config: log.Config ?? {} },
    RestartPolicy: hc.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 },
    CgroupnsMode: hc.CgroupnsMode || 'host',
    IpcMode: hc.IpcMode || 'host',
    PidMode: hc.PidMode || 'host',
    NetworkMode: networkModeShown(c, api),
    Links: links,
  };
}

export function networkModeShown(c: Container, api: number): string {
  const given = String(c.hostConfig.NetworkMode ?? '');
  if (api < 1.45 && (given === 'default' || given === '')) return 'default';
  return c.networkMode;
}

export interface ContainerView {
  container: Container;
  /** realized endpoints with their networks (running containers) */
  endpoints: Array<{ endpoint: Endpoint; network: Network }>;
  /** resolves a requested network name, for stopped containers' NetworkSettings */
  findNetwork: (term: string) => Network | undefined;
  /** how the sandbox is entered, when running */
  sandboxKey: string;
  /** published ports, when running */
  ports: PortBinding[];
  /** its resolv.conf, hosts, hostname and log, once it was started */
  files?: { resolvConf: string; hosts: string; hostname: string; log: string };
  /** exec instances (null when none) */
  execIds: string[] | null;
  /** HostConfig.Links as Docker shows them (/child:/parent/alias) */
  links: string[] | null;
  /** where a volume's data is on the host */
  volumePath: (name: string) => string;
}

/** Mounts as inspect and ps show them. */
function mounts(v: ContainerView): Array<Record<string, unknown>> {
  return v.container.mounts.map((m) => {
    if (m.type === 'bind') return { Type: 'bind', Source: m.source, Destination: m.target, Mode: m.mode, RW: !m.readOnly, Propagation: 'rprivate' };
    if (m.type === 'volume') return { Type: 'volume', Name: m.name, Source: v.volumePath(m.name), Destination: m.target, Driver: 'local', Mode: m.mode || 'z', RW: !m.readOnly, Propagation: '' };
    return { Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW: true, Propagation: '' };
  });
}

const split = (cidr: string | null) => (cidr ? { ip: cidr.split('/')[0], bits: Number(cidr.split('/')[1]) } : { ip: '', bits: 0 });

function endpointSettings(v: ContainerView, network: Network | undefined, settings: EndpointSettingsInput, ep: Endpoint | undefined, api: number) {
  const c = v.container;
  const user = network ? !network.predefined : true;
  const userAliases = settings.Aliases?.length ? [...settings.Aliases] : [];
  const short = c.id.slice(0, 12);
  let aliases: string[] | null;
  if (api >= 1.45) aliases = userAliases.length ? userAliases : null;
  else aliases = user ? [...userAliases, short, ...(c.config.Hostname && c.config.Hostname !== short ? [c.config.Hostname] : [])] : null;
  const v4 = split(ep?.ipv4 ?? null);
  const v6 = split(ep?.ipv6 ?? null);
  const out: Record<string, unknown> = {
    IPAMConfig: settings.IPAMConfig && Object.values(settings.IPAMConfig).some((x) => x) ? settings.IPAMConfig : null,
    Links: settings.Links ?? null,
    Aliases: aliases,
    MacAddress: ep?.mac ?? '',
    DriverOpts: settings.DriverOpts ?? null,
  };
  if (api >= 1.48) out.GwPriority = ep?.gwPriority ?? settings.GwPriority ?? 0;
  Object.assign(out, {
    NetworkID: ep ? ep.networkId : (network?.id ?? ''),
    EndpointID: ep?.id ?? '',
    Gateway: ep?.ipv4 ? (network?.subnets.find((s) => s.family === 4)?.gateway ?? '') : '',
    IPAddress: v4.ip,
    IPPrefixLen: v4.bits,
    IPv6Gateway: ep?.ipv6 ? (network?.subnets.find((s) => s.family === 6)?.gateway ?? '') : '',
    GlobalIPv6Address: v6.ip,
    GlobalIPv6PrefixLen: v6.bits,
  });
  if (api >= 1.44) {
    out.DNSNames = user && ep ? [c.name, ...userAliases, short, ...(c.config.Hostname && c.config.Hostname !== short ? [c.config.Hostname] : [])] : null;
  }
  return out;
}

export function renderNetworks(v: ContainerView, api: number): Record<string, unknown> {
  const c = v.container;
  const networks: Record<string, unknown> = {};
  if (c.networkMode.startsWith('container:')) return networks;
  if (c.networkMode === 'host' || c.networkMode === 'none') {
    const n = v.findNetwork(c.networkMode);
    networks[c.networkMode] = endpointSettings(v, n, {}, undefined, api);
    return networks;
  }
  if (c.state === 'running') {
    for (const { endpoint, network } of v.endpoints) {
      const settings = c.endpointConfigs.find((e) => e.network === endpoint.configKey)?.settings ?? {};
      networks[network.name] = endpointSettings(v, network, settings, endpoint, api);
    }
    return networks;
  }
  for (const ec of c.endpointConfigs) {
    const n = v.findNetwork(ec.network);
    networks[n?.name ?? ec.network] = endpointSettings(v, n, ec.settings, undefined, api);
  }
  return networks;
}

/** NetworkSettings.Ports: every exposed port, with its host bindings or null; {} when not running. */
function ports(v: ContainerView): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  if (v.container.state !== 'running') return {};
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const p of Object.keys(v.container.config.ExposedPorts ?? {})) out[p.includes('/') ? p : `${p}/tcp`] = null;
  for (const b of v.ports) {
    const key = `${b.containerPort}/${b.proto}`;
    out[key] = [...(out[key] ?? []), { HostIp: b.hostIp, HostPort: String(b.hostPort) }];
  }
  return out;
}

export function renderInspect(v: ContainerView, api: number): Record<string, unknown> {
  const c = v.container;
  const running = c.state === 'running';
  const argv = [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])];
  const bridgeEp = v.endpoints.find((e) => e.network.name === 'bridge');
  const legacy = bridgeEp && running ? endpointSettings(v, bridgeEp.network, {}, bridgeEp.endpoint, api) : undefined;
  const networkSettings: Record<string, unknown> = {
    Bridge: '',
    SandboxID: running ? c.sandboxId : '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: ports(v),
    SandboxKey: running ? v.sandboxKey : '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: legacy?.EndpointID ?? '',
    Gateway: legacy?.Gateway ?? '',
    GlobalIPv6Address: legacy?.GlobalIPv6Address ?? '',
    GlobalIPv6PrefixLen: legacy?.GlobalIPv6PrefixLen ?? 0,
    IPAddress: legacy?.IPAddress ?? '',
    IPPrefixLen: legacy?.IPPrefixLen ?? 0,
    IPv6Gateway: legacy?.IPv6Gateway ?? '',
    MacAddress: legacy?.MacAddress ?? '',
    Networks: renderNetworks(v, api),
  };
  return {
    Id: c.id,
    Created: c.created,
    Path: argv[0] ?? '',
    Args: argv.slice(1),
    State: {
      Status: statusOf(c),
      Running: running,
      Paused: running && c.paused,
      Restarting: c.state === 'restarting',
      OOMKilled: false,
      Dead: false,
      Pid: running ? c.pid : 0,
      ExitCode: c.exitCode,
      Error: c.error,
      StartedAt: c.startedAt,
      FinishedAt: c.finishedAt,
      ...(c.health ? { Health: c.health } : {}),
    },
    Image: c.imageId ? `sha256:${c.imageId}` : c.config.Image,
    ResolvConfPath: v.files?.resolvConf ?? '',
    HostnamePath: v.files?.hostname ?? '',
    HostsPath: v.files?.hosts ?? '',
    LogPath: v.files?.log ?? '',
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: '',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: v.execIds,
    HostConfig: hostConfigShown(c, api, v.links),
    Mounts: mounts(v),
    Config: {
      Hostname: c.config.Hostname,
      Domainname: c.config.Domainname,
      User: c.config.User ?? '',
      AttachStdin: !!c.config.AttachStdin,
      AttachStdout: !!c.config.AttachStdout,
      AttachStderr: !!c.config.AttachStderr,
      ExposedPorts: c.config.ExposedPorts ?? undefined,
      Tty: !!c.config.Tty,
      OpenStdin: !!c.config.OpenStdin,
      StdinOnce: !!c.config.StdinOnce,
      Env: c.config.Env,
      Cmd: c.config.Cmd,
      Image: c.config.Image,
      Volumes: c.config.Volumes ?? null,
      WorkingDir: c.config.WorkingDir ?? '',
      Entrypoint: c.config.Entrypoint,
      OnBuild: null,
      Labels: c.config.Labels ?? {},
      ...(c.config.Healthcheck ? { Healthcheck: c.config.Healthcheck } : {}),
      ...(c.config.StopSignal ? { StopSignal: c.config.StopSignal } : {}),
      ...(c.config.StopTimeout != null ? { StopTimeout: c.config.StopTimeout } : {}),
    },
    NetworkSettings: networkSettings,
  };
}

/** go-units HumanDuration, as `docker ps` prints it. */
export function humanDuration(seconds: number): string {
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${Math.floor(seconds)} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

export function statusText(c: Container, now = Date.now()): string {
  if (c.state === 'running') {
    const health = !c.health ? '' : c.health.Status === 'starting' ? ' (health: starting)' : ` (${c.health.Status})`;
    return `Up ${humanDuration((now - Date.parse(c.startedAt)) / 1000)}${c.paused ? ' (Paused)' : health}`;
  }
  if (c.state === 'restarting') return `Restarting (${c.exitCode}) ${humanDuration((now - Date.parse(c.finishedAt)) / 1000)} ago`;
  if (c.state === 'exited') return `Exited (${c.exitCode}) ${humanDuration((now - Date.parse(c.finishedAt)) / 1000)} ago`;
  if (c.state === 'removing') return 'Removal In Progress';
  return 'Created';
}

export function renderSummary(v: ContainerView, api: number): Record<string, unknown> {
  const c = v.container;
  const argv = [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])];
  const item: Record<string, unknown> = {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.config.Image,
    ImageID: c.imageId ? `sha256:${c.imageId}` : '',
    Command: argv.join(' '),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: Object.entries(ports(v)).flatMap(([p, list]) => {
      const [port, type] = p.split('/');
      return list ? list.map((b) => ({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type })) : [{ PrivatePort: Number(port), Type: type }];
    }),
    Labels: c.config.Labels ?? {},
    State: statusOf(c),
    Status: statusText(c),
    HostConfig: { NetworkMode: networkModeShown(c, api) },
    NetworkSettings: { Networks: renderNetworks(v, api) },
    Mounts: mounts(v),
  };
  return item;
}

