import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NftSession, MAX_SCRIPT, oneLine, splitAtMarker } from '../../src/host/nft-session.js';

t.test('a script becomes one line of commands', async (t) => {
  t.equal(oneLine('add table inet x\n  add set inet x s { type ipv4_addr; }\n\n'), 'add table inet x; add set inet x s { type ipv4_addr; }');
  t.equal(oneLine('\n \n'), undefined, 'nothing to run');
});

t.test('what nft said is split at the report of the marker', async (t) => {
  const report = 'Error: syntax error, unexpected junk\n%cnmd-3%\n^\n';
  t.same(splitAtMarker(report, '%cnmd-3%'), { before: '', rest: '' }, 'the script said nothing');
  const failed = 'Error: No such file or directory\nadd element inet x s { 1.2.3.4 }\n                 ^\n';
  t.same(splitAtMarker(failed + report, '%cnmd-3%'), { before: failed, rest: '' }, 'its error is the script\'s');
  t.equal(splitAtMarker(failed + 'Error: syntax error, unexpected junk\n%cnmd-3%\n', '%cnmd-3%'), undefined, 'not before the caret line came');
  t.equal(splitAtMarker(failed + 'Error: syntax error, unexpected junk\n%cnmd-3', '%cnmd-3%'), undefined, 'nor with half a marker');
  t.equal(splitAtMarker('Error: syntax error, unexpected junk\n%cnmd-31%\n^\n', '%cnmd-3%'), undefined, 'another marker is not this one');
  t.same(splitAtMarker(report + 'Error: x\n', '%cnmd-3%'), { before: '', rest: 'Error: x\n' }, 'what comes after is kept for the next');
  t.same(splitAtMarker('%cnmd-3%\n^\n', '%cnmd-3%'), { before: '', rest: '' }, 'the marker as the first line');
});

t.test('a large script is left to a process of its own', async (t) => {
  const s = new NftSession(['/nonexistent/nft', '-i']);
  const script = Array.from({ length: 400 }, (_, i) => `add element inet x s { 10.${i >> 8}.${i & 255}.1 }`).join('\n');
  t.ok(script.length > MAX_SCRIPT);
  t.equal(s.run(script, 1000), undefined, 'not taken: the caller starts nft');
});

t.test('a session that dies in the middle of a script fails that script; after three such deaths nft runs on its own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-nfts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const got = join(dir, 'lines');
  // an `nft -i` that takes the script's line and dies before it answers
  const s = new NftSession(['sh', '-c', `read line; echo "$line" >> ${got}; kill -9 $$`]);
  t.teardown(() => s.close());
  for (const n of [1, 2, 3]) {
    const r = await s.run(`add element inet x s { 10.0.0.${n} }`, 5000);
    t.match(r, { exitCode: undefined, timedOut: false, stderr: /^nft -i exited \(SIGKILL\)/ }, `script ${n} failed: the session died`);
    t.notOk(r?.startError, 'it may have run: not one for the caller to start again as never run');
  }
  t.same(readFileSync(got, 'utf8').trim().split('\n'), [1, 2, 3].map((n) => `add element inet x s { 10.0.0.${n} }`), 'each script reached a new session');
  t.equal(s.run('add element inet x s { 10.0.0.4 }', 5000), undefined, 'then scripts are left to the caller');
});
