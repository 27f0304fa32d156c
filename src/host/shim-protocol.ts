/**
 * The frames between the daemon and a shim on the shim's control socket: a type byte, a 4-byte
 * big-endian length, the payload. Pure.
 */
export const FRAME = {
  /** daemon -> shim: bytes for the command's stdin */
  stdin: 0,
  /** daemon -> shim: the terminal's size (u16 cols, u16 rows) */
  resize: 1,
  /** daemon -> shim: end of stdin */
  closeStdin: 2,
  /** shim -> daemon, first on every connection: JSON {"pid"} of the command */
  hello: 16,
  /** shim -> daemon: JSON {"exitCode"}, then the shim exits */
  exit: 17,
} as const;

export function encodeFrame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export const resizePayload = (cols: number, rows: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(cols, 0);
  b.writeUInt16BE(rows, 2);
  return b;
};

/** Splits a byte stream into frames; feed() returns the complete ones. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): Array<{ type: number; payload: Buffer }> {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Array<{ type: number; payload: Buffer }> = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) break;
      out.push({ type: this.buf[0], payload: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}
