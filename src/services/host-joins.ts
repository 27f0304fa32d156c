/**
 * New endpoints of a container becoming real on this host (a start or a connect): on global networks
 * their addresses are claimed in the cluster store first, then published to the other hosts while the
 * reconciler makes the sandbox; a join that fails is undone in both.
 */
import type { Container, Endpoint, Network } from '../model.js';
import { forbidden, storeUnavailable } from '../errors.js';
import { type Db, tx } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Reconciler, Scope } from '../reconcile/reconciler.js';
import type { GlobalScope } from './global-scope.js';
import type { EndpointAllocator } from './endpoints.js';
import { warnOnFail, type Log } from './log.js';

export interface Join {
  endpoint: Endpoint;
  network: Network;
}

export interface HostJoinDeps {
  db: Db;
  containers: ContainerRepo;
  networks: NetworkRepo;
  reconciler: Reconciler;
  global?: GlobalScope;
  endpoints: EndpointAllocator;
  log: () => Log;
}

const anyGlobal = (joins: Array<{ network: Network }>) => joins.some((j) => j.network.scope === 'global');

export class HostJoins {
  constructor(private readonly d: HostJoinDeps) {}

  /**
   * Claims, then converges the host. Publishing runs beside the reconcile, so the other hosts' data
   * plane (FDB and neighbour entries) is ready about when ours is, and a peer's first packet does not
   * wait for an ARP retry. joins[i].endpoint is replaced when its address had to change.
   */
  async join(c: Container, joins: Join[], scope: Scope): Promise<void> {
    await this.claim(c, joins);
    const publish = anyGlobal(joins) ? this.d.global?.syncContainer(c.id) : undefined;
    const [made] = await Promise.allSettled([this.d.reconciler.reconcile(scope), publish]);
    if (made.status === 'rejected') throw made.reason;
  }

  /** A failed join, before its endpoints leave the store: their claimed addresses are released. */
  async release(eps: Endpoint[]): Promise<void> {
    for (const e of eps) {
      const n = this.d.networks.get(e.networkId);
      if (n?.scope === 'global' && e.ipv4) await this.d.global?.releaseAddress(n.id, e.ipv4.split('/')[0]).catch(warnOnFail(this.d.log, 'releasing an address claim of a failed join: it lapses with this host\'s lease'));
    }
  }

  /** A failed join, once undone in the store: what join() published of it is withdrawn. */
  async withdraw(c: Container, joins: Array<{ network: Network }>): Promise<void> {
    if (anyGlobal(joins)) await this.d.global?.syncContainer(c.id).catch(warnOnFail(this.d.log, 'withdrawing the endpoints of a failed join: the next join publishes again'));
  }

  /**
   * An address on a global network is claimed in the cluster store before the sandbox is made: when
   * another host took it meanwhile (our mirror had not seen it yet), the next free one is tried.
   */
  private async claim(c: Container, joins: Join[]): Promise<void> {
    for (const j of joins) {
      if (j.network.scope !== 'global' || !j.endpoint.ipv4) continue;
      if (!this.d.global?.available) throw storeUnavailable();
      const key = j.endpoint.configKey;
      const settings = c.endpointConfigs.find((e) => e.network === key)?.settings ?? {};
      const taken: string[] = [];
      for (;;) {
        const ip = j.endpoint.ipv4!.split('/')[0];
        if (await this.d.global.claimAddress(j.network.id, ip, j.endpoint.id)) break;
        if (settings.IPAMConfig?.IPv4Address) throw forbidden('Address already in use');
        if (taken.push(ip) > 64) throw storeUnavailable(`no free address found on ${j.network.name}: try again`);
        tx(this.d.db, () => {
          this.d.containers.deleteEndpoint(j.endpoint.id);
          j.endpoint = this.d.endpoints.allocate(c, j.network, key, settings, taken);
        });
      }
    }
  }
}
