/** Docker's name / id / id-prefix resolution for networks and containers. */
import type { Container, Network } from '../model.js';
import { invalid, notFound } from '../errors.js';

export interface NetworkFinder {
  get(id: string): Network | undefined;
  getByName(name: string): Network | undefined;
  getByIdPrefix(prefix: string): Network[];
}

/** Which handler's wording to use when a prefix is ambiguous (they differ in Docker). */
export type AmbiguityStyle = 'inspect' | 'remove';

/** Full id, then exact name, then unique id prefix (name beats prefix). */
export function findNetwork(repo: NetworkFinder, term: string, style: AmbiguityStyle = 'remove'): Network {
  if (/^[0-9a-f]{64}$/.test(term)) {
    const n = repo.get(term);
    if (n) return n;
  }
  const byName = term ? repo.getByName(term) : undefined;
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(term)) {
    const matches = repo.getByIdPrefix(term);
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) {
      throw invalid(
        style === 'inspect'
          ? `${matches.length} matches found based on ID prefix: network ${term} is ambiguous`
          : `network ${term} is ambiguous (${matches.length} matches found based on ID prefix)`,
      );
    }
  }
  throw notFound(`network ${term} not found`);
}

export interface ContainerFinder {
  get(id: string): Container | undefined;
  getByName(name: string): Container | undefined;
  getByIdPrefix(prefix: string): Container[];
}

/** Docker's container lookup: full id, then exact name (with or without '/'), then unique id prefix. */
export function findContainer(repo: ContainerFinder, term: string): Container {
  if (!term) throw invalid('invalid name or ID supplied: ""');
  if (/^[0-9a-f]{64}$/.test(term)) {
    const byId = repo.get(term);
    if (byId) return byId;
  }
  const byName = repo.getByName(term.replace(/^\//, ''));
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(term)) {
    const matches = repo.getByIdPrefix(term);
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) throw invalid(`multiple IDs found with provided prefix: ${term}`);
  }
  throw notFound(`No such container: ${term}`);
}
