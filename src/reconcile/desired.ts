import type { Network } from '../model.js';
import type { DesiredState, DesiredSandbox, SandboxSpec } from './model.js';
import { getDriver, type DriverContext } from '../drivers/index.js';
import { emptyIntent, isIPv6Port, type PortIntent } from '../firewall/intent.js';
import { ALLOW_KEY, effectiveAllowList } from '../firewall/allow.js';
import { VXLAN_PORT } from '../drivers/overlay.js';
import { NETNS_DIR } from '../host/readers.js';
import type { IpOp } from '../host/ip-text.js';

/** How cnmd enters a running container's namespace: its adopted path, or the /run/netns name it made. */
export function sandboxPath(c: SandboxSpec['container']): string | undefined {
  return c.sandboxKey ?? (c.netns ? `${NETNS_DIR}/${c.netns}` : undefined);
}

/** Which containers' directories the plan looks after, and where they are. */
export interface ContainerDirs {
  dataRoot: string;
  runRoot: string;
  /** full ids of the containers in the store (in scope) */
  ids: string[];
}

/**
 * Desired host state for the given networks and running sandboxes, plus the shared base. Pure.
 * ownedNetns: the namespaces the store says cnmd made, which it may remove when no sandbox wants them.
 * dirs: the containers whose directories exist (those of other containers in scope go).
 */
export function desiredState(
  networks: Network[],
  ctx: DriverContext,
  sandboxes: SandboxSpec[] = [],
  ownedNetns: DesiredState['ownedNetns'] = [],
  dirs?: ContainerDirs,
): DesiredState {
  const state: DesiredState = {
    links: [],
    firewall: emptyIntent(ctx.firewall !== 'none'),
    sysctls: ctx.ipForward ? [{ key: 'net.ipv4.ip_forward', value: '1' }] : [],
    sandboxes: [],
    neighbors: [],
    ownedNetns,
    insides: [],
    files: [],
    dirs: dirs
      ? { dataRoot: dirs.dataRoot, runRoot: dirs.runRoot, data: dirs.ids, run: sandboxes.filter((s) => s.inside).map((s) => s.container.id.slice(0, 12)) }
      : { dataRoot: '', runRoot: '', data: [], run: [] },
  };
  // a cluster member takes VXLAN from the other members only, whatever networks a run covers
  if (ctx.cluster && state.firewall.enabled) state.firewall.underlay = { port: VXLAN_PORT, peers: [...new Set([ctx.cluster.vtep, ...ctx.cluster.members()])].sort() };
  for (const n of networks) {
    const driver = getDriver(n.driver);
    if (!driver || n.configOnly) continue;
    const o = driver.objects(n, ctx);
    state.links.push(...o.links);
    if (o.firewall && state.firewall.enabled) state.firewall.networks.push(o.firewall);
    // Docker sets IPv6 forwarding when it programs an IPv6 network's firewall (ip6tables, on by default since 27)
    if (o.firewall?.subnets6.length && ctx.ipForward && state.firewall.enabled) state.sysctls.push({ key: 'net.ipv6.conf.all.forwarding', value: '1' });
    state.sysctls.push(...o.sysctls);
    state.neighbors.push(...(o.neighbors ?? []));
  }
  for (const spec of sandboxes) {
    const owner = spec.container.id.slice(0, 12);
    for (const f of spec.files ?? []) state.files.push({ ...f, owner });
    if (spec.inside) state.insides.push({ ...spec.inside, owner, ...(spec.pid ? { holderPid: spec.pid } : {}) });
    const sb = sandbox(spec, ctx);
    if (!sb) continue;
    state.sandboxes.push(sb.sandbox);
    state.links.push(...sb.links);
    state.firewall.ports.push(...sb.ports);
    if (sb.ports.length) state.sysctls.push({ key: 'net.bridge.bridge-nf-call-iptables', value: '1' });
    if (sb.ports.some(isIPv6Port)) state.sysctls.push({ key: 'net.bridge.bridge-nf-call-ip6tables', value: '1' });
  }
  return state;
}

/** The IPv4 address published ports lead to: the endpoint that gives the default route. */
export function publishTarget(gateways: DesiredSandbox['gateways'], spec: SandboxSpec): string | undefined {
  const gw = gateways.find((g) => g.family === 4);
  const ep = gw && spec.endpoints.find((e) => e.endpoint.ifname === gw.dev);
  // as Docker: only the gateway endpoint's driver publishes, and macvlan's does not
  return ep && getDriver(ep.network.driver)?.localGateway ? ep.endpoint.ipv4?.split('/')[0] : undefined;
}

/** The same, worked out from the store's view of a running container. */
export function publishTargetOf(spec: SandboxSpec, ctx: DriverContext): string | undefined {
  const sb = sandbox(spec, ctx);
  return sb ? publishTarget(sb.sandbox.gateways, spec) : undefined;
}

export const CONTAINER_SYSCTLS = [
  { key: 'net.ipv4.ip_unprivileged_port_start', value: '0' },
  { key: 'net.ipv4.ping_group_range', value: '0 2147483647' },
  // replies from 127.0.0.11 (the DNS server, reached through the gateway) arrive on eth0; the sandbox's
  // routing rules keep anything else addressed to 127.0.0.0/8 from coming in (see LOOPBACK_GUARD)
  { key: 'net.ipv4.conf.all.route_localnet', value: '1' },
];

/**
 * Routing rules of a namespace cnmd makes: with route_localnet, a neighbour could send packets to the
 * container's 127.0.0.1 services; these drop anything for 127.0.0.0/8 that does not come from the
 * container itself (the local table is consulted for local traffic first, then after the drop).
 */
export const LOOPBACK_GUARD: IpOp[] = [
  { op: 'rule add', pref: 10, iif: 'lo', action: 'lookup local' },
  { op: 'rule add', pref: 11, to: '127.0.0.0/8', action: 'blackhole' },
  { op: 'rule add', pref: 12, action: 'lookup local' },
  { op: 'rule del', pref: 0 },
];

function sandbox(spec: SandboxSpec, ctx: DriverContext) {
  const c = spec.container;
  const path = sandboxPath(c);
  if (!path) return undefined;
  const nsRef = c.sandboxKey ?? c.netns!;
  const sandbox: DesiredSandbox = { owner: c.id.slice(0, 12), path, interfaces: [], gateways: [], sysctls: [] };
  if (!c.sandboxKey && c.netns) {
    sandbox.netns = c.netns;
    if (spec.pid) sandbox.holderPid = spec.pid;
    // What Docker's runtime sets in a container's network namespace (not in an adopted one: it is not ours).
    sandbox.sysctls = CONTAINER_SYSCTLS;
  }
  const links = [];
  const candidates: Array<{ via: string; family: 4 | 6; dev: string; priority: number; position: number }> = [];
  for (const { endpoint, network } of spec.endpoints) {
    const o = getDriver(network.driver)?.endpoint?.(network, endpoint, c.id, nsRef, ctx);
    if (!o) continue;
    if (o.link) links.push(o.link);
    sandbox.interfaces.push(o.iface);
    for (const g of o.gateways) candidates.push({ ...g, dev: o.iface.name, priority: endpoint.gwPriority, position: endpoint.position });
  }
  // The default route of each family comes from the endpoint with the highest GwPriority, then the first one.
  for (const family of [4, 6] as const) {
    const best = candidates.filter((g) => g.family === family).sort((a, b) => b.priority - a.priority || a.position - b.position)[0];
    if (best) sandbox.gateways.push({ via: best.via, dev: best.dev, family });
  }
  // 127.0.0.11 (Docker's resolver address) goes to the gateway of the network that serves it DNS, where
  // the host redirects it to the embedded server; only in namespaces cnmd made (route_localnet is set there)
  const dnsEp = sandbox.netns && spec.dnsNetworkId ? spec.endpoints.find((e) => e.network.id === spec.dnsNetworkId) : undefined;
  const dnsVia = dnsEp?.network.subnets.find((x) => x.family === 4)?.gateway;
  if (dnsEp && dnsVia && dnsEp.endpoint.ipv4 && ctx.firewall !== 'none') sandbox.dnsRoute = { via: dnsVia, dev: dnsEp.endpoint.ifname };
  // Published ports lead to the endpoint that gives the IPv4 default route: to its IPv4 address, and on
  // IPv6 host addresses to its IPv6 address (the container sees the real client); for a container
  // without one, and from the host's ::1, the daemon's own proxy serves IPv6 ones (see ContainerRuns),
  // as docker-proxy does.
  const ports: PortIntent[] = [];
  const ip = publishTarget(sandbox.gateways, spec);
  const target = ip ? spec.endpoints.find((e) => e.endpoint.ipv4?.split('/')[0] === ip) : undefined;
  const ip6 = target?.network.enableIPv6 ? target.endpoint.ipv6?.split('/')[0] : undefined;
  const published = (spec.ports ?? []).filter((p) => (p.hostIp.includes(':') ? !!ip6 && p.hostIp !== '::1' : true));
  if (ctx.firewall !== 'none' && ip && target && published.length) {
    const allow = effectiveAllowList(c.config.Labels?.[ALLOW_KEY], target.network.options[ALLOW_KEY]);
    const routed = (v6: boolean) => !!getDriver(target.network.driver)?.routed?.(target.network, v6 ? 6 : 4);
    for (const p of published) {
      const v6 = p.hostIp.includes(':');
      const extra = { ...(allow ? { allow } : {}), ...(routed(v6) ? { routed: true } : {}) };
      ports.push({ owner: sandbox.owner, proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, ip: v6 ? ip6! : ip, port: p.containerPort, ...extra });
    }
    const link = links.find((l) => l.name === target.endpoint.hostIfname);
    if (link) link.hairpin = true;
  }
  return { sandbox, links, ports };
}
