/**
 * The roles of --authz, as data. viewer: reads (GET and HEAD) except the files of containers
 * (a container's filesystem is the host's). network: a viewer that also builds topologies: networks,
 * and sandboxes without a process (no command, environment, health check, exec or attach; no host
 * network, no bind mounts; adopted namespaces only from /run/netns/). admin: everything. Pure.
 */
import type { Role } from '../config.js';

export interface AccessRequest {
  method: string;
  /** the route's pattern, as registered (/containers/:id/start) */
  route: string;
  params: Record<string, string> | undefined;
  body: unknown;
  runsProcess: (ref: string) => boolean | undefined;
}

/** Reads a viewer may not make: a container's files are the host's. */
const HOST_FILES = new Set(['/containers/:id/archive', '/containers/:id/export', '/containers/:id/attach/ws']);

/** What the network role may change, beyond reads: networks, and sandboxes. */
const NETWORK_ROUTES = new Set([
  'POST /networks/create', 'DELETE /networks/:id', 'POST /networks/prune', 'POST /networks/:id/connect', 'POST /networks/:id/disconnect',
  'POST /containers/create', 'POST /containers/:id/connect', 'POST /containers/:id/disconnect',
  'POST /containers/:id/start', 'POST /containers/:id/restart', 'POST /containers/:id/stop', 'POST /containers/:id/kill',
  'POST /containers/:id/wait', 'DELETE /containers/:id', 'DELETE /containers/*',
]);
/** Routes of the network role that act on a container: only on one without a process. */
const ON_SANDBOX = new Set(['POST /containers/:id/start', 'POST /containers/:id/restart', 'POST /containers/:id/stop', 'POST /containers/:id/kill', 'DELETE /containers/:id', 'DELETE /containers/*']);

const nonEmpty = (v: unknown) => (Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null && v !== '');

/** The first field of a create request that the network role may not set, with why. */
export function processField(body: Record<string, any>): string | undefined {
  const hc: Record<string, any> = body.HostConfig ?? {};
  if (nonEmpty(body.Cmd)) return 'Cmd';
  if (nonEmpty(body.Entrypoint)) return 'Entrypoint';
  if (nonEmpty(body.Env)) return 'Env';
  const test = body.Healthcheck?.Test;
  if (nonEmpty(test) && !(Array.isArray(test) && test[0] === 'NONE')) return 'Healthcheck';
  if (hc.NetworkMode === 'host') return 'HostConfig.NetworkMode';
  if (nonEmpty(hc.Binds)) return 'HostConfig.Binds';
  if (nonEmpty(hc.Mounts)) return 'HostConfig.Mounts';
  if (nonEmpty(body.SandboxKey) && !(typeof body.SandboxKey === 'string' && /^\/run\/netns\/[^/]+$/.test(body.SandboxKey))) return 'SandboxKey';
  return undefined;
}

/** Why the role may not make this request (a phrase after "may not"), or undefined when it may. */
export function requestRule(role: Role, r: AccessRequest): string | undefined {
  const what = `${r.method} ${r.route}`;
  if (role === 'admin') return undefined;
  const read = r.method === 'GET' || r.method === 'HEAD';
  if (read && !HOST_FILES.has(r.route)) return undefined;
  if (role === 'viewer' || !NETWORK_ROUTES.has(what)) return what;
  if (what === 'POST /containers/create') {
    const field = processField((r.body ?? {}) as Record<string, any>);
    return field && `set ${field} in ${what}: that role makes sandboxes without a process`;
  }
  if (ON_SANDBOX.has(what)) {
    const ref = r.params?.id ?? r.params?.['*'] ?? '';
    if (r.runsProcess(ref)) return `${what} on a container that runs a command`;
  }
  return undefined;
}
