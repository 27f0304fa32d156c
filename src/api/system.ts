import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';

export interface SystemRouteOptions {
  version: () => Record<string, unknown>;
  /** GET /info, at the requested API version */
  info: (apiVersion: number) => Record<string, unknown>;
  /** GET /system/df, at the requested API version */
  df?: (apiVersion: number) => Record<string, unknown>;
}

const ping = (reply: import('fastify').FastifyReply) =>
  reply
    .header('Cache-Control', 'no-cache, no-store, must-revalidate')
    .header('Pragma', 'no-cache')
    .header('Swarm', 'inactive')
    .type('text/plain; charset=utf-8');

export const systemRoutes: FastifyPluginAsync<SystemRouteOptions> = async (app, opts) => {
  app.head('/_ping', { schema: { tags: ['System'], summary: 'Ping the daemon (headers only)' } }, async (_req, reply) =>
    ping(reply).header('Content-Length', '0').send(),
  );
  app.get('/_ping', { schema: { tags: ['System'], summary: 'Ping the daemon', response: { 200: Type.String() } } }, async (_req, reply) =>
    ping(reply).send('OK'),
  );
  app.get('/version', { schema: { tags: ['System'], summary: 'Version of the daemon and its API' } }, async () => opts.version());
  app.get('/info', { schema: { tags: ['System'], summary: 'System-wide information' } }, async (req) => opts.info(req.apiVersion));
  if (opts.df) {
    const df = opts.df;
    app.get('/system/df', { schema: { tags: ['System'], summary: 'Disk usage: images (no layers: 0 bytes), containers, volumes, no build cache' } }, async (req) => df(req.apiVersion));
  }
};
