import { readdirSync, readFileSync } from 'node:fs';
import { packageFile } from '../paths.js';
import type Database from 'better-sqlite3';

/** migrations/ at the package root: NNNN_name.sql, where NNNN is the user_version it produces. */
export const MIGRATIONS_DIR = packageFile('migrations/');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const list = readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(dir + f, 'utf8') }));
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} is out of sequence: expected number ${i + 1}`);
  });
  return list;
}

export class NewerDatabaseError extends Error {}

/**
 * Applies each migration above user_version in its own transaction, bumping user_version inside it.
 * beforeUpgrade runs once before the first, with the version the database has (not for a new one).
 */
export function migrate(db: Database.Database, migrations = loadMigrations(), beforeUpgrade?: (from: number) => void): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length;
  if (current > latest) {
    throw new NewerDatabaseError(
      `the database is at schema version ${current}, newer than this cnmd knows (${latest}); ` +
        'it was written by a newer cnmd: run that version, or point --data-root elsewhere',
    );
  }
  if (current > 0 && current < latest) beforeUpgrade?.(current);
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return latest;
}
