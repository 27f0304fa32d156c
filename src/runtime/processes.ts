/**
 * Containers' main processes: started (directly, or under a shim when they have a terminal or an open
 * stdin), watched until they end, found again after a daemon restart, signalled. Attach sessions hear
 * here when a command starts and ends, and reach its stdin.
 */
import type { Executor, ProcessInput } from '../host/executor.js';
import type { LogPaths } from './logs.js';

export interface Launch {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** a terminal of this size (Config.Tty) */
  tty?: { cols: number; rows: number };
  /** Config.OpenStdin */
  stdin: boolean;
  logs: LogPaths;
  shim: { socketPath: string; statusPath: string };
}

/**
 * Whether the process at pid is the one recorded: alive, with the start time recorded with it. A row
 * from before start times were recorded ('') is taken on the pid alone.
 */
export function isSameProcess(exec: Pick<Executor, 'processStart'>, pid: number, start: string): boolean {
  if (pid <= 0) return false;
  const now = exec.processStart(pid);
  return now !== undefined && (start === '' || now === start);
}

export interface Started {
  pid: number;
  /** the kernel's start time of pid ('' when it ended at once) */
  pidStart: string;
  monitorPid: number;
}

interface Tracked {
  pid: number;
  start: string;
  monitorPid: number;
  input?: ProcessInput;
  /** found again without a shim: watched by the shared poll of its pid */
  polled?: boolean;
}

/** How often processes found again without a shim are looked at (one timer for all of them). */
export const POLL_MS = 250;

export class Processes {
  private readonly tracked = new Map<string, Tracked>();
  private readonly onStart = new Map<string, Set<() => void>>();
  private readonly onEnd = new Map<string, Set<(code: number) => void>>();
  /** exit codes of processes we signalled but cannot wait on (found again after a restart) */
  private readonly signalled = new Map<string, number>();
  private closed = false;
  private exited: (id: string, pid: number, code: number) => void = () => undefined;
  /** one timer while any process is polled: a timer each woke the daemon 4 times a second per container */
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly exec: Executor) {}

  /** Who is told when a container's main process ended by itself (the containers' runs). */
  whenExited(fn: (id: string, pid: number, code: number) => void): void {
    this.exited = fn;
  }

  async launch(id: string, l: Launch): Promise<Started> {
    if (l.tty || l.stdin) {
      const h = await this.exec.startShim({ file: l.file, args: l.args, env: l.env, ...(l.tty ? { tty: l.tty } : {}), ...l.logs, ...l.shim });
      const start = this.exec.processStart(h.pid) ?? '';
      this.track(id, { pid: h.pid, start, monitorPid: h.shimPid, input: h.input }, h.exit);
      return { pid: h.pid, pidStart: start, monitorPid: h.shimPid };
    }
    const p = this.exec.spawnProcess(l.file, l.args, { env: l.env, ...l.logs });
    const start = this.exec.processStart(p.pid) ?? '';
    this.track(id, { pid: p.pid, start, monitorPid: 0 }, p.exit);
    return { pid: p.pid, pidStart: start, monitorPid: 0 };
  }

  /**
   * A command started before this daemon: its shim is connected again (stdin, resize and a precise
   * exit code), or, without one, the process is watched by its pid (its exit code is then unknown).
   * False when it is gone: a pid whose process has another start time than the recorded one
   * (start) names another process, which is never watched or signalled.
   */
  async reattach(id: string, pid: number, start: string, monitorPid: number, shim: { socketPath: string; statusPath: string }): Promise<boolean> {
    if (monitorPid > 0) {
      const h = await this.exec.connectShim(shim.socketPath, shim.statusPath);
      if (h) {
        const p = h.pid || pid;
        this.track(id, { pid: p, start: p === pid ? start : (this.exec.processStart(p) ?? ''), monitorPid, input: h.input }, h.exit);
        return true;
      }
    }
    if (!isSameProcess(this.exec, pid, start)) return false;
    const t: Tracked = { pid, start: start || (this.exec.processStart(pid) ?? ''), monitorPid: 0, polled: true };
    this.tracked.set(id, t);
    this.startPoll();
    this.announceStart(id);
    return true;
  }

  private startPoll(): void {
    if (this.poll) return;
    this.poll = setInterval(() => {
      for (const [id, t] of [...this.tracked]) {
        if (t.polled && !isSameProcess(this.exec, t.pid, t.start)) this.ended(id, t.pid, this.signalled.get(id) ?? 255);
      }
      // looked at after the ends: one of them may have had a process found again meanwhile
      if (![...this.tracked.values()].some((t) => t.polled)) this.stopPoll();
    }, POLL_MS);
    this.poll.unref();
  }

  private stopPoll(): void {
    clearInterval(this.poll);
    this.poll = undefined;
  }

  private track(id: string, t: Tracked, exit: Promise<number>): void {
    this.tracked.set(id, t);
    void exit.then((code) => this.ended(id, t.pid, this.signalled.get(id) ?? code));
    this.announceStart(id);
  }

  private announceStart(id: string): void {
    for (const fn of this.onStart.get(id) ?? []) fn();
  }

  private ended(id: string, pid: number, code: number): void {
    const t = this.tracked.get(id);
    if (!t || t.pid !== pid) return;
    this.tracked.delete(id);
    this.signalled.delete(id);
    for (const fn of this.onEnd.get(id) ?? []) fn(code);
    if (!this.closed) this.exited(id, pid, code);
  }

  running(id: string): Started | undefined {
    const t = this.tracked.get(id);
    return t && { pid: t.pid, pidStart: t.start, monitorPid: t.monitorPid };
  }

  /** The command's stdin, when it has one open (under a shim). */
  input(id: string): ProcessInput | undefined {
    return this.tracked.get(id)?.input;
  }

  /** Sends a signal to the command's process group (or the process); false when there is none. */
  signal(id: string, sig: NodeJS.Signals, exitCode?: number): boolean {
    const t = this.tracked.get(id);
    if (!t || !isSameProcess(this.exec, t.pid, t.start)) return false;
    if (exitCode !== undefined) this.signalled.set(id, exitCode);
    return this.exec.signal(-t.pid, sig) || this.exec.signal(t.pid, sig);
  }

  /** Resolves with the exit code when the current command ends (at once with undefined when none runs). */
  nextExit(id: string): Promise<number | undefined> {
    if (!this.tracked.has(id)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const off = this.listen(this.onEnd, id, (code) => {
        off();
        resolve(code);
      });
    });
  }

  /** Subscribes to starts and ends of a container's commands; returns the unsubscribe. */
  subscribe(id: string, on: { start?: () => void; end?: (code: number) => void }): () => void {
    const offs = [on.start && this.listen(this.onStart, id, on.start), on.end && this.listen(this.onEnd, id, on.end)];
    return () => offs.forEach((off) => off?.());
  }

  private listen<F>(map: Map<string, Set<F>>, id: string, fn: F): () => void {
    let set = map.get(id);
    if (!set) map.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (!set!.size) map.delete(id);
    };
  }

  close(): void {
    this.closed = true;
    this.stopPoll();
  }
}
