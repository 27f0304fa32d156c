/**
 * A container's output is in its log files (stdout.log, stderr.log under its data directory), written
 * by the command itself or by its shim, so that it survives the daemon. Attach, `logs -f` and
 * `docker run` in the foreground follow those files.
 */
import { open, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';

export interface LogPaths {
  stdoutPath: string;
  stderrPath: string;
}

/** What was written to one log file from an offset on, read as it grows. */
export class LogFollower {
  private offset = 0;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly onData: (data: Buffer) => void,
  ) {}

  /** Starts at the file's current end ('end') or its beginning ('start'), and follows it. */
  async start(from: 'start' | 'end'): Promise<void> {
    if (from === 'end') this.offset = (await stat(this.path).catch(() => undefined))?.size ?? 0;
    this.timer = setInterval(() => this.poke(), 250);
    this.timer.unref();
    this.poke();
  }

  /** Reads what is there now (call when the writer is done, before close()). */
  drain(): Promise<void> {
    this.poke();
    return this.reading;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
  }

  private poke(): void {
    this.reading = this.reading.then(() => this.read());
  }

  private async read(): Promise<void> {
    if (this.closed) return;
    const file = await open(this.path, 'r').catch(() => undefined);
    if (!file) return;
    try {
      if (!this.watcher) {
        this.watcher = watch(this.path, () => this.poke());
        this.watcher.on('error', () => undefined);
      }
      for (;;) {
        const { size } = await file.stat();
        if (size < this.offset) this.offset = 0;
        if (size === this.offset) return;
        const buf = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
        const { bytesRead } = await file.read(buf, 0, buf.length, this.offset);
        if (!bytesRead) return;
        this.offset += bytesRead;
        if (!this.closed) this.onData(buf.subarray(0, bytesRead));
      }
    } finally {
      await file.close();
    }
  }
}

/** The last n lines of a text (docker logs --tail). */
export function lastLines(data: Buffer, n: number): Buffer {
  if (n < 0) return data;
  const lines = data.toString('utf8').split(/(?<=\n)/);
  return Buffer.from(lines.slice(Math.max(0, lines.length - n)).join(''));
}
