/** npm run openapi: rewrites openapi/openapi.json from the route schemas. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { openapiDocument } from '../src/openapi.js';

mkdirSync(new URL('../openapi/', import.meta.url), { recursive: true });
writeFileSync(new URL('../openapi/openapi.json', import.meta.url), await openapiDocument());
console.log('wrote openapi/openapi.json');
