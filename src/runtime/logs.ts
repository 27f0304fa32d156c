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
  private paused = false;

  constructor(
    private readonly path: string,
    private readonly onData: (data: Buffer) => void,
  ) {}

  /** Starts at the file's current end ('end'), its beginning ('start') or an offset, and follows it. */
  async start(from: 'start' | 'end' | number): Promise<void> {
    if (from === 'end') this.offset = (await stat(this.path).catch(() => undefined))?.size ?? 0;
    else if (typeof from === 'number') this.offset = from;
    this.timer = setInterval(() => this.poke(), 250);
    this.timer.unref();
    this.poke();
  }

  /** Reads what is there now (call when the writer is done, before close()). */
  drain(): Promise<void> {
    this.paused = false;
    this.poke();
    return this.reading;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
  }

  /** The receiver is full: stop reading until resume() (the file keeps what it is not sent yet). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.poke();
  }

  private poke(): void {
    this.reading = this.reading.then(() => this.read());
  }

  private async read(): Promise<void> {
    if (this.closed || this.paused) return;
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
        if (this.paused) return;
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

/** What `docker logs` reads at a time: a log of any size costs this much memory. */
export const LOG_CHUNK = 64 * 1024;

/** The files of one stream, oldest first: rotated ones (path.N … path.1) that exist, then path. */
export async function logFiles(path: string, keep: number): Promise<string[]> {
  const rotated: string[] = [];
  for (let i = keep - 1; i >= 1; i--) if (await stat(`${path}.${i}`).catch(() => undefined)) rotated.push(`${path}.${i}`);
  return [...rotated, path];
}

export interface LogPosition {
  /** index into the files */
  file: number;
  offset: number;
}

/** Where the last n lines of the files (oldest first) begin, read backwards a chunk at a time; n < 0: the start. */
export async function tailStart(files: string[], n: number): Promise<LogPosition> {
  if (n < 0) return { file: 0, offset: 0 };
  const sizes = await Promise.all(files.map(async (f) => (await stat(f).catch(() => undefined))?.size ?? 0));
  if (n === 0) return { file: files.length - 1, offset: sizes[files.length - 1] };
  let need = n;
  let lastByte = true;
  const buf = Buffer.alloc(LOG_CHUNK);
  for (let i = files.length - 1; i >= 0; i--) {
    if (!sizes[i]) continue;
    const file = await open(files[i], 'r').catch(() => undefined);
    if (!file) continue;
    try {
      let end = sizes[i];
      while (end > 0) {
        const len = Math.min(LOG_CHUNK, end);
        const { bytesRead } = await file.read(buf, 0, len, end - len);
        for (let j = bytesRead - 1; j >= 0; j--) {
          if (buf[j] !== 0x0a) {
            lastByte = false;
            continue;
          }
          // the newline that ends the last line separates nothing
          if (lastByte) {
            lastByte = false;
            continue;
          }
          if (--need === 0) return { file: i, offset: end - len + j + 1 };
        }
        end -= len;
      }
    } finally {
      await file.close();
    }
  }
  return { file: 0, offset: 0 };
}

/**
 * Streams the files from a position on, a chunk at a time; send resolves when the receiver can take
 * more (backpressure), false when it is gone. Returns the size the last file had when it was read.
 */
export async function streamLogs(files: string[], from: LogPosition, send: (data: Buffer) => Promise<boolean>): Promise<number> {
  const buf = Buffer.alloc(LOG_CHUNK);
  let lastSize = 0;
  for (let i = from.file; i < files.length; i++) {
    const file = await open(files[i], 'r').catch(() => undefined);
    if (!file) continue;
    try {
      const size = (await file.stat()).size;
      if (i === files.length - 1) lastSize = size;
      let pos = i === from.file ? from.offset : 0;
      while (pos < size) {
        const { bytesRead } = await file.read(buf, 0, Math.min(LOG_CHUNK, size - pos), pos);
        if (!bytesRead) break;
        pos += bytesRead;
        if (!(await send(Buffer.from(buf.subarray(0, bytesRead))))) return lastSize;
      }
    } finally {
      await file.close();
    }
  }
  return lastSize;
}
