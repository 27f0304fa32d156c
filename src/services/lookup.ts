/** Docker's name / id / id-prefix resolution for networks. */
import type { Network } from '../model.js';
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
