/**
 * The daemon's short-lived host commands, started by cnmd-spawn (./spawn-helper.c): a small process
 * that uses posix_spawn, so a command costs the daemon's thread a message instead of a fork of its
 * whole address space (2-3 ms each at its size, in which nothing else runs). One helper, started on
 * first use and once more after a death; without one (none built, or dead twice) run() answers
 * undefined, and for a command the helper died before starting it answers NOT_STARTED: either way
 * the caller starts the command itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { packageFile } from '../paths.js';

export interface SpawnResult {
  /** undefined when a signal ended it */
  exitCode: number | undefined;
  signal: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** the command could not be started (errno, as ENOENT for a command not found) */
  startError?: string;
}

interface Pending {
  resolve: (r: SpawnResult) => void;
  pid?: number;
  timer: NodeJS.Timeout;
  timedOut: boolean;
}

/** startError of a command the helper died before starting: nothing ran, start it another way */
export const NOT_STARTED = 'ENOTSTARTED';

const ERRNO_NAMES: Record<number, string> = { 2: 'ENOENT', 13: 'EACCES', 7: 'E2BIG', 8: 'ENOEXEC', 12: 'ENOMEM' };

/** Where `npm run build` puts the helper (scripts/build-spawn-helper.mjs); undefined when it was not built. */
export function helperPath(): string | undefined {
  const p = packageFile('dist/host/cnmd-spawn');
  return existsSync(p) ? p : undefined;
}

function frame(id: number, file: string, args: string[], input: string): Buffer {
  const strings = [file, ...args].map((s) => Buffer.from(s + '\0'));
  const body = Buffer.from(input);
  const head = Buffer.alloc(12);
  const len = 8 + strings.reduce((n, s) => n + s.length, 0) + body.length;
  head.writeUInt32LE(len, 0);
  head.writeUInt32LE(id, 4);
  head.writeUInt32LE(strings.length, 8);
  return Buffer.concat([head, ...strings, body]);
}

export class Spawner {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** deaths of the helper so far: after the second, commands start the usual way */
  private deaths = 0;

  /** path: the helper (by default the one `npm run build` made); null: none, commands start the usual way */
  constructor(
    private readonly path: string | null | undefined = helperPath(),
    private readonly onDeath: (why: string) => void = () => undefined,
  ) {}

  get available(): boolean {
    return !!this.path && this.deaths < 2;
  }

  /**
   * Runs file with args, input on its stdin; undefined when the helper is not there, and a result
   * whose startError is NOT_STARTED when it died before starting it: run it yourself then.
   */
  run(file: string, args: string[], input: string, timeoutMs: number): Promise<SpawnResult> | undefined {
    if (!this.available || args.some((a) => a.includes('\0')) || file.includes('\0')) return undefined;
    const child = this.child ?? this.startHelper();
    if (!child.stdin?.writable) return undefined;
    const id = this.nextId++;
    if (this.nextId > 0xfffffff0) this.nextId = 1;
    return new Promise<SpawnResult>((resolve) => {
      const p: Pending = {
        resolve,
        timedOut: false,
        timer: setTimeout(() => {
          p.timedOut = true;
          if (p.pid) this.kill(p.pid);
        }, timeoutMs),
      };
      this.pending.set(id, p);
      if (this.pending.size === 1) this.ref(true);
      child.stdin!.write(frame(id, file, args, input));
    });
  }

  /** Stops the helper (it leaves once its commands have ended). */
  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private kill(pid: number): void {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* it has ended */
    }
  }

  private startHelper(): ChildProcess {
    // its own session: a terminal's ^C reaches the daemon, which decides; the helper leaves when its stdin closes
    const child = spawn(this.path!, [], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => this.onData(d));
    child.stdin!.on('error', () => undefined);
    child.on('error', (e) => this.died(child, e.message));
    child.on('exit', (code, signal) => this.died(child, `exited (${signal ?? code})`));
    this.ref(false);
    return child;
  }

  /** the helper keeps the daemon's event loop alive only while a command runs */
  private ref(on: boolean): void {
    const c = this.child;
    if (!c) return;
    const handles = [c, c.stdin, c.stdout] as Array<{ ref?: () => void; unref?: () => void } | null>;
    for (const h of handles) (on ? h?.ref : h?.unref)?.call(h);
  }

  private died(child: ChildProcess, why: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.deaths++;
    this.onDeath(`cnmd-spawn ${why}`);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      // a command it had not started yet: the caller starts it itself (NOT_STARTED)
      p.resolve(p.pid
        ? { exitCode: undefined, signal: undefined, stdout: '', stderr: `cnmd-spawn ${why} while the command ran`, timedOut: p.timedOut, startError: 'EHELPER' }
        : { exitCode: undefined, signal: undefined, stdout: '', stderr: '', timedOut: false, startError: NOT_STARTED });
      this.pending.delete(id);
    }
  }

  /** what the helper wrote and is not answered yet: chunks joined only once a whole frame is there */
  private chunks: Buffer[] = [];
  private chunked = 0;

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.chunked += d.length;
    for (;;) {
      if (this.chunked < 4) return;
      if (this.chunks[0]!.length < 4) this.chunks = [Buffer.concat(this.chunks)];
      const len = this.chunks[0]!.readUInt32LE(0);
      if (this.chunked < 4 + len) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.answer(all.subarray(4, 4 + len));
      const rest = all.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.chunked = rest.length;
    }
  }

  private answer(b: Buffer): void {
    const type = b.readUInt32LE(0), id = b.readUInt32LE(4), v = b.readUInt32LE(8);
    const p = this.pending.get(id);
    if (!p) return;
    if (type === 1) {
      p.pid = v;
      if (p.timedOut) this.kill(v);
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(id);
    if (this.pending.size === 0) this.ref(false);
    if (type === 2) {
      p.resolve({ exitCode: undefined, signal: undefined, stdout: '', stderr: '', timedOut: false, startError: ERRNO_NAMES[v] ?? `errno ${v}` });
      return;
    }
    const outLen = b.readUInt32LE(12);
    const stdout = b.toString('utf8', 16, 16 + outLen);
    const errLen = b.readUInt32LE(16 + outLen);
    const stderr = b.toString('utf8', 20 + outLen, 20 + outLen + errLen);
    // a wait status: exited (low 7 bits 0, code in the next 8) or killed (the signal in the low 7)
    const sig = v & 0x7f;
    p.resolve({ exitCode: sig === 0 ? (v >> 8) & 0xff : undefined, signal: sig || undefined, stdout, stderr, timedOut: p.timedOut });
  }
}
