/**
 * iproute2 operations as data, and their lines for `ip -batch` and `bridge -batch`: the only place
 * that writes ip or bridge text. The plan says what (typed); this says how iproute2 spells it.
 */

/** A link made on the host (or, with netns, directly inside a sandbox). */
export type IpLinkSpec =
  | { type: 'bridge'; name: string; mtu: number; mac?: string }
  | { type: 'veth'; name: string; mtu: number; peer: { name: string; mac: string; netns: string } }
  | { type: 'vlan'; name: string; mtu: number; base: string; id: number }
  | { type: 'vxlan'; name: string; mtu: number; id: number; local: string; port: number }
  /** the kernel's WireGuard (without it, wireguard-go makes the link: ./wg-text.ts) */
  | { type: 'wireguard'; name: string; mtu: number }
  /** made from the parent on the host, straight into the sandbox's namespace */
  | { type: 'macvlan'; name: string; parent: string; netns: string; mtu?: number; mac: string; mode: string };

export type IpOp =
  | { op: 'netns add'; name: string }
  | { op: 'netns attach'; name: string; pid: number }
  | { op: 'netns del'; name: string }
  | { op: 'link add'; link: IpLinkSpec }
  | { op: 'link del'; dev: string }
  | { op: 'link set'; dev: string; alias: string }
  | { op: 'link set'; dev: string; mtu: number }
  | { op: 'link set'; dev: string; address: string }
  | { op: 'link set'; dev: string; master: string }
  | { op: 'link set'; dev: string; hairpin: boolean }
  | { op: 'link set'; dev: string; up: true }
  | { op: 'addr add' | 'addr del'; addr: string; dev: string }
  /** a route: the default one, or to a prefix; table local for 127.0.0.11 */
  | { op: 'route replace'; to: string; via: string; dev: string; table?: 'local' }
  | { op: 'route del'; to: string; via?: string; table?: 'local' }
  /** a routing rule of a sandbox (the loopback guard): lookup local, or a blackhole */
  | { op: 'rule add'; pref: number; iif?: string; to?: string; action: 'lookup local' | 'blackhole' }
  | { op: 'rule del'; pref: number }
  | { op: 'neigh replace'; ip: string; mac: string; dev: string }
  | { op: 'neigh del'; ip: string; dev: string };

/** FDB entries of a VXLAN port. */
export type BridgeOp = { op: 'fdb replace'; mac: string; dev: string; dst: string } | { op: 'fdb del'; mac: string; dev: string };

function linkAdd(l: IpLinkSpec): string {
  switch (l.type) {
    case 'veth': return `link add name ${l.name} mtu ${l.mtu} type veth peer name ${l.peer.name} mtu ${l.mtu} address ${l.peer.mac} netns ${l.peer.netns}`;
    case 'vlan': return `link add link ${l.base} name ${l.name} mtu ${l.mtu} type vlan id ${l.id}`;
    case 'vxlan': return `link add name ${l.name} mtu ${l.mtu} type vxlan id ${l.id} local ${l.local} dstport ${l.port} nolearning proxy`;
    case 'wireguard': return `link add name ${l.name} mtu ${l.mtu} type wireguard`;
    case 'bridge': return `link add name ${l.name} mtu ${l.mtu}${l.mac ? ` address ${l.mac}` : ''} type bridge`;
    case 'macvlan': return `link add link ${l.parent} name ${l.name} netns ${l.netns}${l.mtu ? ` mtu ${l.mtu}` : ''} address ${l.mac} type macvlan mode ${l.mode}`;
  }
}

function linkSet(o: Extract<IpOp, { op: 'link set' }>): string {
  const dev = `link set dev ${o.dev}`;
  if ('alias' in o) return `${dev} alias ${o.alias}`;
  if ('mtu' in o) return `${dev} mtu ${o.mtu}`;
  if ('address' in o) return `${dev} address ${o.address}`;
  if ('master' in o) return `${dev} master ${o.master}`;
  if ('hairpin' in o) return `${dev} type bridge_slave hairpin ${o.hairpin ? 'on' : 'off'}`;
  return `${dev} up`;
}

const table = (t?: 'local') => (t ? ` table ${t}` : '');

/**
 * A line of `ip -batch`. IPv6 addresses skip duplicate address detection (as moby does): IPAM made
 * them unique, and a tentative address would leave a new container without IPv6 for a second or two.
 */
export function ipLine(o: IpOp): string {
  switch (o.op) {
    case 'netns add': return `netns add ${o.name}`;
    case 'netns attach': return `netns attach ${o.name} ${o.pid}`;
    case 'netns del': return `netns del ${o.name}`;
    case 'link add': return linkAdd(o.link);
    case 'link del': return `link del dev ${o.dev}`;
    case 'link set': return linkSet(o);
    case 'addr add': return `addr add ${o.addr} dev ${o.dev}${o.addr.includes(':') ? ' nodad' : ''}`;
    case 'addr del': return `addr del ${o.addr} dev ${o.dev}`;
    case 'route replace': return `route replace ${o.to} via ${o.via} dev ${o.dev}${table(o.table)}`;
    case 'route del': return `route del ${o.to}${o.via ? ` via ${o.via}` : ''}${table(o.table)}`;
    case 'rule add': return `rule add pref ${o.pref}${o.iif ? ` iif ${o.iif}` : ''}${o.to ? ` to ${o.to}` : ''} ${o.action}`;
    case 'rule del': return `rule del pref ${o.pref}`;
    case 'neigh replace': return `neigh replace ${o.ip} lladdr ${o.mac} dev ${o.dev} nud permanent`;
    case 'neigh del': return `neigh del ${o.ip} dev ${o.dev}`;
  }
}

/** A line of `bridge -batch`. */
export function bridgeLine(o: BridgeOp): string {
  return o.op === 'fdb replace' ? `fdb replace ${o.mac} dev ${o.dev} dst ${o.dst} self permanent` : `fdb del ${o.mac} dev ${o.dev} self`;
}
