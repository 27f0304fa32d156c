import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate } from './migrate.js';

export type Db = Database.Database;

/** The store cannot be read: a truncated or overwritten file, or not a database at all. */
export class DamagedDatabaseError extends Error {}

/** The database and its WAL and shared-memory files: readable by root alone (containers' Env is in it). */
function ownerOnly(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const p of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(p)) chmodSync(p, 0o600);
}

/** Where the copy taken before upgrading from schema version `from` goes. */
export const copyBeforeUpgrade = (path: string, from: number) => `${path}.v${from}`;

/**
 * Opens (creating if needed) the store, checks it (`PRAGMA quick_check`) and brings its schema up to
 * date, after a copy of it as it was (`<path>.v<version>`). ':memory:' for tests.
 */
export function openDb(path: string): Db {
  const file = path !== ':memory:';
  if (file) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    ownerOnly(path);
  }
  let db: Db | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('synchronous = NORMAL');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(String(check));
  } catch (e) {
    db?.close();
    throw new DamagedDatabaseError(
      `the database ${path} cannot be used: ${(e as Error).message}. Move it away to start with an empty store, ` +
        `or put back a copy (cnmd keeps one as ${path}.v<version> before each schema upgrade)`,
    );
  }
  if (file) ownerOnly(path);
  try {
    migrate(db, undefined, file ? (from) => keepCopy(db!, path, from) : undefined);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** A consistent copy of the database before a migration changes it, root's alone. */
function keepCopy(db: Db, path: string, from: number): void {
  const copy = copyBeforeUpgrade(path, from);
  rmSync(copy, { force: true });
  db.prepare('VACUUM INTO ?').run(copy);
  chmodSync(copy, 0o600);
}

/** Runs fn in one IMMEDIATE transaction. fn must be synchronous: never await inside. */
export function tx<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}
