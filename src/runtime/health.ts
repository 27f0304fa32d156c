/**
 * Health checks (Config.Healthcheck) with Docker's rules (moby daemon/health.go): the test runs in
 * the container's namespaces every interval (the start interval while it starts), a result of 0 is
 * healthy, Retries failures in a row are unhealthy (failures within the start period do not count),
 * the last five results are kept, and a change of status is a `health_status: …` event.
 */
import type { Container, ContainerHealth } from '../model.js';
import { invalid } from '../errors.js';
import { formatRfc3339Nano, nowNs } from '../ids.js';
import { KeyedTimers } from './timers.js';

export interface HealthSpec {
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

const NS = 1e6;
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

/** Config.Healthcheck as Docker reads it; undefined for none (absent, [], NONE). Throws Docker's 400s. */
export function parseHealthcheck(v: unknown): HealthSpec | undefined {
  if (v == null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('invalid Healthcheck: expected an object');
  const h = v as { Test?: unknown; Interval?: unknown; Timeout?: unknown; StartPeriod?: unknown; StartInterval?: unknown; Retries?: unknown };
  const duration = (key: string, x: unknown, fallback: number) => {
    if (x == null || x === 0) return fallback;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw invalid(`${key} in Healthcheck cannot be negative`);
    if (x < NS) throw invalid(`${key} in Healthcheck cannot be less than 1ms`);
    return x / NS;
  };
  const spec = {
    intervalMs: duration('Interval', h.Interval, 30_000),
    timeoutMs: duration('Timeout', h.Timeout, 30_000),
    startPeriodMs: duration('StartPeriod', h.StartPeriod, 0),
    startIntervalMs: duration('StartInterval', h.StartInterval, 5000),
    retries: 3,
  };
  if (h.Retries != null) {
    if (typeof h.Retries !== 'number' || !Number.isInteger(h.Retries) || h.Retries < 0) throw invalid('Retries in Healthcheck cannot be negative');
    if (h.Retries > 0) spec.retries = h.Retries;
  }
  const test = h.Test;
  if (test == null || (Array.isArray(test) && test.length === 0)) return undefined;
  if (!Array.isArray(test) || test.some((x) => typeof x !== 'string' || x.includes('\0'))) throw invalid('invalid Healthcheck: Test must be a list of strings');
  switch (test[0]) {
    case 'NONE':
      return undefined;
    case 'CMD':
      if (test.length < 2) throw invalid('invalid Healthcheck: CMD needs a command');
      return { ...spec, argv: test.slice(1) };
    case 'CMD-SHELL':
      if (test.length !== 2) throw invalid('invalid Healthcheck: CMD-SHELL takes one command line');
      return { ...spec, argv: ['/bin/sh', '-c', test[1]] };
    default:
      throw invalid(`invalid Healthcheck: unknown type ${test[0]}`);
  }
}

export interface ProbeResult {
  exitCode: number;
  output: string;
}

/** The next health after a probe: Docker's rules. */
export function afterProbe(h: ContainerHealth, r: ProbeResult & { start: string; end: string }, spec: HealthSpec, startedAt: string): ContainerHealth {
  const Log = [...h.Log, { Start: r.start, End: r.end, ExitCode: r.exitCode, Output: r.output.slice(0, MAX_OUTPUT) }].slice(-MAX_LOG);
  if (r.exitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  const inStartPeriod = h.Status === 'starting' && Date.parse(r.start) - Date.parse(startedAt) < spec.startPeriodMs;
  if (inStartPeriod) return { ...h, Log };
  const FailingStreak = h.FailingStreak + 1;
  return { Status: FailingStreak >= spec.retries ? 'unhealthy' : h.Status, FailingStreak, Log };
}

export interface HealthDeps {
  /** runs the test in the container's namespaces; a timeout ends it */
  probe: (c: Container, argv: string[], timeoutMs: number) => Promise<ProbeResult>;
  /** the container as the store has it now */
  current: (id: string) => Container | undefined;
  /** records a new health (while the container runs); false when it no longer does */
  record: (id: string, h: ContainerHealth) => boolean;
  emit: (c: Container, status: string) => void;
}

export class HealthMonitor {
  /** a pending probe per container, and the containers whose checks run (a probe of one stopped meanwhile is dropped) */
  private readonly timers = new KeyedTimers();
  private readonly active = new Set<string>();

  constructor(private readonly d: HealthDeps) {}

  /** A container (re)started: its health starts over, and the first test runs after an interval. */
  start(c: Container): void {
    this.stop(c.id);
    const spec = parseHealthcheck(c.config.Healthcheck);
    if (!spec) return;
    if (!this.d.record(c.id, { Status: 'starting', FailingStreak: 0, Log: c.health?.Log ?? [] })) return;
    this.active.add(c.id);
    this.schedule(c.id, spec);
  }

  private schedule(id: string, spec: HealthSpec): void {
    const c = this.d.current(id);
    if (!c || c.state !== 'running') return;
    const starting = c.health?.Status === 'starting' && Date.now() - Date.parse(c.startedAt) < spec.startPeriodMs;
    this.timers.schedule(id, starting ? spec.startIntervalMs : spec.intervalMs, () => void this.run(id, spec));
  }

  private async run(id: string, spec: HealthSpec): Promise<void> {
    const c = this.d.current(id);
    if (!c || c.state !== 'running' || !this.active.has(id)) return;
    const start = formatRfc3339Nano(nowNs());
    const r = await this.d.probe(c, spec.argv, spec.timeoutMs).catch((e: Error) => ({ exitCode: -1, output: e.message }));
    const now = this.d.current(id);
    if (!now || now.state !== 'running' || !this.active.has(id)) return;
    const before = now.health ?? { Status: 'starting' as const, FailingStreak: 0, Log: [] };
    const after = afterProbe(before, { ...r, start, end: formatRfc3339Nano(nowNs()) }, spec, now.startedAt);
    if (!this.d.record(id, after)) return;
    if (after.Status !== before.Status) this.d.emit(now, after.Status);
    this.schedule(id, spec);
  }

  stop(id: string): void {
    this.active.delete(id);
    this.timers.cancel(id);
  }

  close(): void {
    this.active.clear();
    this.timers.close();
  }
}
