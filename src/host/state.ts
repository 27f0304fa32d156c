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
}

export type Table = 'filter' | 'nat';

/** A chain's rules: spec -> how many times it is there, in the order they were first seen. */
export type ChainRules = Map<string, number>;

export interface RuleState {
  /** our chains ("table chain" -> rules, without "-A CHAIN ") */
  chains: Map<string, ChainRules>;
  /** rules in built-in chains that jump to one of our chains ("table chain" -> specs) */
  hooks: Map<string, string[]>;
  /** owner (network id prefix) -> "table chain" -> its rules there: lets a scoped plan skip everyone else's */
  byOwner: Map<string, Map<string, Set<string>>>;
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
  rules: RuleState;
  sysctls: Map<string, string>;
  /** names under /run/netns */
  netns: Set<string>;
  /** inside state of sandbox namespaces, by the path cnmd enters them with */
  sandboxes: Map<string, SandboxState>;
  /** permanent neighbour entries on VXLAN ports, by "dev ip" */
  neighbors: Map<string, NeighborState>;
}

export const chainKey = (table: string, chain: string) => `${table} ${chain}`;

export function emptyHostState(): HostState {
  return { links: new Map(), rules: emptyRuleState(), sysctls: new Map(), netns: new Set(), sandboxes: new Map(), neighbors: new Map() };
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

/** `ip -json -batch -` with "addr show" and "route show default": two JSON arrays, one per line. */
export function parseSandboxInside(text: string): SandboxState {
  const [addrs = '[]', routes = '[]'] = text.split('\n').filter((l) => l.trim().startsWith('['));
  const gateways = (JSON.parse(routes) as Array<{ gateway?: string }>).map((r) => r.gateway).filter((g): g is string => !!g);
  return { links: parseIpAddrJson(addrs), gateways };
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
