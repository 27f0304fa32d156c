import t from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { packageRootFrom, PACKAGE_ROOT, packageFile } from '../../src/paths.js';

t.test('the package root is the nearest directory above with package.json and migrations/', async (t) => {
  const top = mkdtempSync(join(tmpdir(), 'cnmd-paths-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  mkdirSync(join(top, 'migrations'));
  writeFileSync(join(top, 'package.json'), '{}');
  // a package.json without migrations/ (a dependency's) is not the root
  mkdirSync(join(top, 'node_modules/dep/lib'), { recursive: true });
  writeFileSync(join(top, 'node_modules/dep/package.json'), '{}');
  t.equal(packageRootFrom(join(top, 'node_modules/dep/lib')), top);
  t.equal(packageRootFrom(top), top);
  t.throws(() => packageRootFrom(tmpdir()), /no package root/);
  // from src/ (as the tests run) it is the repository, with the kept OpenAPI document in it
  t.match(readFileSync(packageFile('package.json'), 'utf8'), /"name": "cnmd"/);
  t.equal(packageFile('dist/host/shim.js'), join(PACKAGE_ROOT, 'dist/host/shim.js'));
});

interface Meta {
  outputs: Record<string, { imports: Array<{ path: string; kind: string; external?: boolean }> }>;
}

t.test('the bundle loads the etcd client and the OpenAPI generator only when they are asked for', async (t) => {
  const meta = JSON.parse(readFileSync(packageFile('dist/cnmd.meta.json'), 'utf8')) as Meta;
  t.ok(meta.outputs['dist/cnmd.js'], 'npm run build wrote the bundle');
  // everything reached from dist/cnmd.js through static imports is what a start loads
  const atStart = new Set<string>();
  const files = ['dist/cnmd.js'];
  const dynamic: string[] = [];
  for (let f = files.pop(); f; f = files.pop()) {
    for (const i of meta.outputs[f]!.imports) {
      if (i.kind === 'dynamic-import') dynamic.push(i.path);
      else if (i.external) atStart.add(i.path);
      else if (!atStart.has(i.path)) atStart.add(i.path), files.push(i.path);
    }
  }
  const packages = [...atStart].filter((p) => !p.startsWith('node:') && !builtinModules.includes(p) && !p.startsWith('dist/')).sort();
  t.same(packages, ['better-sqlite3', 'node-pty'], 'native bindings only, everything else is inside the bundle');
  t.ok(dynamic.includes('@fastify/swagger'), 'the OpenAPI generator is a dynamic import');
  const etcd = Object.entries(meta.outputs).filter(([, o]) => o.imports.some((i) => i.path === 'etcd3')).map(([f]) => f);
  t.equal(etcd.length, 1, 'one chunk imports etcd3');
  t.notOk(atStart.has(etcd[0]!), `${etcd[0]} is not loaded at start`);
  t.ok(dynamic.includes(etcd[0]!), `${etcd[0]} is loaded by a dynamic import (--cluster-store)`);
});
