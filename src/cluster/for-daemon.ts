/** A daemon given --cluster-store joins the cluster: its underlay link's MTU, then the cluster store's mirror. */
import type { Config } from '../config.js';
import type { DriverContext } from '../drivers/index.js';
import type { Executor } from '../host/executor.js';
import type { RemoteEndpointRepo } from '../store/remote-endpoints.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findWireguard, readMtuOf } from '../host/readers.js';
import { loadOrCreateKey } from '../host/wireguard-key.js';
import type { ClusterSync, ClusterSyncDeps } from './sync.js';

/** What overlay networks need of this host; undefined outside a cluster (or in a dry run). */
export async function clusterContext(config: Config, exec: Executor, remote: RemoteEndpointRepo, nodeId: string): Promise<DriverContext['cluster']> {
  if (!config.clusterStore || config.dryRun) return undefined;
  const [mtu, wg] = await Promise.all([readMtuOf(exec, config.clusterAdvertise!), findWireguard(exec)]);
  if (mtu === undefined) throw new Error(`--cluster-advertise ${config.clusterAdvertise}: no link of this host has that address`);
  // with WireGuard here, this host has a key pair (its public key goes into its node record)
  const keyFile = join(config.dataRoot, 'wireguard.key');
  const wireguard = wg ? { keyFile, publicKey: loadOrCreateKey(keyFile), kernel: wg.kernel } : undefined;
  // the members are the mirror's (set once it exists, src/daemon.ts)
  return { vtep: config.clusterAdvertise!, mtu, nodeId, remoteEndpoints: (id) => remote.on(id), members: () => [], node: () => undefined, ...(wireguard ? { wireguard } : {}) };
}

/** What the mirror needs, its store URL, address and lease from the daemon's flags. */
export type ClusterDeps = Omit<ClusterSyncDeps, 'url' | 'address' | 'leaseTtl' | 'onAddressLost' | 'tls' | 'auth'> & { config: Config };

/** The etcd client and its gRPC stack (some 26 MiB) are loaded only here, by a daemon that has a cluster store. */
export async function clusterSync(d: ClusterDeps): Promise<ClusterSync> {
  const c = d.config;
  const { ClusterSync } = await import('./sync.js');
  return new ClusterSync({ ...d, url: c.clusterStore!, address: c.clusterAdvertise!, leaseTtl: c.clusterLeaseTtl, ...storeCredentials(c) });
}

/** The files --cluster-store-opt names, read at start: one that cannot be read stops the daemon, naming it. */
function storeCredentials(c: Config): Pick<ClusterSyncDeps, 'tls' | 'auth'> {
  const o = c.clusterStoreOpts;
  const read = (key: string) => {
    try {
      return readFileSync(o[key]);
    } catch (e) {
      throw new Error(`could not read --cluster-store-opt ${key}=${o[key]}: ${(e as Error).message}`);
    }
  };
  return {
    ...(c.clusterStore!.startsWith('etcds://') ? { tls: { ca: read('kv.cacertfile'), ...(o['kv.certfile'] ? { cert: read('kv.certfile'), key: read('kv.keyfile') } : {}) } } : {}),
    ...(o['kv.username'] ? { auth: { username: o['kv.username'], password: read('kv.passwordfile').toString().trim() } } : {}),
  };
}
