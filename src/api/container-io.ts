/**
 * The routes that join a client to a container's processes: attach, logs, resize, exec, and what
 * `docker top` and `docker stats` show.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Container } from '../model.js';
import type { ContainerService } from '../services/containers.js';
import type { Processes } from '../runtime/processes.js';
import type { Execs, ExecCreateRequest } from '../runtime/exec.js';
import { attach } from '../runtime/attach.js';
import { LogFollower, logFiles, streamLogs, tailStart, type LogPaths } from '../runtime/logs.js';
import { DEFAULT_DETACH_KEYS, frame, parseDetachKeys } from '../runtime/streams.js';
import { sample, top, withPrevious, type StatsSource } from '../runtime/info.js';
import type { Executor } from '../host/executor.js';
import { conflict, invalid } from '../errors.js';
import { boolValue } from './query.js';
import { hijack, streamType } from './hijack.js';
import { dockerHeaders } from './version.js';

export interface ContainerIoOptions {
  containers: ContainerService;
  processes: Processes;
  execs: Execs;
  exec: Executor;
  logPaths: (c: Container) => LogPaths;
  /** how many files of each stream the container keeps (its LogConfig max-file) */
  logKeep: (c: Container) => number;
  /** what top and stats look at: the container's processes and its network namespace */
  statsSource: (c: Container) => Promise<StatsSource>;
}

const IdParam = Type.Object({ id: Type.String({ description: 'container id, unique id prefix, or name' }) });
type Id = Static<typeof IdParam>;
const ExecParam = Type.Object({ id: Type.String({ description: 'exec instance id' }) });
const Body = Type.Object({}, { additionalProperties: true });

/** Docker's strconv.Atoi errors for h and w. */
function size(v: string | undefined): number {
  const s = v ?? '';
  if (!/^-?\d+$/.test(s)) throw invalid(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n < 0 || n > 65535) throw invalid(`invalid terminal size: ${s}`);
  return n;
}

export const containerIoRoutes: FastifyPluginAsync<ContainerIoOptions> = async (app, opts) => {
  const svc = opts.containers;
  const tags = ['Container'];
  const running = (c: Container) => {
    if (c.state !== 'running') throw conflict(`Container ${c.id} is not running`);
  };

  app.post<{ Params: Id; Querystring: Record<string, string | undefined> }>(
    '/containers/:id/attach',
    { schema: { tags, summary: 'Attach to the command: its output (followed in its logs), its stdin, its terminal (hijacked connection)', params: IdParam } },
    async (req, reply) => {
      const c = svc.get(req.params.id);
      const q = req.query;
      const detachKeys = parseDetachKeys(q.detachKeys || DEFAULT_DETACH_KEYS);
      const io = hijack(req, reply, streamType(!!c.config.Tty, req.apiVersion));
      const target = { id: c.id, tty: !!c.config.Tty, openStdin: !!c.config.OpenStdin, stdinOnce: !!c.config.StdinOnce, running: c.state === 'running', logs: opts.logPaths(c) };
      await attach(io, target, {
        stdin: boolValue(q.stdin), stdout: boolValue(q.stdout), stderr: boolValue(q.stderr), stream: boolValue(q.stream), logs: boolValue(q.logs), detachKeys,
      }, opts.processes, svc.wait(c.id, 'removed'));
    },
  );

  app.post<{ Params: Id; Querystring: { h?: string; w?: string } }>(
    '/containers/:id/resize',
    { schema: { tags, summary: "Resize the command's terminal", params: IdParam } },
    async (req, reply) => {
      const [h, w] = [size(req.query.h), size(req.query.w)];
      const c = svc.get(req.params.id);
      running(c);
      if (h > 0 && w > 0) opts.processes.input(c.id)?.resize(w, h);
      return reply.code(200).send('');
    },
  );

  app.get<{ Params: Id; Querystring: Record<string, string | undefined> }>(
    '/containers/:id/logs',
    { schema: { tags, summary: "The command's output, in Docker's stream format", params: IdParam } },
    async (req, reply) => {
      const c = svc.get(req.params.id);
      const streams = [boolValue(req.query.stdout) ? 1 : 0, boolValue(req.query.stderr) ? 2 : 0].filter((s): s is 1 | 2 => s > 0);
      if (!streams.length) throw invalid('Bad parameters: you must choose at least one stream');
      const tty = !!c.config.Tty;
      const paths = opts.logPaths(c);
      const tail = req.query.tail && req.query.tail !== 'all' ? Number(req.query.tail) : -1;
      reply.raw.writeHead(200, dockerHeaders(tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream'));
      const write = (stream: 1 | 2, data: Buffer) => data.length && !reply.raw.destroyed && reply.raw.write(tty ? data : frame(stream, data));
      // a chunk at a time, waiting while the client is slower than the disk: memory stays one chunk
      const send = (stream: 1 | 2) => async (data: Buffer) => {
        if (reply.raw.destroyed) return false;
        if (!write(stream, data)) await new Promise((r) => { reply.raw.once('drain', r); reply.raw.once('close', r); });
        return !reply.raw.destroyed;
      };
      const pathOf = (s: 1 | 2) => (s === 1 ? paths.stdoutPath : paths.stderrPath);
      const ends = new Map<number, number>();
      for (const s of streams) {
        const files = await logFiles(pathOf(s), opts.logKeep(c));
        ends.set(s, await streamLogs(files, await tailStart(files, tail), send(s)));
      }
      if (boolValue(req.query.follow) && c.state === 'running' && !reply.raw.destroyed) {
        // a slow client pauses the reading (the file keeps the rest), the daemon buffers one chunk at most
        const followers: Array<{ s: 1 | 2; f: LogFollower }> = [];
        for (const s of streams) {
          const f = new LogFollower(pathOf(s), (d) => {
            if (write(s, d) === false) {
              f.pause();
              reply.raw.once('drain', () => f.resume());
            }
          });
          followers.push({ s, f });
        }
        // from where the read above ended
        await Promise.all(followers.map(({ s, f }) => f.start(ends.get(s) ?? 'end')));
        await new Promise<void>((resolve) => {
          const off = opts.processes.subscribe(c.id, { end: () => resolve() });
          reply.raw.once('close', () => resolve());
          void svc.wait(c.id, 'not-running').then(() => resolve());
          reply.raw.once('close', off);
        });
        await Promise.all(followers.map(({ f }) => f.drain()));
        followers.forEach(({ f }) => f.close());
      }
      reply.raw.end();
      return reply.hijack();
    },
  );

  app.post<{ Params: Id; Body: ExecCreateRequest }>(
    '/containers/:id/exec',
    { schema: { tags: ['Exec'], summary: "Create an exec instance: a process in the container's namespaces", params: IdParam, body: Body } },
    async (req, reply) => reply.code(201).send(opts.execs.create(req.params.id, req.body ?? {})),
  );

  app.post<{ Params: Static<typeof ExecParam>; Body: { Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null } }>(
    '/exec/:id/start',
    { schema: { tags: ['Exec'], summary: 'Start an exec instance (hijacked connection unless Detach)', params: ExecParam, body: Body } },
    async (req, reply) => {
      const b = req.body ?? {};
      const p = await opts.execs.prepare(req.params.id, b.Tty ?? undefined);
      if (b.ConsoleSize && b.ConsoleSize.length === 2) opts.execs.resize(req.params.id, b.ConsoleSize[0], b.ConsoleSize[1]);
      if (b.Detach) {
        await opts.execs.run(p);
        return reply.code(200).send('');
      }
      await opts.execs.run(p, hijack(req, reply, streamType(p.inst.tty, req.apiVersion)));
    },
  );

  app.get<{ Params: Static<typeof ExecParam> }>('/exec/:id/json', { schema: { tags: ['Exec'], summary: 'Inspect an exec instance', params: ExecParam } }, async (req) =>
    opts.execs.inspect(req.params.id),
  );

  app.post<{ Params: Static<typeof ExecParam>; Querystring: { h?: string; w?: string } }>(
    '/exec/:id/resize',
    { schema: { tags: ['Exec'], summary: "Resize an exec instance's terminal", params: ExecParam } },
    async (req, reply) => {
      const [h, w] = [size(req.query.h), size(req.query.w)];
      opts.execs.inspect(req.params.id);
      if (h > 0 && w > 0) opts.execs.resize(req.params.id, h, w);
      return reply.code(200).send('');
    },
  );

  app.get<{ Params: Id; Querystring: { ps_args?: string } }>(
    '/containers/:id/top',
    { schema: { tags, summary: "The container's processes (those in its mount namespace), as ps shows them", params: IdParam } },
    async (req) => {
      const c = svc.get(req.params.id);
      running(c);
      return top(opts.exec, (await opts.statsSource(c)).pids, req.query.ps_args);
    },
  );

  app.get<{ Params: Id; Querystring: { stream?: string; 'one-shot'?: string } }>(
    '/containers/:id/stats',
    { schema: { tags, summary: "CPU and memory of the container's processes, and its interfaces' counters", params: IdParam } },
    async (req, reply) => {
      const c = svc.get(req.params.id);
      const stream = req.query.stream === undefined ? true : boolValue(req.query.stream);
      const empty = async () => ({ ...(await sample(opts.exec, { id: c.id, name: c.name, pids: [] })), read: '0001-01-01T00:00:00Z', networks: undefined });
      const next = async () => (svc.get(c.id).state === 'running' ? sample(opts.exec, await opts.statsSource(svc.get(c.id))) : empty());
      if (!stream) {
        const first = await next();
        if (boolValue(req.query['one-shot'])) return first;
        await new Promise((r) => setTimeout(r, 500));
        return withPrevious(await next(), first);
      }
      reply.raw.writeHead(200, dockerHeaders('application/json'));
      let prev: Record<string, any> | undefined;
      while (!reply.raw.destroyed) {
        const cur = await next();
        reply.raw.write(JSON.stringify(withPrevious(cur, prev)) + '\n');
        prev = cur;
        await new Promise((r) => setTimeout(r, 1000));
      }
      return reply.hijack();
    },
  );
};
