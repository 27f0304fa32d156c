/**
 * The host's on-link IPv4 routes, which automatic subnets must not shadow, kept between network
 * creates. Reading /proc/net/route costs the kernel a walk of the whole table (2.5 ms at 1000 bridges,
 * plus 0.7 ms to parse), and a create needs it only to learn of routes that are not cnmd's own. So a
 * long-lived `ip -o -4 monitor route link` reports every route and link change, and the kept list is
 * read again only after a change that is not the kernel's route for one of cnmd's own subnets on its
 * bridge (or one of its bridges going down or away), and when it is older than MAX_AGE_MS. The kernel
 * reports no route removal when a link goes down or away: such a link's line counts as a change.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Prefix } from '../ipam/cidr.js';
import type { Executor } from './executor.js';
import { parseProcNetRoute } from './readers.js';

export interface RouteWatch {
  stop(): void;
}

/** Whether a route on this device to this prefix (CIDR text) is the kernel's route for a subnet of cnmd's on its bridge. */
export type OwnRoute = (dev: string, prefix: string) => boolean;

/**
 * Starts `ip -o -4 monitor route link`, one line per change. setpriv gives it a parent-death signal, so it
 * never outlives the daemon, even one that was killed. onEnd once, when it exits or cannot start.
 */
export function watchRoutes(onLine: (line: string) => void, onEnd: () => void): RouteWatch {
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'ip', '-o', '-4', 'monitor', 'route', 'link'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let ended = false;
  const end = () => {
    if (!ended) (ended = true), onEnd();
  };
  child.on('error', end);
  child.on('exit', end);
  createInterface({ input: child.stdout }).on('line', onLine);
  return { stop: () => void child.kill('SIGKILL') };
}

const NOT_UNICAST = new Set(['local', 'broadcast', 'multicast', 'anycast', 'unreachable', 'blackhole', 'prohibit', 'throw', 'nat']);

/**
 * Whether a line of `ip -o -4 monitor route link` can change what parseProcNetRoute makes of
 * /proc/net/route (the main table's routes without a gateway): false for other tables, routes via a
 * gateway, the kernel's routes for cnmd's own subnets on their bridges, links that come or go up
 * (their routes are reported) and cnmd's own bridges.
 */
export function routeLineMatters(line: string, own: OwnRoute, ownLink: (name: string) => boolean): boolean {
  // a link line: "N: name@peer: <FLAGS> …"; a link that goes down or away takes its routes along unreported
  const link = /^(Deleted )?\d+: ([^:@\s]+)[^:]*: <([^>]*)>/.exec(line);
  if (link) return !ownLink(link[2]!) && (link[1] !== undefined || !link[3]!.split(',').includes('UP'));
  const t = line.trim().split(/\s+/);
  if (t[0] === 'Deleted') t.shift();
  const table = t.indexOf('table');
  if (table >= 0 && t[table + 1] !== 'main') return false;
  if (t.includes('via')) return false;
  if (NOT_UNICAST.has(t[0] ?? '')) return true;
  if (t[0] === 'unicast') t.shift();
  const dev = t.indexOf('dev');
  if (dev < 0 || !t[0]) return true;
  return !own(t[dev + 1] ?? '', t[0].includes('/') ? t[0] : `${t[0]}/32`);
}

export const MAX_AGE_MS = 10_000;
/** the time the monitor may take to subscribe after it started: a read before then is not kept */
export const SUBSCRIBE_MS = 200;
const RESTART_MS = 1_000;

export class OnLinkRoutes {
  private kept: { routes: Prefix[]; at: number } | undefined;
  private watch: RouteWatch | undefined;
  private since = 0;
  /** changes seen: a read that saw one begin meanwhile is not kept */
  private changes = 0;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly exec: Executor,
    private readonly own: OwnRoute,
    /** a bridge of cnmd's: its going down or away changes none of the routes read here */
    private readonly ownLink: (name: string) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the monitor (when the executor has one); until then every read reads the kernel's table. */
  start(): void {
    this.stopped = false;
    this.timer = undefined;
    const watch = this.exec.watchRoutes?.(
      (line) => {
        if (routeLineMatters(line, this.own, this.ownLink)) this.forget();
      },
      () => {
        this.watch = undefined;
        this.forget();
        if (!this.stopped) this.timer = setTimeout(() => this.start(), RESTART_MS).unref();
      },
    );
    if (watch && !this.stopped) (this.watch = watch), (this.since = this.now());
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watch?.stop();
    this.watch = undefined;
    this.forget();
  }

  private forget(): void {
    this.changes += 1;
    this.kept = undefined;
  }

  /** The host's on-link IPv4 routes, other than the kernel's routes for cnmd's own subnets. */
  async read(): Promise<Prefix[]> {
    const at = this.now();
    if (this.kept && this.watch && at - this.kept.at < MAX_AGE_MS) return this.kept.routes;
    const watched = this.watch !== undefined && at - this.since >= SUBSCRIBE_MS;
    const changes = this.changes;
    const text = (await this.exec.readFile('/proc/net/route')) ?? '';
    const routes = parseProcNetRoute(text, this.own);
    if (watched && this.watch && changes === this.changes) this.kept = { routes, at };
    return routes;
  }
}
