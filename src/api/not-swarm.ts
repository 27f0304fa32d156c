/**
 * What an engine outside a swarm answers, route by route and text by text (as a Docker engine that
 * is not a swarm member does), so that clients that probe or tear down swarm objects (the SDKs'
 * `swarm/leave?force=True`) carry on; `swarm init` and `join` are refused with a pointer to cnmd's
 * own way across hosts. Plugins, registries and BuildKit sessions: what Docker says without them, or
 * a 501 that says why.
 */
import type { FastifyPluginAsync } from 'fastify';
import { DomainError, invalid, notFound, unavailable } from '../errors.js';

const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const NO_SWARM =
  'cnmd does not run swarm mode. For networks across hosts, start every cnmd with --cluster-store etcd://HOST:PORT ' +
  '--cluster-advertise ADDRESS and create overlay networks (docker network create -d overlay --attachable NAME)';
const notImplemented = (message: string) => new DomainError('notImplemented', message);

/** Docker parses ?version as an unsigned integer before it finds there is no swarm. */
function version(kind: string, v: unknown, text?: string): void {
  const s = v === undefined ? '' : String(v);
  if (!/^\d+$/.test(s)) throw invalid(text ?? `invalid ${kind} version '${s}': strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
}

export const notSwarmRoutes: FastifyPluginAsync = async (app) => {
  const tags = ['Swarm'];
  const s = (summary: string) => ({ schema: { tags, summary } });
  const manager = async () => {
    throw unavailable(NOT_MANAGER);
  };
  app.get('/swarm', s('503: not a swarm manager'), manager);
  app.get('/swarm/unlockkey', s('503: not a swarm manager'), manager);
  app.post('/swarm/unlock', s('503: not a swarm manager'), manager);
  app.post('/swarm/leave', s('503: this node is not part of a swarm'), async () => {
    throw unavailable('This node is not part of a swarm');
  });
  app.post('/swarm/init', s('501: cnmd does not run swarm mode (overlay networks on etcd instead)'), async () => {
    throw notImplemented(NO_SWARM);
  });
  app.post('/swarm/join', s('501: cnmd does not run swarm mode'), async () => {
    throw notImplemented(NO_SWARM);
  });
  app.post<{ Querystring: { version?: string } }>('/swarm/update', s('503: not a swarm manager'), async (req) => {
    version('swarm', req.query.version);
    return manager();
  });
  for (const [kind, base, text] of [
    ['node', '/nodes', undefined], ['service', '/services', undefined], ['secret', '/secrets', 'invalid secret version'], ['config', '/configs', 'invalid config version'],
  ] as const) {
    app.get(base, s('503: not a swarm manager'), manager);
    app.get(`${base}/:id`, s('503: not a swarm manager'), manager);
    app.delete(`${base}/:id`, s('503: not a swarm manager'), manager);
    if (kind !== 'node') app.post(`${base}/create`, s('503: not a swarm manager'), manager);
    app.post<{ Querystring: { version?: string } }>(`${base}/:id/update`, s('503: not a swarm manager'), async (req) => {
      version(kind, req.query.version, text);
      return manager();
    });
  }
  app.get('/tasks', s('503: not a swarm manager'), manager);
  app.get('/tasks/:id', s('503: not a swarm manager'), manager);
  for (const base of ['/services', '/tasks']) {
    app.get<{ Querystring: { stdout?: string; stderr?: string } }>(`${base}/:id/logs`, s('503: not a swarm manager'), async (req) => {
      // Docker answers 500 for this; it is the client's mistake
      if (!req.query.stdout && !req.query.stderr) throw invalid('Bad parameters: you must choose at least one stream');
      return manager();
    });
  }

  const ptags = ['Plugin'];
  app.get('/plugins', { schema: { tags: ptags, summary: 'No plugins: cnmd has its drivers built in' } }, async () => []);
  app.get<{ Params: { name: string } }>('/plugins/:name/json', { schema: { tags: ptags, summary: '404: no such plugin' } }, async (req) => {
    throw notFound(`plugin "${req.params.name}" not found`);
  });
  const noPlugins = async () => {
    throw notImplemented('cnmd does not run plugins: its network drivers (bridge, host, null, macvlan, overlay) are built in');
  };
  for (const url of ['/plugins/privileges', '/plugins/pull', '/plugins/create', '/plugins/:name/enable', '/plugins/:name/disable', '/plugins/:name/upgrade', '/plugins/:name/push', '/plugins/:name/set']) {
    app.route({ method: url === '/plugins/privileges' ? 'GET' : 'POST', url, schema: { tags: ptags, summary: '501: cnmd does not run plugins' }, handler: noPlugins });
  }
  app.delete('/plugins/:name', { schema: { tags: ptags, summary: '404: no such plugin' } }, async (req) => {
    throw notFound(`plugin "${(req.params as { name: string }).name}" not found`);
  });
  const noRegistry = async () => {
    throw notImplemented('cnmd does not talk to registries: it keeps no image layers (a container runs commands from the host\'s filesystem), so it needs no login and no manifests');
  };
  app.post('/auth', { schema: { tags: ['System'], summary: '501: cnmd does not talk to registries' } }, noRegistry);
  app.get('/distribution/*', { schema: { tags: ['Distribution'], summary: '501: cnmd does not talk to registries' } }, noRegistry);
  app.post('/session', { schema: { tags: ['Session'], summary: '501: cnmd does not build images (no BuildKit session)' } }, async () => {
    throw notImplemented('cnmd does not build images, so it runs no BuildKit session');
  });
};
