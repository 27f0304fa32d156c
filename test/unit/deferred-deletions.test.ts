/** Link deletions left to finish in the background (src/host/apply.ts): which ones, and what waits for them. */
import t from 'tap';
import { applySteps } from '../../src/host/apply.js';
import { DeferredDeletions } from '../../src/host/deferred-deletions.js';
import { toHostSteps } from '../../src/reconcile/steps.js';
import type { Step } from '../../src/reconcile/plan.js';
import type { Executor } from '../../src/host/executor.js';

const del = (dev: string): Step => ({ kind: 'ip', order: 1, op: { op: 'link del', dev } });
const up = (dev: string): Step => ({ kind: 'ip', order: 2, op: { op: 'link set', dev, up: true } });

t.test('which deletions are left running', async (t) => {
  t.same(toHostSteps([del('cnmd-aaaaaaaaaa')]).deferredIpLines, ['link del dev cnmd-aaaaaaaaaa'], 'a bridge that goes');
  t.same(toHostSteps([del('cnmd-aaaaaaaaaa')]).ipLines, []);
  const remade = toHostSteps([del('br0'), { kind: 'ip', order: 2, op: { op: 'link add', link: { type: 'bridge', name: 'br0', mtu: 1500 } } }]);
  t.equal(remade.deferredIpLines, undefined, 'not in a run that makes links too (the same name, say): they must be gone first');
  const stop = toHostSteps([del('vethaaaaaaa'), { kind: 'ip', order: 3, op: { op: 'netns del', name: 'cnmd-aaaaaaaaaaaa' } }]);
  t.same([stop.deferredIpLines, stop.ipLines], [undefined, ['link del dev vethaaaaaaa', 'netns del cnmd-aaaaaaaaaaaa']], 'not beside a namespace deletion (a stop): one batch, as before');
  const inside = toHostSteps([del('vethaaaaaaa'), { kind: 'ipns', path: '/run/netns/x', op: { op: 'route del', to: 'default' } }]);
  t.equal(inside.deferredIpLines, undefined, 'not in a run that changes a sandbox from the inside');
  t.same(inside.ipLines, ['link del dev vethaaaaaaa']);
});

t.test('a deletion runs beside the request; the next change of links and every read wait for it', async (t) => {
  const calls: string[] = [];
  let finish!: () => void;
  const exec = {
    run: (file: string, args: string[], o?: { input?: string }) => {
      const line = `${file} ${args.join(' ')} ${o?.input?.trim() ?? ''}`.trim();
      calls.push(`start ${line}`);
      if (o?.input?.includes('link del')) return new Promise((r) => (finish = () => (calls.push(`end ${line}`), r({ stdout: '', stderr: '' }))));
      return Promise.resolve({ stdout: '', stderr: '' });
    },
    readFile: async () => undefined,
    exists: async () => false,
  } as unknown as Executor;
  const errors: Error[] = [];
  const deferred = new DeferredDeletions((e) => errors.push(e));
  await applySteps(exec, toHostSteps([del('cnmd-aaaaaaaaaa')]), deferred);
  t.same(calls, ['start ip -force -batch - link del dev cnmd-aaaaaaaaaa'], 'the run returned with the deletion still running');
  t.equal(deferred.size, 1);
  // rules alone need not wait
  await applySteps(exec, { ...toHostSteps([]), nft: [{ table: 'cnmd', op: { op: 'add element', element: { set: 'bridges', key: [{ name: 'cnmd-bbbbbbbbbb' }], owner: 'cnmd:bbbbbbbbbbbb' } } }] }, deferred);
  t.match(calls[1], /^start nft -f -/, 'a rule change goes on at once');
  const next = applySteps(exec, toHostSteps([up('cnmd-bbbbbbbbbb')]), deferred);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(calls.length, 2, 'a change of links waits');
  finish();
  await next;
  t.same(calls.slice(2), ['end ip -force -batch - link del dev cnmd-aaaaaaaaaa', 'start ip -batch - link set dev cnmd-bbbbbbbbbb up'], 'and runs once the deletion ended');
  await deferred.settled();
  t.same(errors, []);
});

t.test('the run waits for the links to leave the namespace, not for the deletion to end', async (t) => {
  const dev = (names: string[]) => `Inter-|   Receive\n face |bytes\n${names.map((n) => `${n.padStart(6)}: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0`).join('\n')}\n`;
  let reads = 0;
  let finish!: () => void;
  const exec = {
    run: () => new Promise((r) => (finish = () => r({ stdout: '', stderr: '' }))),
    // the link is listed by the first two reads, gone from the third
    readFile: async (path: string) => (path === '/proc/self/net/dev' ? dev(++reads < 3 ? ['lo', 'cnmd-aaaaaaaaaa'] : ['lo']) : undefined),
    // no settings directory (IPv4 off on it): the list of all links tells
    exists: async () => false,
  } as unknown as Executor;
  const deferred = new DeferredDeletions(() => undefined);
  await applySteps(exec, toHostSteps([del('cnmd-aaaaaaaaaa')]), deferred);
  t.equal(reads, 3, 'answered once /proc/self/net/dev no longer lists it');
  t.equal(deferred.size, 1, 'while ip still waits for the kernel');
  finish();
  await deferred.settled();
  t.equal(deferred.size, 0);
});

t.test('a link with a settings directory is watched there, not in the list of all links', async (t) => {
  const stats: string[] = [];
  let reads = 0;
  let finish!: () => void;
  const exec = {
    run: () => new Promise((r) => (finish = () => r({ stdout: '', stderr: '' }))),
    readFile: async () => (reads++, undefined),
    // there for the probe and the first two looks, gone after
    exists: async (path: string) => (stats.push(path), stats.length <= 3),
  } as unknown as Executor;
  const deferred = new DeferredDeletions(() => undefined);
  await applySteps(exec, toHostSteps([del('cnmd-aaaaaaaaaa')]), deferred);
  t.equal(stats.length, 4, 'answered once its directory went');
  t.same([...new Set(stats)], ['/proc/sys/net/ipv4/conf/cnmd-aaaaaaaaaa']);
  t.equal(reads, 0, '/proc/self/net/dev was not read');
  t.equal(deferred.size, 1);
  finish();
  await deferred.settled();
});

t.test('a link already gone is what was wanted; any other failure is reported', async (t) => {
  const failing = (stderr: string) => ({ run: async () => Promise.reject(Object.assign(new Error('ip -force -batch - failed'), { stderr })), readFile: async () => undefined, exists: async () => false }) as unknown as Executor;
  const errors: Error[] = [];
  const deferred = new DeferredDeletions((e) => errors.push(e));
  deferred.start(failing('Cannot find device "vethaaaaaaa"\nCommand failed -:1'), ['link del dev vethaaaaaaa']);
  await deferred.settled();
  t.same(errors, [], 'gone already: no error');
  deferred.start(failing('RTNETLINK answers: Operation not permitted\nCommand failed -:1'), ['link del dev vethaaaaaaa']);
  await deferred.settled();
  t.equal(errors.length, 1, 'another failure is reported (the next repair deletes what is left)');
});
