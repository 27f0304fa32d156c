/**
 * Who may do what, on every listener. A request is refused (403) when a browser could have sent it
 * (an Origin header; over TCP, a Host that is neither a loopback name, an address nor a name given
 * with --allowed-host: DNS rebinding), or when its client's role does not allow it. Clients are
 * named by their certificate's Common Name (TLS), or are the unix socket or plain loopback TCP
 * (admin: the socket's mode and the loopback address are their gate). Every mutating request is
 * logged with its client.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Role } from '../config.js';
import { forbidden } from '../errors.js';
import { requestRule, type AccessRequest } from './roles.js';

export interface ClientConnection {
  /** the certificate's Common Name; 'unix socket'; 'tcp ADDRESS' */
  name: string;
  via: 'unix' | 'tls' | 'tcp';
}

export interface AccessOptions {
  /** a role per certificate Common Name; empty: every verified client is admin (dockerd's behaviour) */
  authz: Record<string, Role>;
  allowedHosts: string[];
  /** whether the container named or id'd runs a process (a command); undefined: no such container */
  runsProcess: (ref: string) => boolean | undefined;
  /** who is at the other end; default: from the socket (tests give their own) */
  identify?: (req: IncomingMessage) => ClientConnection;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the client and its role ('none': an unlisted name, refused at once), set before routing goes on */
    client: { name: string; via: ClientConnection['via']; role: Role | 'none' };
  }
}

export function connectionOf(req: IncomingMessage): ClientConnection {
  const socket = req.socket as TLSSocket;
  if (socket.encrypted) {
    const cn = socket.getPeerCertificate()?.subject?.CN;
    return { name: Array.isArray(cn) ? cn[0] : cn ?? '', via: 'tls' };
  }
  if (!socket.remoteAddress) return { name: 'unix socket', via: 'unix' };
  return { name: `tcp ${socket.remoteAddress}`, via: 'tcp' };
}

/** Host names a browser cannot be made to send to us by DNS rebinding. */
export function hostAllowed(host: string | undefined, allowed: readonly string[]): boolean {
  if (!host) return true;
  const name = (host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')).toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0 || allowed.some((a) => a.toLowerCase() === name);
}

const MUTATING = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export function installAccess(app: FastifyInstance, o: AccessOptions): void {
  const identify = o.identify ?? connectionOf;
  const deny = (req: FastifyRequest, why: string) => {
    req.log.warn({ client: req.client?.name, role: req.client?.role, method: req.method, url: req.url, why }, 'request denied');
    return forbidden(`authorization denied by cnmd: ${why}`);
  };
  app.decorateRequest('client', undefined as unknown as FastifyRequest['client']);
  app.addHook('onRequest', async (req) => {
    const conn = identify(req.raw);
    const role: Role | undefined = conn.via !== 'tls' || !Object.keys(o.authz).length ? 'admin' : o.authz[conn.name];
    req.client = { ...conn, role: role ?? 'none' };
    if (req.headers.origin !== undefined) throw deny(req, `requests from web browsers are refused (Origin: ${String(req.headers.origin).slice(0, 100)})`);
    if (conn.via !== 'unix' && !hostAllowed(req.headers.host, o.allowedHosts)) {
      throw deny(req, `Host "${String(req.headers.host).slice(0, 100)}" is not a loopback name, an address or a name given with --allowed-host`);
    }
    if (!role) throw deny(req, `client "${conn.name}" has no role (give it one with --authz NAME=ROLE)`);
  });
  app.addHook('preValidation', async (req) => {
    const { role, name } = req.client;
    if (role === 'admin' || role === 'none' || !req.routeOptions.url) return;
    const r: AccessRequest = { method: req.method, route: req.routeOptions.url, params: req.params as Record<string, string>, body: req.body, runsProcess: o.runsProcess };
    const refusal = requestRule(role, r);
    if (refusal) throw deny(req, `client "${name}" (role ${role}) may not ${refusal}`);
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!MUTATING.has(req.method)) return;
    req.log.info({ client: req.client?.name, via: req.client?.via, role: req.client?.role, method: req.method, url: req.url, status: reply.statusCode }, 'request');
  });
}
