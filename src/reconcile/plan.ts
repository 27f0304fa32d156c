/**
 * diff(desired, actual) -> ordered steps. Pure. Every step is an Ensure/Delete against what was read,
 * so running the plan again after it was applied yields nothing: the same code creates, repairs
 * drift and cleans up after a crash.
 *
 * A plan can be scoped to a set of owners (network id prefixes): then only their objects and the
 * shared base are compared, which keeps the cost of one request independent of how many networks
 * exist. When a scoped plan finds shared state it cannot repair alone, it throws NeedsFullReconcile.
 */
import type { DesiredState } from './model.js';
import { LOOPBACK_GUARD } from './desired.js';
import { SANDBOX_DNS } from './dns-address.js';
import { NETNS_ETC_DIR } from '../host/readers.js';
import { type HostState, type LinkState, neighborKey } from '../host/state.js';
import { forbidden } from '../errors.js';
import type { BridgeOp, IpLinkSpec, IpOp } from '../host/ip-text.js';
import type { WgOp } from '../host/wg-text.js';
import { type FirewallStep, planFirewall, adoptFirewall } from '../firewall/index.js';
import { type PlanOptions, inScope } from './scope.js';

export { NeedsFullReconcile, type PlanOptions } from './scope.js';

export type Step =
  | { kind: 'sysctl'; key: string; value: string }
  /** order within the host's ip batch: 0 namespaces made, 1 links removed, 2 links made or changed, 3 namespaces removed */
  | { kind: 'ip'; order: 0 | 1 | 2 | 3; op: IpOp }
  /** an operation of the ip batch run inside a sandbox namespace, after the host's */
  | { kind: 'ipns'; path: string; op: IpOp }
  /** a sysctl set inside a sandbox namespace cnmd just made */
  | { kind: 'nssysctl'; path: string; key: string; value: string }
  /** a firewall change, of the backend in use (src/firewall/) */
  | FirewallStep
  /** WireGuard: a link wireguard-go makes (before the host's ip batch), or a link's keys and peers (after it) */
  | { kind: 'wg'; op: WgOp }
  /** an entry of one `bridge -batch` (FDB entries), after the host's ip batch */
  | { kind: 'bridge'; op: BridgeOp }
  /** a file cnmd keeps, written in place (so that bind mounts of it see the change), before the rest */
  | { kind: 'file'; path: string; content: string }
  /** a container's mount namespace persisted at path: new, with the binds of fstab; or a live process's again */
  | { kind: 'mntns'; path: string; fstab: string; holderPid?: number }
  /** a container's UTS namespace persisted at path, with its hostname; or a live process's again */
  | { kind: 'utsns'; path: string; hostname: string; domainname: string; holderPid?: number }
  /** a namespace file of ours that is not wanted, after the rest */
  | { kind: 'umount'; path: string }
  /** a directory of ours that goes (a removed container's, /etc/netns/NAME), last */
  | { kind: 'rm'; path: string };

export function linkOwner(l: LinkState, instance: string): string | undefined {
  return l.alias?.startsWith(instance + ':') ? l.alias.slice(instance.length + 1, instance.length + 13) : undefined;
}

function planLinks(desired: DesiredState, actual: HostState, o: PlanOptions): Step[] {
  const dels: Step[] = [];
  const adds: Step[] = [];
  const del = (name: string): Step => ({ kind: 'ip', order: 1, op: { op: 'link del', dev: name } });
  const add = (op: IpOp): Step => ({ kind: 'ip', order: 2, op });
  const want = desired.links.filter((d) => inScope(o.owners, d.owner));
  const wantNames = new Map(want.map((d) => [d.name, d]));
  for (const a of linksInScope(actual, o)) {
    const owner = linkOwner(a, o.instance);
    if (owner === undefined || !inScope(o.owners, owner)) continue;
    const d = wantNames.get(a.name);
    if (!d || d.alias !== a.alias) dels.push(del(a.name));
  }
  for (const d of want) {
    const found = actual.links.get(d.name);
    // a crash between wireguard-go making the link and the batch marking it: its name holds this
    // host's node id and the network's, so that unmarked link is the one cnmd started; marked now
    const unmarked = !!found && d.kind === 'wireguard' && !found.alias && found.kind === 'tun';
    if (unmarked) adds.push(add({ op: 'link set', dev: d.name, alias: d.alias }));
    const a = found && unmarked ? { ...found, alias: d.alias } : found;
    const stale = a && a.alias !== d.alias;
    if (stale && linkOwner(a, o.instance) === undefined) {
      throw forbidden(`cannot create ${d.kind === 'bridge' ? 'bridge' : 'link'} ${d.name}: a link of that name exists and is not managed by cnmd`);
    }
    if (stale && !inScope(o.owners, linkOwner(a, o.instance))) dels.push(del(d.name));
    const dev = d.name;
    if (!a || stale) {
      if (d.kind === 'wireguard' && !d.wireguard!.kernel) {
        // wireguard-go makes it, before the batch, with an MTU of its own
        adds.push({ kind: 'wg', op: { op: 'start', dev } });
        adds.push(add({ op: 'link set', dev, mtu: d.mtu }));
      } else adds.push(add({ op: 'link add', link: linkSpec(d) }));
      adds.push(add({ op: 'link set', dev, alias: d.alias }));
      for (const addr of d.addresses) adds.push(add({ op: 'addr add', addr, dev }));
      if (d.master) adds.push(add({ op: 'link set', dev, master: d.master }));
      if (d.hairpin) adds.push(add({ op: 'link set', dev, hairpin: true }));
      adds.push(add({ op: 'link set', dev, up: true }));
      continue;
    }
    if (a.mtu !== d.mtu) adds.push(add({ op: 'link set', dev, mtu: d.mtu }));
    if (d.mac && a.mac !== d.mac) adds.push(add({ op: 'link set', dev, address: d.mac }));
    for (const addr of a.addresses) if (!d.addresses.includes(addr)) adds.push(add({ op: 'addr del', addr, dev }));
    for (const addr of d.addresses) if (!a.addresses.includes(addr)) adds.push(add({ op: 'addr add', addr, dev }));
    if (d.master && a.master !== d.master) adds.push(add({ op: 'link set', dev, master: d.master }));
    if (d.master && !!d.hairpin !== !!a.hairpin) adds.push(add({ op: 'link set', dev, hairpin: !!d.hairpin }));
    if (!a.up) adds.push(add({ op: 'link set', dev, up: true }));
  }
  return [...dels, ...adds];
}

/** Our links by owner (12 hex), derived from state.links once and kept by adopt: a scoped plan looks at its owners' links only. */
function linkIndex(state: HostState, instance: string): Map<string, Set<string>> {
  if (!state.linkOwners) {
    state.linkOwners = new Map();
    for (const l of state.links.values()) indexLink(state.linkOwners, l, instance);
  }
  return state.linkOwners;
}

function indexLink(index: Map<string, Set<string>>, l: LinkState, instance: string): void {
  const owner = linkOwner(l, instance);
  if (owner === undefined) return;
  let names = index.get(owner);
  if (!names) index.set(owner, (names = new Set()));
  names.add(l.name);
}

/** The links a plan looks at: all of the host's in a full plan, its owners' otherwise. */
function linksInScope(state: HostState, o: PlanOptions): LinkState[] {
  if (o.owners === null) return [...state.links.values()];
  const index = linkIndex(state, o.instance);
  return [...o.owners].flatMap((owner) => [...(index.get(owner) ?? [])].map((n) => state.links.get(n)).filter((l): l is LinkState => !!l));
}

/** How a desired link is made. */
function linkSpec(d: DesiredState['links'][number]): IpLinkSpec {
  if (d.kind === 'veth') return { type: 'veth', name: d.name, mtu: d.mtu, peer: d.peer! };
  if (d.kind === 'vlan') return { type: 'vlan', name: d.name, mtu: d.mtu, base: d.vlan!.base, id: d.vlan!.id };
  if (d.kind === 'vxlan') return { type: 'vxlan', name: d.name, mtu: d.mtu, ...d.vxlan! };
  if (d.kind === 'wireguard') return { type: 'wireguard', name: d.name, mtu: d.mtu };
  return { type: 'bridge', name: d.name, mtu: d.mtu, ...(d.mac ? { mac: d.mac } : {}) };
}

/** Sandbox namespaces: made or removed on the host, and their inside (addresses, lo, default routes). */
function planSandboxes(desired: DesiredState, actual: HostState, o: PlanOptions): Step[] {
  const steps: Step[] = [];
  const wantedNetns = new Set<string>();
  for (const sb of desired.sandboxes) {
    if (sb.netns) wantedNetns.add(sb.netns);
    if (!inScope(o.owners, sb.owner)) continue;
    let inside = actual.sandboxes.get(sb.path);
    if (sb.netns && !actual.netns.has(sb.netns) && sb.holderPid) {
      // the name was removed, the namespace lives on in its process: give it its name back
      steps.push({ kind: 'ip', order: 0, op: { op: 'netns attach', name: sb.netns, pid: sb.holderPid } });
    } else if (sb.netns && !actual.netns.has(sb.netns)) {
      steps.push({ kind: 'ip', order: 0, op: { op: 'netns add', name: sb.netns } });
      for (const x of sb.sysctls) steps.push({ kind: 'nssysctl', path: sb.path, key: x.key, value: x.value });
      inside = undefined;
    }
    const line = (op: IpOp): Step => ({ kind: 'ipns', path: sb.path, op });
    if (sb.netns && !inside) for (const rule of LOOPBACK_GUARD) steps.push(line(rule));
    if (!inside?.links.get('lo')?.up) steps.push(line({ op: 'link set', dev: 'lo', up: true }));
    // interfaces made from the host (macvlan) that are ours but no longer wanted
    const wantedNames = new Set(sb.interfaces.map((i) => i.name));
    /** interfaces this plan makes anew: their routes went with them, whatever was remembered */
    const remade = new Set<string>();
    for (const l of inside?.links.values() ?? []) {
      if (l.kind === 'macvlan' && linkOwner(l, o.instance) === sb.owner && !wantedNames.has(l.name)) steps.push(line({ op: 'link del', dev: l.name }));
    }
    for (const iface of sb.interfaces) {
      let fresh = !!iface.veth && !actual.links.has(iface.veth);
      if (iface.make && !inside?.links.has(iface.name)) {
        steps.push({ kind: 'ip', order: 2, op: { op: 'link add', link: iface.make.link } });
        steps.push(line({ op: 'link set', dev: iface.name, alias: iface.make.alias }));
        fresh = true;
      }
      // a link made by this plan is new and unconfigured inside, whatever was remembered
      if (fresh) remade.add(iface.name);
      const a = fresh ? undefined : inside?.links.get(iface.name);
      const dev = iface.name;
      for (const addr of a?.addresses ?? []) if (!iface.addresses.includes(addr)) steps.push(line({ op: 'addr del', addr, dev }));
      for (const addr of iface.addresses) if (!a?.addresses.includes(addr)) steps.push(line({ op: 'addr add', addr, dev }));
      if (!a?.up) steps.push(line({ op: 'link set', dev, up: true }));
    }
    // Only IPv4 default routes are read back; IPv6 ones are set when the sandbox is made.
    const want4 = sb.gateways.filter((g) => g.family === 4);
    const have4 = inside?.gateways.filter((g) => !g.includes(':'));
    for (const g of sb.gateways) {
      if (!inside || remade.has(g.dev) || (g.family === 4 && !(have4?.length === 1 && have4[0] === g.via))) {
        steps.push(line({ op: 'route replace', to: 'default', via: g.via, dev: g.dev }));
      }
    }
    if (inside && want4.length === 0) for (const g of have4 ?? []) steps.push(line({ op: 'route del', to: 'default', via: g }));
    const dns = sb.dnsRoute;
    if (dns && (!inside || remade.has(dns.dev) || inside.dnsVia !== dns.via)) {
      steps.push(line({ op: 'route replace', to: `${SANDBOX_DNS}/32`, via: dns.via, dev: dns.dev, table: 'local' }));
    } else if (!dns && inside?.dnsVia) steps.push(line({ op: 'route del', to: `${SANDBOX_DNS}/32`, table: 'local' }));
  }
  for (const { name, owner } of desired.ownedNetns) {
    if (!inScope(o.owners, owner) || wantedNetns.has(name)) continue;
    if (actual.netns.has(name)) steps.push({ kind: 'ip', order: 3, op: { op: 'netns del', name } });
    if (actual.netnsDirs.has(name)) steps.push({ kind: 'rm', path: `${NETNS_ETC_DIR}/${name}` });
  }
  return steps;
}

/** Files, mount and UTS namespaces of containers, and the directories of containers that are gone. */
function planContainers(desired: DesiredState, actual: HostState, o: PlanOptions): Step[] {
  const steps: Step[] = [];
  for (const f of desired.files) {
    if (inScope(o.owners, f.owner) && actual.files.get(f.path) !== f.content) steps.push({ kind: 'file', path: f.path, content: f.content });
  }
  const wanted = new Set<string>();
  for (const i of desired.insides) {
    wanted.add(i.mnt);
    if (i.uts) wanted.add(i.uts);
    if (!inScope(o.owners, i.owner)) continue;
    if (!actual.mounts.has(i.mnt)) steps.push({ kind: 'mntns', path: i.mnt, fstab: i.fstab, ...(i.holderPid ? { holderPid: i.holderPid } : {}) });
    if (i.uts && !actual.mounts.has(i.uts)) {
      steps.push({ kind: 'utsns', path: i.uts, hostname: i.hostname, domainname: i.domainname, ...(i.holderPid ? { holderPid: i.holderPid } : {}) });
    }
  }
  const { dataRoot, runRoot } = desired.dirs;
  if (!runRoot) return steps;
  const ownerOfRun = (path: string) => path.slice(runRoot.length + 1, runRoot.length + 13);
  for (const m of actual.mounts) {
    if (!wanted.has(m) && inScope(o.owners, ownerOfRun(m))) steps.push({ kind: 'umount', path: m });
  }
  const run = new Set(desired.dirs.run);
  for (const d of actual.runDirs) if (!run.has(d) && inScope(o.owners, d)) steps.push({ kind: 'rm', path: `${runRoot}/${d}` });
  const data = new Set(desired.dirs.data);
  for (const d of actual.dataDirs) if (!data.has(d) && inScope(o.owners, d.slice(0, 12))) steps.push({ kind: 'rm', path: `${dataRoot}/containers/${d}` });
  return steps;
}

export function plan(desired: DesiredState, actual: HostState, o: PlanOptions): Step[] {
  const sysctls: Step[] = [];
  for (const s of desired.sysctls) {
    if (actual.sysctls.get(s.key) !== s.value && !sysctls.some((x) => x.kind === 'sysctl' && x.key === s.key)) {
      sysctls.push({ kind: 'sysctl', ...s });
    }
  }
  const ip: Step[] = [...planLinks(desired, actual, o), ...planWireguard(desired, actual, o), ...planNeighbors(desired, actual, o), ...planSandboxes(desired, actual, o), ...planContainers(desired, actual, o)];
  const host = [0, 1, 2, 3].flatMap((n) => ip.filter((x) => x.kind === 'ip' && x.order === n));
  const of = (...kinds: Step['kind'][]) => ip.filter((x) => kinds.includes(x.kind));
  return [...of('file'), ...sysctls, ...ip.filter((x) => x.kind === 'wg' && x.op.op === 'start'), ...host, ...ip.filter((x) => x.kind === 'wg' && x.op.op === 'set'), ...of('ipns', 'nssysctl', 'bridge', 'mntns', 'utsns'), ...planFirewall(desired.firewall, actual, o), ...of('umount', 'rm')];
}

/**
 * The keys, port and peers of our WireGuard links: set when the link is new or what it reports differs;
 * peers it has that are not wanted are removed (a host that left the network can no longer send).
 */
function planWireguard(desired: DesiredState, actual: HostState, o: PlanOptions): Step[] {
  const steps: Step[] = [];
  for (const d of desired.links) {
    if (d.kind !== 'wireguard' || !inScope(o.owners, d.owner)) continue;
    const want = d.wireguard!;
    const link = actual.links.get(d.name);
    const a = link && link.alias === d.alias ? actual.wireguard?.get(d.name) : undefined;
    const same = a && a.publicKey === want.publicKey && a.port === want.port && a.peers.size === want.peers.length
      && want.peers.every((p) => {
        const x = a.peers.get(p.publicKey);
        return x && x.endpoint === p.endpoint && x.allowedIps.length === 1 && x.allowedIps[0] === p.allowedIp;
      });
    if (same) continue;
    const keep = new Set(want.peers.map((p) => p.publicKey));
    const { kernel: _, ...config } = want;
    steps.push({ kind: 'wg', op: { op: 'set', dev: d.name, config, remove: [...(a?.peers.keys() ?? [])].filter((k) => !keep.has(k)) } });
  }
  return steps;
}

/**
 * Remote endpoints on our VXLAN ports: a permanent neighbour entry (IP -> MAC, which the port answers
 * ARP from) and a static FDB entry (MAC -> the host that has it), set and removed together. Entries of
 * a port that goes away go with it.
 */
function planNeighbors(desired: DesiredState, actual: HostState, o: PlanOptions): Step[] {
  const steps: Step[] = [];
  const ports = new Map(desired.links.filter((l) => l.kind === 'vxlan').map((l) => [l.name, l]));
  const want = new Map(desired.neighbors.filter((n) => inScope(o.owners, n.owner)).map((n) => [neighborKey(n.dev, n.ip), n]));
  for (const [key, a] of actual.neighbors) {
    const port = ports.get(a.dev);
    if (!port || !inScope(o.owners, port.owner) || want.has(key) || !actual.links.has(a.dev)) continue;
    steps.push({ kind: 'ip', order: 2, op: { op: 'neigh del', ip: a.ip, dev: a.dev } });
    steps.push({ kind: 'bridge', op: { op: 'fdb del', mac: a.mac, dev: a.dev } });
  }
  for (const [key, w] of want) {
    const a = actual.neighbors.get(key);
    const fresh = !actual.links.has(w.dev);
    if (a && !fresh && a.mac === w.mac && (a.vtep === undefined || a.vtep === w.vtep)) continue;
    steps.push({ kind: 'ip', order: 2, op: { op: 'neigh replace', ip: w.ip, mac: w.mac, dev: w.dev } });
    steps.push({ kind: 'bridge', op: { op: 'fdb replace', mac: w.mac, dev: w.dev, dst: w.vtep } });
  }
  return steps;
}

/**
 * After a plan was applied without error, the host matches desired within the scope: fold that into
 * the remembered host state, so the next scoped plan needs no read. Costs O(scope), not O(networks).
 */
export function adopt(state: HostState, desired: DesiredState, o: PlanOptions): void {
  const index = linkIndex(state, o.instance);
  if (o.owners === null) {
    state.links = new Map([...state.links].filter(([, l]) => linkOwner(l, o.instance) === undefined));
    index.clear();
  } else {
    for (const owner of o.owners) {
      for (const name of index.get(owner) ?? []) {
        const l = state.links.get(name);
        if (l && linkOwner(l, o.instance) === owner) state.links.delete(name);
      }
      index.delete(owner);
    }
  }
  for (const d of desired.links) {
    if (inScope(o.owners, d.owner)) {
      const prev = state.links.get(d.name);
      const prevOwner = prev && linkOwner(prev, o.instance);
      if (prevOwner !== undefined && prevOwner !== d.owner) index.get(prevOwner)?.delete(d.name);
      const link: LinkState = {
        name: d.name, kind: d.kind, alias: d.alias, mtu: d.mtu, up: true, addresses: [...d.addresses],
        ...(d.mac ? { mac: d.mac } : {}),
        ...(d.master ? { master: d.master, hairpin: !!d.hairpin } : {}),
      };
      state.links.set(d.name, link);
      indexLink(index, link, o.instance);
    }
  }
  for (const d of desired.links) {
    if (d.kind !== 'wireguard' || !inScope(o.owners, d.owner)) continue;
    const w = d.wireguard!;
    (state.wireguard ??= new Map()).set(d.name, { publicKey: w.publicKey, port: w.port, peers: new Map(w.peers.map((p) => [p.publicKey, { endpoint: p.endpoint, allowedIps: [p.allowedIp] }])) });
  }
  const ports = new Map(desired.links.filter((l) => l.kind === 'vxlan').map((l) => [l.name, l.owner]));
  for (const [key, a] of state.neighbors) {
    const owner = ports.get(a.dev);
    if (owner === undefined || inScope(o.owners, owner)) state.neighbors.delete(key);
  }
  for (const n of desired.neighbors) {
    if (inScope(o.owners, n.owner)) state.neighbors.set(neighborKey(n.dev, n.ip), { dev: n.dev, ip: n.ip, mac: n.mac, vtep: n.vtep });
  }
  const wantedNetns = new Set(desired.sandboxes.map((sb) => sb.netns).filter((n): n is string => !!n));
  for (const { name, owner } of desired.ownedNetns) if (inScope(o.owners, owner) && !wantedNetns.has(name)) state.netns.delete(name);
  for (const sb of desired.sandboxes) {
    if (!inScope(o.owners, sb.owner)) continue;
    if (sb.netns) state.netns.add(sb.netns);
    const links = new Map<string, LinkState>([['lo', { name: 'lo', kind: '', mtu: 65536, up: true, addresses: [] }]]);
    for (const i of sb.interfaces) {
      links.set(i.name, { name: i.name, kind: i.make ? 'macvlan' : 'veth', mtu: 0, up: true, addresses: [...i.addresses], ...(i.make ? { alias: i.make.alias } : {}) });
    }
    state.sandboxes.set(sb.path, { links, gateways: sb.gateways.filter((g) => g.family === 4).map((g) => g.via), ...(sb.dnsRoute ? { dnsVia: sb.dnsRoute.via } : {}) });
  }
  adoptFirewall(state, desired.firewall, o);
  for (const s of desired.sysctls) state.sysctls.set(s.key, s.value);
  adoptContainers(state, desired, o);
}

function adoptContainers(state: HostState, desired: DesiredState, o: PlanOptions): void {
  for (const f of desired.files) if (inScope(o.owners, f.owner)) state.files.set(f.path, f.content);
  const wantedNetns = new Set(desired.sandboxes.map((sb) => sb.netns).filter((n): n is string => !!n));
  for (const { name, owner } of desired.ownedNetns) if (inScope(o.owners, owner) && !wantedNetns.has(name)) state.netnsDirs.delete(name);
  for (const sb of desired.sandboxes) if (sb.netns && inScope(o.owners, sb.owner) && desired.files.some((f) => f.path.startsWith(`${NETNS_ETC_DIR}/${sb.netns}/`))) state.netnsDirs.add(sb.netns);
  const { runRoot } = desired.dirs;
  if (!runRoot) return;
  const ownerOfRun = (path: string) => path.slice(runRoot.length + 1, runRoot.length + 13);
  for (const m of [...state.mounts]) if (inScope(o.owners, ownerOfRun(m))) state.mounts.delete(m);
  for (const i of desired.insides) {
    if (!inScope(o.owners, i.owner)) continue;
    state.mounts.add(i.mnt);
    if (i.uts) state.mounts.add(i.uts);
  }
  for (const d of [...state.runDirs]) if (inScope(o.owners, d)) state.runDirs.delete(d);
  for (const d of desired.dirs.run) if (inScope(o.owners, d)) state.runDirs.add(d);
  for (const d of [...state.dataDirs]) if (inScope(o.owners, d.slice(0, 12))) state.dataDirs.delete(d);
  for (const d of desired.dirs.data) if (inScope(o.owners, d.slice(0, 12))) state.dataDirs.add(d);
  // a removed directory takes its files with it (every path of a container's names its 12 hex)
  const kept = new Set(desired.files.map((f) => f.path));
  for (const p of [...state.files.keys()]) {
    if (!kept.has(p) && (o.owners === null || [...o.owners].some((x) => p.includes(x)))) state.files.delete(p);
  }
}
