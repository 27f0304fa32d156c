/**
 * docker cp's paths and archives, apart from the host: how a requested path is split for tar
 * (Docker's rebase on the requested base name), and `docker cp -a`'s owners, rewritten in the
 * archive's headers (tar-stream) before it is extracted.
 */
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';

/**
 * The absolute path Docker reads (joined to `/`, a trailing `/.` or `/` kept: "the contents of"),
 * and for a tar the directory to enter and the name to archive from there.
 */
export function archiveTarget(path: string): { abs: string; dir: string; name: string } {
  const joined = posix.join('/', path).replace(/(.)\/$/, '$1');
  // "dir/." is the directory's contents: entries named ./...
  if (joined === '/' || path.endsWith('/.')) return { abs: joined === '/' ? '/' : `${joined}/.`, dir: joined, name: '.' };
  return { abs: joined, dir: posix.dirname(joined), name: posix.basename(joined) };
}

/** The archive with every entry's owner set to uid:gid (`docker cp -a` into a container with a User). */
export function withOwner(input: Readable, uid: number, gid: number): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  extract.on('entry', (header, stream, next) => {
    const out = pack.entry({ ...header, uid, gid, uname: '', gname: '' }, (err) => next(err ?? undefined));
    stream.pipe(out);
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (e) => pack.destroy(e));
  input.on('error', (e) => extract.destroy(e));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  return Readable.from(pack as AsyncIterable<Buffer>);
}
