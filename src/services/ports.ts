/**
 * Published ports: what a container asks for (HostConfig.PortBindings, PublishAllPorts, ExposedPorts)
 * as a list of requests, with Docker's validation. Pure.
 */
import { invalid } from '../errors.js';
import { parseAddr } from '../ipam/cidr.js';
import { DEFAULT_LIMITS } from '../limits.js';

export interface PortRequest {
  proto: 'tcp' | 'udp';
  containerPort: number;
  hostIp: string;
  /** inclusive host port range; [0, 0] for any free ephemeral port */
  hostPorts: [number, number];
}

export type { PortBinding } from '../model.js';

const num = (s: string, spec: string) => {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw invalid(`invalid port specification: "${spec}"`);
  return n;
};

function parseKey(key: string): { proto: 'tcp' | 'udp'; ports: [number, number] } {
  const [ports, proto = 'tcp'] = key.split('/');
  if (proto === 'sctp') throw invalid('sctp ports are not supported by cnmd');
  if (proto !== 'tcp' && proto !== 'udp') throw invalid(`invalid proto: ${proto}`);
  const [lo, hi = lo] = ports.split('-');
  const range: [number, number] = [num(lo, lo), num(hi, ports)];
  if (range[1] < range[0]) throw invalid(`invalid port specification: "${ports}"`);
  return { proto, ports: range };
}

/**
 * Ports one container may publish by default (--limit published-ports=N): each is a held socket and a
 * firewall element. Docker has no cap (and one docker-proxy process per port); 4096 covers wide ranges
 * (RTP, passive FTP) and keeps `-p 1-65535:1-65535` from holding every port of the host.
 */
export const MAX_PUBLISHED_PORTS = DEFAULT_LIMITS.publishedPorts;

/** How many ports the bindings publish, counted before any range is expanded. */
function countPublished(bindings: Record<string, Array<unknown> | null>): number {
  let n = 0;
  for (const [key, list] of Object.entries(bindings)) {
    const { ports } = parseKey(key);
    n += (ports[1] - ports[0] + 1) * Math.max(1, list?.length ?? 1);
  }
  return n;
}

/** Every published port, one request per container port. */
export function portRequests(hostConfig: Record<string, any>, exposed: Record<string, unknown> | null | undefined, max = MAX_PUBLISHED_PORTS): PortRequest[] {
  const out: PortRequest[] = [];
  // every exposed port is one, published or not (a key is a port spec, nothing else)
  for (const key of Object.keys(exposed ?? {})) parseKey(key);
  const bindings = (hostConfig.PortBindings ?? {}) as Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;
  const asked = countPublished(bindings) + (hostConfig.PublishAllPorts ? countPublished(Object.fromEntries(Object.keys(exposed ?? {}).map((k) => [k, null]))) : 0);
  if (asked > max) {
    throw invalid(`too many published ports: this container asks for ${asked}, cnmd publishes at most ${max} per container (--limit published-ports)`);
  }
  for (const [key, list] of Object.entries(bindings)) {
    const { proto, ports } = parseKey(key);
    for (const b of list ?? [{}]) {
      const hostIp = b?.HostIp || '0.0.0.0';
      const ip = parseAddr(hostIp);
      if (!ip) throw invalid(`invalid IP address: ${hostIp}`);
      const hp = b?.HostPort ?? '';
      const [hlo, hhi] = hp ? hp.split('-').map((x) => num(x, hp)) : [0, 0];
      const hostRange: [number, number] = [hlo, hhi ?? hlo];
      const span = ports[1] - ports[0];
      for (let i = 0; i <= span; i++) {
        // 8000-8010:80 picks one port of the range; 8000-8002:80-82 maps them one to one
        const hostPorts: [number, number] = hlo === 0 ? [0, 0] : span > 0 && hostRange[1] - hostRange[0] === span ? [hostRange[0] + i, hostRange[0] + i] : hostRange;
        out.push({ proto, containerPort: ports[0] + i, hostIp, hostPorts });
      }
    }
  }
  if (hostConfig.PublishAllPorts) {
    for (const key of Object.keys(exposed ?? {})) {
      const { proto, ports } = parseKey(key);
      for (let p = ports[0]; p <= ports[1]; p++) {
        if (!out.some((r) => r.proto === proto && r.containerPort === p)) out.push({ proto, containerPort: p, hostIp: '0.0.0.0', hostPorts: [0, 0] });
      }
    }
  }
  return out;
}

export const portAllocatedError = (ip: string, port: number) => `Bind for ${ip}:${port} failed: port is already allocated`;
