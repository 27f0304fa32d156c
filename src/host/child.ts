/**
 * A process whose input and output we hold: on a pseudo-terminal (node-pty) or on pipes. Used by the
 * shim (a container's command with a terminal or stdin) and by exec sessions. Argument arrays only.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import pty from 'node-pty';

export interface ChildOptions {
  env: Record<string, string>;
  /** a pseudo-terminal of this size; else pipes */
  tty?: { cols: number; rows: number };
  /** keep stdin open for writes (else it is /dev/null) */
  stdin: boolean;
  /** without a terminal: where stdout and stderr go (file descriptors); default pipes, read with onOutput */
  stdoutFd?: number;
  stderrFd?: number;
}

export interface Child {
  pid: number;
  /** output as it comes: 1 stdout, 2 stderr (everything is 1 on a terminal) */
  onOutput(fn: (stream: 1 | 2, data: Buffer) => void): void;
  write(data: Buffer): void;
  /** end of input: the pipe is closed, or a terminal gets its EOF character */
  closeStdin(): void;
  resize(cols: number, rows: number): void;
  /** exit code, or 128 + the signal that ended it; settles after the output was delivered */
  exit: Promise<number>;
}

/** Valid terminal sizes (what a winsize can hold; 0 is what some clients send before they know). */
export const validSize = (n: number) => Number.isInteger(n) && n > 0 && n <= 65535;

export function spawnChild(file: string, args: string[], o: ChildOptions): Child {
  return o.tty ? onTerminal(file, args, o, o.tty) : onPipes(file, args, o);
}

function onTerminal(file: string, args: string[], o: ChildOptions, size: { cols: number; rows: number }): Child {
  const p = pty.spawn(file, args, { name: o.env.TERM ?? 'xterm', cols: size.cols, rows: size.rows, env: o.env, encoding: null as unknown as string });
  const listeners: Array<(stream: 1 | 2, data: Buffer) => void> = [];
  const early: Buffer[] = [];
  p.onData((d: string | Buffer) => {
    const b = Buffer.isBuffer(d) ? d : Buffer.from(d);
    if (!listeners.length) early.push(b);
    for (const l of listeners) l(1, b);
  });
  const exit = new Promise<number>((resolve) => {
    p.onExit(({ exitCode, signal }) => resolve(signal ? 128 + signal : exitCode));
  });
  return {
    pid: p.pid,
    onOutput(fn) {
      listeners.push(fn);
      for (const b of early.splice(0)) fn(1, b);
    },
    write: (d) => p.write(d as unknown as string),
    closeStdin: () => p.write('\x04'),
    resize: (cols, rows) => {
      if (validSize(cols) && validSize(rows)) p.resize(cols, rows);
    },
    exit,
  };
}

function onPipes(file: string, args: string[], o: ChildOptions): Child {
  const child = spawn(file, args, {
    detached: true,
    env: o.env,
    stdio: [o.stdin ? 'pipe' : 'ignore', o.stdoutFd ?? 'pipe', o.stderrFd ?? 'pipe'],
  });
  const listeners: Array<(stream: 1 | 2, data: Buffer) => void> = [];
  const early: Array<[1 | 2, Buffer]> = [];
  const emit = (s: 1 | 2) => (d: Buffer) => {
    if (!listeners.length) early.push([s, d]);
    for (const l of listeners) l(s, d);
  };
  child.stdout?.on('data', emit(1));
  child.stderr?.on('data', emit(2));
  child.stdin?.on('error', () => undefined);
  const exit = new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    // 'close': the exit, and every output pipe drained
    child.once('close', (code, sig) => resolve(code ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
  });
  return {
    pid: child.pid ?? 0,
    onOutput(fn) {
      listeners.push(fn);
      for (const [s, b] of early.splice(0)) fn(s, b);
    },
    write: (d) => void child.stdin?.write(d),
    closeStdin: () => void child.stdin?.end(),
    resize: () => undefined,
    exit,
  };
}
