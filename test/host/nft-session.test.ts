/**
 * The long-lived `nft -i` session (src/host/nft-session.ts) against a real kernel, in a throwaway
 * namespace: scripts apply whole or not at all, failures say why, changes by other processes are
 * seen, a session that dies or hangs is replaced, and one that cannot start leaves the caller to
 * start nft itself.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { hostTestsReady, makeNetns } from '../helpers/host.js';
import { NftSession } from '../../src/host/nft-session.js';

if (await hostTestsReady(t)) {
  const ns = await makeNetns(t, 'nfts');
  const session = new NftSession(['nsenter', `--net=/run/netns/${ns.name}`, 'nft', '-i']);
  t.teardown(() => session.close());
  const elements = async () => {
    const r = await ns.run('nft', ['-j', 'list', 'set', 'inet', 'x', 's'], { reject: false });
    if (r.exitCode !== 0) return undefined;
    const set = JSON.parse(r.stdout).nftables.find((o: { set?: unknown }) => o.set).set as { elem?: string[] };
    return (set.elem ?? []).sort();
  };

  t.test('a script is one transaction', async (t) => {
    const ok = await session.run('add table inet x\nadd set inet x s { type ipv4_addr; }\nadd element inet x s { 10.0.0.1 }\n', 5000);
    t.match(ok, { exitCode: 0, stderr: '' }, 'applied');
    t.same(await elements(), ['10.0.0.1']);
    const bad = await session.run('add element inet x s { 10.0.0.2 }\nadd element inet x nosuch { 10.0.0.3 }\n', 5000);
    t.equal(bad?.exitCode, 1, 'a script with a bad command fails');
    t.match(bad?.stderr, /Error: .*\n.*nosuch/, 'and says where');
    t.notMatch(bad?.stderr, /%cnmd-/, 'the marker is not part of what it says');
    t.same(await elements(), ['10.0.0.1'], 'and nothing of it was applied');
    t.match(await session.run('add element inet x s { 10.0.0.4 }', 5000), { exitCode: 0 }, 'the session goes on after a failure');
    t.same(await elements(), ['10.0.0.1', '10.0.0.4']);
  });

  t.test('concurrent scripts run one after the other, each with its own answer', async (t) => {
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => session.run(`add element inet x s { 10.1.0.${i} }${i === 7 ? '\nadd element inet x none { 1.1.1.1 }' : ''}`, 5000)));
    t.same(runs.map((r) => r?.exitCode), runs.map((_, i) => (i === 7 ? 1 : 0)), 'only the bad one failed');
    t.equal((await elements())!.filter((e) => e.startsWith('10.1.0.')).length, 19);
  });

  t.test('what another process changes is seen', async (t) => {
    await ns.run('nft', ['delete', 'table', 'inet', 'x']);
    const r = await session.run('add element inet x s { 10.0.0.9 }', 5000);
    t.equal(r?.exitCode, 1, 'the table is gone: the element cannot be added');
    t.match(await session.run('add table inet x\nadd set inet x s { type ipv4_addr; }\nadd element inet x s { 10.0.0.9 }', 5000), { exitCode: 0 });
    t.same(await elements(), ['10.0.0.9']);
  });

  t.test('a session that dies is replaced', async (t) => {
    await session.run('add element inet x s { 10.0.0.10 }', 5000);
    const inNs = (await execa('ip', ['netns', 'pids', ns.name])).stdout.split(/\s+/).filter(Boolean);
    const pids = inNs.filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'nft');
    t.equal(pids.length, 1, 'one session runs in the namespace');
    for (const p of pids) process.kill(Number(p), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    t.match(await session.run('add element inet x s { 10.0.0.11 }', 5000), { exitCode: 0 }, 'the next script gets a new session');
    t.same(await elements(), ['10.0.0.10', '10.0.0.11', '10.0.0.9']);
  });

  t.test('a script that does not finish in time is failed as timed out', async (t) => {
    const hung = new NftSession(['sleep', '30']);
    t.teardown(() => hung.close());
    const r = await hung.run('add element inet x s { 10.0.0.12 }', 300);
    t.match(r, { timedOut: true }, 'timed out');
  });

  t.test('without nft -i the caller starts nft itself', async (t) => {
    const none = new NftSession(['/nonexistent/nft', '-i']);
    const r = await none.run('add element inet x s { 10.0.0.13 }', 1000);
    t.equal(r?.startError, 'ENOTSTARTED', 'it never ran');
    t.equal(none.run('add element inet x s { 10.0.0.13 }', 1000), undefined, 'and later scripts are not taken');
  });
}
