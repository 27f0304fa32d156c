import { readFileSync, existsSync } from 'node:fs';
import { DEFAULT_LIMITS, LimitError, limitsFromObject, parseLimitFlag, type Limits } from './limits.js';

export interface AddressPool {
  base: string;
  size: number;
}

export interface Config {
  hosts: string[];
  configFile: string;
  dataRoot: string;
  /** runtime state: containers' namespace files, their shims' sockets (dockerd's --exec-root) */
  execRoot: string;
  /** Distinguishes two daemons on one host: names our chains (CNMD-), rule comments and link aliases. */
  instance: string;
  bridgeName: string;
  bip?: string;
  defaultAddressPools?: AddressPool[];
  iptables: boolean;
  /** dockerd 29's --firewall-backend; undefined: nftables where the kernel and nft have it, else iptables */
  firewallBackend?: 'nftables' | 'iptables';
  ipForward: boolean;
  ipMasq: boolean;
  icc: boolean;
  mtu: number;
  dryRun: boolean;
  logLevel: string;
  /** DNS servers the embedded resolver forwards to (dockerd's --dns); default: the host's resolv.conf */
  dns: string[];
  /** seconds between full reconciles that repair drift; 0: only at start */
  reconcileInterval: number;
  /** etcd endpoint for overlay networks (etcd://HOST:PORT, as dockerd's --cluster-store); none: local only */
  clusterStore?: string;
  /**
   * dockerd's --cluster-store-opt: kv.cacertfile, kv.certfile, kv.keyfile (TLS to etcd, with
   * etcds://), kv.username and kv.passwordfile (etcd's authentication)
   */
  clusterStoreOpts: Record<string, string>;
  /** this host's address on the underlay: its VXLAN endpoint, and how other hosts know it */
  clusterAdvertise?: string;
  /** seconds a host's registration (and its endpoints) outlive it in the cluster store */
  clusterLeaseTtl: number;
  /** --tls as given (undefined: not given); TLS on tcp:// listeners */
  tls?: boolean;
  /** TLS with client certificates signed by tlsCaCert; required for tcp:// outside loopback */
  tlsVerify: boolean;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /** the unix sockets' group (dockerd's -G); undefined: group `cnmd` if it exists, else root */
  group?: string;
  /** a role per client certificate Common Name; empty: every verified client is admin */
  authz: Record<string, Role>;
  /** names a request's Host may carry besides loopback names and addresses (DNS rebinding guard) */
  allowedHosts: string[];
  /** what the daemon holds at once (./limits.ts): --limit NAME=N, daemon.json "limits" */
  limits: Limits;
}

export const ROLES = ['viewer', 'network', 'admin'] as const;

/** the --cluster-store-opt keys cnmd takes (dockerd's names for TLS; the user's for etcd authentication) */
export const CLUSTER_STORE_OPTS = ['kv.cacertfile', 'kv.certfile', 'kv.keyfile', 'kv.username', 'kv.passwordfile'];
export type Role = (typeof ROLES)[number];

export const DEFAULT_CONFIG_FILE = '/etc/cnmd/daemon.json';

interface FlagSpec {
  key: keyof Config;
  fileKey: string;
  kind: 'string' | 'bool' | 'int' | 'list' | 'pools' | 'authz' | 'opts' | 'limits';
  short?: string;
}

const FLAGS: FlagSpec[] = [
  { key: 'hosts', fileKey: 'hosts', kind: 'list', short: 'H' },
  { key: 'configFile', fileKey: '', kind: 'string' },
  { key: 'dataRoot', fileKey: 'data-root', kind: 'string' },
  { key: 'execRoot', fileKey: 'exec-root', kind: 'string' },
  { key: 'instance', fileKey: 'instance', kind: 'string' },
  { key: 'bridgeName', fileKey: 'bridge-name', kind: 'string' },
  { key: 'bip', fileKey: 'bip', kind: 'string' },
  { key: 'defaultAddressPools', fileKey: 'default-address-pools', kind: 'pools' },
  { key: 'iptables', fileKey: 'iptables', kind: 'bool' },
  { key: 'firewallBackend', fileKey: 'firewall-backend', kind: 'string' },
  { key: 'ipForward', fileKey: 'ip-forward', kind: 'bool' },
  { key: 'ipMasq', fileKey: 'ip-masq', kind: 'bool' },
  { key: 'icc', fileKey: 'icc', kind: 'bool' },
  { key: 'mtu', fileKey: 'mtu', kind: 'int' },
  { key: 'dryRun', fileKey: 'dry-run', kind: 'bool' },
  { key: 'logLevel', fileKey: 'log-level', kind: 'string', short: 'l' },
  { key: 'dns', fileKey: 'dns', kind: 'list' },
  { key: 'reconcileInterval', fileKey: 'reconcile-interval', kind: 'int' },
  { key: 'clusterStore', fileKey: 'cluster-store', kind: 'string' },
  { key: 'clusterStoreOpts', fileKey: 'cluster-store-opts', kind: 'opts' },
  { key: 'clusterAdvertise', fileKey: 'cluster-advertise', kind: 'string' },
  { key: 'clusterLeaseTtl', fileKey: 'cluster-lease-ttl', kind: 'int' },
  { key: 'tls', fileKey: 'tls', kind: 'bool' },
  { key: 'tlsVerify', fileKey: 'tlsverify', kind: 'bool' },
  { key: 'tlsCaCert', fileKey: 'tlscacert', kind: 'string' },
  { key: 'tlsCert', fileKey: 'tlscert', kind: 'string' },
  { key: 'tlsKey', fileKey: 'tlskey', kind: 'string' },
  { key: 'group', fileKey: 'group', kind: 'string', short: 'G' },
  { key: 'authz', fileKey: 'authz', kind: 'authz' },
  { key: 'allowedHosts', fileKey: 'allowed-hosts', kind: 'list' },
  { key: 'limits', fileKey: 'limits', kind: 'limits' },
];

/** The command-line spelling of a config key: dataRoot -> data-root; the pools flag is singular, as in dockerd. */
function flagName(spec: FlagSpec): string {
  if (spec.key === 'hosts') return 'host';
  if (spec.key === 'defaultAddressPools') return 'default-address-pool';
  if (spec.key === 'configFile') return 'config-file';
  if (spec.key === 'allowedHosts') return 'allowed-host';
  if (spec.key === 'clusterStoreOpts') return 'cluster-store-opt';
  if (spec.key === 'limits') return 'limit';
  return spec.fileKey;
}

export class ConfigError extends Error {}

function parseBool(flag: string, value: string): boolean {
  const v = value.toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  throw new ConfigError(`invalid boolean value "${value}" for --${flag}`);
}

function parseInt10(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw new ConfigError(`invalid integer value "${value}" for --${flag}`);
  return Number(value);
}

function parseRole(name: string, role: string, where: string): Role {
  if (!/^[^\0\n\r]{1,256}$/.test(name)) throw new ConfigError(`invalid ${where} client name "${name}"`);
  if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError(`invalid ${where} role "${role}" for "${name}": one of ${ROLES.join(', ')}`);
  return role as Role;
}

/** --authz NAME=ROLE: the role of the client whose certificate's Common Name is NAME. */
export function parseAuthzFlag(value: string): [string, Role] {
  const i = value.lastIndexOf('=');
  if (i <= 0) throw new ConfigError(`invalid --authz "${value}": use NAME=ROLE, ROLE one of ${ROLES.join(', ')}`);
  return [value.slice(0, i), parseRole(value.slice(0, i), value.slice(i + 1), '--authz')];
}

/** dockerd's --default-address-pool syntax: base=10.10.0.0/16,size=24 */
export function parsePoolFlag(value: string): AddressPool {
  const fields = Object.fromEntries(
    value.split(',').map((kv) => {
      const i = kv.indexOf('=');
      return i < 0 ? [kv, ''] : [kv.slice(0, i).trim(), kv.slice(i + 1).trim()];
    }),
  );
  if (!fields.base || !fields.size || !/^\d+$/.test(fields.size)) {
    throw new ConfigError(`invalid default address pool "${value}": expected base=CIDR,size=N`);
  }
  return { base: fields.base, size: Number(fields.size) };
}

type Partial_ = Omit<Partial<Config>, 'limits'> & { limits?: Partial<Limits> };

function asConfigError<T>(fn: () => T, prefix = ''): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LimitError) throw new ConfigError(prefix + e.message);
    throw e;
  }
}

function parseArgv(argv: string[]): Partial_ {
  const out: Record<string, unknown> = {};
  const byName = new Map<string, FlagSpec>();
  for (const f of FLAGS) {
    byName.set(flagName(f), f);
    if (f.short) byName.set(f.short, f);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new ConfigError(`unexpected argument "${arg}"`);
    const [, name, inline] = m;
    const spec = byName.get(name);
    if (!spec) throw new ConfigError(`unknown flag: --${name}`);
    let value = inline;
    if (value === undefined) {
      if (spec.kind === 'bool') value = 'true';
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new ConfigError(`flag needs an argument: --${name}`);
    }
    const key = spec.key as string;
    switch (spec.kind) {
      case 'bool': out[key] = parseBool(name, value); break;
      case 'int': out[key] = parseInt10(name, value); break;
      case 'list': out[key] = [...((out[key] as string[]) ?? []), value]; break;
      case 'pools': out[key] = [...((out[key] as AddressPool[]) ?? []), parsePoolFlag(value)]; break;
      case 'opts': {
        const eq = value.indexOf('=');
        if (eq <= 0) throw new ConfigError(`invalid --${name} "${value}": use KEY=VALUE`);
        out[key] = { ...((out[key] as Record<string, string>) ?? {}), [value.slice(0, eq)]: value.slice(eq + 1) };
        break;
      }
      case 'authz': {
        const [client, role] = parseAuthzFlag(value);
        out[key] = { ...((out[key] as Record<string, Role>) ?? {}), [client]: role };
        break;
      }
      case 'limits': {
        const [limit, n] = asConfigError(() => parseLimitFlag(value));
        out[key] = { ...((out[key] as Partial<Limits>) ?? {}), [limit]: n };
        break;
      }
      default: out[key] = value;
    }
  }
  return out as Partial_;
}

function parseFile(path: string, text: string): Partial_ {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`unable to parse ${path}: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${path}: the configuration must be a JSON object`);
  const out: Record<string, unknown> = {};
  const byFileKey = new Map(FLAGS.filter((f) => f.fileKey).map((f) => [f.fileKey, f]));
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const spec = byFileKey.get(k);
    if (!spec) throw new ConfigError(`${path}: unknown configuration key "${k}"`);
    const bad = () => new ConfigError(`${path}: invalid value for "${k}"`);
    switch (spec.kind) {
      case 'bool': if (typeof v !== 'boolean') throw bad(); break;
      case 'int': if (!Number.isInteger(v)) throw bad(); break;
      case 'string': if (typeof v !== 'string') throw bad(); break;
      case 'list': if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(); break;
      case 'pools':
        if (!Array.isArray(v) || v.some((p) => !p || typeof p.base !== 'string' || !Number.isInteger(p.size))) throw bad();
        break;
      case 'opts':
        if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw bad();
        break;
      case 'authz':
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad();
        for (const [client, role] of Object.entries(v)) parseRole(client, String(role), `${path} "authz"`);
        break;
      case 'limits':
        out[spec.key] = asConfigError(() => limitsFromObject(v), `${path}: `);
        continue;
    }
    out[spec.key] = v;
  }
  return out as Partial_;
}

/**
 * Flags, then the JSON config file, then defaults. As in dockerd, a setting given both as a flag and
 * in the file is an error rather than a silent override.
 */
export function loadConfig(argv: string[], readFile: (p: string) => string | undefined = defaultReadFile): Config {
  const flags = parseArgv(argv);
  const configFile = flags.configFile ?? DEFAULT_CONFIG_FILE;
  const text = readFile(configFile);
  if (text === undefined && flags.configFile) throw new ConfigError(`unable to read ${configFile}: no such file`);
  const file = text === undefined ? {} : parseFile(configFile, text);
  const both = Object.keys(file).filter((k) => k in flags);
  if (both.length) {
    const names = both.map((k) => FLAGS.find((f) => f.key === k)!.fileKey);
    throw new ConfigError(`the following directives are specified both as a flag and in the configuration file: ${names.join(', ')}`);
  }
  const merged: Partial_ = { ...file, ...flags };
  const instance = merged.instance ?? 'cnmd';
  if (!/^[a-z][a-z0-9]{0,7}$/.test(instance)) throw new ConfigError(`invalid instance name "${instance}": 1 to 8 lowercase letters and digits, starting with a letter`);
  const cfg: Config = {
    hosts: merged.hosts?.length ? merged.hosts : [`unix:///run/${instance}.sock`],
    configFile,
    dataRoot: merged.dataRoot ?? `/var/lib/${instance}`,
    execRoot: merged.execRoot ?? `/run/${instance}`,
    instance,
    bridgeName: merged.bridgeName ?? `${instance}0`,
    bip: merged.bip,
    defaultAddressPools: merged.defaultAddressPools,
    iptables: merged.iptables ?? true,
    ...(merged.firewallBackend !== undefined ? { firewallBackend: merged.firewallBackend } : {}),
    ipForward: merged.ipForward ?? true,
    ipMasq: merged.ipMasq ?? true,
    icc: merged.icc ?? true,
    mtu: merged.mtu ?? 1500,
    dryRun: merged.dryRun ?? false,
    logLevel: merged.logLevel ?? 'info',
    dns: merged.dns ?? [],
    reconcileInterval: merged.reconcileInterval ?? 5,
    clusterStore: merged.clusterStore,
    clusterStoreOpts: merged.clusterStoreOpts ?? {},
    clusterAdvertise: merged.clusterAdvertise,
    clusterLeaseTtl: merged.clusterLeaseTtl ?? 10,
    tls: merged.tls,
    tlsVerify: merged.tlsVerify ?? false,
    tlsCaCert: merged.tlsCaCert ?? `/etc/${instance}/ca.pem`,
    tlsCert: merged.tlsCert ?? `/etc/${instance}/cert.pem`,
    tlsKey: merged.tlsKey ?? `/etc/${instance}/key.pem`,
    group: merged.group,
    authz: merged.authz ?? {},
    allowedHosts: merged.allowedHosts ?? [],
    limits: { ...DEFAULT_LIMITS, ...merged.limits },
  };
  if (cfg.firewallBackend !== undefined && !['nftables', 'iptables'].includes(cfg.firewallBackend)) {
    throw new ConfigError(`invalid --firewall-backend "${cfg.firewallBackend as string}": nftables or iptables`);
  }
  if (cfg.clusterStore !== undefined) {
    if (!/^etcds?:\/\/[^/\s,]+:\d+(,[^/\s,]+:\d+)*$/.test(cfg.clusterStore)) {
      throw new ConfigError(`invalid --cluster-store "${cfg.clusterStore}": use etcd://HOST:PORT, or etcds://HOST:PORT for TLS; several endpoints as etcd://HOST:PORT,HOST:PORT`);
    }
    for (const k of Object.keys(cfg.clusterStoreOpts)) {
      if (!CLUSTER_STORE_OPTS.includes(k)) throw new ConfigError(`invalid --cluster-store-opt "${k}": one of ${CLUSTER_STORE_OPTS.join(', ')}`);
    }
    const tlsFiles = ['kv.cacertfile', 'kv.certfile', 'kv.keyfile'].filter((k) => cfg.clusterStoreOpts[k]);
    if (tlsFiles.length && !cfg.clusterStore.startsWith('etcds://')) throw new ConfigError(`--cluster-store-opt ${tlsFiles[0]} is for TLS: use etcds://`);
    if (cfg.clusterStore.startsWith('etcds://') && !cfg.clusterStoreOpts['kv.cacertfile']) throw new ConfigError('etcds:// needs --cluster-store-opt kv.cacertfile=FILE (the CA that signed etcd\'s certificate)');
    if (!!cfg.clusterStoreOpts['kv.certfile'] !== !!cfg.clusterStoreOpts['kv.keyfile']) throw new ConfigError('--cluster-store-opt kv.certfile and kv.keyfile go together');
    if (!!cfg.clusterStoreOpts['kv.username'] !== !!cfg.clusterStoreOpts['kv.passwordfile']) throw new ConfigError('--cluster-store-opt kv.username and kv.passwordfile go together');
    if (!cfg.clusterAdvertise || !/^\d+\.\d+\.\d+\.\d+$/.test(cfg.clusterAdvertise)) {
      throw new ConfigError('--cluster-store needs --cluster-advertise ADDRESS: this host\'s IPv4 address on the underlay');
    }
  }
  for (const [flag, dir] of [['data-root', cfg.dataRoot], ['exec-root', cfg.execRoot]]) {
    if (!dir.startsWith('/') || /[\0\n]/.test(dir)) throw new ConfigError(`invalid --${flag} "${dir}": an absolute path`);
  }
  if (cfg.clusterLeaseTtl < 2) throw new ConfigError(`invalid --cluster-lease-ttl ${cfg.clusterLeaseTtl}: at least 2 seconds`);
  if (cfg.reconcileInterval < 0) throw new ConfigError(`invalid --reconcile-interval ${cfg.reconcileInterval}: seconds, 0 to turn it off`);
  if (cfg.mtu < 68 || cfg.mtu > 65535) throw new ConfigError(`invalid MTU ${cfg.mtu}: must be between 68 and 65535`);
  if (cfg.bridgeName.length > 15) throw new ConfigError(`invalid bridge name "${cfg.bridgeName}": at most 15 characters`);
  for (const h of cfg.hosts) {
    if (!/^unix:\/\/\/.+/.test(h) && !/^tcp:\/\/[^/]+:\d+$/.test(h)) {
      throw new ConfigError(`invalid host "${h}": use unix:///path or tcp://ADDRESS:PORT`);
    }
  }
  checkListeners(cfg);
  if (cfg.group !== undefined && !/^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}$/.test(cfg.group)) throw new ConfigError(`invalid --group "${cfg.group}"`);
  for (const h of cfg.allowedHosts) {
    if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,252})$/.test(h)) throw new ConfigError(`invalid --allowed-host "${h}": a DNS name`);
  }
  return cfg;
}

/** Whether a tcp:// address is loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopbackListener(host: string): boolean {
  const name = new URL(host.replace(/^tcp:/, 'http:')).hostname.replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * A tcp:// listener needs TLS with client certificates (--tlsverify): the API is root on the host.
 * The one exception is a loopback address with --tls=false given explicitly (a warning at start).
 */
function checkListeners(cfg: Config): void {
  if (cfg.tlsVerify && cfg.tls === false) throw new ConfigError('--tlsverify needs TLS: do not give --tls=false with it');
  for (const h of cfg.hosts.filter((x) => x.startsWith('tcp://'))) {
    if (cfg.tlsVerify) continue;
    if (cfg.tls === false && isLoopbackListener(h)) continue;
    throw new ConfigError(
      `refusing to listen on ${h} without TLS client verification: the API is root on this host. ` +
        'Give --tlsverify with --tlscacert, --tlscert and --tlskey' +
        (isLoopbackListener(h) ? ', or --tls=false to accept any local user on this loopback address' : ''),
    );
  }
  if (Object.keys(cfg.authz).length && !cfg.tlsVerify) throw new ConfigError('--authz names clients by their certificates: it needs --tlsverify');
}

function defaultReadFile(p: string): string | undefined {
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}
