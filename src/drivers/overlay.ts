/**
 * The overlay driver: one layer-2 segment across hosts, carried in VXLAN (UDP 4789) over the underlay.
 * On each host that has endpoints on the network: a bridge ov-<id10> with the network's gateway
 * address (the same address and MAC on every host: each host is the gateway of its own containers,
 * and their traffic to the world leaves through that host with NAT, as on a bridge network, or not at
 * all when --internal), and a VXLAN port vx-<id10> (learning off, ARP answered from its neighbour
 * table). For every endpoint on another host: a static FDB entry (its MAC -> that host's address) and
 * a neighbour entry (its IP -> its MAC), from the cluster store. Endpoints are veths, as on a bridge.
 */
import type { Driver, DriverContext, CreateRequest } from './driver.js';
import type { Endpoint, Network } from '../model.js';
import type { EndpointObjects, NetworkObjects } from '../reconcile/model.js';
import { invalid } from '../errors.js';
import { bridgeDriver, GENERIC_OPTIONS, OPT } from './bridge.js';
import { ALLOW_KEY, parseAllowList } from '../firewall/allow.js';
import { ENCRYPTED_OPTION, WIREGUARD_INSTALL, VXLAN6_OVERHEAD, WIREGUARD_OVERHEAD, isEncrypted, tunnelAddress, wireguardLink, wireguardPort } from './wireguard.js';

export const VNI_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
/** Docker's global VXLAN ids start at 4096 (lower ones are left to other users of VXLAN). */
export const FIRST_VNI = 4096;
export const VXLAN_PORT = 4789;
/** VXLAN adds 50 bytes (outer Ethernet, IPv4, UDP and VXLAN headers) */
export const VXLAN_OVERHEAD = 50;

export const overlayLinks = (id: string) => ({ bridge: `ov-${id.slice(0, 10)}`, vxlan: `vx-${id.slice(0, 10)}` });

export const vniOf = (n: Network) => Number(n.options[VNI_OPTION]);

/** The network as the bridge driver sees its local part: its bridge, an MTU that leaves room for VXLAN. */
function asBridge(n: Network, ctx: DriverContext): Network {
  const room = isEncrypted(n) ? WIREGUARD_OVERHEAD + VXLAN6_OVERHEAD : VXLAN_OVERHEAD;
  const options: Record<string, string> = { [OPT.mtu]: n.options[OPT.mtu] ?? String((ctx.cluster?.mtu ?? ctx.mtu) - room) };
  for (const k of [...GENERIC_OPTIONS, ALLOW_KEY]) if (k in n.options) options[k] = n.options[k];
  return { ...n, options, bridgeName: overlayLinks(n.id).bridge };
}

export const overlayDriver: Driver = {
  name: 'overlay',
  ipam: true,
  multiple: true,
  global: true,
  // each host with endpoints is the gateway of its own containers, on ov-<id10>
  localGateway: true,

  prepare(req: CreateRequest, ctx: DriverContext) {
    for (const key of Object.keys(req.options)) {
      if (key === OPT.mtu || key === VNI_OPTION || GENERIC_OPTIONS.includes(key)) continue;
      if (key === ALLOW_KEY) {
        parseAllowList(req.options[key], `the network option ${ALLOW_KEY}`);
        continue;
      }
      if (key === ENCRYPTED_OPTION) {
        if (ctx.cluster && !ctx.cluster.wireguard) throw invalid(`encrypted overlay networks need WireGuard on this host: ${WIREGUARD_INSTALL}`);
        continue;
      }
      throw invalid(`option ${key} does not apply to the overlay driver`);
    }
    if (!ctx.cluster) {
      throw invalid('overlay networks need a cluster store: start cnmd with --cluster-store etcd://HOST:PORT --cluster-advertise ADDRESS');
    }
    return { linkName: overlayLinks(req.id).bridge };
  },

  objects(n: Network, ctx: DriverContext): NetworkObjects {
    const o = bridgeDriver.objects(asBridge(n, ctx), ctx);
    const { bridge, vxlan } = overlayLinks(n.id);
    const owner = n.id.slice(0, 12);
    const mtu = o.links[0].mtu;
    const c = ctx.cluster;
    if (!c) return o;
    const encrypted = isEncrypted(n);
    // without WireGuard here, an encrypted network gets no VXLAN port: nothing of it reaches the underlay in clear
    if (encrypted && !c.wireguard) return o;
    const alias = `${ctx.instance}:${n.id}`;
    const vni = vniOf(n);
    let remote = c.remoteEndpoints(n.id).filter((e) => e.ipv4);
    let local = c.vtep;
    let vtepOf = (e: (typeof remote)[number]) => e.vtep;
    if (encrypted) {
      // VXLAN between the hosts' tunnel addresses, inside the network's WireGuard link
      const peers = encryptedPeers(n, remote.map((e) => e.node), ctx);
      o.links.push({
        name: wireguardLink(c.nodeId, n.id), kind: 'wireguard', alias, mtu: c.mtu - WIREGUARD_OVERHEAD, addresses: [`${tunnelAddress(vni, c.nodeId)}/64`], owner,
        wireguard: { keyFile: c.wireguard!.keyFile, publicKey: c.wireguard!.publicKey, port: wireguardPort(vni), kernel: c.wireguard!.kernel, peers: peers.map((p) => p.peer) },
      });
      // a host without WireGuard cannot be a peer: its endpoints are not reachable from here
      const keyed = new Set(peers.map((p) => p.node));
      remote = remote.filter((e) => keyed.has(e.node));
      local = tunnelAddress(vni, c.nodeId);
      vtepOf = (e) => tunnelAddress(vni, e.node);
    }
    o.links.push({ name: vxlan, kind: 'vxlan', alias, mtu, addresses: [], owner, master: bridge, vxlan: { id: vni, local, port: VXLAN_PORT } });
    o.neighbors = remote.map((e) => ({ dev: vxlan, ip: e.ipv4!.split('/')[0], mac: e.mac, vtep: vtepOf(e), owner }));
    return o;
  },

  endpoint(n: Network, ep: Endpoint, containerId: string, netns: string, ctx: DriverContext): EndpointObjects {
    if (isEncrypted(n) && ctx.cluster && !ctx.cluster.wireguard) {
      throw invalid(`network ${n.name} is encrypted and this host has no WireGuard: ${WIREGUARD_INSTALL}`);
    }
    return bridgeDriver.endpoint!(asBridge(n, ctx), ep, containerId, netns, ctx);
  },
};

/** The other hosts with endpoints on an encrypted network that have a WireGuard key: its link's peers. */
function encryptedPeers(n: Network, nodes: string[], ctx: DriverContext) {
  const c = ctx.cluster!;
  const vni = vniOf(n);
  const port = wireguardPort(vni);
  return [...new Set(nodes)]
    .filter((id) => id !== c.nodeId)
    .sort()
    .flatMap((id) => {
      const m = c.node(id);
      return m?.wireguard ? [{ node: id, peer: { publicKey: m.wireguard, endpoint: `${m.address}:${port}`, allowedIp: `${tunnelAddress(vni, id)}/128` } }] : [];
    });
}
