/** Limits on what the API holds at once (src/api/limits.ts): requests in progress and open streams. */
import t from 'tap';
import Fastify from 'fastify';
import { installLimits, isStream, MAX_REQUESTS, MAX_STREAMS } from '../../src/api/limits.js';
import { buildTestDaemon, call } from '../helpers/app.js';

t.test('requests in progress past the limit: 503 at once with Retry-After, counted; room again when one ends', async (t) => {
  t.equal(MAX_REQUESTS, 512);
  t.equal(MAX_STREAMS, 1024);
  const app = Fastify();
  const refused: string[] = [];
  installLimits(app, { requests: 2, streams: 1, onRefused: (l) => refused.push(l) });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  app.get('/slow', async () => {
    await gate;
    return { ok: true };
  });
  app.get('/fast', async () => ({ ok: true }));
  app.get('/events', async () => {
    await gate;
    return {};
  });
  t.teardown(() => app.close());
  const a = app.inject({ method: 'GET', url: '/slow' });
  const b = app.inject({ method: 'GET', url: '/slow' });
  await new Promise((r) => setTimeout(r, 50));
  const c = await app.inject({ method: 'GET', url: '/fast' });
  t.equal(c.statusCode, 503, 'the third request in progress is refused');
  t.equal(c.headers['retry-after'], '1');
  t.same(c.json(), { message: 'cnmd is busy: 2 requests are in progress; try again' });
  const s1 = app.inject({ method: 'GET', url: '/events' });
  await new Promise((r) => setTimeout(r, 50));
  const s2 = await app.inject({ method: 'GET', url: '/events' });
  t.equal(s2.statusCode, 503, 'streams have their own limit');
  t.match(s2.json().message, '1 streams (events, logs, attach, wait, exec) are open');
  t.same(refused, ['requests', 'streams']);
  release();
  t.same([(await a).statusCode, (await b).statusCode, (await s1).statusCode], [200, 200, 200]);
  t.equal((await app.inject({ method: 'GET', url: '/fast' })).statusCode, 200, 'below the limit again: served');
  t.equal((await app.inject({ method: 'GET', url: '/events' })).statusCode, 200);
});

t.test('which routes are streams', async (t) => {
  const r = (url: string) => isStream({ url } as never);
  t.ok(r('/events?since=1'));
  t.ok(r('/containers/web/attach?stream=1'));
  t.ok(r('/containers/web/wait'));
  t.ok(r('/exec/abc/start'));
  t.ok(r('/containers/web/logs?follow=1&stdout=1'));
  t.notOk(r('/containers/web/logs?stdout=1'), 'logs without follow ends by itself');
  t.ok(r('/containers/web/stats'));
  t.notOk(r('/containers/web/stats?stream=false'));
  t.notOk(r('/containers/json'));
  t.notOk(r('/networks/create'));
});

t.test('the daemon counts refusals in /metrics', async (t) => {
  const d = await buildTestDaemon(t);
  const m = await call(d, 'GET', '/metrics');
  t.match(m.text, '# TYPE cnmd_limit_refused_total counter');
});
