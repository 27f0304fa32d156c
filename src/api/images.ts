/**
 * Images as names (services/images.ts): pull records a name and says plainly that no layers are
 * kept; inspect, list, tag, history, remove and prune answer as an engine with such images would.
 * What needs layers (build, push, save, load, import, search) is a 501 that says why.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { DomainError, invalid } from '../errors.js';
import type { ImageService } from '../services/images.js';
import { IMAGE_LIST_FILTERS, IMAGE_PRUNE_FILTERS } from '../services/images.js';
import type { ImageRecord } from '../store/images.js';
import { parseFilters } from '../services/filters.js';
import { parseReference } from '../services/references.js';
import { boolValue, passBodiesThrough } from './query.js';
import { dockerHeaders } from './version.js';

export interface ImageRouteOptions {
  images: ImageService;
}

const NO_LAYERS = 'cnmd keeps no image layers (a container runs commands from the host\'s filesystem)';
export const notImplemented = (what: string) => new DomainError('notImplemented', `cnmd does not ${what}: ${NO_LAYERS}`);

const seconds = (rfc: string) => Math.floor(Date.parse(rfc) / 1000);

function emptyConfig() {
  return {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false,
    StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
  };
}

/**
 * GET /images/{name}/json, by API version (VirtualSize until 1.43). Docker drops Container and
 * ContainerConfig from 1.45; cnmd keeps ContainerConfig at every version, because Debian's
 * docker-compose 1.29 reads it when it recreates a container (and fails on Docker 25+ without it).
 */
export function renderImage(i: ImageRecord, api: number): Record<string, unknown> {
  const untagged = api < 1.43 ? ['<none>:<none>'] : [];
  return {
    Id: `sha256:${i.id}`,
    RepoTags: i.tags.length ? i.tags : untagged,
    RepoDigests: [],
    Parent: '',
    Comment: NO_LAYERS,
    Created: i.created,
    ...(api < 1.45 ? { Container: '' } : {}),
    ContainerConfig: emptyConfig(),
    DockerVersion: '',
    Author: '',
    Config: { ...emptyConfig(), Labels: Object.keys(i.labels).length ? i.labels : null },
    Architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    Os: 'linux',
    Size: 0,
    ...(api < 1.44 ? { VirtualSize: 0 } : {}),
    GraphDriver: { Data: null, Name: 'cnmd' },
    RootFS: { Type: 'layers' },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

export function summary(i: ImageRecord, api: number, containers: number): Record<string, unknown> {
  return {
    Containers: api >= 1.51 ? containers : -1,
    Created: seconds(i.created),
    Id: `sha256:${i.id}`,
    Labels: Object.keys(i.labels).length ? i.labels : null,
    ParentId: '',
    RepoDigests: api < 1.43 && !i.tags.length ? ['<none>@<none>'] : [],
    RepoTags: i.tags.length ? i.tags : api < 1.43 ? ['<none>:<none>'] : [],
    SharedSize: -1,
    Size: 0,
    ...(api < 1.44 ? { VirtualSize: 0 } : {}),
  };
}

export const imageRoutes: FastifyPluginAsync<ImageRouteOptions> = async (app, opts) => {
  const svc = opts.images;
  const tags = ['Image'];

  app.get<{ Querystring: { all?: string; filters?: string; digests?: string } }>(
    '/images/json',
    { schema: { tags, summary: 'List images (names cnmd recorded)' } },
    async (req) => svc.list(parseFilters(req.query.filters, IMAGE_LIST_FILTERS)).map((i) => summary(i, req.apiVersion, svc.usedBy(i.id).length)),
  );

  app.post<{ Querystring: { filters?: string } }>('/images/prune', { schema: { tags, summary: 'Remove images no container uses (dangling ones, or all with dangling=false)' } }, async (req) =>
    svc.prune(parseFilters(req.query.filters, IMAGE_PRUNE_FILTERS)),
  );

  // their bodies are archives of any label (a build context, an image tarball): refused with the reason, whatever they are
  await app.register(async (scope) => {
    passBodiesThrough(scope);
    scope.post<{ Querystring: { fromImage?: string; tag?: string; fromSrc?: string; platform?: string } }>(
      '/images/create',
      { schema: { tags, summary: 'Pull: records the image by its name (cnmd keeps no layers), streamed as Docker\'s progress' } },
      async (req, reply) => {
        const q = req.query;
        if (q.fromSrc) throw notImplemented('import images');
        if (!q.fromImage) throw invalid('fromImage is required');
        // fromImage may carry the tag or a digest itself
        const name = q.tag && !/[:@]/.test(q.fromImage.split('/').pop() ?? '') ? `${q.fromImage}:${q.tag}` : q.fromImage;
        const ref = parseReference(name);
        const { created } = svc.ensure(ref.text);
        reply.raw.writeHead(200, dockerHeaders('application/json'));
        const line = (o: Record<string, unknown>) => reply.raw.write(JSON.stringify(o) + '\r\n');
        line({ status: `Pulling from ${ref.repository.includes('/') ? ref.repository : `library/${ref.repository}`}`, id: ref.tag ?? ref.digest });
        line({ status: `${NO_LAYERS}: ${ref.text} is recorded by its name` });
        line({ status: created ? `Status: Downloaded newer image for ${ref.text}` : `Status: Image is up to date for ${ref.text}` });
        reply.raw.end();
        return reply.hijack();
      },
    );
    for (const [method, url, what] of [
      ['POST', '/images/load', 'load images'], ['GET', '/images/get', 'save images'], ['GET', '/images/search', 'search registries'],
      ['POST', '/build', 'build images'], ['POST', '/commit', 'commit containers'],
    ] as const) {
      scope.route({ method, url, schema: { tags, summary: `501: cnmd does not ${what}` }, handler: async () => { throw notImplemented(what); } });
    }
  });
  // `docker system prune` prunes the build cache too: there is none, so nothing goes
  app.post('/build/prune', { schema: { tags, summary: 'Nothing to prune: cnmd builds nothing, so it has no build cache' } }, async () => ({ CachesDeleted: null, SpaceReclaimed: 0 }));

  // Image names have slashes (team/app, registry:5000/team/app:v1): /images/{name}/json is a wildcard.
  const split = (req: FastifyRequest) => {
    const rest = decodeURIComponent(String((req.params as { '*': string })['*'] ?? ''));
    const m = /^(.+?)\/(json|history|tag|push|get)$/.exec(rest);
    return m ? { name: m[1], op: m[2] } : { name: rest, op: '' };
  };
  const notFound = (reply: FastifyReply) => reply.code(404).type('application/json').send({ message: 'page not found' });

  app.get('/images/*', { schema: { tags, summary: 'GET /images/{name}/json (inspect), /images/{name}/history, /images/{name}/get (501)' } }, async (req, reply) => {
    const { name, op } = split(req);
    if (op === 'json') return renderImage(svc.find(name), req.apiVersion);
    if (op === 'history') {
      const i = svc.find(name);
      return [{ Id: `sha256:${i.id}`, Created: seconds(i.created), CreatedBy: '', Tags: i.tags.length ? i.tags : null, Size: 0, Comment: NO_LAYERS }];
    }
    if (op === 'get') throw notImplemented('save images');
    return notFound(reply);
  });

  app.post<{ Querystring: { repo?: string; tag?: string } }>('/images/*', { schema: { tags, summary: 'POST /images/{name}/tag (201), /images/{name}/push (501)' } }, async (req, reply) => {
    const { name, op } = split(req);
    if (op === 'tag') {
      if (!req.query.repo) throw invalid('repository name must have at least one component');
      svc.tag(name, req.query.repo, req.query.tag ?? '');
      return reply.code(201).send('');
    }
    if (op === 'push') throw notImplemented('push images');
    return notFound(reply);
  });

  app.delete<{ Querystring: { force?: string; noprune?: string } }>('/images/*', { schema: { tags, summary: 'Remove an image (409 while a container uses it, as Docker)' } }, async (req) =>
    svc.remove(split(req).name, boolValue(req.query.force)),
  );
};
