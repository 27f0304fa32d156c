/**
 * Link deletions whose end a run does not wait for (see DeferredDeletions), and how a run sees that
 * their links have left the namespace.
 */
import type { Executor } from './executor.js';

/** The names of the links of the daemon's namespace, from /proc/self/net/dev (a file read, no process). */
async function linkNames(exec: Executor): Promise<Set<string> | undefined> {
  const text = await exec.readFile('/proc/self/net/dev');
  if (text === undefined) return undefined;
  return new Set(text.split('\n').slice(2).map((l) => l.slice(0, l.indexOf(':')).trim()).filter(Boolean));
}

/**
 * A link's IPv4 settings directory in the daemon's namespace (/proc/sys/net is the reading process's
 * namespace's): there while the link is registered, gone once the kernel has unregistered it (its
 * addresses and routes flushed with it), whatever the number of links. /proc/self/net/dev lists every
 * link (2 ms to read at 1000 links).
 */
const settingsDir = (name: string) => (/^[A-Za-z0-9_.@:-]{1,15}$/.test(name) && name !== '.' && name !== '..' ? `/proc/sys/net/ipv4/conf/${name}` : undefined);

/** Whether any of the links is still there: by their settings directories (dirs) where they have one, else from the list of all links. */
async function anyLeft(exec: Executor, dirs: string[], listed: string[]): Promise<boolean> {
  const here = await Promise.all(dirs.map((d) => exec.exists(d)));
  if (here.some(Boolean)) return true;
  if (!listed.length) return false;
  const now = await linkNames(exec);
  return !!now && listed.some((n) => now.has(n));
}

/**
 * Deletions of links whose end is not waited for. The kernel takes a deleted link out of its
 * namespace (and a veth's peer out of the sandbox's) within a few milliseconds, then waits tens of
 * milliseconds for its last references (an RCU grace period) before `ip` returns. A run waits until
 * the links are gone from the namespace (their /proc/sys/net/ipv4/conf directories, else
 * /proc/self/net/dev), not for that: what anyone can
 * see has changed when the request is answered. Any later change of links, and every read, waits for
 * the deletions to end, so a name or an address freed by one is free when it is used again.
 */
export class DeferredDeletions {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly onError: (e: Error) => void) {}

  /** Starts the deletions; resolves once the links are out of the namespace (or the deletion ended). */
  start(exec: Executor, lines: string[]): Promise<void> {
    // -force: each line is tried; a link already gone (its namespace went first) is what was wanted
    const ended = exec.run('ip', ['-force', '-batch', '-'], { input: lines.join('\n') + '\n' }).then(
      () => undefined,
      (e: Error) => {
        const text = `${e.message} ${String((e as { stderr?: string }).stderr ?? '')}`;
        const others = text.split('\n').filter((l) => /error|RTNETLINK|Cannot/i.test(l) && !/Cannot find device/.test(l));
        if (others.length) this.onError(e);
      },
    );
    const p: Promise<void> = ended.finally(() => this.running.delete(p));
    this.running.add(p);
    const names = lines.map((l) => l.replace(/^link del dev /, ''));
    let done = false;
    void p.then(() => (done = true));
    const gone = async () => {
      // which links have a settings directory to watch (probed while the deletion starts)
      const candidates = names.map(settingsDir);
      const has = await Promise.all(candidates.map((d) => (d ? exec.exists(d) : false)));
      const dirs = candidates.filter((d, i): d is string => !!d && has[i]!);
      const listed = names.filter((_, i) => !has[i]);
      for (let i = 0; i < 200 && !done; i++) {
        if (!(await anyLeft(exec, dirs, listed))) return;
        await new Promise((r) => setTimeout(r, 1));
      }
      await p;
    };
    return Promise.race([p, gone()]);
  }

  /** resolves when every deletion started so far has ended */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }

  get size(): number {
    return this.running.size;
  }
}
