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
}

export type Table = 'filter' | 'nat';
export const TABLES: Table[] = ['filter', 'nat'];

export interface RuleState {
  /** our chains ("table chain" -> rule specs in order, without "-A CHAIN ") */
  chains: Map<string, string[]>;
  /** rules in built-in chains that jump to one of our chains ("table chain" -> specs) */
  hooks: Map<string, string[]>;
}

export interface HostState {
  links: Map<string, LinkState>;
  rules: RuleState;
  sysctls: Map<string, string>;
}

export const chainKey = (table: string, chain: string) => `${table} ${chain}`;

export function emptyHostState(): HostState {
  return { links: new Map(), rules: { chains: new Map(), hooks: new Map() }, sysctls: new Map() };
}

interface IpAddrJson {
  ifname: string;
  ifalias?: string;
  mtu: number;
  flags?: string[];
  linkinfo?: { info_kind?: string };
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
    });
  }
  return links;
}

/**
 * `iptables-save` -> our chains (name starts with prefix + '-') and the hooks into them from built-in
 * chains. Everything else is ignored: cnmd never reads, let alone changes, rules it does not own.
 */
export function parseIptablesSave(text: string, prefix: string): RuleState {
  const chains = new Map<string, string[]>();
  const hooks = new Map<string, string[]>();
  const ours = (chain: string) => chain.startsWith(prefix + '-');
  const jumpsToOurs = new RegExp(`(?:^| )-[jg] ${prefix}-\\S+(?: |$)`);
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (ours(name)) chains.set(chainKey(table, name), []);
    } else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const spec = sp < 0 ? '' : rest.slice(sp + 1);
      const key = chainKey(table, chain);
      if (ours(chain)) chains.get(key)?.push(spec);
      else if (jumpsToOurs.test(spec)) hooks.set(key, [...(hooks.get(key) ?? []), spec]);
    }
  }
  return { chains, hooks };
}
