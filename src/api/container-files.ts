/** docker cp's routes (HEAD, GET, PUT /containers/{id}/archive), and 501s for what needs image layers. */
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { Readable } from 'node:stream';
import type { ContainerFiles } from '../services/container-files.js';
import type { PathStat } from '../host/archive.js';
import { DomainError } from '../errors.js';
import { boolValue, passBodiesThrough } from './query.js';
import { dockerHeaders } from './version.js';

export interface ContainerFileOptions {
  files: ContainerFiles;
}

const IdParam = Type.Object({ id: Type.String({ description: 'container id, unique id prefix, or name' }) });
const ArchiveQuery = Type.Object({ path: Type.Optional(Type.String()) }, { additionalProperties: true });
type Params = { Params: Static<typeof IdParam>; Querystring: { path?: string; copyUIDGID?: string; noOverwriteDirNonDir?: string } };

const statHeader = (s: PathStat) => Buffer.from(JSON.stringify(s)).toString('base64');
const noLayers = (what: string) =>
  new DomainError('notImplemented', `cnmd does not ${what}: a cnmd container has no image layers or filesystem of its own (it sees the host's filesystem with its binds and volumes); docker cp works`);

export const containerFileRoutes: FastifyPluginAsync<ContainerFileOptions> = async (app, opts) => {
  const tags = ['Container'];
  // the archive is passed through to tar as it comes, whatever it is labelled (the Go client sends text/plain)
  passBodiesThrough(app);

  app.head<Params>('/containers/:id/archive', { schema: { tags, summary: 'Stat a path in a container (docker cp)', params: IdParam, querystring: ArchiveQuery } }, async (req, reply) => {
    const stat = await opts.files.stat(req.params.id, req.query.path);
    reply.header('X-Docker-Container-Path-Stat', statHeader(stat));
    reply.header('Content-Type', 'application/json');
    return reply.code(200).send();
  });

  app.get<Params>('/containers/:id/archive', { schema: { tags, summary: 'A tar of a path in a container (docker cp)', params: IdParam, querystring: ArchiveQuery } }, async (req, reply) => {
    const { stat, tar } = await opts.files.archive(req.params.id, req.query.path);
    reply.raw.writeHead(200, { ...dockerHeaders('application/x-tar'), 'X-Docker-Container-Path-Stat': statHeader(stat) });
    tar.stream.pipe(reply.raw);
    // a tar that fails half-way cannot change the status any more: the stream ends short, as Docker's
    tar.done.catch((e: Error) => {
      req.log.warn({ err: e.message }, 'docker cp: tar failed');
      reply.raw.destroy();
    });
    reply.raw.on('close', () => tar.stream.destroy());
    return reply.hijack();
  });

  app.put<Params & { Body: Readable | undefined }>(
    '/containers/:id/archive',
    { schema: { tags, summary: 'Extract a tar into a directory of a container (docker cp)', params: IdParam, querystring: ArchiveQuery } },
    async (req, reply) => {
      const body = req.body ?? Readable.from([]);
      await opts.files.extract(req.params.id, req.query.path, body, boolValue(req.query.copyUIDGID));
      return reply.code(200).send();
    },
  );

  app.get('/containers/:id/changes', { schema: { tags, summary: 'cnmd answers 501: no container filesystem to compare', params: IdParam } }, async () => {
    throw noLayers('track filesystem changes');
  });
  app.get('/containers/:id/export', { schema: { tags, summary: 'cnmd answers 501: no container filesystem to export', params: IdParam } }, async () => {
    throw noLayers('export a container filesystem');
  });
  const noCheckpoints = async () => {
    throw new DomainError('notImplemented', 'cnmd does not checkpoint containers: it runs no CRIU (a container is a sandbox and host processes)');
  };
  app.get('/containers/:id/checkpoints', { schema: { tags, summary: 'cnmd answers 501: no checkpoints', params: IdParam } }, noCheckpoints);
  app.post('/containers/:id/checkpoints', { schema: { tags, summary: 'cnmd answers 501: no checkpoints', params: IdParam } }, noCheckpoints);
  app.delete('/containers/:id/checkpoints/:checkpoint', { schema: { tags, summary: 'cnmd answers 501: no checkpoints' } }, noCheckpoints);
  app.get('/containers/:id/attach/ws', { schema: { tags, summary: 'cnmd answers 501: attach over a hijacked connection instead', params: IdParam } }, async () => {
    throw new DomainError('notImplemented', 'cnmd does not attach over WebSocket: use POST /containers/{id}/attach, as the docker CLI does');
  });
};
