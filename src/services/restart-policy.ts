/**
 * Restart policies with Docker's rules (moby's restartmanager): which exit brings a container back,
 * and after how long. Pure.
 */
import { invalid } from '../errors.js';

export type PolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface RestartPolicy {
  name: PolicyName;
  /** on-failure: the most restarts (0: no limit) */
  maximumRetryCount: number;
}

/** HostConfig.RestartPolicy, with Docker's 400s. */
export function parseRestartPolicy(v: unknown): RestartPolicy {
  if (v == null) return { name: 'no', maximumRetryCount: 0 };
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('invalid restart policy: expected an object');
  const p = v as { Name?: unknown; MaximumRetryCount?: unknown };
  const name = p.Name == null || p.Name === '' ? 'no' : p.Name;
  const max = p.MaximumRetryCount == null ? 0 : p.MaximumRetryCount;
  if (typeof name !== 'string' || !['no', 'always', 'unless-stopped', 'on-failure'].includes(name)) {
    throw invalid(`invalid restart policy '${String(name)}'`);
  }
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 0) throw invalid('maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure') throw invalid(`maximum retry count can only be used with 'on-failure'`);
  return { name: name as PolicyName, maximumRetryCount: max };
}

/** Whether a container whose command just exited with code is started again. */
export function shouldRestart(p: RestartPolicy, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false;
  switch (p.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (p.maximumRetryCount === 0 || restartCount < p.maximumRetryCount);
    default:
      return false;
  }
}

/** Whether a container that is not running is started when the daemon starts. */
export function startsWithDaemon(p: RestartPolicy, manuallyStopped: boolean): boolean {
  return (p.name === 'always' && !manuallyStopped) || (p.name === 'unless-stopped' && !manuallyStopped);
}

export const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
/** a run at least this long starts the delays over */
const RESET_AFTER_MS = 10_000;

/** The delay before the next restart: doubling from 100 ms up to a minute, back to 100 ms after a run of 10 s. */
export function nextDelay(previousMs: number, ranForMs: number): number {
  if (ranForMs >= RESET_AFTER_MS || previousMs <= 0) return FIRST_DELAY_MS;
  return Math.min(previousMs * 2, MAX_DELAY_MS);
}
