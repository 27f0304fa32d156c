/** The one error handler: an error's kind decides the status; the body is always {"message": "..."}. */
import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, STATUS_BY_KIND } from '../errors.js';

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).type('application/json').send({ message: 'page not found' });
  });

  app.setErrorHandler((err: FastifyError | DomainError | Error, req, reply) => {
    if (err instanceof DomainError) {
      const status = STATUS_BY_KIND[err.kind];
      if (status >= 500) req.log.error({ err }, 'request failed');
      if (status === 304) return reply.code(304).send();
      return reply.code(status).type('application/json').send({ message: err.message });
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.code(400).type('application/json').send({ message: fe.message });
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const type = req.headers['content-type'] ?? '';
      return reply.code(400).type('application/json').send({ message: `Content-Type specified (${type}) must be 'application/json'` });
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError) {
      return reply.code(400).type('application/json').send({ message: `invalid JSON: ${err.message}` });
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).type('application/json').send({ message: err.message });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).type('application/json').send({ message: err.message });
  });
}
