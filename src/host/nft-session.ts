/**
 * The daemon's `nft -f -` transactions through one long-lived `nft -i`, instead of a process each.
 * A new nft costs 4-5 ms before it does anything (its start and its library's set-up); a line sent
 * to a running `nft -i` costs 0.2-0.5 ms. nft reads its cache again for each line, so changes made
 * by others meanwhile are seen, as by a new process.
 *
 * A script is sent as one line, its commands joined with "; ": nft runs a line as one transaction,
 * all of it or nothing (the text gate already refuses line breaks, `#` and backslashes, so joining
 * changes no command). After it comes a marker line that is a syntax error: nft reports it on
 * stderr after whatever the script made it report, so what comes before the marker's report is the
 * script's, and a script that reported an `Error:` failed.
 *
 * The session starts on first use and ends after IDLE_MS without work (nothing stays at rest), and
 * after MAX_LINES lines or MAX_BYTES of input (its line history grows). setpriv gives it a
 * parent-death signal. A session that dies or does not answer within the timeout fails the script
 * it was running (the caller's reconcile reads the host again); after START_FAILURES sessions that
 * ended before answering anything, run() answers undefined and the caller starts nft itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { SpawnResult } from './spawner.js';

export const IDLE_MS = 5_000;
export const MAX_LINES = 500;
export const MAX_BYTES = 8 << 20;
/**
 * Larger scripts (a whole table at start, a repair) go to a process of their own: nft -i reads its
 * input through libedit, whose cost grows with the line (measured: 100 commands 4.7 ms in a session
 * against 5.5 ms for a new nft, 1000 commands 62 ms against 11 ms).
 */
export const MAX_SCRIPT = 8 << 10;
const START_FAILURES = 3;

interface Job {
  line: string;
  timeoutMs: number;
  resolve: (r: SpawnResult) => void;
}

interface Session {
  child: ChildProcess;
  marker: string;
  stderr: string;
  lines: number;
  bytes: number;
  answered: boolean;
}

/** The script as one line of commands; undefined when it has none. */
export function oneLine(script: string): string | undefined {
  const commands = script.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return commands.length ? commands.join('; ') : undefined;
}

/**
 * Splits what a session wrote to stderr at the report of marker (its line, echoed after an error
 * line, then a caret line): the script's output before it and what is left after; undefined until
 * the report is complete.
 */
export function splitAtMarker(stderr: string, marker: string): { before: string; rest: string } | undefined {
  // where the echoed marker line starts (a line of its own, the first one or after a newline)
  const echo = `\n${stderr}`.indexOf(`\n${marker}\n`);
  if (echo < 0) return undefined;
  const caretEnd = stderr.indexOf('\n', echo + marker.length + 1);
  if (caretEnd < 0) return undefined;
  const errorLine = echo === 0 ? 0 : stderr.lastIndexOf('\n', echo - 2) + 1;
  return { before: stderr.slice(0, errorLine), rest: stderr.slice(caretEnd + 1) };
}

export class NftSession {
  private session: Session | undefined;
  private readonly queue: Job[] = [];
  private current: { job: Job; timer: NodeJS.Timeout } | undefined;
  private idle: NodeJS.Timeout | undefined;
  private failedStarts = 0;
  private count = 0;

  constructor(private readonly command: [string, ...string[]] = ['setpriv', '--pdeathsig', 'KILL', '--', 'nft', '-i']) {}

  /** Runs an `nft -f -` script; undefined when no session serves it (too large, or nft -i cannot run here). */
  run(script: string, timeoutMs: number): Promise<SpawnResult> | undefined {
    if (this.failedStarts >= START_FAILURES || script.length > MAX_SCRIPT) return undefined;
    const line = oneLine(script);
    if (line === undefined) return undefined;
    return new Promise((resolve) => {
      this.queue.push({ line, timeoutMs, resolve });
      this.next();
    });
  }

  /** Ends the session now (a script it is running fails). */
  close(): void {
    this.end();
  }

  private next(): void {
    if (this.current || !this.queue.length) return;
    clearTimeout(this.idle);
    const s = this.session ?? this.start();
    if (!s) {
      for (const job of this.queue.splice(0)) job.resolve(fail('nft -i could not be started', 'ENOTSTARTED'));
      return;
    }
    const job = this.queue.shift()!;
    s.marker = `%cnmd-${++this.count}%`;
    s.lines += 1;
    s.bytes += job.line.length;
    const timer = setTimeout(() => {
      this.finish({ exitCode: undefined, signal: 9, stdout: '', stderr: '', timedOut: true });
      this.end();
      this.next();
    }, job.timeoutMs);
    this.current = { job, timer };
    this.ref(s, true);
    s.child.stdin!.write(`${job.line}\n${s.marker}\n`);
  }

  private start(): Session | undefined {
    if (this.failedStarts >= START_FAILURES) return undefined;
    const child = spawn(this.command[0], this.command.slice(1), {
      stdio: ['pipe', 'ignore', 'pipe'],
      // no history file read or written, no terminal settings
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/proc/self/cnmd-no-home', TERM: 'dumb' },
    });
    const s: Session = { child, marker: '', stderr: '', lines: 0, bytes: 0, answered: false };
    child.stdin!.on('error', () => undefined);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => this.onStderr(s, d));
    // an error event: it never ran (setpriv or nft is missing), so neither did the script
    child.on('error', (e) => this.died(s, e.message, true));
    child.on('exit', (code, signal) => this.died(s, `exited (${signal ?? code})`, false));
    this.session = s;
    this.ref(s, false);
    return s;
  }

  private onStderr(s: Session, d: string): void {
    if (this.session !== s) return;
    s.stderr += d;
    if (!this.current) return;
    const split = splitAtMarker(s.stderr, s.marker);
    if (!split) return;
    s.stderr = split.rest;
    s.answered = true;
    this.failedStarts = 0;
    const failed = /^Error:/m.test(split.before);
    this.finish({ exitCode: failed ? 1 : 0, signal: undefined, stdout: '', stderr: split.before, timedOut: false });
    if (s.lines >= MAX_LINES || s.bytes >= MAX_BYTES) this.end();
    this.next();
    if (!this.current && this.session) this.idle = setTimeout(() => this.end(), IDLE_MS).unref();
  }

  private finish(r: SpawnResult): void {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    clearTimeout(c.timer);
    if (this.session) this.ref(this.session, false);
    c.job.resolve(r);
  }

  private died(s: Session, why: string, neverRan: boolean): void {
    if (this.session !== s) return;
    this.session = undefined;
    if (!s.answered) this.failedStarts += neverRan ? START_FAILURES : 1;
    this.finish(fail(`nft -i ${why}${s.stderr ? `: ${s.stderr.trim()}` : ''}`, neverRan ? 'ENOTSTARTED' : undefined));
    this.next();
  }

  private end(): void {
    clearTimeout(this.idle);
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    s.child.kill('SIGKILL');
    this.finish(fail('nft -i was stopped'));
  }

  /** the session keeps the daemon's event loop alive only while a script runs */
  private ref(s: Session, on: boolean): void {
    for (const h of [s.child, s.child.stdin, s.child.stderr] as Array<{ ref?: () => void; unref?: () => void } | null>) (on ? h?.ref : h?.unref)?.call(h);
  }
}

function fail(message: string, startError?: string): SpawnResult {
  return { exitCode: undefined, signal: undefined, stdout: '', stderr: message, timedOut: false, ...(startError ? { startError } : {}) };
}
