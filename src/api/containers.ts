import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type, type Static } from 'typebox';
import type { ContainerService, CreateContainerRequest } from '../services/containers.js';
import { CONTAINER_LIST_FILTERS, CONTAINER_PRUNE_FILTERS } from '../services/containers.js';
import type { Attachments } from '../services/container-network.js';
import type { Container } from '../model.js';
import { parseFilters } from '../services/filters.js';
import { invalid, notFound } from '../errors.js';
import { boolValue } from './query.js';
import { renderInspect, renderSummary, type ContainerView } from './render-container.js';
import { errorResponses } from './schemas/common.js';
import { dockerHeaders } from './version.js';
import { containerIoRoutes, type ContainerIoOptions } from './container-io.js';
import { containerFileRoutes, type ContainerFileOptions } from './container-files.js';

export interface ContainerRouteOptions extends ContainerIoOptions, ContainerFileOptions {
  containers: ContainerService;
  attachments: Attachments;
  view: (c: Container) => ContainerView;
}

export const IdParam = Type.Object({ id: Type.String({ description: 'container id, unique id prefix, or name' }) });
type Id = Static<typeof IdParam>;
const Body = Type.Object({}, { additionalProperties: true });

export const containerRoutes: FastifyPluginAsync<ContainerRouteOptions> = async (app, opts) => {
  const svc = opts.containers;
  const tags = ['Container'];
  const int = (name: string, v: unknown): number | undefined => {
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+$/.test(String(v))) throw invalid(`invalid value for ${name}: ${String(v)}`);
    return Number(v);
  };

  app.post<{ Querystring: { name?: string }; Body: CreateContainerRequest }>(
    '/containers/create',
    {
      schema: {
        tags,
        summary: 'Create a container: a sandbox and its settings (cnmd extension: SandboxKey adopts an existing namespace)',
        querystring: Type.Object({ name: Type.Optional(Type.String()), platform: Type.Optional(Type.String()) }),
        body: Type.Ref('ContainerCreateRequest'),
        response: { 201: Type.Object({ Id: Type.String(), Warnings: Type.Array(Type.String()) }), ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await svc.create(req.query.name, req.body ?? {}, req.apiVersion)),
  );

  app.get<{ Querystring: { all?: string; limit?: string; filters?: string; size?: string } }>(
    '/containers/json',
    { schema: { tags, summary: 'List containers', querystring: Type.Object({ all: Type.Optional(Type.String()), limit: Type.Optional(Type.String()), size: Type.Optional(Type.String()), filters: Type.Optional(Type.String()) }) } },
    async (req) => {
      let list = svc.list(boolValue(req.query.all), parseFilters(req.query.filters, CONTAINER_LIST_FILTERS));
      const limit = int('limit', req.query.limit);
      if (limit !== undefined && limit > 0) list = list.slice(0, limit);
      return list.map((c) => renderSummary(opts.view(c), req.apiVersion));
    },
  );

  app.get<{ Params: Id }>('/containers/:id/json', { schema: { tags, summary: 'Inspect a container', params: IdParam } }, async (req) =>
    renderInspect(opts.view(svc.get(req.params.id)), req.apiVersion),
  );

  const noContent = (reply: FastifyReply) => reply.code(204).send();
  app.post<{ Params: Id }>('/containers/:id/start', { schema: { tags, summary: 'Start: make the sandbox and run the command', params: IdParam } }, async (req, reply) => {
    await svc.start(req.params.id);
    return noContent(reply);
  });
  app.post<{ Params: Id; Querystring: { t?: string; signal?: string } }>(
    '/containers/:id/stop',
    { schema: { tags, summary: 'Stop: end the command, tear the sandbox down', params: IdParam } },
    async (req, reply) => {
      await svc.stop(req.params.id, int('t', req.query.t), req.query.signal);
      return noContent(reply);
    },
  );
  app.post<{ Params: Id; Querystring: { signal?: string } }>('/containers/:id/kill', { schema: { tags, summary: 'Send a signal', params: IdParam } }, async (req, reply) => {
    await svc.kill(req.params.id, req.query.signal);
    return noContent(reply);
  });
  app.post<{ Params: Id; Querystring: { t?: string } }>('/containers/:id/restart', { schema: { tags, summary: 'Restart', params: IdParam } }, async (req, reply) => {
    await svc.restart(req.params.id, int('t', req.query.t));
    return noContent(reply);
  });
  app.post<{ Params: Id; Querystring: { condition?: string } }>(
    '/containers/:id/wait',
    { schema: { tags, summary: 'Wait until the container stops (held open)', params: IdParam } },
    async (req, reply) => {
      const pending = svc.wait(req.params.id, req.query.condition ?? '');
      // Docker sends the headers at once, then the body when the condition holds.
      reply.raw.writeHead(200, dockerHeaders('application/json'));
      reply.raw.flushHeaders();
      const code = await pending;
      reply.raw.end(JSON.stringify({ Error: null, StatusCode: code }) + '\n');
      return reply.hijack();
    },
  );
  app.delete<{ Params: Id; Querystring: { force?: string; v?: string; link?: string } }>(
    '/containers/:id',
    { schema: { tags, summary: 'Remove a container', params: IdParam } },
    async (req, reply) => {
      if (boolValue(req.query.link)) await svc.removeLink(req.params.id);
      else await svc.remove(req.params.id, boolValue(req.query.force), boolValue(req.query.v));
      return noContent(reply);
    },
  );
  // `docker rm --link parent/alias`: a link's name has a slash
  app.delete<{ Params: { '*': string }; Querystring: { link?: string } }>(
    '/containers/*',
    { schema: { tags, summary: 'Remove a legacy link (link=1, name parent/alias)' } },
    async (req, reply) => {
      if (!boolValue(req.query.link)) throw notFound(`No such container: ${req.params['*']}`);
      await svc.removeLink(req.params['*']);
      return noContent(reply);
    },
  );

  const ConnectBody = Type.Object({ Network: Type.Optional(Type.String()), EndpointConfig: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])) }, { additionalProperties: true });
  app.post<{ Params: Id; Body: { Network?: string; EndpointConfig?: Record<string, unknown> | null } }>(
    '/containers/:id/connect',
    { schema: { tags, summary: 'cnmd extension: connect this container to a network (body: Network, EndpointConfig)', params: IdParam, body: ConnectBody } },
    async (req) => {
      await opts.attachments.connect(req.body?.Network ?? '', req.params.id, (req.body?.EndpointConfig ?? null) as never, req.apiVersion);
      return '';
    },
  );
  app.post<{ Params: Id; Body: { Network?: string; Force?: boolean } }>(
    '/containers/:id/disconnect',
    { schema: { tags, summary: 'cnmd extension: disconnect this container from a network (body: Network, Force)', params: IdParam, body: Body } },
    async (req) => {
      await opts.attachments.disconnect(req.body?.Network ?? '', req.params.id, !!req.body?.Force);
      return '';
    },
  );

  app.post<{ Querystring: { filters?: string } }>('/containers/prune', { schema: { tags, summary: 'Remove every container that is not running' } }, async (req) =>
    svc.prune(parseFilters(req.query.filters, CONTAINER_PRUNE_FILTERS)),
  );

  app.post<{ Params: Id }>('/containers/:id/pause', { schema: { tags, summary: 'Pause: SIGSTOP to every process of the container', params: IdParam } }, async (req, reply) => {
    await svc.pause(req.params.id);
    return noContent(reply);
  });
  app.post<{ Params: Id }>('/containers/:id/unpause', { schema: { tags, summary: 'Unpause: SIGCONT', params: IdParam } }, async (req, reply) => {
    await svc.unpause(req.params.id);
    return noContent(reply);
  });
  app.post<{ Params: Id; Querystring: { name?: string } }>(
    '/containers/:id/rename',
    { schema: { tags, summary: 'Rename; DNS answers the new name at once', params: IdParam, querystring: Type.Object({ name: Type.Optional(Type.String()) }) } },
    async (req, reply) => {
      await svc.rename(req.params.id, req.query.name ?? '');
      return noContent(reply);
    },
  );
  app.post<{ Params: Id; Body: Record<string, unknown> }>(
    '/containers/:id/update',
    { schema: { tags, summary: 'Update the restart policy (resource limits are recorded, not enforced)', params: IdParam, body: Body } },
    async (req) => svc.update(req.params.id, req.body ?? {}),
  );

  await app.register(containerIoRoutes, opts);
  await app.register(containerFileRoutes, opts);
};
