/** Network objects in Docker's JSON shape, by API version. */
import type { Network } from '../model.js';

export interface EndpointView {
  containerId: string;
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** peers: for a global network, the hosts with endpoints on it (Docker's Peers) */
export function renderNetwork(n: Network, apiVersion: number, containers?: EndpointView[], peers?: Array<{ Name: string; IP: string }>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: n.scope,
    Driver: n.driver,
  };
  if (apiVersion >= 1.47) out.EnableIPv4 = n.enableIPv4;
  out.EnableIPv6 = n.enableIPv6;
  out.IPAM = {
    Driver: n.ipamDriver,
    Options: n.ipamOptions,
    Config: n.subnets.map((s) => s.shown),
  };
  out.Internal = n.internal;
  out.Attachable = n.attachable;
  out.Ingress = n.ingress;
  out.ConfigFrom = { Network: n.configFrom };
  out.ConfigOnly = n.configOnly;
  if (containers) {
    out.Containers = Object.fromEntries(containers.map(({ containerId, ...ep }) => [containerId, ep]));
  }
  out.Options = n.options;
  out.Labels = n.labels;
  if (peers && n.scope === 'global') out.Peers = peers;
  return out;
}

/** A list item's JSON per network object (frozen, replaced when the network changes), by version shape. */
const listJson = new WeakMap<Network, [Buffer?, Buffer?]>();
const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/**
 * The network list as JSON bytes, for API 1.28 and later (items carry an empty Containers): each item is
 * rendered once per network and shape and reused until the network changes, so a list of 1000 networks
 * costs one copy of its bytes rather than 1000 renders.
 */
export function networkListJson(networks: readonly Network[], apiVersion: number): Buffer {
  const shape = apiVersion >= 1.47 ? 0 : 1;
  const parts: Buffer[] = [OPEN];
  for (const n of networks) {
    let cached = listJson.get(n);
    if (!cached) listJson.set(n, (cached = []));
    if (parts.length > 1) parts.push(COMMA);
    parts.push((cached[shape] ??= Buffer.from(JSON.stringify(renderNetwork(n, apiVersion, [])))));
  }
  parts.push(CLOSE);
  return Buffer.concat(parts);
}
