import t from 'tap';
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { migrate, loadMigrations, NewerDatabaseError } from '../../src/store/migrate.js';
import { openDb } from '../../src/store/db.js';

t.test('empty -> latest, with user_version = number of migrations', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  const latest = migrate(db);
  t.equal(latest, loadMigrations().length);
  t.equal(db.pragma('user_version', { simple: true }), latest);
  t.equal(migrate(db), latest, 'running again changes nothing');
});

t.test('the schema matches its snapshot (test/store/schema.sql)', async (t) => {
  const db = openDb(':memory:');
  t.teardown(() => db.close());
  const schema = (db.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC, name").all() as Array<{ sql: string }>)
    .map((r) => r.sql + ';')
    .join('\n') + '\n';
  const snapshot = readFileSync(new URL('./schema.sql', import.meta.url), 'utf8');
  t.equal(schema, snapshot, 'a migration changed the schema: review it, then update test/store/schema.sql');
});

t.test('tables are STRICT', async (t) => {
  const db = openDb(':memory:');
  t.teardown(() => db.close());
  t.throws(
    () => db.prepare("INSERT INTO networks (id, name, driver, created, enable_ipv4, enable_ipv6, options, labels) VALUES ('i', 'n', 'bridge', 'now', 'yes', 0, '{}', '{}')").run(),
    /cannot store TEXT value in INTEGER column/,
  );
});

t.test('a database newer than the code is refused', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  db.pragma('user_version = 999');
  let err: unknown;
  try {
    migrate(db);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof NewerDatabaseError);
  t.match((err as Error).message, /schema version 999, newer than this cnmd knows/);
});

t.test('a failing migration leaves the version where it was', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  const good = loadMigrations();
  t.throws(() => migrate(db, [...good, { version: good.length + 1, name: 'bad', sql: 'CREATE TABLE x (a TEXT) STRICT; SELECT nope FROM nowhere;' }]));
  t.equal(db.pragma('user_version', { simple: true }), good.length);
  t.equal((db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'x'").get() as { n: number }).n, 0);
});
