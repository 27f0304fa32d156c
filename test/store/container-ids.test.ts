import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { ContainerRepo } from '../../src/store/containers.js';
import type { Container } from '../../src/model.js';

const container = (id: string, name: string, created: string): Container => ({
  id, name, created, config: {}, hostConfig: {}, networkMode: 'bridge', sandboxKey: null, netns: null, state: 'created', pid: 0,
  exitCode: 0, error: '', startedAt: '', finishedAt: '', sandboxId: '', restartCount: 0, paused: false, monitorPid: 0, pidStart: '',
  bootId: '', hasInside: false, manuallyStopped: false, imageId: '', health: null, mounts: [], links: [], endpointConfigs: [],
});

t.test('ids and owned namespaces come from the rows without hydrating them, in list order', async (t) => {
  const db = openDb(':memory:');
  t.teardown(() => db.close());
  const repo = new ContainerRepo(db);
  const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(64));
  repo.insert(container(a, 'one', '2026-01-01T00:00:00Z'));
  repo.insert(container(b, 'two', '2026-01-03T00:00:00Z'));
  repo.insert(container(c, 'three', '2026-01-02T00:00:00Z'));
  t.same([...repo.ids()], repo.list().map((x) => x.id), 'the order of list()');
  t.same([...repo.ids()], [b, c, a], 'newest first');
  t.same(repo.ownedNetns(), [], 'no namespace made yet');
  repo.update(b, { netns: 'cnmd-bbbbbbbbbbbb' });
  repo.update(c, { netns: '' });
  t.same(repo.ownedNetns(), [{ name: 'cnmd-bbbbbbbbbbbb', containerId: b }], 'only a named namespace, with its container');
  repo.delete(b);
  t.same(repo.ownedNetns(), []);
  t.same([...repo.ids()], [c, a]);
});
