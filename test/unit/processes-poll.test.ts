import t from 'tap';
import { Processes, POLL_MS } from '../../src/runtime/processes.js';
import type { Executor } from '../../src/host/executor.js';

const shim = { socketPath: '/nonexistent/shim.sock', statusPath: '/nonexistent/status' };

t.test('processes found again without a shim: one poll for all, which ends with the last of them', async (t) => {
  const alive = new Map([[101, 'start-101'], [102, 'start-102']]);
  let reads = 0;
  const exec = { processStart: (pid: number) => (reads++, alive.get(pid)) } as unknown as Executor;
  const p = new Processes(exec);
  t.teardown(() => p.close());
  const ended: Array<[string, number, number]> = [];
  p.whenExited((id, pid, code) => ended.push([id, pid, code]));
  t.ok(await p.reattach('a', 101, 'start-101', 0, shim));
  t.ok(await p.reattach('b', 102, 'start-102', 0, shim));
  t.notOk(await p.reattach('c', 103, 'start-103', 0, shim), 'a pid that is gone is not watched');
  t.notOk(await p.reattach('d', 101, 'another-start', 0, shim), 'nor one whose process has another start time');
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  alive.delete(101);
  await wait(POLL_MS * 2 + 50);
  t.same(ended, [['a', 101, 255]], 'the one that ended is reported, with 255 (its exit code is unknown)');
  t.same(p.running('b')?.pid, 102, 'the other is still watched');

  alive.delete(102);
  await wait(POLL_MS * 2 + 50);
  t.same(ended.map((e) => e[0]), ['a', 'b']);
  const after = reads;
  await wait(POLL_MS * 2 + 50);
  t.equal(reads, after, 'with nothing left to watch, the poll stopped');
});
