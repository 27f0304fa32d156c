/**
 * What the reconciler reads of the store: the networks whose data plane is on this host, the running
 * sandboxes (from the one read model), the namespaces cnmd made, and which containers exist (their
 * directories stay).
 */
import type { Network } from '../model.js';
import type { NetworkRepo } from '../store/networks.js';
import type { ContainerRepo } from '../store/containers.js';
import type { ReconcilerDeps } from '../reconcile/reconciler.js';
import type { Sandboxes } from './sandboxes.js';

export function reconcileSource(networks: NetworkRepo, containers: ContainerRepo, sandboxes: Sandboxes): Pick<ReconcilerDeps, 'listNetworks' | 'getNetwork' | 'listSandboxes' | 'getSandbox' | 'ownedNetns' | 'containerDirs'> {
  // a global network's data plane exists on the hosts where it has endpoints
  const hasDataPlane = (n: Network) => n.scope !== 'global' || containers.countEndpointsOn(n.id) > 0;
  return {
    listNetworks: () => networks.list().filter(hasDataPlane),
    getNetwork: (id) => {
      const n = networks.get(id);
      return n && hasDataPlane(n) ? n : undefined;
    },
    listSandboxes: () => sandboxes.running(),
    getSandbox: (id) => {
      const c = containers.get(id);
      return c && sandboxes.spec(c);
    },
    ownedNetns: () => containers.ownedNetns().map((o) => ({ name: o.name, owner: o.containerId.slice(0, 12) })),
    containerDirs: (ids) => {
      const known = containers.ids();
      return sandboxes.dirs(ids ? ids.filter((id) => known.has(id)) : [...known]);
    },
  };
}
