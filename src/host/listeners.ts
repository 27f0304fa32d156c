/**
 * The API's listeners, as dockerd makes them: unix sockets owned by root and a group (mode 0660,
 * set before anyone else can connect), and tcp:// addresses over TLS 1.2+ with client certificates
 * (--tlsverify), or, only on loopback and only with --tls=false, plain HTTP.
 */
import http from 'node:http';
import https from 'node:https';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RequestListener, Server } from 'node:http';
import type { Config } from '../config.js';

export interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Reads the TLS files named by the configuration; a missing or unreadable one is an error naming it. */
export function readTlsFiles(cfg: Pick<Config, 'tlsCaCert' | 'tlsCert' | 'tlsKey'>): TlsFiles {
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`could not read --${flag} ${path}: ${(e as Error).message}`);
    }
  };
  return { ca: read('tlscacert', cfg.tlsCaCert), cert: read('tlscert', cfg.tlsCert), key: read('tlskey', cfg.tlsKey) };
}

/** A server for one -H address: HTTPS with client verification for tcp:// when TLS is on. */
export function serverFor(host: string, handler: RequestListener, tls: TlsFiles | undefined): Server {
  if (!host.startsWith('tcp://') || !tls) return http.createServer(handler);
  return https.createServer(
    { ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    handler,
  ) as unknown as Server;
}

/** The gid of the sockets' group: the named one (an error if it does not exist), else `cnmd` if it exists, else root. */
export function socketGroup(name: string | undefined, instance: string, groupFile = '/etc/group'): number {
  const text = existsSync(groupFile) ? readFileSync(groupFile, 'utf8') : '';
  const gidOf = (n: string) => {
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f[0] === n && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
    }
    return undefined;
  };
  if (name !== undefined) {
    const gid = /^\d+$/.test(name) ? Number(name) : gidOf(name);
    if (gid === undefined) throw new Error(`can't create the unix socket: group ${name} not found`);
    return gid;
  }
  return gidOf(instance) ?? 0;
}

/** Listens on a unix socket: bound 0600 to root, given to the group, then opened to it (0660). */
export async function listenUnix(server: Server, path: string, gid: number): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) unlinkSync(path);
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  } finally {
    process.umask(umask);
  }
  chownSync(path, 0, gid);
  chmodSync(path, 0o660);
}

export async function listenTcp(server: Server, host: string): Promise<void> {
  const u = new URL(host.replace(/^tcp:/, 'http:'));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''), resolve));
}
