/**
 * Log rotation, as Docker's json-file driver is configured: `--log-opt max-size=10m --log-opt
 * max-file=3` (HostConfig.LogConfig). A container's command writes its log files itself (they
 * outlive the daemon), so the daemon rotates them by copy and truncate: every two seconds a file
 * past max-size becomes path.1 (path.1 becomes path.2, … up to max-file - 1 copies) and is emptied;
 * the command's appends go on at the start. A file may pass max-size by what two seconds write.
 */
import { copyFile, rename, stat, truncate } from 'node:fs/promises';
import { invalid } from '../errors.js';
import type { LogPaths } from './logs.js';

export interface LogOptions {
  /** bytes; undefined: the files grow without bound (Docker's default) */
  maxSize?: number;
  /** files kept per stream, the current one included */
  maxFile: number;
}

/** The options json-file takes (Docker refuses others with this text). */
const KNOWN = new Set(['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']);
/** the drivers whose options cnmd honours; others (syslog, journald, none, …) are recorded, and cnmd keeps its files as for json-file */
const DRIVERS = new Set(['', 'json-file', 'local']);
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker's units.RAMInBytes: 10m, 10MB, 1g, 512k, 1048576. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgt])?i?b?$/i.exec(text);
  if (!m) throw invalid(`invalid size: '${text}'`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
}

/** HostConfig.LogConfig as rotation options; a 400 with Docker's text for what it would refuse. */
export function parseLogConfig(cfg: { Type?: string; Config?: Record<string, string> | null } | undefined | null): LogOptions {
  const type = cfg?.Type ?? '';
  if (!DRIVERS.has(type)) return { maxFile: 1 };
  const opts = cfg?.Config ?? {};
  for (const key of Object.keys(opts)) if (!KNOWN.has(key)) throw invalid(`unknown log opt '${key}' for json-file log driver`);
  const out: LogOptions = { maxFile: 1 };
  if (opts['max-size']) {
    out.maxSize = parseSize(opts['max-size']);
    if (out.maxSize < 1) throw invalid(`invalid size: '${opts['max-size']}'`);
  }
  if (opts['max-file'] !== undefined && opts['max-file'] !== '') {
    const n = Number(opts['max-file']);
    if (!/^-?\d+$/.test(opts['max-file'])) throw invalid(`strconv.Atoi: parsing "${opts['max-file']}": invalid syntax`);
    if (n < 1) throw invalid('max-file cannot be less than 1');
    if (n > 1 && out.maxSize === undefined) throw invalid('max-file cannot be set without max-size');
    out.maxFile = n;
  }
  return out;
}

/** A container's rotation options; a container recorded before they were checked gets none. */
export function logOptionsOf(c: { hostConfig: Record<string, unknown> }): LogOptions {
  try {
    return parseLogConfig(c.hostConfig.LogConfig as Parameters<typeof parseLogConfig>[0]);
  } catch {
    return { maxFile: 1 };
  }
}

/** Rotates one log file when it is past maxSize; true when it did. */
export async function rotateIfFull(path: string, o: LogOptions): Promise<boolean> {
  if (o.maxSize === undefined) return false;
  const size = (await stat(path).catch(() => undefined))?.size ?? 0;
  if (size < o.maxSize) return false;
  for (let i = o.maxFile - 1; i >= 2; i--) await rename(`${path}.${i - 1}`, `${path}.${i}`).catch(() => undefined);
  if (o.maxFile > 1) await copyFile(path, `${path}.1`);
  await truncate(path, 0);
  return true;
}

/** Every two seconds: the logs of the running containers that have max-size. */
export class LogRotator {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly running: () => Array<{ paths: LogPaths; options: LogOptions }>) {}

  start(intervalMs = 2000): void {
    this.timer = setInterval(() => void this.once(), intervalMs);
    this.timer.unref();
  }

  async once(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const { paths, options } of this.running()) {
        if (options.maxSize === undefined) continue;
        for (const p of [paths.stdoutPath, paths.stderrPath]) await rotateIfFull(p, options).catch(() => undefined);
      }
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
