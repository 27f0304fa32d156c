import t from 'tap';
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
});

t.test('a large script is left to a process of its own', async (t) => {
  const s = new NftSession(['/nonexistent/nft', '-i']);
  const script = Array.from({ length: 400 }, (_, i) => `add element inet x s { 10.${i >> 8}.${i & 255}.1 }`).join('\n');
  t.ok(script.length > MAX_SCRIPT);
  t.equal(s.run(script, 1000), undefined, 'not taken: the caller starts nft');
});
