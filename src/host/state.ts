import type { NftState } from './nft.js';
import type { WireguardState } from './wg-text.js';

/**
 * The actual host state cnmd looks at, and pure parsers from the tools' output into it.
 * Only links and rules cnmd can own are kept in detail; other link names are kept to detect conflicts.
 */

export interface LinkState {
  name: string;
  kind: string;
  /** ifalias: cnmd marks the links it owns with "<instance>:<owner id>" */
  alias?: string;
  mtu: number;
  up: boolean;
  /** global-scope addresses as CIDR (link-local ones are the kernel's, not ours) */
  addresses: string[];
  /** the bridge it is a port of */
  master?: string;
  /** as a bridge port: hairpin mode */
  hairpin?: boolean;
  mac?: string;
}

/** What cnmd looks at inside one sandbox namespace. */
/** A permanent neighbour entry on one of our VXLAN ports (with its FDB entry, set together). */
export interface NeighborState {
  dev: string;
  ip: string;
  mac: string;
  /** the host its MAC is sent to, from its FDB entry ('' when that is missing); unknown when not read */
  vtep?: string;
}

export interface SandboxState {
  links: Map<string, LinkState>;
  /** gateways of the default routes (IPv4 and IPv6) */
  gateways: string[];
  /** the gateway of the route to 127.0.0.11 in the local table, when there is one */
  dnsVia?: string;
}

export type Table = 'filter' | 'nat' | 'mangle';

/** A chain's rules: spec -> how many times it is there, in the order they were first seen. */
export type ChainRules = Map<string, number>;

export interface RuleState {
  /** our chains ("table chain" -> rules, without "-A CHAIN ") */
  chains: Map<string, ChainRules>;
  /** rules in built-in chains that jump to one of our chains ("table chain" -> specs) */
  hooks: Map<string, string[]>;
  /** owner (network id prefix) -> "table chain" -> its rules there: lets a scoped plan skip everyone else's */
  byOwner: Map<string, Map<string, Set<string>>>;
  /**
   * The chains cnmd made ("table chain", its record in the store): only these are ever removed, and
   * only jumps into these or wanted chains. Undefined: no record is kept, every chain of our prefix is ours.
   */
  made?: Set<string>;
  /** the tool could not read this family (ip6tables on a kernel without IPv6): nothing is planned for it */
  unavailable?: boolean;
}

export function emptyRuleState(): RuleState {
  return { chains: new Map(), hooks: new Map(), byOwner: new Map() };
}

/** Records that spec in chain key belongs to owner. */
export function indexRule(rules: RuleState, owner: string, key: string, spec: string): void {
  let chains = rules.byOwner.get(owner);
  if (!chains) rules.byOwner.set(owner, (chains = new Map()));
  let specs = chains.get(key);
  if (!specs) chains.set(key, (specs = new Set()));
  specs.add(spec);
}

export interface HostState {
  links: Map<string, LinkState>;
  /** our links' names by owner (12 hex), derived from links when first needed (reconcile/plan.ts keeps it) */
  linkOwners?: Map<string, Set<string>>;
  /** our iptables chains (the iptables backend) */
  rules: RuleState;
  /** our ip6tables chains (the same for IPv6) */
  rules6: RuleState;
  /** our nftables table (the nftables backend); absent: it does not exist, or was not read */
  nft?: NftState;
  sysctls: Map<string, string>;
  /** names under /run/netns */
  netns: Set<string>;
  /** inside state of sandbox namespaces, by the path cnmd enters them with */
  sandboxes: Map<string, SandboxState>;
  /** WireGuard links as wg reports them, by name (read only while cnmd wants one) */
  wireguard?: Map<string, WireguardState>;
  /** permanent neighbour entries on VXLAN ports, by "dev ip" */
  neighbors: Map<string, NeighborState>;
  /** mount points of namespace files (nsfs) under the exec root */
  mounts: Set<string>;
  /** contents of the files cnmd keeps that were read (absent: missing, or not read) */
  files: Map<string, string>;
  /** names under /etc/netns (iproute2's per-namespace files) */
  netnsDirs: Set<string>;
  /** container directories under the data root (full ids) and the exec root (12 hex) */
  dataDirs: Set<string>;
  runDirs: Set<string>;
}

export const chainKey = (table: string, chain: string) => `${table} ${chain}`;

export function emptyHostState(): HostState {
  return {
    links: new Map(), rules: emptyRuleState(), rules6: emptyRuleState(), sysctls: new Map(), netns: new Set(), sandboxes: new Map(), neighbors: new Map(),
    mounts: new Set(), files: new Map(), netnsDirs: new Set(), dataDirs: new Set(), runDirs: new Set(),
  };
}

/** /proc/self/mountinfo -> the mount points of namespace files (nsfs) below root. Octal escapes (\040) are decoded. */
export function parseNsMounts(text: string, root: string): Set<string> {
  const out = new Set<string>();
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    const point = unescape(line.slice(0, sep).split(' ')[4] ?? '');
    if (fstype === 'nsfs' && root && point.startsWith(root + '/')) out.add(point);
  }
  return out;
}

interface IpAddrJson {
  ifname: string;
  ifalias?: string;
  master?: string;
  address?: string;
  mtu: number;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_slave_data?: { hairpin?: boolean } };
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope: string }>;
}

/** `ip -json -details addr show` -> links by name */
export function parseIpAddrJson(text: string): Map<string, LinkState> {
  const links = new Map<string, LinkState>();
  const list = JSON.parse(text.trim() || '[]') as IpAddrJson[];
  for (const l of list) {
    if (!l.ifname) continue;
    links.set(l.ifname, {
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? '',
      alias: l.ifalias || undefined,
      mtu: l.mtu,
      up: (l.flags ?? []).includes('UP'),
      addresses: (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`),
      ...(l.master ? { master: l.master, hairpin: !!l.linkinfo?.info_slave_data?.hairpin } : {}),
      ...(l.address ? { mac: l.address } : {}),
    });
  }
  return links;
}

/** The owner tag cnmd puts in a rule's comment: "<instance>:<12 hex of the network id>". */
export function ruleOwner(spec: string, instance: string): string | undefined {
  const i = spec.indexOf(`--comment "${instance}:`);
  if (i < 0) return undefined;
  const start = i + 12 + instance.length;
  const owner = spec.slice(start, start + 12);
  return /^[0-9a-f]{12}$/.test(owner) && spec[start + 12] === '"' ? owner : undefined;
}

/**
 * `iptables-save` -> our chains (name starts with prefix + '-') and the hooks into them from built-in
 * chains. Everything else is ignored: cnmd never reads, let alone changes, rules it does not own.
 */
export function parseIptablesSave(text: string, prefix: string, instance: string): RuleState {
  const rules = emptyRuleState();
  const ours = (chain: string) => chain.startsWith(prefix + '-');
  const jumpsToOurs = new RegExp(`(?:^| )-[jg] ${prefix}-\\S+(?: |$)`);
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (ours(name)) rules.chains.set(chainKey(table, name), new Map());
    } else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const spec = sp < 0 ? '' : rest.slice(sp + 1);
      const key = chainKey(table, chain);
      const chainRules = ours(chain) ? rules.chains.get(key) : undefined;
      if (chainRules) {
        chainRules.set(spec, (chainRules.get(spec) ?? 0) + 1);
        const owner = ruleOwner(spec, instance);
        if (owner) indexRule(rules, owner, key, spec);
      } else if (!ours(chain) && jumpsToOurs.test(spec)) {
        rules.hooks.set(key, [...(rules.hooks.get(key) ?? []), spec]);
      }
    }
  }
  return rules;
}

/**
 * `ip -json -batch -` with "addr show", "route show default" and "route show table local 127.0.0.11/32":
 * three JSON arrays, one per line.
 */
export function parseSandboxInside(text: string): SandboxState {
  const [addrs = '[]', routes = '[]', local = '[]'] = text.split('\n').filter((l) => l.trim().startsWith('['));
  const gateways = (JSON.parse(routes) as Array<{ gateway?: string }>).map((r) => r.gateway).filter((g): g is string => !!g);
  const dnsVia = (JSON.parse(local) as Array<{ gateway?: string }>).find((r) => r.gateway)?.gateway;
  return { links: parseIpAddrJson(addrs), gateways, ...(dnsVia ? { dnsVia } : {}) };
}

export const neighborKey = (dev: string, ip: string) => `${dev} ${ip}`;

/**
 * `ip -json neigh show nud permanent`: the entries on links whose names start with prefix. With the
 * FDB read (parseFdb), each carries the host its MAC is sent to, '' when its FDB entry is missing.
 */
export function parseNeighbors(text: string, prefix: string, fdb?: Map<string, string>): Map<string, NeighborState> {
  const out = new Map<string, NeighborState>();
  for (const n of JSON.parse(text.trim() || '[]') as Array<{ dst?: string; dev?: string; lladdr?: string }>) {
    if (!n.dst || !n.dev?.startsWith(prefix) || !n.lladdr) continue;
    const vtep = fdb ? { vtep: fdb.get(fdbKey(n.dev, n.lladdr)) ?? '' } : {};
    out.set(neighborKey(n.dev, n.dst), { dev: n.dev, ip: n.dst, mac: n.lladdr, ...vtep });
  }
  return out;
}

const fdbKey = (dev: string, mac: string) => `${dev} ${mac.toLowerCase()}`;

/** `bridge -json fdb show`: where the unicast entries on links whose names start with prefix send each MAC. */
export function parseFdb(text: string, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  // newer iproute2 names the link ifname, older dev
  for (const e of JSON.parse(text.trim() || '[]') as Array<{ mac?: string; ifname?: string; dev?: string; dst?: string }>) {
    const dev = e.ifname ?? e.dev;
    if (!e.mac || !e.dst || !dev?.startsWith(prefix) || e.mac === '00:00:00:00:00:00') continue;
    out.set(fdbKey(dev, e.mac), e.dst);
  }
  return out;
}

/** A socket of /proc/net/{tcp,tcp6,udp,udp6}: its local address, port and state (0A: a TCP listener). */
export interface SocketEntry {
  ip: string;
  port: number;
  state: string;
}

/**
 * /proc/net/tcp and friends: local addresses are hex, in the kernel's byte order (per 32-bit word).
 * With onlyPort, the sockets of other ports are skipped before their address is decoded.
 */
export function parseProcNetSockets(text: string, onlyPort?: number): SocketEntry[] {
  const out: SocketEntry[] = [];
  // a match per line, not a split into its seventeen fields: a read of the host looks at a socket per
  // network (the DNS listeners) every repair, 4.8 MB of short-lived strings at 1000 networks before
  const line = /^ *\d+: ([0-9A-Fa-f]+):([0-9A-Fa-f]{4}) \S+ ([0-9A-Fa-f]{2})/gm;
  for (let m = line.exec(text); m; m = line.exec(text)) {
    const port = parseInt(m[2], 16);
    if (onlyPort !== undefined && port !== onlyPort) continue;
    const hexIp = m[1];
    out.push({ ip: hexIp.length === 8 ? ipv4FromHex(hexIp) : ipv6FromHex(hexIp), port, state: m[3] });
  }
  return out;
}

/** "ip port" of each socket that listens (TCP: state 0A; UDP: every bound socket). */
export function listeningKeys(entries: SocketEntry[], tcp: boolean): Set<string> {
  const keys = new Set<string>();
  for (const e of entries) if (!tcp || e.state === '0A') keys.add(`${e.ip} ${e.port}`);
  return keys;
}

const word = (hex: string) => (hex.match(/../g) ?? []).reverse().join('');

/** Eight hex digits, a 32-bit word in the kernel's (little-endian) order: its lowest byte is the first octet. */
function ipv4FromHex(hex: string): string {
  const v = parseInt(hex, 16);
  return `${v & 255}.${(v >>> 8) & 255}.${(v >>> 16) & 255}.${v >>> 24}`;
}

function ipv6FromHex(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).map(word).join('');
  const groups = (bytes.match(/.{4}/g) ?? []).map((g) => parseInt(g, 16).toString(16));
  const v4mapped = groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff';
  if (v4mapped) return `::ffff:${ipv4FromHex(hex.slice(24))}`;
  // the longest run of zero groups becomes ::
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j > i ? j : i + 1;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}
