/** The API's view of a container, from the sandboxes' read model. */
import type { Container } from '../model.js';
import { ZERO_TIME } from '../model.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Sandboxes } from '../services/sandboxes.js';
import { findNetwork } from '../services/lookup.js';
import type { ContainerView } from './render-container.js';
import { volumePath } from '../services/paths.js';

export function containerViews(d: {
  sandboxes: Sandboxes;
  networks: NetworkRepo;
  execIds: (id: string) => string[] | null;
  links: (c: Container) => string[] | null;
}): (c: Container) => ContainerView {
  const findNet = (term: string) => {
    try {
      return findNetwork(d.networks, term);
    } catch {
      return undefined;
    }
  };
  return (c) => {
    const p = d.sandboxes.paths(c);
    return {
      container: c,
      endpoints: d.sandboxes.spec(c)?.endpoints ?? [],
      findNetwork: findNet,
      sandboxKey: d.sandboxes.sandboxKey(c, process.pid),
      ports: c.state === 'running' ? d.sandboxes.portsOf(c) : [],
      ...(c.startedAt !== ZERO_TIME ? { files: { resolvConf: p.resolvConf, hosts: p.hosts, hostname: p.hostname, log: p.stdoutPath } } : {}),
      execIds: d.execIds(c.id),
      links: d.links(c),
      volumePath: (name) => volumePath(d.sandboxes.roots.dataRoot, name),
    };
  };
}
