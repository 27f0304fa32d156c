/**
 * Limits on what the API holds at once: requests in progress, and streams that stay open (events,
 * logs --follow, attach, wait, exec sessions, stats). Past a limit a request is answered 503 at
 * once, with Retry-After, before any work is done; a refusal is counted. A request stops counting
 * when its response is finished or its connection closes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULT_LIMITS } from '../limits.js';

/** requests in progress at most by default (the docker CLI and Compose send a handful; a runaway script thousands) */
export const MAX_REQUESTS = DEFAULT_LIMITS.apiRequests;
/** open streams at most by default: each holds a connection, and a follower a file watch */
export const MAX_STREAMS = DEFAULT_LIMITS.apiStreams;

export interface RequestLimits {
  requests?: number;
  streams?: number;
  /** bytes an events follower may leave unread (src/api/events.ts); default EVENT_BUFFER_LIMIT */
  followerBuffer?: number;
  onRefused?: (limit: 'requests' | 'streams' | 'slow_followers') => void;
}

/** The routes whose response stays open while something runs or is followed. */
const STREAM = /^\/(events|containers\/[^/]+\/(attach|attach\/ws|wait|logs|stats)|exec\/[^/]+\/start)$/;

export function isStream(req: FastifyRequest): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (path.startsWith('/containers/') && path.endsWith('/stats')) return !/[?&]stream=(0|false)\b/.test(req.url ?? '');
  if (path.startsWith('/containers/') && path.endsWith('/logs')) return /[?&]follow=(1|true)\b/.test(req.url ?? '');
  return STREAM.test(path);
}

export function installLimits(app: FastifyInstance, o: RequestLimits = {}): void {
  const max = { requests: o.requests ?? MAX_REQUESTS, streams: o.streams ?? MAX_STREAMS };
  const open = { requests: 0, streams: 0 };
  app.addHook('onRequest', async (req, reply) => {
    const kind = isStream(req) ? 'streams' : 'requests';
    if (open[kind] >= max[kind]) {
      o.onRefused?.(kind);
      const what = kind === 'streams' ? `${max.streams} streams (events, logs, attach, wait, exec) are open` : `${max.requests} requests are in progress`;
      return reply.code(503).header('Retry-After', '1').type('application/json').send({ message: `cnmd is busy: ${what}; try again` });
    }
    open[kind]++;
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      open[kind]--;
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  });
}
