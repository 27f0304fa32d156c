import t from 'tap';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { execa } from 'execa';
import { archiveTarget, withOwner } from '../../src/runtime/archive.js';
import { goFileMode, parseStat, renameTop } from '../../src/host/archive.js';

t.test("archiveTarget: Docker's rebase on the requested base name, dir/. for contents", async (t) => {
  t.same(archiveTarget('/etc/hostname'), { abs: '/etc/hostname', dir: '/etc', name: 'hostname' });
  t.same(archiveTarget('etc/hostname'), { abs: '/etc/hostname', dir: '/etc', name: 'hostname' }, 'relative to /');
  t.same(archiveTarget('/srv/data/'), { abs: '/srv/data', dir: '/srv', name: 'data' }, 'a trailing slash is the directory itself');
  t.same(archiveTarget('/srv/data/.'), { abs: '/srv/data/.', dir: '/srv/data', name: '.' });
  t.same(archiveTarget('/'), { abs: '/', dir: '/', name: '.' });
  t.same(archiveTarget('/a/../../b'), { abs: '/b', dir: '/', name: 'b' }, 'no way above /');
});

t.test("stat: Go's FileMode bits and the stat line", async (t) => {
  t.equal(goFileMode(0o100644), 0o644);
  t.equal(goFileMode(0o040755), 2147484141, 'a directory, as the reference engine says for /bin');
  t.equal(goFileMode(0o120777), 134218239, 'a symlink, as the reference engine says for /bin/cat');
  t.equal(goFileMode(0o104755), 2 ** 23 + 0o755, 'setuid');
  t.same(parseStat('/etc/hostname', '13\n81a4\n1796194681.039746639\n', ''), { name: 'hostname', size: 13, mode: 0o644, mtime: '2026-12-02T06:58:01.039746639Z', linkTarget: '' });
});

t.test('renameTop: a --transform that renames the top entry and nothing else, whatever the names hold', async (t) => {
  const names = ['a.txt', 'a.txt/x', 'a.txtz', 'b/a.txt'];
  const run = async (from: string, to: string, input: string[]) =>
    (await execa('sed', ['-e', renameTop(from, to).replace(/,S$/, ',')], { input: input.join('\n') })).stdout.split('\n');
  t.same(await run('a.txt', 'b&c,d', names), ['b&c,d', 'b&c,d/x', 'a.txtz', 'b/a.txt']);
  t.same(await run('x.y', 'z', ['xzy']), ['xzy'], 'a dot is a dot');
});

t.test('withOwner: every entry of the archive gets the owner, contents untouched', async (t) => {
  const pack = tar.pack();
  pack.entry({ name: 'd/', type: 'directory', uid: 5, gid: 6 });
  pack.entry({ name: 'd/f', uid: 5, gid: 6 }, 'hello');
  pack.finalize();
  const rewritten = withOwner(Readable.from(pack as AsyncIterable<Buffer>), 1000, 1001);
  const extract = tar.extract();
  const seen: Array<[string, number, number, string]> = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      let body = '';
      stream.on('data', (c: unknown) => (body += String(c)));
      stream.on('end', () => {
        seen.push([h.name, h.uid!, h.gid!, body]);
        next();
      });
    });
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  rewritten.pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  t.same(seen, [['d/', 1000, 1001, ''], ['d/f', 1000, 1001, 'hello']]);
});
