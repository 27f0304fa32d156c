/**
 * The macvlan driver: each endpoint is a macvlan link on the network's parent, made directly inside
 * the sandbox, with its own MAC on the parent's segment. No bridge, no NAT, no iptables rules.
 *
 * parent=eth0       an existing link; not ours, never touched
 * parent=eth0.60    an 802.1Q sub-interface of eth0 that cnmd makes (and removes with the network)
 *                   when it does not exist yet
 * no parent         an isolated segment on a link of cnmd's own, dm-<id12> (Docker uses a dummy link;
 *                   cnmd a port-less bridge, which kernels without CONFIG_DUMMY also have)
 */
import type { Driver, DriverContext, CreateRequest, HostLinks } from './driver.js';
import type { Endpoint, Network } from '../model.js';
import type { DesiredLink, EndpointObjects, NetworkObjects } from '../reconcile/model.js';
import { emptyObjects } from '../reconcile/model.js';
import { invalid } from '../errors.js';
import { GENERIC_OPTIONS, OPT } from './bridge.js';

export const MACVLAN_OPT = { parent: 'parent', mode: 'macvlan_mode' } as const;
const MODES = ['bridge', 'private', 'vepa', 'passthru'];

/** What the parent option asks for: an existing link, an 802.1Q sub-interface, or none. */
export type ParentSpec = { kind: 'none' } | { kind: 'link'; name: string } | { kind: 'vlan'; name: string; base: string; id: number };

export function parseParent(parent: string | undefined): ParentSpec {
  if (!parent) return { kind: 'none' };
  if (parent === 'lo') throw invalid('loopback interface is not a valid macvlan parent link');
  if (!/^[A-Za-z0-9_.@+-]{1,15}$/.test(parent)) throw invalid(`-o parent interface was not found on the host: ${parent}`);
  if (!parent.includes('.')) return { kind: 'link', name: parent };
  const parts = parent.split('.');
  if (parts.length !== 2) throw invalid(`required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received ${parent}`);
  const [base, vid] = parts;
  if (!/^\d+$/.test(vid)) throw invalid(`unable to parse a valid vlan id from: ${vid} (ex. eth0.10 for vlan 10)`);
  const id = Number(vid);
  if (id < 1 || id > 4094) throw invalid(`vlan id must be between 1-4094, received: ${id}`);
  return { kind: 'vlan', name: parent, base, id };
}

/** The link dm-<id12> that stands in for a missing parent. */
export const placeholderParent = (networkId: string) => `dm-${networkId.slice(0, 12)}`;

/** The parent link endpoints are made on. */
export function parentLink(n: Network): string {
  return n.options[MACVLAN_OPT.parent] || placeholderParent(n.id);
}

function mode(n: Network): string {
  return n.options[MACVLAN_OPT.mode] || 'bridge';
}

export const macvlanDriver: Driver = {
  name: 'macvlan',
  ipam: true,
  multiple: true,

  readsHostLinks: true,

  prepare(req: CreateRequest, _ctx: DriverContext, host?: HostLinks): { linkName: string | null } {
    for (const key of Object.keys(req.options)) {
      if (key === MACVLAN_OPT.parent || key === MACVLAN_OPT.mode || key === OPT.mtu || GENERIC_OPTIONS.includes(key)) continue;
      throw invalid(`option ${key} does not apply to the macvlan driver (it takes parent, macvlan_mode and ${OPT.mtu})`);
    }
    const m = req.options[MACVLAN_OPT.mode];
    if (m !== undefined && m !== '' && !MODES.includes(m)) {
      throw invalid(`requested macvlan mode '${m}' is not valid, 'bridge' mode is the macvlan driver default`);
    }
    const mtu = req.options[OPT.mtu];
    if (mtu !== undefined && !/^\d+$/.test(mtu)) throw invalid(`invalid MTU number: ${mtu}`);
    const p = parseParent(req.options[MACVLAN_OPT.parent]);
    // The link the network owns, if any: the placeholder, or a sub-interface that does not exist yet.
    if (p.kind === 'none') return { linkName: placeholderParent(req.id) };
    if (p.kind === 'link') {
      if (host && !host.links.has(p.name)) throw invalid(`the requested parent interface ${p.name} was not found on the Docker host`);
      return { linkName: null };
    }
    if (host?.links.has(p.name)) return { linkName: null };
    if (host && !host.links.has(p.base)) throw invalid(`-o parent interface was not found on the host: ${p.base}`);
    return { linkName: p.name };
  },

  conflict(candidate, others) {
    const mine = candidate.options[MACVLAN_OPT.parent];
    const other = mine ? others.find((n) => parentLink(n) === mine) : undefined;
    return other && `network ${placeholderParent(other.id)} is already using parent interface ${mine}`;
  },

  explainFailure(n: Network, e: Error) {
    if (n.bridgeName && parseParent(n.options[MACVLAN_OPT.parent]).kind === 'vlan' && /Unknown device type|not supported/i.test(e.message)) {
      return invalid(`cannot create the 802.1Q VLAN sub-interface ${n.bridgeName}: this kernel has no VLAN support (CONFIG_VLAN_8021Q, module 8021q)`);
    }
    return undefined;
  },

  /** The parent link the network made (its bridgeName): an 802.1Q sub-interface or the placeholder. */
  objects(n: Network, ctx: DriverContext): NetworkObjects {
    const o = emptyObjects();
    if (!n.bridgeName) return o;
    const owner = n.id.slice(0, 12);
    const mtu = n.options[OPT.mtu] ? Number(n.options[OPT.mtu]) : ctx.mtu;
    const link: DesiredLink = { name: n.bridgeName, kind: 'bridge', alias: `${ctx.instance}:${n.id}`, mtu, addresses: [], owner };
    const p = parseParent(n.options[MACVLAN_OPT.parent]);
    if (p.kind === 'vlan') {
      link.kind = 'vlan';
      link.vlan = { base: p.base, id: p.id };
    }
    o.links.push(link);
    return o;
  },

  endpoint(n: Network, ep: Endpoint, containerId: string, netns: string, ctx: DriverContext): EndpointObjects {
    const addresses = [ep.ipv4, ep.ipv6].filter((a): a is string => !!a);
    return {
      iface: {
        name: ep.ifname,
        addresses,
        make: {
          // without an MTU option the link takes its parent's, as in Docker
          link: { type: 'macvlan', name: ep.ifname, parent: parentLink(n), netns, ...(n.options[OPT.mtu] ? { mtu: Number(n.options[OPT.mtu]) } : {}), mac: ep.mac, mode: mode(n) },
          alias: `${ctx.instance}:${containerId}:${n.id.slice(0, 12)}`,
        },
      },
      gateways: n.internal
        ? []
        : n.subnets.filter((sub) => (sub.family === 4 ? !!ep.ipv4 : !!ep.ipv6)).map((sub) => ({ via: sub.gateway, family: sub.family })),
    };
  },
};
