/**
 * The one read model of running containers: what the reconciler makes on the host for each (its
 * endpoints, ports, files, mount and UTS namespaces), what the DNS listeners serve, and what the
 * API shows of it. Reads the store; changes nothing.
 */
import type { Container, Network } from '../model.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { SandboxSpec } from '../reconcile/model.js';
import type { ContainerDirs } from '../reconcile/desired.js';
import { commandOf, modeOf, sharedWith } from './container-spec.js';
import { containerPaths, fstabPath, netnsEtc, netnsPath, volumePath, type Roots } from './paths.js';
import { dnsAddress, sandboxFiles, servesDns } from './dns.js';
import { NETNS_DIR } from '../host/readers.js';
import type { LegacyLinks } from './links.js';
import type { Executor } from '../host/executor.js';
import { invalid } from '../errors.js';

export interface SandboxDeps {
  containers: ContainerRepo;
  /** legacy links: hosts entries for the linked containers */
  links: Pick<LegacyLinks, 'hostsEntries'>;
  networks: NetworkRepo;
  roots: Roots;
  /** the daemon's --dns */
  dns: string[];
  /** the host's /etc/resolv.conf, as last read */
  hostResolvConf: () => string;
  /** whether the process at pid is the one recorded (its start time): a reused pid is never a holder */
  sameProcess: (pid: number, start: string) => boolean;
  /** whether firewall rules are programmed (the 127.0.0.11 redirect needs them) */
  iptables: boolean;
  /** which of /etc/resolv.conf, /etc/hosts, /etc/hostname the host has (a bind needs its target) */
  etcFiles: ReadonlySet<string>;
}

/** How cnmd enters a running container's network namespace: its adopted path, or the one it made. */
export function sandboxPath(c: Pick<Container, 'sandboxKey' | 'netns'>): string | undefined {
  return c.sandboxKey ?? (c.netns ? netnsPath(c.netns) : undefined);
}

/** One mount of a container's view: a file bound over one of /etc, a tree (bind or volume), or a tmpfs. */
export type ViewMount =
  | { kind: 'file' | 'tree'; source: string; target: string; readOnly: boolean }
  | { kind: 'tmpfs'; target: string; options: string; readOnly: boolean };

export class Sandboxes {
  constructor(private readonly d: SandboxDeps) {}

  get roots(): Roots {
    return this.d.roots;
  }

  paths(c: Pick<Container, 'id'>) {
    return containerPaths(this.d.roots, c.id);
  }

  /** The container's sandbox as the reconciler makes it; undefined when it is not running. */
  spec(c: Container): SandboxSpec | undefined {
    if (c.state !== 'running') return undefined;
    const endpoints = this.endpointsOf(c);
    const pid = this.d.sameProcess(c.pid, c.pidStart) ? c.pid : undefined;
    const spec: SandboxSpec = { container: c, endpoints, ports: this.d.containers.portBindingsOf(c.id), ...(pid ? { pid } : {}) };
    const dnsNet = endpoints.find((e) => servesDns(e.network) && dnsAddress(e.network));
    if (dnsNet) spec.dnsNetworkId = dnsNet.network.id;
    const p = this.paths(c);
    const mode = modeOf(c);
    const files: NonNullable<SandboxSpec['files']> = [];
    if (mode.kind === 'network' || mode.kind === 'none') {
      const content = this.files(c, spec);
      files.push({ path: p.resolvConf, content: content.resolvConf }, { path: p.hosts, content: content.hosts }, { path: p.hostname, content: content.hostname });
      if (c.netns) {
        files.push({ path: `${netnsEtc(c.netns)}/resolv.conf`, content: content.resolvConf }, { path: `${netnsEtc(c.netns)}/hosts`, content: content.hosts });
      }
    }
    if (c.hasInside || commandOf(c).length) {
      files.push({ path: p.fstab, content: this.fstab(c) });
      const own = mode.kind !== 'host';
      spec.inside = {
        mnt: p.mnt,
        ...(own ? { uts: p.uts } : {}),
        hostname: this.hostnameOf(c),
        domainname: String(c.config.Domainname ?? ''),
        fstab: p.fstab,
      };
    }
    spec.files = files;
    return spec;
  }

  portsOf(c: Pick<Container, 'id'>) {
    return this.d.containers.portBindingsOf(c.id);
  }

  running(): SandboxSpec[] {
    return this.d.containers.running().map((c) => this.spec(c)!);
  }

  /** Every container's directories, for the reconciler (which removes those of containers that are gone). */
  dirs(ids: string[]): ContainerDirs {
    return { dataRoot: this.d.roots.dataRoot, runRoot: this.d.roots.runRoot, ids };
  }

  endpointsOf(c: Container): Array<{ endpoint: import('../model.js').Endpoint; network: Network }> {
    return this.d.containers
      .endpointsOf(c.id)
      .map((endpoint) => ({ endpoint, network: this.d.networks.get(endpoint.networkId)! }))
      .filter((e) => e.network);
  }

  /** A container:<id> container's hostname and files are those of the one it shares with. */
  hostnameOf(c: Container): string {
    const other = sharedWith(c);
    const o = other ? this.d.containers.get(other) : undefined;
    return String((o ?? c).config.Hostname ?? '');
  }

  /** resolv.conf, hosts and hostname of a container with a network stack of its own. */
  files(c: Container, spec: SandboxSpec): { resolvConf: string; hosts: string; hostname: string } {
    const eps = spec.endpoints.map((e) => ({ network: e.network, ipv4: e.endpoint.ipv4 }));
    // 127.0.0.11 where the namespace routes it to the server (cnmd made it, with firewall rules); else the gateway
    const viaRoute = !!c.netns && !!spec.dnsNetworkId && this.d.iptables;
    const f = sandboxFiles(c, eps, this.d.dns, this.d.hostResolvConf(), viaRoute, this.d.links.hostsEntries(c));
    return { ...f, hostname: `${c.config.Hostname}\n` };
  }

  /** What a container's mount namespace has over the host's: its resolv.conf, hosts and hostname, then its mounts, in order. */
  view(c: Container): ViewMount[] {
    const mode = modeOf(c);
    const owner = mode.kind === 'container' ? this.d.containers.get(mode.target) : c;
    const out: ViewMount[] = [];
    if (mode.kind !== 'host' && owner) {
      const p = this.paths(owner);
      const etc: Array<[string, string]> = [[p.resolvConf, '/etc/resolv.conf'], [p.hosts, '/etc/hosts'], [p.hostname, '/etc/hostname']];
      for (const [source, target] of etc) if (this.d.etcFiles.has(target)) out.push({ kind: 'file', source, target, readOnly: false });
    }
    for (const m of c.mounts) {
      if (m.type === 'tmpfs') out.push({ kind: 'tmpfs', target: m.target, options: m.options || 'defaults', readOnly: false });
      else out.push({ kind: 'tree', source: m.type === 'bind' ? m.source : volumePath(this.d.roots.dataRoot, m.name), target: m.target, readOnly: !!m.readOnly });
    }
    return out;
  }

  /** The fstab its mount namespace is made from (`mount -a --fstab`). */
  fstab(c: Container): string {
    return this.view(c)
      .map((m) => {
        if (m.kind === 'tmpfs') return `tmpfs ${fstabPath(m.target)} tmpfs ${m.options} 0 0\n`;
        if (m.kind === 'file') return `${fstabPath(m.source)} ${fstabPath(m.target)} none bind 0 0\n`;
        return `${fstabPath(m.source)} ${fstabPath(m.target)} none rbind${m.readOnly ? ',ro' : ''} 0 0\n`;
      })
      .join('');
  }

  /** Where inspect shows the sandbox (host mode: the daemon's own namespace). */
  sandboxKey(c: Container, daemonPid: number): string {
    const mode = modeOf(c);
    if (mode.kind === 'host') return `/proc/${daemonPid}/ns/net`;
    if (mode.kind === 'container') {
      const o = this.d.containers.get(mode.target);
      return o ? (sandboxPath(o) ?? '') : '';
    }
    return sandboxPath(c) ?? '';
  }
}

export { NETNS_DIR };

/** An adopted namespace (SandboxKey) must be a network namespace, and not the daemon's own: a 400 otherwise. */
export async function checkAdoptable(exec: Pick<Executor, 'netnsIdentity'>, key: string): Promise<void> {
  const [id, own] = await Promise.all([exec.netnsIdentity(key), exec.netnsIdentity('/proc/self/ns/net')]);
  if (!id) throw invalid(`SandboxKey ${key}: not a network namespace (a file bound by ip netns add, or /proc/PID/ns/net)`);
  if (id === own) throw invalid(`SandboxKey ${key} is the network namespace of cnmd itself (the host's): cnmd does not configure it`);
}
