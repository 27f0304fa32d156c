/**
 * A container create request, parsed and checked with Docker's rules and texts before anything is
 * stored: what reaches the store (and later argv, a file or a rule) has been validated here. Pure.
 */
import { ALLOW_KEY, parseAllowList } from '../firewall/allow.js';
import type { Container, EndpointSettingsInput } from '../model.js';
import { invalid } from '../errors.js';
import { parseAddr } from '../ipam/cidr.js';
import { MAX_PUBLISHED_PORTS, portRequests } from './ports.js';
import { parseLogConfig } from '../runtime/log-rotation.js';
import { parseRestartPolicy } from './restart-policy.js';
import { parseMounts } from './mounts.js';
import { parseLink } from './links.js';
import { parseHealthcheck } from '../runtime/health.js';

export interface CreateContainerRequest {
  Image?: string | null;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  Env?: string[] | null;
  Hostname?: string | null;
  Domainname?: string | null;
  User?: string | null;
  WorkingDir?: string | null;
  Tty?: boolean | null;
  OpenStdin?: boolean | null;
  StdinOnce?: boolean | null;
  AttachStdin?: boolean | null;
  AttachStdout?: boolean | null;
  AttachStderr?: boolean | null;
  ExposedPorts?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
  MacAddress?: string | null;
  StopSignal?: string | null;
  StopTimeout?: number | null;
  Volumes?: Record<string, unknown> | null;
  Healthcheck?: Record<string, unknown> | null;
  /** cnmd extension: put the endpoints into this existing namespace (a path) instead of making one */
  SandboxKey?: string | null;
  HostConfig?: Record<string, any> | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettingsInput | null> | null } | null;
  [key: string]: unknown;
}

/** A container's network mode, as Docker spells it in HostConfig.NetworkMode. */
export type NetworkMode =
  | { kind: 'host' }
  | { kind: 'none' }
  /** shares the network namespace of another container (by name or id as given, or its full id once resolved) */
  | { kind: 'container'; target: string }
  /** 'bridge' (the default) or a user-defined network by name or id */
  | { kind: 'network'; name: string };

export function parseNetworkMode(mode: string): NetworkMode {
  if (mode === 'host') return { kind: 'host' };
  if (mode === 'none') return { kind: 'none' };
  if (mode.startsWith('container:')) return { kind: 'container', target: mode.slice('container:'.length) };
  return { kind: 'network', name: mode === 'default' || mode === '' ? 'bridge' : mode };
}

export const modeOf = (c: Pick<Container, 'networkMode'>) => parseNetworkMode(c.networkMode);
/** The container whose namespace this one shares, by full id (container:<id>). */
export const sharedWith = (c: Pick<Container, 'networkMode'>) => {
  const m = modeOf(c);
  return m.kind === 'container' ? m.target : undefined;
};
/** Whether the container has a network namespace of its own (made by cnmd, or adopted). */
export const ownsNetworkStack = (c: Pick<Container, 'networkMode'>) => {
  const k = modeOf(c).kind;
  return k !== 'host' && k !== 'container';
};

/** Docker's container name rule (moby's RestrictedNamePattern). */
export const NAME_RULE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** A hostname label by RFC 1123; the whole name up to 253 characters (what sethostname and resolvers take). */
const HOSTNAME_RULE = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*$/;
const PREDEFINED_MODES = ['bridge', 'host', 'none', 'default'];
/** An absolute path of plain segments (no `.` or `..`), of the characters namespace paths use. */
const SANDBOX_KEY_RULE = /^(?!.*\/\.\.?(\/|$))\/[A-Za-z0-9_.@:+=,\/-]{1,4095}$/;

/**
 * Options of an isolating runtime that cnmd cannot honour (its commands run as root on the host's
 * filesystem, with the host's devices and capabilities): refused by name, never dropped silently.
 */
const REFUSED_OPTIONS: Array<[string, (v: any) => boolean, string]> = [
  ['Privileged', (v) => v === true, 'cnmd does not confine devices or capabilities, so it cannot lift their confinement'],
  ['CapAdd', (v) => Array.isArray(v) && v.length > 0, 'commands run with the capabilities of root on the host'],
  ['CapDrop', (v) => Array.isArray(v) && v.length > 0, 'commands run with the capabilities of root on the host'],
  ['ReadonlyRootfs', (v) => v === true, "a container's filesystem is the host's"],
  ['Devices', (v) => Array.isArray(v) && v.length > 0, "a container sees the host's devices"],
  ['DeviceRequests', (v) => Array.isArray(v) && v.length > 0, "a container sees the host's devices"],
  ['Sysctls', (v) => !!v && typeof v === 'object' && Object.keys(v).length > 0, 'cnmd sets no sysctls of a container'],
];

/** The 400 for the first option of an isolating runtime that is set. */
export function refuseIsolationOptions(fields: Record<string, unknown>, prefix: string): void {
  for (const [key, set, why] of REFUSED_OPTIONS) {
    if (set(fields[key])) throw invalid(`${prefix}${key} is not supported by cnmd: ${why}`);
  }
}

export const asList = (v: string[] | string | null | undefined): string[] => (v == null ? [] : Array.isArray(v) ? v : [v]);

export function checkName(name: string): void {
  if (!NAME_RULE.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
}

/** user, uid, user:group or uid:gid (resolved against the host's passwd and group files at start). */
const USER_RULE = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]*(:[a-zA-Z0-9_][a-zA-Z0-9_.-]*)?$/;

function checkStrings(what: string, list: unknown, rule: (s: string) => boolean, text: (s: string) => string): void {
  if (list == null) return;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw invalid(`${what} must be a list of strings`);
  for (const s of list as string[]) if (!rule(s)) throw invalid(text(s));
}

/** The checks of HostConfig and Config fields that end up in argv, files or rules. */
function checkSettings(body: CreateContainerRequest, hostConfig: Record<string, any>, maxPorts: number): void {
  refuseIsolationOptions(hostConfig, 'HostConfig.');
  const allow = body.Labels?.[ALLOW_KEY];
  if (allow !== undefined) parseAllowList(String(allow), `the label ${ALLOW_KEY}`);
  for (const [key, v] of [['Hostname', body.Hostname], ['Domainname', body.Domainname]] as const) {
    if (v && (typeof v !== 'string' || !HOSTNAME_RULE.test(v))) throw invalid(`invalid ${key.toLowerCase()} format: ${String(v)}`);
  }
  if (body.User && (typeof body.User !== 'string' || !USER_RULE.test(body.User))) throw invalid(`invalid user: ${String(body.User)}`);
  if (body.WorkingDir && (typeof body.WorkingDir !== 'string' || !body.WorkingDir.startsWith('/') || body.WorkingDir.includes('\0'))) {
    throw invalid(`the working directory '${String(body.WorkingDir)}' is invalid, it needs to be an absolute path`);
  }
  checkStrings('Env', body.Env, (e) => !e.includes('\0') && !e.startsWith('='), (e) => `invalid environment variable: ${e}`);
  for (const part of [body.Cmd, body.Entrypoint]) {
    if (part != null && asList(part).some((a) => typeof a !== 'string' || a.includes('\0'))) throw invalid('Cmd and Entrypoint must be strings without NUL characters');
  }
  checkStrings('GroupAdd', hostConfig.GroupAdd, (g) => /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}$/.test(g), (g) => `invalid group: ${g}`);
  checkStrings('Dns', hostConfig.Dns, (s) => !!parseAddr(s), (s) => `${s} is not an ip address`);
  checkStrings('DnsSearch', hostConfig.DnsSearch, (s) => s === '.' || HOSTNAME_RULE.test(s), (s) => `invalid DNS search domain: ${s}`);
  checkStrings('DnsOptions', hostConfig.DnsOptions, (s) => s.length <= 255 && /^[a-z][a-z0-9_-]*(:[0-9a-z_-]+)?$/i.test(s), (s) => `invalid DNS option: ${s}`);
  for (const h of asList(hostConfig.ExtraHosts as string[] | null)) {
    // a name of the characters hosts files take (no '#', which would start a comment)
    const m = typeof h === 'string' ? /^([A-Za-z0-9_.-]{1,253})[:=](.+)$/.exec(h) : null;
    if (!m || (m[2] !== 'host-gateway' && !parseAddr(m[2].replace(/^\[|\]$/g, '')))) throw invalid(`bad format for add-host: "${h}"`);
  }
  portRequests(hostConfig, body.ExposedPorts, maxPorts);
  parseLogConfig(hostConfig.LogConfig as Parameters<typeof parseLogConfig>[0]);
  parseHealthcheck(body.Healthcheck);
  const policy = parseRestartPolicy(hostConfig.RestartPolicy);
  if (hostConfig.AutoRemove && policy.name !== 'no') throw invalid(`can't create 'AutoRemove' container with restart policy`);
}

export interface ParsedCreate {
  /** the container, without its name and id (given by the service inside its transaction) */
  container: Omit<Container, 'id' | 'name'>;
  warnings: string[];
  /** container:<target> as the client named the target, for the service to resolve */
  shareTarget?: string;
}

/** Parses a create request into the container cnmd stores; throws Docker's 400s. */
/** maxPorts: ports one container may publish (--limit published-ports) */
export function parseCreate(body: CreateContainerRequest, apiVersion: number, created: string, maxPorts = MAX_PUBLISHED_PORTS): ParsedCreate {
  const hostConfig = { ...(body.HostConfig ?? {}) };
  const warnings: string[] = [];
  const given = String(hostConfig.NetworkMode ?? '') || 'default';
  const mode = parseNetworkMode(given);
  const endpointsConfig = { ...(body.NetworkingConfig?.EndpointsConfig ?? {}) };
  const configKeys = Object.keys(endpointsConfig);
  if (apiVersion < 1.44 && configKeys.length > 1) {
    throw invalid(`Container cannot be connected to network endpoints: ${configKeys.join(', ')}`);
  }
  if (body.SandboxKey != null && typeof body.SandboxKey !== 'string') throw invalid('SandboxKey must be a path');
  const sandboxKey = body.SandboxKey || null;
  if (sandboxKey && !SANDBOX_KEY_RULE.test(sandboxKey)) {
    throw invalid(`SandboxKey ${sandboxKey}: must be an absolute path, such as /run/netns/NAME or /proc/PID/ns/net`);
  }
  checkSettings(body, hostConfig, maxPorts);

  if (mode.kind === 'container') {
    if (!mode.target) throw invalid(`invalid network mode: invalid container format container:<name|id>`);
    if (body.Hostname) throw invalid('conflicting options: hostname and the network mode');
    if (asList(hostConfig.Dns).length) throw invalid('conflicting options: dns and the network mode');
    if (asList(hostConfig.ExtraHosts).length) throw invalid('conflicting options: custom host-to-IP mapping and the network mode');
    if (hostConfig.PortBindings && Object.keys(hostConfig.PortBindings).length) throw invalid('conflicting options: port publishing and the container type network mode');
    if (asList(hostConfig.Links).length) throw invalid('conflicting options: container type network can\'t be used with links. This would result in undefined behavior');
    if (sandboxKey) throw invalid('SandboxKey cannot be used with a container: network mode');
  }
  if (hostConfig.Links != null && !Array.isArray(hostConfig.Links)) throw invalid('HostConfig.Links must be a list of name:alias');
  asList(hostConfig.Links).forEach(parseLink);
  if (mode.kind === 'host') {
    if (asList(hostConfig.Links).length) throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    if (hostConfig.PortBindings && Object.keys(hostConfig.PortBindings).length) warnings.push('Published ports are discarded when using host network mode');
    if (sandboxKey) throw invalid('SandboxKey cannot be used with the host network mode');
  }

  // The networks the container asks for: its NetworkMode, then any other EndpointsConfig entry.
  const requested: Array<{ network: string; settings: EndpointSettingsInput }> = [];
  if (mode.kind === 'network' || mode.kind === 'none') {
    const primary = endpointsConfig[given] ?? endpointsConfig['default'] ?? {};
    const settings = { ...primary };
    if (body.MacAddress && !settings.MacAddress) settings.MacAddress = body.MacAddress;
    if (mode.kind === 'none') {
      if (configKeys.some((k) => k !== 'none' && k !== 'default')) {
        throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      }
    } else {
      requested.push({ network: mode.name, settings });
      for (const k of configKeys) {
        if (k === given || k === mode.name || k === 'default') continue;
        if (PREDEFINED_MODES.includes(k)) throw invalid('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
        requested.push({ network: k, settings: endpointsConfig[k] ?? {} });
      }
    }
  }
  const stored = mode.kind === 'network' && mode.name === 'bridge' ? 'bridge' : given;
  return {
    container: {
      created,
      config: {
        Hostname: body.Hostname || '',
        Domainname: body.Domainname ?? '',
        User: body.User ?? '',
        Image: body.Image ?? '',
        Cmd: body.Cmd == null ? null : asList(body.Cmd),
        Entrypoint: body.Entrypoint == null ? null : asList(body.Entrypoint),
        Env: body.Env ?? null,
        WorkingDir: body.WorkingDir ?? '',
        Volumes: body.Volumes ?? null,
        ...(body.Healthcheck ? { Healthcheck: body.Healthcheck } : {}),
        ExposedPorts: body.ExposedPorts ?? null,
        Labels: body.Labels ?? {},
        Tty: !!body.Tty,
        OpenStdin: !!body.OpenStdin,
        StdinOnce: !!body.StdinOnce,
        AttachStdin: !!body.AttachStdin,
        AttachStdout: !!body.AttachStdout,
        AttachStderr: !!body.AttachStderr,
        ...(body.StopSignal ? { StopSignal: body.StopSignal } : {}),
        ...(body.StopTimeout != null ? { StopTimeout: body.StopTimeout } : {}),
      },
      hostConfig: { ...hostConfig, NetworkMode: given },
      networkMode: stored,
      sandboxKey,
      netns: null,
      state: 'created',
      pid: 0,
      exitCode: 0,
      error: '',
      startedAt: ZERO,
      finishedAt: ZERO,
      sandboxId: '',
      restartCount: 0,
      paused: false,
      monitorPid: 0,
      pidStart: '',
      bootId: '',
      hasInside: false,
      manuallyStopped: false,
      imageId: '',
      health: null,
      mounts: parseMounts(hostConfig, body.Volumes as Record<string, unknown> | null | undefined),
      // resolved by the service (they name other containers)
      links: [],
      endpointConfigs: requested,
    },
    warnings,
    ...(mode.kind === 'container' ? { shareTarget: mode.target } : {}),
  };
}

const ZERO = '0001-01-01T00:00:00Z';

/** The command a container runs: Entrypoint then Cmd (empty: a sandbox without a process). */
export const commandOf = (c: Pick<Container, 'config'>): string[] => [...asList(c.config.Entrypoint), ...asList(c.config.Cmd)];
