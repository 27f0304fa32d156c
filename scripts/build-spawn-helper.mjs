// Compiles the spawn helper (src/host/spawn-helper.c) to dist/host/cnmd-spawn with the C compiler the
// install brings for the SQLite binding. Without one the daemon starts its commands itself (slower).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
mkdirSync(`${root}dist/host`, { recursive: true });
const out = `${root}dist/host/cnmd-spawn`;
const args = ['-O2', '-Wall', '-Wextra', '-o', out, `${root}src/host/spawn-helper.c`];
for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean)) {
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    process.exit(0);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
}
console.warn('cnmd: no C compiler found: dist/host/cnmd-spawn not built; the daemon starts host commands itself (2-3 ms more each)');
