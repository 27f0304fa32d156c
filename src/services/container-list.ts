/** `docker ps`: the containers Docker's filters select (id, name, status, exited, health, ancestor, volume, before, since, network, label). */
import type { Container } from '../model.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { ImageService } from './images.js';
import { type Filters, fuzzyMatch, matchLabels } from './filters.js';
import { statusOf } from './containers.js';
import { DomainError } from '../errors.js';

export function listContainers(
  d: { containers: ContainerRepo; networks: NetworkRepo; images: Pick<ImageService, 'find'> },
  all: boolean,
  filters: Filters,
  find: (term: string) => Container,
): Container[] {
  const any = (key: string, pred: (v: string) => boolean) => {
    const values = filters.get(key);
    return !values || values.length === 0 || values.some(pred);
  };
  const createdOf = (key: string) => (filters.get(key) ?? []).map((v) => find(v).created);
  const [before, since] = [createdOf('before'), createdOf('since')];
  const imageOf = (v: string) => {
    try {
      return d.images.find(v).id;
    } catch (e) {
      // an unknown image matches no container, as in Docker
      if (e instanceof DomainError && e.kind === 'notFound') return undefined;
      throw e;
    }
  };
  const ancestors = (filters.get('ancestor') ?? []).map(imageOf);
  return d.containers.list().filter((c) => {
    if (!all && c.state !== 'running' && !filters.has('status') && !filters.has('exited')) return false;
    const eps = c.state === 'running' ? d.containers.endpointsOf(c.id) : [];
    return (
      any('id', (v) => c.id.startsWith(v)) &&
      any('name', (v) => fuzzyMatch(v.replace(/^\//, ''), c.name)) &&
      any('status', (v) => v === statusOf(c)) &&
      any('exited', (v) => c.state === 'exited' && String(c.exitCode) === v) &&
      any('health', (v) => (c.health?.Status ?? 'none') === v) &&
      (!ancestors.length || ancestors.some((a) => a === c.imageId)) &&
      any('volume', (v) => c.mounts.some((m) => (m.type === 'volume' && m.name === v) || m.target === v || (m.type === 'bind' && m.source === v))) &&
      before.every((b) => c.created < b) &&
      since.every((b) => c.created > b) &&
      any('network', (v) =>
        eps.some((e) => {
          const n = d.networks.get(e.networkId);
          return n?.name === v || e.networkId.startsWith(v);
        }),
      ) &&
      matchLabels(filters.get('label') ?? [], c.config.Labels ?? {})
    );
  });
  }
