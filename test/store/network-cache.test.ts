import t from 'tap';
import { openDb, tx } from '../../src/store/db.js';
import { NetworkRepo } from '../../src/store/networks.js';
import { bridgeNetwork } from '../helpers/fixtures.js';

const id = (c: string) => c.repeat(64);
const names = (r: NetworkRepo) => r.list().map((n) => n.name);

t.test('the kept networks follow every write, in created order, and rolled-back rows never stay', async (t) => {
  const db = openDb(':memory:');
  t.teardown(() => db.close());
  const repo = new NetworkRepo(db);
  repo.insert(bridgeNetwork({ id: id('b'), name: 'second', created: '2026-01-02T00:00:00Z', bridgeName: 'cnmd-b' }));
  repo.insert(bridgeNetwork({ id: id('a'), name: 'first', created: '2026-01-01T00:00:00Z', bridgeName: 'cnmd-a' }));
  const before = repo.list();
  t.same(names(repo), ['first', 'second']);
  t.equal(repo.list(), before, 'no write: the same list again');

  t.throws(() => tx(db, () => {
    repo.insert(bridgeNetwork({ id: id('c'), name: 'third', created: '2026-01-03T00:00:00Z', bridgeName: 'cnmd-c' }));
    t.equal(repo.getByName('third')?.id, id('c'), 'a transaction sees its own insert by name');
    t.equal(repo.get(id('c'))?.name, 'third', '... and by id');
    t.same(names(repo), ['first', 'second', 'third'], '... and in the list');
    repo.delete(id('a'));
    t.equal(repo.get(id('a')), undefined, 'and its own delete');
    throw new Error('roll back');
  }));
  t.same(names(repo), ['first', 'second'], 'after the rollback: as committed');
  t.equal(repo.getByName('third'), undefined);
  t.same(before.map((n) => n.name), ['first', 'second'], 'a list once returned never changes');

  repo.replaceSubnets(id('a'), []);
  t.same(repo.get(id('a'))?.subnets, [], 'a replaced row is read again');
  repo.delete(id('b'));
  t.same(names(repo), ['first']);
  t.equal(repo.getByName('second'), undefined);

  const other = new NetworkRepo(db);
  other.insert(bridgeNetwork({ id: id('d'), name: 'fourth', created: '2026-01-04T00:00:00Z', bridgeName: 'cnmd-d' }));
  t.same(names(repo), ['first', 'fourth'], 'a write through another repository on the same database is seen');
  t.same(
    names(repo),
    (db.prepare('SELECT name FROM networks ORDER BY created, id').all() as Array<{ name: string }>).map((r) => r.name),
    'the same as the table',
  );
});

t.test('kept networks are frozen: a caller cannot change what others read', async (t) => {
  const db = openDb(':memory:');
  t.teardown(() => db.close());
  const repo = new NetworkRepo(db);
  repo.insert(bridgeNetwork({ id: id('e'), name: 'e', bridgeName: 'cnmd-e', labels: { a: '1' } }));
  const n = repo.get(id('e'))!;
  t.throws(() => {
    (n as { name: string }).name = 'x';
  }, TypeError);
  t.throws(() => {
    (n.labels as Record<string, string>).b = '2';
  }, TypeError);
  t.throws(() => (n.subnets as unknown[]).push({}), TypeError);
  t.throws(() => (repo.list() as unknown[]).pop(), TypeError);
});
