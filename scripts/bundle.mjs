// Bundles the daemon (tsc's dist/main.js and what it imports, node_modules included) into
// dist/cnmd.js: one file read at start instead of about 1,300, minified with names kept (stack
// traces and error names stay readable; dist/cnmd.js.map maps them back). RSS at rest 79 MiB
// instead of 92-97 and a start about a third faster, measured in README.md ("Memory").
// Kept out: native bindings (better-sqlite3, node-pty and their loaders), and what loads only with
// an option, each in a chunk of its own under dist/chunks/ (the etcd client with --cluster-store).
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist/chunks`, { recursive: true, force: true });
const { metafile } = await build({
  absWorkingDir: root,
  entryPoints: { cnmd: 'dist/main.js' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  external: ['better-sqlite3', 'node-pty', 'etcd3', '@fastify/swagger', 'cpu-features'],
  // CommonJS modules inside the ESM bundle call require() for node's own modules
  banner: { js: "import { createRequire as cnmdCreateRequire } from 'node:module'; const require = cnmdCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
});
// what each output imports, and how (test/unit/bundle.test.ts reads it)
writeFileSync(`${root}dist/cnmd.meta.json`, JSON.stringify(metafile));
