import type { Executor } from './executor.js';
import { type HostState, type NeighborState, type RuleState, type SandboxState, emptyRuleState, parseFdb, parseIpAddrJson, parseIptablesSave, parseNeighbors, parseNsMounts, parseSandboxInside } from './state.js';
import { type Prefix, formatPrefix } from '../ipam/cidr.js';
import { type NftState, parseNftTable } from './nft.js';
import type { FirewallBackendName } from '../firewall/intent.js';
import { type WireguardState, parseWgDump } from './wg-text.js';

export interface ReadOptions {
  chainPrefix: string;
  instance: string;
  /** read our iptables chains (iptables-save) */
  iptables: boolean;
  /** read cnmd's own nftables table */
  nft: boolean;
  sysctls: string[];
  /** sandbox namespaces (paths) whose inside to read; one process start each */
  sandboxes?: string[];
  /** read the neighbour and FDB entries of VXLAN ports (two process starts; only with overlay networks) */
  neighbors?: boolean;
  /** read WireGuard links (one process start; only with encrypted overlay networks) */
  wireguard?: boolean;
  /** files cnmd keeps whose contents to read (no process starts) */
  files?: string[];
  /** where containers' directories are: their namespace files are looked for under runRoot */
  roots?: { dataRoot: string; runRoot: string };
}

/** iproute2's per-namespace files (`ip netns exec` mounts them over /etc) */
export const NETNS_ETC_DIR = '/etc/netns';

export const NETNS_DIR = '/run/netns';
/** VXLAN ports of overlay networks are named vx-<id10> */
const VXLAN_PREFIX = 'vx-';

/** The inside of one sandbox namespace: its links and default routes. */
export async function readSandbox(exec: Executor, path: string): Promise<SandboxState | undefined> {
  try {
    const r = await exec.run('nsenter', [`--net=${path}`, 'ip', '-json', '-details', '-batch', '-'], {
      input: 'addr show\nroute show default\nroute show table local 127.0.0.11/32\n',
    });
    return parseSandboxInside(r.stdout);
  } catch {
    return undefined;
  }
}

/** Permanent neighbour entries on VXLAN ports, each with the host its FDB entry sends to: two process starts. */
async function readNeighbors(exec: Executor): Promise<Map<string, NeighborState>> {
  const [neigh, fdb] = await Promise.all([exec.run('ip', ['-json', 'neigh', 'show', 'nud', 'permanent']), exec.run('bridge', ['-json', 'fdb', 'show'])]);
  return parseNeighbors(neigh.stdout, VXLAN_PREFIX, parseFdb(fdb.stdout, VXLAN_PREFIX));
}

/** WireGuard links, without their private keys: one process start. */
async function readWireguard(exec: Executor): Promise<Map<string, WireguardState>> {
  return parseWgDump((await exec.run('wg', ['show', 'all', 'dump'])).stdout);
}

/** Our chains in iptables or ip6tables (empty when the options do not ask for them). */
function readRules(exec: Executor, tool: 'iptables-save' | 'ip6tables-save', opts: ReadOptions): Promise<RuleState> {
  if (!opts.iptables) return Promise.resolve(emptyRuleState());
  const read = exec.run(tool, []).then((r) => parseIptablesSave(r.stdout, opts.chainPrefix, opts.instance));
  // a kernel without IPv6 (ipv6.disable=1) has no ip6tables: IPv4 goes on without it
  return tool === 'iptables-save' ? read : read.catch(() => ({ ...emptyRuleState(), unavailable: true }));
}

/** cnmd's nftables table, or undefined when it does not exist. */
export async function readNftTable(exec: Executor, instance: string): Promise<NftState | undefined> {
  try {
    const out = (await exec.run('nft', ['-j', 'list', 'table', 'inet', instance])).stdout;
    return out.trim() ? parseNftTable(out) : undefined;
  } catch (e) {
    if (/No such file or directory/.test(String((e as { stderr?: string }).stderr ?? (e as Error).message))) return undefined;
    throw e;
  }
}

/** Reads links, our firewall rules and the given sysctls: a process start each, whatever the count of networks. */
export async function readHostState(exec: Executor, opts: ReadOptions): Promise<HostState> {
  const roots = opts.roots;
  const [links, rules, rules6, nft, sysctls, netns, sandboxes, neighbors, files, mounts, netnsDirs, dataDirs, runDirs, wireguard] = await Promise.all([
    exec.run('ip', ['-json', '-details', 'addr', 'show']).then((r) => parseIpAddrJson(r.stdout)),
    readRules(exec, 'iptables-save', opts),
    readRules(exec, 'ip6tables-save', opts),
    opts.nft ? readNftTable(exec, opts.instance) : Promise.resolve(undefined),
    exec.readSysctls(opts.sysctls),
    exec.listDir(NETNS_DIR),
    Promise.all((opts.sandboxes ?? []).map(async (p) => [p, await readSandbox(exec, p)] as const)),
    opts.neighbors ? readNeighbors(exec) : Promise.resolve(new Map()),
    Promise.all((opts.files ?? []).map(async (p) => [p, await exec.readFile(p)] as const)),
    roots ? exec.readFile('/proc/self/mountinfo').then((t) => parseNsMounts(t ?? '', roots.runRoot)) : Promise.resolve(new Set<string>()),
    exec.listDir(NETNS_ETC_DIR),
    roots ? exec.listDir(`${roots.dataRoot}/containers`) : Promise.resolve([]),
    roots ? exec.listDir(roots.runRoot) : Promise.resolve([]),
    opts.wireguard ? readWireguard(exec) : Promise.resolve(undefined),
  ]);
  return {
    links,
    rules,
    rules6,
    ...(nft ? { nft } : {}),
    sysctls,
    netns: new Set(netns),
    sandboxes: new Map(sandboxes.filter((e): e is [string, SandboxState] => e[1] !== undefined)),
    neighbors,
    ...(wireguard ? { wireguard } : {}),
    files: new Map(files.filter((e): e is [string, string] => e[1] !== undefined)),
    mounts,
    netnsDirs: new Set(netnsDirs),
    dataDirs: new Set(dataDirs.filter((d) => /^[0-9a-f]{64}$/.test(d))),
    runDirs: new Set(runDirs.filter((d) => /^[0-9a-f]{12}$/.test(d))),
  };
}


/**
 * /proc/net/route: Iface Destination Gateway Flags … Mask …, tab-separated, addresses as little-endian
 * hex. Read on every automatic subnet choice (a line per bridge): the prefixes are made from the hex
 * directly, with no text in between.
 */
export function parseProcNetRoute(text: string, skip?: (iface: string, prefix: string) => boolean): Prefix[] {
  const out: Prefix[] = [];
  const swap = (n: number) => (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
  let at = text.indexOf('\n') + 1;
  while (at > 0 && at < text.length) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end < 0 ? text.length : end);
    at = end < 0 ? text.length : end + 1;
    const f = line.split('\t');
    if (f.length < 8) continue;
    const dest = f[1]!.trim(), gateway = f[2]!.trim();
    if (gateway !== '00000000' || dest === '00000000' || !/^[0-9A-Fa-f]{8}$/.test(dest)) continue;
    const mask = swap(parseInt(f[7]!.trim(), 16) >>> 0);
    // a mask is contiguous ones from the top
    const bits = mask === 0 ? 0 : 32 - Math.log2((~mask >>> 0) + 1);
    if (!Number.isInteger(bits)) continue;
    const route: Prefix = { family: 4, addr: BigInt(swap(parseInt(dest, 16) >>> 0)), bits };
    if (skip?.(f[0]!.trim(), formatPrefix(route))) continue;
    out.push(route);
  }
  return out;
}

/** The MTU of the link that has this address (the underlay of overlay networks); undefined when none has. */
export async function readMtuOf(exec: Executor, address: string): Promise<number | undefined> {
  const links = parseIpAddrJson((await exec.run('ip', ['-json', '-details', 'addr', 'show'])).stdout);
  return [...links.values()].find((l) => l.addresses.some((a) => a.split('/')[0] === address))?.mtu;
}

/** The names of the host's links (one process start). */
export async function readLinkNames(exec: Executor): Promise<Set<string>> {
  const r = await exec.run('ip', ['-json', 'link', 'show']);
  return new Set((JSON.parse(r.stdout.trim() || '[]') as Array<{ ifname?: string }>).map((l) => l.ifname).filter((n): n is string => !!n));
}

/** Fails with the Debian package to install when a tool is missing. */
export async function checkTools(exec: Executor, firewall: FirewallBackendName): Promise<void> {
  const tools: Array<[string, string[], string]> = [['ip', ['-V'], 'iproute2']];
  if (firewall === 'iptables') {
    for (const tool of ['iptables-restore', 'iptables-save', 'ip6tables-restore', 'ip6tables-save']) tools.push([tool, ['--version'], 'iptables']);
  }
  // listing the tables needs the kernel's nf_tables as well as the tool
  if (firewall === 'nftables') tools.push(['nft', ['list', 'tables'], 'nftables']);
  for (const [file, args, pkg] of tools) {
    try {
      await exec.run(file, args);
    } catch {
      throw new Error(`${file} is not installed or does not run: install the Debian package ${pkg} (apt-get install ${pkg})`);
    }
  }
}

/**
 * What encrypts overlay networks here: wg (wireguard-tools), with the kernel's WireGuard (its module is
 * loaded) or else wireguard-go; undefined when neither, or no wg.
 */
export async function findWireguard(exec: Executor): Promise<{ kernel: boolean } | undefined> {
  const runs = async (file: string, args: string[]) => exec.run(file, args).then(() => true, () => false);
  const [wg, kernel, go] = await Promise.all([runs('wg', ['--version']), exec.listDir('/sys/module/wireguard').then((l) => l.length > 0), runs('wireguard-go', ['--version'])]);
  if (!wg || (!kernel && !go)) return undefined;
  return { kernel };
}

/** Which firewall tools run here: iptables-save, and nft with the kernel's nf_tables (it lists the tables). */
export async function findFirewallTools(exec: Executor): Promise<{ iptables: boolean; nft: boolean }> {
  const runs = async (file: string, args: string[]) => exec.run(file, args).then(() => true, () => false);
  const [iptables, nft] = await Promise.all([runs('iptables-save', ['--version']), runs('nft', ['list', 'tables'])]);
  return { iptables, nft };
}

/**
 * The firewall backend when none was given (dockerd 29 defaults to iptables; cnmd to nftables where it
 * can, since Debian 12 and Fedora do): nftables when nft runs and the kernel has nf_tables.
 */
export const chooseFirewall = (tools: { nft: boolean }): 'nftables' | 'iptables' => (tools.nft ? 'nftables' : 'iptables');
