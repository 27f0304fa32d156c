/**
 * Encrypted overlay networks (`-o encrypted`, Docker's option): the VXLAN traffic of such a network
 * between hosts goes through a WireGuard link of that network, so that the underlay sees only
 * WireGuard (confidential, authenticated by each host's key), never a frame.
 *
 * On each host with endpoints on an encrypted network: a WireGuard link wg<node6><net7> (the names
 * hold the node so that two hosts sharing one /var/run/wireguard never meet), an IPv6 tunnel address
 * of the network's /64 (fd63:6e6d:<vni>::/64, the host part from the node id), a UDP port from the
 * VXLAN id, and one peer per other host with endpoints on it (its key from the cluster store, its
 * tunnel address as the only allowed IP). The network's VXLAN port sends to the peers' tunnel
 * addresses instead of their underlay addresses. Pure.
 */
import type { Network } from '../model.js';
import { formatAddr } from '../ipam/cidr.js';

export const ENCRYPTED_OPTION = 'encrypted';
/** WireGuard over the IPv4 underlay: 20 (IPv4) + 8 (UDP) + 32 (WireGuard header and tag) */
export const WIREGUARD_OVERHEAD = 60;
/** VXLAN over the IPv6 tunnel addresses: 14 + 8 + 8 + 40 */
export const VXLAN6_OVERHEAD = 70;
/** the WireGuard port of an encrypted network: this plus its VXLAN id's distance from the first one */
export const WIREGUARD_PORT_BASE = 51900;
const PORTS = 65536 - WIREGUARD_PORT_BASE;
const FIRST_VNI = 4096;
/** the /48 of the tunnel addresses ("cnmd"); each encrypted network has the /64 of its VXLAN id in it */
const TUNNEL_PREFIX = [0xfd63n, 0x6e6dn];

export const isEncrypted = (n: Network) => ENCRYPTED_OPTION in n.options;

/** The WireGuard link of a network on a node: 15 characters, the longest name Linux allows. */
export const wireguardLink = (nodeId: string, networkId: string) => `wg${nodeId.slice(0, 6)}${networkId.slice(0, 7)}`;

/** The UDP port the network's WireGuard links listen on (the same on every host). */
export const wireguardPort = (vni: number) => WIREGUARD_PORT_BASE + ((((vni - FIRST_VNI) % PORTS) + PORTS) % PORTS);

/** A node's tunnel address on the network of this VXLAN id: fd63:6e6d:VVVV:VVVV:<first 16 hex of the node id>. */
export function tunnelAddress(vni: number, nodeId: string): string {
  let v = 0n;
  for (const g of [...TUNNEL_PREFIX, BigInt(vni >>> 16), BigInt(vni & 0xffff)]) v = (v << 16n) | g;
  v = (v << 64n) | BigInt(`0x${nodeId.slice(0, 16)}`);
  return formatAddr(6, v);
}

/** What a host without WireGuard is told to do (a create or join of an encrypted network there is a 400). */
export const WIREGUARD_INSTALL = 'install wireguard-tools, and wireguard-go where the kernel has no WireGuard (apt-get install wireguard-tools wireguard-go), then restart cnmd';
