/**
 * `docker cp` on the host: the stat of a path, a tar of it, a tar extracted into a directory, in a
 * container's mount namespace (nsenter --mount) or, for one without, in the host's. GNU tar and
 * coreutils, argument arrays only; tar refuses members with `..` and strips a leading `/`.
 */
import { execa } from 'execa';
import { lstat, realpath } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { basename } from 'node:path';
import { formatRfc3339Nano } from '../ids.js';
import { inNamespaces } from './placement.js';
import { HostCommandError } from './executor.js';

/** Docker's container path stat (the X-Docker-Container-Path-Stat header, base64 JSON). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode: permission bits and Go's type bits */
  mode: number;
  /** RFC 3339 with nanoseconds */
  mtime: string;
  /** where a symbolic link leads, resolved (empty for others) */
  linkTarget: string;
}

/** A tar of a path being written: its bytes, and its end (rejects when tar failed). */
export interface TarStream {
  stream: Readable;
  done: Promise<void>;
}

const GO = { dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, pipe: 2 ** 25, socket: 2 ** 24, setuid: 2 ** 23, setgid: 2 ** 22, char: 2 ** 21, sticky: 2 ** 20 };

/** st_mode as Go's os.FileMode (what Docker puts in the stat). Pure. */
export function goFileMode(st: number): number {
  const type = st & 0o170000;
  let m = st & 0o777;
  if (type === 0o040000) m += GO.dir;
  else if (type === 0o120000) m += GO.symlink;
  else if (type === 0o020000) m += GO.device + GO.char;
  else if (type === 0o060000) m += GO.device;
  else if (type === 0o010000) m += GO.pipe;
  else if (type === 0o140000) m += GO.socket;
  if (st & 0o4000) m += GO.setuid;
  if (st & 0o2000) m += GO.setgid;
  if (st & 0o1000) m += GO.sticky;
  return m;
}

/** `stat --printf '%s\n%f\n%.9Y\n'` (size, raw mode in hex, mtime with nanoseconds) as a PathStat. Pure. */
export function parseStat(path: string, out: string, linkTarget: string): PathStat {
  const [size, hexMode, mtime] = out.split('\n');
  const [sec, frac = '0'] = mtime.split('.');
  const ns = BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
  return { name: basename(path) || '/', size: Number(size), mode: goFileMode(parseInt(hexMode, 16)), mtime: formatRfc3339Nano(ns), linkTarget };
}

const within = (mnt: string | undefined, argv: string[]) => inNamespaces(mnt ? { mnt } : {}, argv);

/** The stat of a path (not following a final symbolic link); undefined when there is nothing there. */
export async function statPath(path: string, mnt?: string): Promise<PathStat | undefined> {
  if (!mnt) {
    const s = await lstat(path).catch(() => undefined);
    if (!s) return undefined;
    const target = s.isSymbolicLink() ? await realpath(path).catch(() => '') : '';
    const ns = BigInt(Math.trunc(s.mtimeMs)) * 1_000_000n;
    return { name: basename(path) || '/', size: s.size, mode: goFileMode(s.mode), mtime: formatRfc3339Nano(ns), linkTarget: target };
  }
  const st = within(mnt, ['stat', '--printf', '%s\n%f\n%.9Y\n', '--', path]);
  const r = await execa(st.file, st.args, { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) return undefined;
  let target = '';
  if ((parseInt(String(r.stdout).split('\n')[1], 16) & 0o170000) === 0o120000) {
    const rp = within(mnt, ['realpath', '-m', '--', path]);
    target = String((await execa(rp.file, rp.args, { reject: false, timeout: 30_000 })).stdout).trim();
  }
  return parseStat(path, String(r.stdout), target);
}

/** A sed expression of GNU tar's --transform that renames a leading `from` to `to` in member names (not link targets). */
export function renameTop(from: string, to: string): string {
  const re = from.replace(/[\\^$.*[\],]/g, (ch) => `\\${ch}`);
  const repl = to.replace(/[\\&,]/g, (ch) => `\\${ch}`);
  return `s,^${re}\\(/\\|$\\),${repl}\\1,S`;
}

/** A tar of `name` in `dir`, its entries named from `as` when given (Docker's rebase on the requested base name). */
export function tarOut(dir: string, name: string, mnt?: string, as?: string): TarStream {
  const rename = as && as !== name ? [`--transform=${renameTop(name, as)}`] : [];
  const t = within(mnt, ['tar', '--create', '--file=-', '--numeric-owner', ...rename, `--directory=${dir}`, '--', name]);
  const p = execa(t.file, t.args, { stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false, stdin: 'ignore' });
  const done = p.then((r) => {
    if (r.exitCode !== 0) throw new HostCommandError(t.file, t.args, String(r.stderr || r.message), r.exitCode);
  });
  return { stream: p.stdout!, done };
}

/** Extracts a tar from `input` into the directory `dir`, with the archive's owners (Docker's default: its identity map). */
export async function tarIn(dir: string, input: Readable, mnt?: string): Promise<void> {
  const t = within(mnt, ['tar', '--extract', '--file=-', `--directory=${dir}`, '--no-overwrite-dir', '--same-owner', '--numeric-owner']);
  const p = execa(t.file, t.args, { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', reject: false });
  input.pipe(p.stdin!);
  p.stdin!.on('error', () => undefined);
  const r = await p;
  if (r.exitCode !== 0) throw new HostCommandError(t.file, t.args, String(r.stderr || r.message).trim(), r.exitCode);
}
