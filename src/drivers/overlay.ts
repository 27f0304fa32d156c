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
  const options: Record<string, string> = { [OPT.mtu]: n.options[OPT.mtu] ?? String((ctx.cluster?.mtu ?? ctx.mtu) - VXLAN_OVERHEAD) };
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
      if (key === 'encrypted') throw invalid('encrypted overlay networks are not supported by cnmd');
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
    if (ctx.cluster) {
      o.links.push({
        name: vxlan, kind: 'vxlan', alias: `${ctx.instance}:${n.id}`, mtu, addresses: [], owner, master: bridge,
        vxlan: { id: vniOf(n), local: ctx.cluster.vtep, port: VXLAN_PORT },
      });
      o.neighbors = ctx.cluster
        .remoteEndpoints(n.id)
        .filter((e) => e.ipv4)
        .map((e) => ({ dev: vxlan, ip: e.ipv4!.split('/')[0], mac: e.mac, vtep: e.vtep, owner }));
    }
    return o;
  },

  endpoint(n: Network, ep: Endpoint, containerId: string, netns: string, ctx: DriverContext): EndpointObjects {
    return bridgeDriver.endpoint!(asBridge(n, ctx), ep, containerId, netns, ctx);
  },
};
