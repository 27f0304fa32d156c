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

t.test('data at rest: the database is 0600 at every open, a damaged one is refused by name, an upgrade keeps a copy', async (t) => {
  const { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, existsSync, truncateSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { DamagedDatabaseError, copyBeforeUpgrade } = await import('../../src/store/db.js');
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'cnmd.db');
  const mode = (p: string) => statSync(p).mode & 0o777;

  let db = openDb(path);
  db.prepare("INSERT INTO meta (key, value) VALUES ('probe', 'x')").run();
  t.equal(mode(path), 0o600, 'a new database is 0600');
  t.equal(mode(`${path}-wal`), 0o600, 'and its WAL');
  db.close();
  chmodSync(path, 0o644);
  db = openDb(path);
  t.equal(mode(path), 0o600, 'a database made readable by others is 0600 again at the next open');
  db.close();

  // an upgrade from version 8: a consistent copy as it was, root's alone
  const old = new Database(path);
  old.pragma(`user_version = ${loadMigrations().length - 1}`);
  old.close();
  t.throws(() => openDb(path), 'version 9 cannot be applied twice, so the upgrade fails after the copy');
  const copy = copyBeforeUpgrade(path, loadMigrations().length - 1);
  t.ok(existsSync(copy), `the copy ${copy} was taken before the migration`);
  t.equal(mode(copy), 0o600);
  const kept = new Database(copy, { readonly: true });
  t.equal((kept.prepare("SELECT value FROM meta WHERE key = 'probe'").get() as { value: string }).value, 'x', 'the copy holds the data');
  kept.close();

  // a truncated database: refused with its name
  const broken = join(dir, 'broken.db');
  const b = openDb(broken);
  for (let i = 0; i < 200; i++) b.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(`k${i}`, 'v'.repeat(500));
  b.pragma('wal_checkpoint(TRUNCATE)');
  b.close();
  truncateSync(broken, 8192);
  const thrown = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e as Error;
    }
    return undefined;
  };
  const e1 = thrown(() => openDb(broken));
  t.ok(e1 instanceof DamagedDatabaseError, 'a truncated database is refused');
  t.match(e1?.message, `the database ${broken} cannot be used: `, 'by name');
  writeFileSync(join(dir, 'garbage.db'), 'not a database at all, just text '.repeat(200));
  const e2 = thrown(() => openDb(join(dir, 'garbage.db')));
  t.ok(e2 instanceof DamagedDatabaseError);
  t.match(e2?.message, /garbage\.db cannot be used: file is not a database/);
});
