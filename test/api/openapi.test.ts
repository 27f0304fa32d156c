import t from 'tap';
import { readFileSync } from 'node:fs';
import { openapiDocument } from '../../src/openapi.js';

t.test('openapi/openapi.json matches the route schemas (run `npm run openapi` after changing a route)', async (t) => {
  const committed = readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
  t.equal(await openapiDocument(), committed);
});
