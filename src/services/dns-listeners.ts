/**
 * Where the DNS server listens: on the gateway of each user-defined bridge network (added and removed
 * with the networks) and of each overlay network once this host has endpoints on it (its bridge is
 * made then), and inside each sandbox that no gateway of ours reaches (macvlan), at 127.0.0.11, on
 * sockets a helper binds there.
 */
import type { DnsServer } from '../dns/server.js';
import type { Executor } from '../host/executor.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { SandboxSpec } from '../reconcile/model.js';
import type { Container } from '../model.js';
import { sandboxPath } from '../reconcile/desired.js';
import type { EventBus } from './events.js';
import { servesDns, dnsAddress, needsSandboxDns, SANDBOX_DNS } from './dns.js';
import { parseProcNetSockets, listeningKeys } from '../host/state.js';

export interface DnsListenerDeps {
  dns: DnsServer;
  exec: Executor;
  containers: ContainerRepo;
  networks: NetworkRepo;
  events: EventBus;
  sandboxSpec: (c: Container) => SandboxSpec | undefined;
  /** whether a container of this host has an endpoint on the network */
  hasLocalEndpoints: (networkId: string) => boolean;
  log: () => { warn(obj: unknown, msg: string): void };
}

export class DnsListeners {
  /** gateway address served, by network id */
  private readonly served = new Map<string, string>();

  constructor(private readonly d: DnsListenerDeps) {}

  /** Serves every gateway now, and follows network creates and removals. */
  async start(): Promise<void> {
    for (const n of this.d.networks.list()) await this.serveGateway(n.id);
    this.d.events.subscribe((e) => {
      if (e.Type !== 'network') return;
      if (e.Action === 'create') void this.serveGateway(e.Actor.ID);
      if (e.Action === 'destroy' && this.served.has(e.Actor.ID)) {
        void this.d.dns.remove(this.served.get(e.Actor.ID)!);
        this.served.delete(e.Actor.ID);
      }
    });
  }

  private async serveGateway(id: string): Promise<void> {
    const n = this.d.networks.get(id);
    const addr = n && servesDns(n) ? dnsAddress(n) : undefined;
    if (!n || !addr) return;
    // a global network's bridge, and so its gateway, is on this host only while it has endpoints here
    if (n.scope === 'global' && !this.d.hasLocalEndpoints(id)) return;
    this.served.set(id, addr);
    await this.d.dns.add(addr);
  }

  /**
   * Gateway listeners whose socket is gone (closed by hand, `ss -K`) listen again: drift, like a
   * deleted rule. Read from /proc/net; returns the addresses repaired.
   */
  async repair(): Promise<string[]> {
    if (!this.served.size) return [];
    const read = async (f: string) => parseProcNetSockets((await this.d.exec.readFile(`/proc/net/${f}`)) ?? '', 53);
    const [tcp, udp] = await Promise.all([read('tcp'), read('udp')]);
    // looked up by key: a search of the list per address was quadratic in the networks
    const [tcpUp, udpUp] = [listeningKeys(tcp, true), listeningKeys(udp, false)];
    const repaired: string[] = [];
    // a snapshot: serving again re-adds the entry, which a live iteration would visit again
    for (const [id, addr] of [...this.served]) {
      if (tcpUp.has(`${addr} 53`) && udpUp.has(`${addr} 53`)) continue;
      await this.d.dns.remove(addr);
      this.served.delete(id);
      await this.serveGateway(id);
      repaired.push(`dns/${addr}`);
    }
    return repaired;
  }

  /** After a container's sandbox changed: serve inside it, or stop, as its networks now need. */
  async syncSandbox(id: string): Promise<void> {
    const c = this.d.containers.get(id);
    const spec = c && this.d.sandboxSpec(c);
    const path = c && !c.networkMode.startsWith('container:') ? sandboxPath(c) : undefined;
    for (const { network } of spec?.endpoints ?? []) await this.serveGateway(network.id);
    const want = !!spec && !!path && needsSandboxDns(spec.endpoints.map((e) => e.network));
    if (want && !this.d.dns.servesSandbox(id)) {
      try {
        await this.d.dns.serveSandbox(id, await this.d.exec.bindInNamespace(path!, SANDBOX_DNS, 53));
      } catch (e) {
        this.d.log().warn({ container: id, err: (e as Error).message }, 'cannot serve DNS inside this sandbox; it cannot resolve names');
      }
    } else if (!want) await this.d.dns.stopSandbox(id);
  }
}
