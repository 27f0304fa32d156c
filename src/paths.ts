/**
 * Files the daemon reads or starts at run time, found from the package root: the directory above
 * this module that holds package.json and migrations/. The same answer from src/ (tsx), from tsc's
 * dist/ and from the bundle (dist/cnmd.js and its chunks), wherever each module ended up.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRootFrom(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cnmd: no package root (package.json and migrations/) above ${start}`);
  }
}

export const PACKAGE_ROOT = packageRootFrom(dirname(fileURLToPath(import.meta.url)));

/** a file of the package, by its path from the root (`dist/host/shim.js`) */
export const packageFile = (rel: string): string => join(PACKAGE_ROOT, rel);
