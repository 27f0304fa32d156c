/**
 * WireGuard operations as data, and their argv: the only place that writes wireguard-go or wg
 * arguments. Every value is checked against the one shape cnmd writes before anything runs; the
 * private key is only ever named by its file (never in argv, where `ps` would show it).
 */
import { refuse, hostPath } from './text-gate.js';

export interface WireguardPeer {
  publicKey: string;
  /** the peer's underlay address and port */
  endpoint: string;
  /** its tunnel address, /128: the only source WireGuard accepts from it */
  allowedIp: string;
}

/** What a WireGuard link of cnmd's is set to. */
export interface WireguardConfig {
  /** the private key's file (0600 under the data root) */
  keyFile: string;
  /** the public key of that private key: what the link reports when it has it */
  publicKey: string;
  port: number;
  peers: WireguardPeer[];
}

export type WgOp =
  /** the link made by wireguard-go (no WireGuard in the kernel): it holds the link; deleting the link ends it */
  | { op: 'start'; dev: string }
  /** key, port and these peers set; the listed peers removed */
  | { op: 'set'; dev: string; config: WireguardConfig; remove: string[] };

const DEV = /^wg[0-9a-f]{13}$/;
/** A WireGuard key as wg prints it: 32 bytes in base64 (44 characters, the last one '='). */
export const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const ENDPOINT = /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;
const ALLOWED = /^[0-9a-f:]{2,39}\/128$/;

function check(ok: boolean, what: string, value: string): void {
  if (!ok) refuse('wg', `${what} ${value}`);
}

/** The command of an operation: wireguard-go DEV, or wg set DEV … */
export function wgCommand(o: WgOp): { file: string; args: string[] } {
  check(DEV.test(o.dev), 'link', o.dev);
  if (o.op === 'start') return { file: 'wireguard-go', args: [o.dev] };
  const c = o.config;
  hostPath(c.keyFile);
  check(Number.isInteger(c.port) && c.port > 0 && c.port < 65536, 'port', String(c.port));
  const args = ['set', o.dev, 'listen-port', String(c.port), 'private-key', c.keyFile];
  for (const p of c.peers) {
    check(WIREGUARD_KEY.test(p.publicKey) && ENDPOINT.test(p.endpoint) && ALLOWED.test(p.allowedIp), 'peer', `${p.publicKey} ${p.endpoint} ${p.allowedIp}`);
    args.push('peer', p.publicKey, 'endpoint', p.endpoint, 'allowed-ips', p.allowedIp);
  }
  for (const k of o.remove) {
    check(WIREGUARD_KEY.test(k), 'peer', k);
    args.push('peer', k, 'remove');
  }
  return { file: 'wg', args };
}

/** For the command log: what runs (the key is a file name). */
export function describeWg(o: WgOp): string {
  const c = wgCommand(o);
  return [c.file, ...c.args].join(' ');
}

/** A WireGuard link as `wg show all dump` reports it. */
export interface WireguardState {
  publicKey: string;
  port: number;
  /** by public key */
  peers: Map<string, { endpoint: string; allowedIps: string[] }>;
}

/**
 * `wg show all dump`: per link a line "dev private public port fwmark", then per peer "dev public psk
 * endpoint allowed-ips handshake rx tx keepalive". The private key is dropped here. Pure.
 */
export function parseWgDump(text: string): Map<string, WireguardState> {
  const out = new Map<string, WireguardState>();
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length === 5) out.set(f[0], { publicKey: f[2], port: Number(f[3]), peers: new Map() });
    else if (f.length === 9) {
      out.get(f[0])?.peers.set(f[1], { endpoint: f[3] === '(none)' ? '' : f[3], allowedIps: f[4] === '(none)' ? [] : f[4].split(',') });
    }
  }
  return out;
}
