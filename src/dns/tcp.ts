/** One DNS exchange over TCP (RFC 7766: a two-byte length before each message), on a connected socket. */
import type { Socket } from 'node:net';

/** Largest message over TCP (the length is 16 bits). */
const MAX = 0xffff;

/** Sends msg on sock and resolves with the reply, or undefined (closed, timed out); the socket is closed after. */
export function exchangeTcp(sock: Socket, msg: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (r: Buffer | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      else if (buf.length > MAX + 2) done(undefined);
    });
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(undefined));
    const head = Buffer.alloc(2);
    head.writeUInt16BE(msg.length);
    sock.write(Buffer.concat([head, msg]));
  });
}
