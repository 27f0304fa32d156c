/**
 * Turning a network-create request's IPAM section into concrete subnets: validation with Docker's
 * messages, overlap checks, automatic subnets from the pools, gateways. Pure: the caller supplies
 * what is already in use.
 */
import type { AddressPool } from '../config.js';
import type { Subnet } from '../model.js';
import { DomainError, invalid, forbidden } from '../errors.js';
import {
  type Family, type Prefix, parsePrefix, parseAddr, formatPrefix, formatAddr, masked, isMasked,
  overlaps, containsAddr, network, lastAddr,
} from './cidr.js';
import { firstFreeSubnet, NO_POOL_V4, NO_POOL_V6 } from './pools.js';

export interface IpamConfigInput {
  Subnet?: string | null;
  IPRange?: string | null;
  Gateway?: string | null;
  AuxiliaryAddresses?: Record<string, string> | null;
}

/** A concrete subnet of a network (model.ts); `shown` is what inspect returns as its IPAM.Config entry. */
export type SubnetPlan = Subnet;

export interface IpamRequest {
  config: IpamConfigInput[];
  enableIPv4: boolean;
  enableIPv6: boolean;
}

export interface IpamContext {
  /** subnets of every existing network */
  networkSubnets: Prefix[];
  /** on-link routes of the host: avoided by automatic subnets only, as Docker 27+ does */
  hostRoutes: Prefix[];
  pools4: AddressPool[];
  pools6: AddressPool[];
}

const fam = (f: Family) => (f === 4 ? 'IPv4' : 'IPv6');

function validateAddress(address: string, subnet: Prefix): string | undefined {
  const a = parseAddr(address);
  if (!a) return 'invalid address';
  if (a.family !== subnet.family) return `parent subnet is an ${fam(subnet.family)} block`;
  if (!containsAddr(subnet, a.family, a.value)) return `parent subnet ${formatPrefix(masked(subnet))} doesn't contain this address`;
  return undefined;
}

/** Docker's ValidateIPAM (API >= 1.44 daemons): every problem at once, under "invalid network config:". */
export function validateIpamConfig(config: IpamConfigInput[], enableIPv6: boolean): void {
  const errs: string[] = [];
  for (const c of config) {
    const subnetText = c.Subnet ?? '';
    const subnet = parsePrefix(subnetText);
    if (!subnet) {
      // Docker reports an unparsable subnet on its own, before anything else.
      throw invalid(`Invalid subnet ${subnetText} : invalid CIDR address: ${subnetText}`);
    }
    if (!enableIPv6 && subnet.family === 6) continue;
    if (!isMasked(subnet)) errs.push(`invalid subnet ${subnetText}: it should be ${formatPrefix(masked(subnet))}`);
    if (c.IPRange) {
      const r = parsePrefix(c.IPRange);
      if (!r) errs.push(`invalid ip-range ${c.IPRange}: invalid CIDR block notation`);
      else if (r.family !== subnet.family) errs.push(`invalid ip-range ${c.IPRange}: parent subnet is an ${fam(subnet.family)} block`);
      else {
        if (r.bits < subnet.bits) errs.push(`invalid ip-range ${c.IPRange}: CIDR block is bigger than its parent subnet ${formatPrefix(masked(subnet))}`);
        if (!isMasked(r)) errs.push(`invalid ip-range ${c.IPRange}: it should be ${formatPrefix(masked(r))}`);
        if (!overlaps(subnet, r)) errs.push(`invalid ip-range ${c.IPRange}: parent subnet ${formatPrefix(masked(subnet))} doesn't contain ip-range`);
      }
    }
    if (c.Gateway) {
      const e = validateAddress(c.Gateway, subnet);
      if (e) errs.push(`invalid gateway ${c.Gateway}: ${e}`);
    }
    for (const [name, addr] of Object.entries(c.AuxiliaryAddresses ?? {})) {
      const e = validateAddress(addr, subnet);
      if (e) errs.push(`invalid auxiliary address ${name}: ${e}`);
    }
  }
  if (errs.length === 1) throw invalid(`invalid network config:\n${errs[0]}`);
  if (errs.length > 1) throw invalid(`invalid network config:\n* ${errs.join('\n* ')}`);
}

/** The first address that is neither the subnet's network address nor (IPv4) its broadcast address. */
function firstUsable(subnet: Prefix, within: Prefix): bigint {
  let a = network(within);
  if (a === network(subnet)) a += 1n;
  return a;
}

export function planSubnets(req: IpamRequest, ctx: IpamContext): SubnetPlan[] {
  validateIpamConfig(req.config, req.enableIPv6);
  const plans: SubnetPlan[] = [];
  const taken: Prefix[] = [...ctx.networkSubnets];
  for (const c of req.config) {
    const subnet = masked(parsePrefix(c.Subnet!)!);
    if (subnet.family === 6 && !req.enableIPv6) continue;
    if (subnet.family === 4 && !req.enableIPv4) continue;
    if (taken.some((t) => overlaps(t, subnet))) throw forbidden('Pool overlaps with other one on this address space');
    taken.push(subnet);
    const range = c.IPRange ? masked(parsePrefix(c.IPRange)!) : undefined;
    const gateway = c.Gateway ? c.Gateway : formatAddr(subnet.family, firstUsable(subnet, range ?? subnet));
    const shown: Record<string, unknown> = {};
    if (c.Subnet) shown.Subnet = c.Subnet;
    if (c.IPRange) shown.IPRange = c.IPRange;
    if (c.Gateway) shown.Gateway = c.Gateway;
    if (c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses).length) shown.AuxiliaryAddresses = c.AuxiliaryAddresses;
    plans.push({
      family: subnet.family,
      subnet: formatPrefix(subnet),
      ipRange: range ? formatPrefix(range) : undefined,
      gateway,
      aux: { ...(c.AuxiliaryAddresses ?? {}) },
      auto: false,
      shown,
    });
  }
  const want: Array<[Family, AddressPool[], string]> = [];
  if (req.enableIPv4 && !plans.some((p) => p.family === 4)) want.push([4, ctx.pools4, NO_POOL_V4]);
  if (req.enableIPv6 && !plans.some((p) => p.family === 6)) want.push([6, ctx.pools6, NO_POOL_V6]);
  for (const [family, pools, message] of want) {
    const found = firstFreeSubnet(pools, [...taken, ...ctx.hostRoutes], family);
    if (!found) throw new DomainError('invalid', message);
    taken.push(found);
    const gateway = formatAddr(family, network(found) + 1n);
    plans.push({ family, subnet: formatPrefix(found), gateway, aux: {}, auto: true, shown: { Subnet: formatPrefix(found), Gateway: gateway } });
  }
  // IPv4 first, as Docker lists it.
  return plans.sort((a, b) => a.family - b.family);
}

/** Addresses of a subnet that may never be handed to an endpoint (IPv4 network and broadcast). */
export function reservedAddresses(subnet: Prefix): bigint[] {
  if (subnet.family === 6) return [network(subnet)];
  if (subnet.bits >= 31) return [];
  return [network(subnet), lastAddr(subnet)];
}

