/**
 * Endpoint addresses inside a network's subnet: the lowest free address (of the ip-range when there
 * is one), never the network or broadcast address, the gateway or an auxiliary address. Pure.
 */
import { type Prefix, parsePrefix, parseAddr, formatAddr, network, lastAddr, containsAddr } from './cidr.js';
import { reservedAddresses } from './network-ipam.js';
import type { Subnet } from '../model.js';

/** Every address of the subnet an endpoint may not get, besides those in use. */
export function unavailable(s: Subnet): Set<string> {
  const p = parsePrefix(s.subnet)!;
  const out = new Set(reservedAddresses(p).map((a) => formatAddr(p.family, a)));
  out.add(s.gateway);
  for (const a of Object.values(s.aux)) out.add(a);
  return out;
}

/** The lowest free address, or undefined when the pool is exhausted. `inUse` holds plain addresses. */
export function allocateAddress(s: Subnet, inUse: Set<string>): string | undefined {
  const subnet = parsePrefix(s.subnet)!;
  const pool: Prefix = s.ipRange ? parsePrefix(s.ipRange)! : subnet;
  const blocked = unavailable(s);
  const last = lastAddr(pool);
  // bounded: at most (in use + blocked + 1) candidates are looked at before a free one
  for (let a = network(pool); a <= last; a++) {
    const text = formatAddr(pool.family, a);
    if (!blocked.has(text) && !inUse.has(text)) return text;
  }
  return undefined;
}

/** Whether a requested static address fits the subnet and is free. */
export function checkStatic(s: Subnet, address: string, inUse: Set<string>): 'ok' | 'outside' | 'taken' {
  const a = parseAddr(address);
  const subnet = parsePrefix(s.subnet)!;
  if (!a || !containsAddr(subnet, a.family, a.value)) return 'outside';
  const text = formatAddr(a.family, a.value);
  if (inUse.has(text) || unavailable(s).has(text)) return 'taken';
  return 'ok';
}

/** Docker's MAC for an endpoint up to Docker 27: 02:42 followed by the IPv4 address. */
export function macFromIPv4(ipv4: string): string {
  const bytes = ipv4.split('.').map((n) => Number(n).toString(16).padStart(2, '0'));
  return ['02', '42', ...bytes].join(':');
}
