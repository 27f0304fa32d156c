/** `docker volume create/ls/inspect/rm/prune`: local volumes (directories under the data root). */
import type { FastifyPluginAsync } from 'fastify';
import type { VolumeService, VolumeCreateRequest } from '../services/volumes.js';
import { VOLUME_LIST_FILTERS, VOLUME_PRUNE_FILTERS } from '../services/volumes.js';
import { parseFilters } from '../services/filters.js';
import { boolValue } from './query.js';
import { DomainError } from '../errors.js';

export interface VolumeRouteOptions {
  volumes: VolumeService;
}

export const volumeRoutes: FastifyPluginAsync<VolumeRouteOptions> = async (app, opts) => {
  const svc = opts.volumes;
  const tags = ['Volume'];
  app.get<{ Querystring: { filters?: string } }>('/volumes', { schema: { tags, summary: 'List volumes' } }, async (req) => ({
    Volumes: svc.list(parseFilters(req.query.filters, VOLUME_LIST_FILTERS)).map((v) => svc.render(v)),
    Warnings: null,
  }));
  app.post<{ Body: VolumeCreateRequest }>('/volumes/create', { schema: { tags, summary: 'Create a volume (local driver: a directory)' } }, async (req, reply) =>
    reply.code(201).send(svc.render(await svc.create(req.body ?? {}))),
  );
  app.post<{ Querystring: { filters?: string } }>('/volumes/prune', { schema: { tags, summary: 'Remove unused volumes (anonymous ones from API 1.42, unless all=true)' } }, async (req) =>
    svc.prune(parseFilters(req.query.filters, VOLUME_PRUNE_FILTERS), req.apiVersion),
  );
  app.get<{ Params: { name: string } }>('/volumes/:name', { schema: { tags, summary: 'Inspect a volume' } }, async (req) => svc.render(svc.get(req.params.name)));
  app.delete<{ Params: { name: string }; Querystring: { force?: string } }>('/volumes/:name', { schema: { tags, summary: 'Remove a volume (409 while a container uses it)' } }, async (req, reply) => {
    await svc.remove(req.params.name, boolValue(req.query.force));
    return reply.code(204).send();
  });
  app.put('/volumes/:name', { schema: { tags, summary: '501: cluster volumes belong to swarm mode' } }, async () => {
    throw new DomainError('notImplemented', 'cnmd does not run swarm mode, so it has no cluster volumes to update');
  });
};
