/**
 * Docker's stream formats and detach keys. Pure.
 *
 * Without a terminal, stdout and stderr share one connection as frames: a header of 8 bytes (the
 * stream: 1 stdout, 2 stderr; three zero bytes; the length, 4 bytes big-endian), then the data. With a
 * terminal the bytes go as they are.
 */
import { invalid } from '../errors.js';

export function frame(stream: 1 | 2, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, data]);
}

/** ctrl-p, ctrl-q: Docker's default */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Docker's detach-key syntax: a comma-separated list of single characters or ctrl-<key>. */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim();
    if (k.length === 1) out.push(k.charCodeAt(0));
    else if (/^ctrl-[a-z@\[\\\]^_]$/.test(k)) {
      const c = k.slice(5);
      out.push(c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 }[c]!);
    } else throw invalid(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(out);
}

/**
 * Watches input for the detach sequence. feed() returns the bytes to pass on (a partial sequence is
 * held back until it is complete or broken) and whether the sequence was typed.
 */
export class DetachScanner {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  feed(chunk: Buffer): { pass: Buffer; detach: boolean } {
    if (!this.keys.length) return { pass: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        if (++this.held === this.keys.length) return { pass: Buffer.from(out), detach: true };
        continue;
      }
      // a broken sequence: what was held back was ordinary input after all
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
