/**
 * Docker's hijacked connections (attach, exec start): the client asks to upgrade (`Connection:
 * Upgrade`, `Upgrade: tcp`), the server answers `101 UPGRADED` and the connection carries raw bytes
 * both ways. Node hands such requests to the server's 'upgrade' listener with the parser detached;
 * acceptUpgrades() puts them through the ordinary request handler (routing, version prefix, errors)
 * with their JSON body, and the route takes the socket over with hijack().
 */
import http, { type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientIO } from '../runtime/attach.js';
import { dockerHeaders } from './version.js';

/** Reads exactly n bytes of body from what came with the headers and then from the socket. */
function readBody(socket: Duplex, head: Buffer, n: number): Promise<{ body: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = head;
    const done = () => {
      socket.off('data', onData);
      socket.off('error', reject);
      socket.pause();
      resolve({ body: buf.subarray(0, n), rest: buf.subarray(n) });
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= n) done();
    };
    if (buf.length >= n) return done();
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

export function acceptUpgrades(server: Server, handler: RequestListener): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const n = Number(req.headers['content-length'] ?? 0) || 0;
    // The client half-closes when its input ends (over TLS with a close_notify): the output goes on.
    socket.allowHalfOpen = true;
    socket.on('error', () => socket.destroy());
    void readBody(socket, head, n).then(({ body, rest }) => {
      if (rest.length) socket.unshift(rest);
      // the parser is gone and the request stream ended: the route reads the body through upgradedBody()
      bodies.set(req, body);
      const res = new http.ServerResponse(req);
      res.assignSocket(socket as import('node:net').Socket);
      res.shouldKeepAlive = false;
      // an ordinary answer (an error before the route took the socket) closes the connection
      res.on('finish', () => {
        if (!upgraded.has(socket)) socket.end();
      });
      handler(req, res);
    }, () => socket.destroy());
  });
}

const upgraded = new WeakSet<Duplex>();
const bodies = new WeakMap<IncomingMessage, Buffer>();

/** A preParsing hook: the body of an upgraded request, read with its headers, as the payload. */
export function upgradedBody(req: FastifyRequest, payload: Readable): Readable {
  const body = bodies.get(req.raw);
  if (!body) return payload;
  bodies.delete(req.raw);
  return Object.assign(Readable.from(body.length ? [body] : []), { receivedEncodedLength: body.length });
}

/** Whether the client asked for an upgraded connection. */
export const wantsUpgrade = (req: FastifyRequest) => /upgrade/i.test(String(req.headers.connection ?? '')) && !!req.headers.upgrade;

/**
 * Takes the connection over: `101 UPGRADED` and the raw socket both ways when the client asked for
 * an upgrade; else a streamed 200 response carrying the output only.
 */
export function hijack(req: FastifyRequest, reply: FastifyReply, contentType: string): ClientIO {
  void reply.hijack();
  if (wantsUpgrade(req)) {
    const socket = req.raw.socket;
    upgraded.add(socket);
    const headers = { ...dockerHeaders(contentType), Connection: 'Upgrade', Upgrade: 'tcp' };
    socket.write(`HTTP/1.1 101 UPGRADED\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    // paused: the session resumes it once it listens, so that input sent with the request is not lost
    return { output: socket, input: socket };
  }
  reply.raw.writeHead(200, dockerHeaders(contentType));
  reply.raw.flushHeaders();
  return { output: reply.raw };
}

/** The stream type of attach and exec output: multiplexed without a terminal (from API 1.42), raw otherwise. */
export const streamType = (tty: boolean, apiVersion: number) =>
  !tty && apiVersion >= 1.42 ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
