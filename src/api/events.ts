import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { EventBus, DockerEvent } from '../services/events.js';
import { parseFilters, parseTimestamp, type Filters } from '../services/filters.js';
import { dockerHeaders } from './version.js';
import { DEFAULT_LIMITS } from '../limits.js';

const EVENT_FILTERS = ['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume'];

function matches(e: DockerEvent, f: Filters): boolean {
  const any = (key: string, pred: (v: string) => boolean) => {
    const values = f.get(key);
    return !values || values.length === 0 || values.some(pred);
  };
  const name = e.Actor.Attributes.name ?? '';
  return (
    any('type', (v) => v === e.Type) &&
    any('event', (v) => v === e.Action) &&
    any('scope', (v) => v === e.scope) &&
    // as moby's fuzzyMatchName: the actor's id (or a prefix of it) or its name attribute, whatever the type
    any('network', (v) => e.Actor.ID.startsWith(v) || name.startsWith(v)) &&
    any('container', (v) => e.Actor.ID.startsWith(v) || name.startsWith(v))
  );
}

/** Docker's legacy top-level fields on container events, for API < 1.52. */
function shape(e: DockerEvent): Record<string, unknown> {
  if (e.Type !== 'container') return { ...e };
  return { status: e.Action, id: e.Actor.ID, from: e.Actor.Attributes.image ?? '', ...e };
}

/** What a follower may leave unread (buffered in the daemon) before it is dropped, by default (--limit follower-buffer). */
export const EVENT_BUFFER_LIMIT = DEFAULT_LIMITS.followerBuffer;

/**
 * Sends events to one follower; one that leaves more than limit bytes unread is disconnected (as
 * Docker evicts a subscriber whose queue is full): the daemon's memory never holds a slow reader's backlog.
 */
export function followerWriter(raw: { write(s: string): boolean; writableLength: number; destroy(): void }, limit: number, onDropped: () => void) {
  let dropped = false;
  return (text: string) => {
    if (dropped) return;
    raw.write(text);
    if (raw.writableLength > limit) {
      dropped = true;
      onDropped();
      raw.destroy();
    }
  };
}

export const eventRoutes: FastifyPluginAsync<{ events: EventBus; onSlowFollower?: () => void; bufferLimit?: number }> = async (app, opts) => {
  app.get<{ Querystring: { since?: string; until?: string; filters?: string } }>(
    '/events',
    {
      schema: {
        tags: ['System'],
        summary: 'Stream events as newline-delimited JSON (network and container events)',
        querystring: Type.Object({ since: Type.Optional(Type.String()), until: Type.Optional(Type.String()), filters: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const now = Date.now();
      const filters = parseFilters(req.query.filters, EVENT_FILTERS);
      const since = req.query.since ? parseTimestamp(req.query.since, now) : undefined;
      // a whole-second until covers that whole second (the CLI sends `--until 0s` as the current second)
      const untilRaw = req.query.until ? parseTimestamp(req.query.until, now) : undefined;
      const until = untilRaw !== undefined && /^\d+$/.test(req.query.until ?? '') ? untilRaw + 999 : untilRaw;
      reply.raw.writeHead(200, dockerHeaders('application/json'));
      const write = followerWriter(reply.raw, opts.bufferLimit ?? EVENT_BUFFER_LIMIT, () => opts.onSlowFollower?.());
      const send = (e: DockerEvent) => {
        if (matches(e, filters) && (until === undefined || e.timeNano / 1e6 <= until)) write(JSON.stringify(shape(e)) + '\n');
      };
      if (since !== undefined) for (const e of opts.events.since(since * 1e6)) send(e);
      if (until !== undefined && until <= now) {
        reply.raw.end();
        return reply.hijack();
      }
      reply.raw.flushHeaders();
      const unsubscribe = opts.events.subscribe(send);
      const timer = until !== undefined ? setTimeout(() => reply.raw.end(), until - now) : undefined;
      reply.raw.on('close', () => {
        unsubscribe();
        if (timer) clearTimeout(timer);
      });
      return reply.hijack();
    },
  );
};
