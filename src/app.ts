/**
 * buildApp(deps): the Fastify application with every route, schema and hook; no I/O of its own.
 * main.ts listens; tests call inject().
 */
import { installLimits, type RequestLimits } from './api/limits.js';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { acceptUpgrades, upgradedBody } from './api/hijack.js';
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { packageFile } from './paths.js';
import { splitVersionPrefix, checkVersion, API_VERSION, CNMD_VERSION } from './api/version.js';
import { installErrorHandling } from './api/errors.js';
import { systemRoutes, type SystemRouteOptions } from './api/system.js';
import { networkRoutes, type NetworkRouteOptions } from './api/networks.js';
import { containerRoutes, type ContainerRouteOptions } from './api/containers.js';
import { eventRoutes } from './api/events.js';
import { imageRoutes, type ImageRouteOptions } from './api/images.js';
import { notSwarmRoutes } from './api/not-swarm.js';
import { volumeRoutes, type VolumeRouteOptions } from './api/volumes.js';
import { boolValue } from './api/query.js';
import { installAccess, type AccessOptions } from './api/access.js';
import type { Registry, Histogram } from 'prom-client';
import type { EventBus } from './services/events.js';
import { ErrorResponse } from './api/schemas/common.js';
import * as networkSchemas from './api/schemas/network.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the API version of this request: from its /v1.NN/ prefix, else the newest we speak */
    apiVersion: number;
  }
}

export interface AppDeps {
  system: SystemRouteOptions;
  networks: NetworkRouteOptions;
  containers?: ContainerRouteOptions;
  images?: ImageRouteOptions;
  volumes?: VolumeRouteOptions;
  events?: EventBus;
  /** the reconciler's last run, and with plan=true what a full run would do now */
  state?: (withPlan: boolean) => Promise<Record<string, unknown>>;
  metrics?: { registry: Registry; requests: Histogram<'method' | 'route' | 'status'>; refresh: () => void };
  logger?: FastifyBaseLogger;
  serverFactory?: FastifyServerOptions['serverFactory'];
  logRequests?: boolean;
  /** roles, browser guards and attribution (./api/access.ts); without it every request is admin */
  access?: AccessOptions;
  /** requests in progress and open streams at most (./api/limits.ts) */
  limits?: RequestLimits;
  /**
   * build the OpenAPI document from the routes (@fastify/swagger; `npm run openapi` and its test);
   * without it /openapi.json serves the one kept in openapi/, and the generator is never loaded
   */
  buildOpenapi?: boolean;
}

/** The OpenAPI document kept in the repository (written by `npm run openapi`, checked by a test). */
const OPENAPI_FILE = packageFile('openapi/openapi.json');

/** Docker's names are not limited in length: path parameters as long as a URL may be. */
const MAX_PARAM_LENGTH = 65_536;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const requestedVersion = new WeakMap<IncomingMessage, string>();
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: deps.logRequests !== true }),
    serverFactory: deps.serverFactory,
    // Docker clients send "/v1.41/networks"; strip the prefix before routing and remember it.
    rewriteUrl(req) {
      const { version, path } = splitVersionPrefix(req.url ?? '/');
      if (version !== undefined) requestedVersion.set(req, version);
      return path;
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    forceCloseConnections: true,
  });

  app.decorateRequest('apiVersion', 0);
  installErrorHandling(app);
  installLimits(app, deps.limits);
  if (deps.access) installAccess(app, deps.access);
  app.addHook('onRequest', async (req, reply) => {
    const check = checkVersion(requestedVersion.get(req.raw));
    if (!check.ok) {
      if (check.json) return reply.code(400).type('application/json').send({ message: check.message });
      return reply.code(400).type('text/plain; charset=utf-8').send(check.message + '\n');
    }
    req.apiVersion = check.version;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode !== 404 || req.routeOptions.url) {
      reply.header('Api-Version', API_VERSION);
      reply.header('Docker-Experimental', 'false');
      reply.header('Ostype', 'linux');
    }
    reply.header('Server', `cnmd/${CNMD_VERSION} (linux)`);
    // Docker clients only decode an error body whose Content-Type is exactly application/json.
    if (String(reply.getHeader('content-type') ?? '').startsWith('application/json')) reply.header('Content-Type', 'application/json');
    return payload;
  });

  // An empty JSON body means {} (as Docker ≥ 25 reads it); anything else must parse.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (!text.trim()) return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  // Any other Content-Type is fine without a body (the docker CLI sends text/plain with attach); with one, Docker's 400.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
    if (!(body as Buffer).length) return done(null, undefined);
    done(Object.assign(new Error(`Content-Type specified (${req.headers['content-type'] ?? ''}) must be 'application/json'`), { statusCode: 400 }), undefined);
  });

  // attach and exec start upgrade their connection: through the same routing as every request
  acceptUpgrades(app.server, (req, res) => app.routing(req, res));
  app.addHook('preParsing', async (req, _reply, payload) => upgradedBody(req, payload));
  // Response schemas document the API; bodies are written with JSON.stringify so that field order
  // (Docker's) and version-dependent fields stay exactly as the handlers build them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  if (deps.buildOpenapi) {
    const { default: swagger } = await import('@fastify/swagger');
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'cnmd: Docker Engine API for networks',
          description:
            'The subset of the Docker Engine API that cnmd implements, with cnmd extensions. ' +
            'Every route is also served under /v{version}/ (1.24 to ' + API_VERSION + ').',
          version: API_VERSION,
        },
        tags: [{ name: 'System' }, { name: 'Network' }, { name: 'Container' }, { name: 'Exec' }, { name: 'Image' }, { name: 'Volume' }, { name: 'Swarm' }, { name: 'Plugin' }],
      },
      // Shared schemas keep Docker's definition names (Network, IPAM, …) in the document.
      refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    });
  }
  app.addSchema(ErrorResponse);
  for (const s of [networkSchemas.IPAMConfig, networkSchemas.IPAM, networkSchemas.EndpointResource, networkSchemas.Network, networkSchemas.NetworkCreateRequest, networkSchemas.NetworkCreateResponse, networkSchemas.NetworkPruneResponse, networkSchemas.ContainerCreateRequest]) {
    app.addSchema(s);
  }
  app.get('/openapi.json', { schema: { hide: true } }, async (_req, reply) => {
    if (deps.buildOpenapi) return app.swagger();
    const text = await readFile(OPENAPI_FILE, 'utf8').catch(() => undefined);
    if (text === undefined) return reply.code(404).send({ message: 'the OpenAPI document (openapi/openapi.json) is not installed with this daemon' });
    return reply.type('application/json; charset=utf-8').send(text);
  });

  await app.register(systemRoutes, deps.system);
  await app.register(networkRoutes, deps.networks);
  if (deps.containers) await app.register(containerRoutes, deps.containers);
  if (deps.images) await app.register(imageRoutes, deps.images);
  if (deps.volumes) await app.register(volumeRoutes, deps.volumes);
  await app.register(notSwarmRoutes);
  if (deps.events) {
    await app.register(eventRoutes, {
      events: deps.events,
      ...(deps.limits?.followerBuffer ? { bufferLimit: deps.limits.followerBuffer } : {}),
      ...(deps.limits?.onRefused ? { onSlowFollower: () => deps.limits!.onRefused!('slow_followers') } : {}),
    });
  }
  if (deps.metrics) {
    const m = deps.metrics;
    app.addHook('onResponse', async (req, reply) => {
      m.requests.observe({ method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { schema: { tags: ['System'], summary: 'cnmd extension: Prometheus metrics (requests, host commands, reconciles, drift, objects)' } }, async (_req, reply) => {
      m.refresh();
      reply.type(m.registry.contentType);
      return m.registry.metrics();
    });
  }
  if (deps.state) {
    const state = deps.state;
    app.get<{ Querystring: { plan?: string } }>(
      '/cnmd/v1/state',
      {
        schema: {
          tags: ['System'],
          summary: 'cnmd extension: the last reconcile (when, how long, steps applied, error), the last repair of drift, and with plan=1 the steps a full reconcile would apply now',
          querystring: { type: 'object', properties: { plan: { type: 'string' } } },
        },
      },
      async (req) => state(boolValue(req.query.plan)),
    );
  }
  return app;
}
