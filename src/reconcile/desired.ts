import type { Network } from '../model.js';
import type { DesiredState, DesiredSandbox, SandboxSpec } from './model.js';
import { getDriver, type DriverContext } from '../drivers/index.js';
import { bridgeBase, chainNames, ownerComment } from '../drivers/bridge.js';
import { NETNS_DIR } from '../host/readers.js';

/** How cnmd enters a running container's namespace: its adopted path, or the /run/netns name it made. */
export function sandboxPath(c: SandboxSpec['container']): string | undefined {
  return c.sandboxKey ?? (c.netns ? `${NETNS_DIR}/${c.netns}` : undefined);
}

/**
 * Desired host state for the given networks and running sandboxes, plus the shared base. Pure.
 * ownedNetns: the namespaces the store says cnmd made, which it may remove when no sandbox wants them.
 */
export function desiredState(
  networks: Network[],
  ctx: DriverContext,
  sandboxes: SandboxSpec[] = [],
  ownedNetns: DesiredState['ownedNetns'] = [],
): DesiredState {
  const base = bridgeBase(ctx);
  const state: DesiredState = {
    links: [],
    chains: base.chains.map((c) => ({ ...c, body: [] })),
    hooks: base.hooks,
    sysctls: ctx.ipForward ? [{ key: 'net.ipv4.ip_forward', value: '1' }] : [],
    sandboxes: [],
    neighbors: [],
    ownedNetns,
  };
  const shared = new Map(state.chains.map((c) => [`${c.table} ${c.name}`, c]));
  for (const n of networks) {
    const driver = getDriver(n.driver);
    if (!driver || n.configOnly) continue;
    const o = driver.objects(n, ctx);
    state.links.push(...o.links);
    state.chains.push(...o.chains);
    state.sysctls.push(...o.sysctls);
    state.neighbors.push(...(o.neighbors ?? []));
    const owner = n.id.slice(0, 12);
    for (const r of o.rules) shared.get(`${r.table} ${r.chain}`)?.body.push({ spec: r.spec, owner });
  }
  for (const spec of sandboxes) {
    const sb = sandbox(spec, ctx);
    if (!sb) continue;
    state.sandboxes.push(sb.sandbox);
    state.links.push(...sb.links);
    const owner = spec.container.id.slice(0, 12);
    for (const r of sb.rules) shared.get(`${r.table} ${r.chain}`)?.body.push({ spec: r.spec, owner });
    if (sb.rules.length) state.sysctls.push({ key: 'net.bridge.bridge-nf-call-iptables', value: '1' });
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
  // Published ports lead to the endpoint that gives the IPv4 default route; IPv6 host addresses are
  // served by the daemon's own proxy (see ContainerService), not by NAT.
  const rules: Array<{ table: 'nat'; chain: string; spec: string }> = [];
  const ip = publishTarget(sandbox.gateways, spec);
  const natted = (spec.ports ?? []).filter((p) => !p.hostIp.includes(':'));
  if (ctx.iptables && ip && natted.length) {
    const c = chainNames(ctx);
    const tag = ownerComment(ctx, spec.container.id);
    for (const p of natted) {
      const m = `-p ${p.proto} -m ${p.proto}`;
      const local = p.hostIp.startsWith('127.');
      const dst = p.hostIp === '0.0.0.0' ? '' : `-d ${p.hostIp}/32 `;
      rules.push({ table: 'nat', chain: local ? c.dnatLocal : c.dnat, spec: `${dst}${m} --dport ${p.hostPort} ${tag} -j DNAT --to-destination ${ip}:${p.containerPort}` });
      // a container reaching its own published port through the host: the reply must come back the same way
      rules.push({ table: 'nat', chain: c.postrouting, spec: `-s ${ip}/32 -d ${ip}/32 ${m} --dport ${p.containerPort} ${tag} -j MASQUERADE` });
    }
    const target = spec.endpoints.find((e) => e.endpoint.ipv4?.split('/')[0] === ip)!;
    const link = links.find((l) => l.name === target.endpoint.hostIfname);
    if (link) link.hairpin = true;
  }
  return { sandbox, links, rules };
}
