/**
 * One daemon per data root: `cnmd.pid` there holds the pid and the kernel's start time of the
 * process that owns it. A second daemon finds a live owner and stops before it touches the host or
 * the first one's socket; a file left by a process that is gone (or whose pid now names another
 * process) is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export class DaemonRunningError extends Error {}

/** The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot); undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Containers' logs (<data root>/containers/<id>/*.log) become root's alone, whatever made them so far. */
function restrictLogs(dataRoot: string): void {
  const dir = join(dataRoot, 'containers');
  let ids: string[] = [];
  try {
    ids = readdirSync(dir);
  } catch {
    return;
  }
  for (const id of ids) {
    for (const f of ['stdout.log', 'stderr.log']) {
      try {
        chmodSync(join(dir, id, f), 0o600);
      } catch {
        // no such log
      }
    }
  }
}

/**
 * Takes the data root for this process; returns the release function. At every start the data root
 * becomes 0700 and containers' logs 0600 (the database is the store's: src/store/db.ts).
 */
export function takeDataRoot(dataRoot: string, instance: string): () => void {
  mkdirSync(dataRoot, { recursive: true });
  chmodSync(dataRoot, 0o700);
  const path = join(dataRoot, `${instance}.pid`);
  const mine = `${process.pid} ${processStartTime(process.pid) ?? ''}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, mine);
      closeSync(fd);
      restrictLogs(dataRoot);
      return () => {
        try {
          if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const [pid, start] = text.trim().split(' ');
    if (/^\d+$/.test(pid ?? '') && Number(pid) !== process.pid && start && processStartTime(Number(pid)) === start) {
      throw new DaemonRunningError(`pid file found, ensure ${instance} is not running or delete ${path} (pid ${pid} owns the data root ${dataRoot})`);
    }
    unlinkSync(path);
  }
  throw new DaemonRunningError(`could not take ${path}: another daemon is starting on the data root ${dataRoot}`);
}
