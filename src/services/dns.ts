/**
 * What the embedded DNS server answers from: the store's running containers, their endpoints and
 * names; and the resolv.conf and hosts files each sandbox gets.
 */
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Container, Network } from '../model.js';
import { getDriver } from '../drivers/index.js';
import type { Member, NameSource, Requester } from '../dns/names.js';
import { resolvConf, hostsFile, hostNameservers } from '../dns/names.js';
import { parseLink } from './links.js';

/** Whether containers of this network resolve each other's names (user-defined bridge, macvlan and overlay networks). */
export function servesDns(n: Network): boolean {
  return !n.predefined && ['bridge', 'macvlan', 'overlay'].includes(n.driver) && n.enableIPv4 && n.options['com.docker.network.bridge.inhibit_ipv4'] !== 'true';
}

/** The address the server listens on for a network: its gateway, where that is on a bridge of this host (bridge, overlay). */
export const dnsAddress = (n: Network) => (getDriver(n.driver)?.localGateway ? n.subnets.find((s) => s.family === 4)?.gateway : undefined);

import { SANDBOX_DNS } from '../reconcile/dns-address.js';

/** Docker's resolver address: every sandbox on a DNS network finds the server there. */
export { SANDBOX_DNS };

/** Whether this running container needs the server bound inside its sandbox (a DNS network, none with a gateway of ours). */
export function needsSandboxDns(networks: Network[]): boolean {
  return networks.some(servesDns) && !networks.some((n) => servesDns(n) && dnsAddress(n));
}

/** EndpointSettings.Links as alias -> container name (lowercase); undefined without any. */
function linkTable(given: string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const l of given) {
    try {
      const { name, alias } = parseLink(l);
      out[alias.toLowerCase()] = name.toLowerCase();
    } catch {
      // refused at create and connect; an old row is read as it is
    }
  }
  return Object.keys(out).length ? out : undefined;
}

export class StoreNameSource implements NameSource {
  constructor(
    private readonly containers: ContainerRepo,
    private readonly networks: NetworkRepo,
    /** endpoints other hosts have on a global network, with their names */
    private readonly remote: (networkId: string) => Array<{ containerId: string; names: string[]; ipv4: string | null; ipv6: string | null }> = () => [],
  ) {}

  requester(ip: string): Requester | undefined {
    const ep = this.containers.endpointByAddress(ip);
    return ep && this.requesterById(ep.containerId);
  }

  requesterById(containerId: string): Requester | undefined {
    const c = this.containers.get(containerId);
    if (!c) return undefined;
    const networks = this.containers
      .endpointsOf(c.id)
      .map((e) => ({ e, n: this.networks.get(e.networkId) }))
      .filter((x): x is { e: typeof x.e; n: Network } => !!x.n && servesDns(x.n))
      .map(({ e, n }) => {
        const given = c.endpointConfigs.find((x) => x.network === e.configKey)?.settings.Links ?? [];
        const links = linkTable(given);
        return { id: n.id, name: n.name, internal: n.internal, ...(links ? { links } : {}) };
      });
    return { containerId: c.id, networks, dns: c.hostConfig.Dns ?? [] };
  }

  members(networkId: string): Member[] {
    const out: Member[] = [];
    for (const e of this.containers.endpointsOn(networkId)) {
      const c = this.containers.get(e.containerId);
      if (!c || c.state !== 'running') continue;
      out.push({ containerId: c.id, names: this.namesOn(c.id, networkId), ipv4: e.ipv4?.split('/')[0], ipv6: e.ipv6?.split('/')[0] });
    }
    for (const r of this.remote(networkId)) {
      out.push({ containerId: r.containerId, names: r.names, ipv4: r.ipv4?.split('/')[0], ipv6: r.ipv6?.split('/')[0] });
    }
    return out;
  }

  /** The names a container answers to on a network: its name, hostname, aliases there and short id. */
  namesOn(containerId: string, networkId: string): string[] {
    const c = this.containers.get(containerId);
    const e = c && this.containers.endpointsOf(c.id).find((x) => x.networkId === networkId);
    if (!c || !e) return [];
    const aliases = c.endpointConfigs.find((x) => x.network === e.configKey)?.settings.Aliases ?? [];
    return [c.name, c.config.Hostname, ...aliases, c.id.slice(0, 12)].filter(Boolean).map((n: string) => n.toLowerCase());
  }
}

export interface SandboxFiles {
  resolvConf: string;
  hosts: string;
}

/** resolv.conf and hosts for a running container (Docker's choices, cnmd's server address). */
export function sandboxFiles(
  c: Container,
  endpoints: Array<{ network: Network; ipv4: string | null }>,
  daemonDns: string[],
  hostResolvConf: string,
  /** its namespace routes 127.0.0.11 to the server on the gateway (else it is named by its gateway address) */
  viaRoute = false,
  /** legacy links' entries */
  links: Array<{ ip: string; names: string[] }> = [],
): SandboxFiles {
  const hc = c.hostConfig;
  const dnsNet = endpoints.find((e) => servesDns(e.network) && dnsAddress(e.network)) ?? endpoints.find((e) => servesDns(e.network));
  const search: string[] = hc.DnsSearch ?? [];
  const options: string[] = hc.DnsOptions ?? [];
  let nameservers: string[];
  if (dnsNet) nameservers = [viaRoute ? SANDBOX_DNS : (dnsAddress(dnsNet.network) ?? SANDBOX_DNS)];
  else {
    // the default bridge has no embedded DNS: the container asks the upstream servers itself
    nameservers = (hc.Dns ?? []).length ? hc.Dns : daemonDns.length ? daemonDns : hostNameservers(hostResolvConf);
    if (!nameservers.length) nameservers = ['8.8.8.8', '8.8.4.4'];
  }
  const gateway = endpoints.map((e) => e.network.subnets.find((s) => s.family === 4)?.gateway).find(Boolean) ?? '';
  const extra = (hc.ExtraHosts ?? []).map((h: string) => {
    const m = /^([^:=]+)[:=](.+)$/.exec(h)!;
    return { host: m[1], ip: m[2] === 'host-gateway' ? gateway : m[2].replace(/^\[|\]$/g, '') };
  });
  const addresses = endpoints.map((e) => e.ipv4?.split('/')[0]).filter((a): a is string => !!a);
  return {
    resolvConf: resolvConf(nameservers, search, options, !!dnsNet),
    hosts: hostsFile(c.config.Hostname, addresses, [...extra, ...links.map((l) => ({ host: l.names.join(' '), ip: l.ip }))]),
  };
}
