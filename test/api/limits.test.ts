/** Limits on what the API holds at once (src/api/limits.ts): requests in progress and open streams. */
import t from 'tap';
import type * as Tap from 'tap';
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

t.test('an events follower that does not read is dropped once 1 MiB waits for it; the others go on', async (t) => {
  const { EVENT_BUFFER_LIMIT, followerWriter } = await import('../../src/api/events.js');
  t.equal(EVENT_BUFFER_LIMIT, 1 << 20);
  // the rule on its own: a sink that never drains
  let buffered = 0;
  let destroyed = false;
  let dropped = 0;
  const write = followerWriter({ write: (s: string) => ((buffered += s.length), false), get writableLength() { return buffered; }, destroy: () => void (destroyed = true) }, 1000, () => dropped++);
  for (let i = 0; i < 9; i++) write('x'.repeat(100));
  t.notOk(destroyed, 'below the limit: kept');
  write('x'.repeat(200));
  t.ok(destroyed, 'past it: disconnected');
  write('more');
  t.equal(dropped, 1, 'once');
  t.equal(buffered, 1100, 'nothing more is buffered for it');

  // on a real socket: a client that stops reading
  const connect = await eventFollowers(t, await buildTestDaemon(t));
  const slow = connect();
  const fast = connect();
  await new Promise((r) => setTimeout(r, 200));
  slow.s.pause();
  await flood(connect.daemon, 3000);
  await new Promise((r) => setTimeout(r, 500));
  slow.s.resume();
  await new Promise((r) => setTimeout(r, 500));
  t.ok(slow.closed(), 'the slow follower was disconnected');
  t.ok(slow.got() < 3000 * 2000, 'before it got everything');
  t.notOk(fast.closed(), 'the one that reads is still connected');
  t.ok(fast.got() > 3000 * 2000, 'and got every event');
  t.match((await call(connect.daemon, 'GET', '/metrics')).text, 'cnmd_limit_refused_total{limit="slow_followers"} 1');
  fast.s.destroy();
});

t.test('the daemon takes its limits from --limit: api-streams=1 refuses a second follower; follower-buffer=65536 drops a slow one sooner', async (t) => {
  const d = await buildTestDaemon(t, ['--limit', 'api-streams=1', '--limit', 'follower-buffer=65536']);
  const follow = await eventFollowers(t, d);
  const slow = follow();
  await new Promise((r) => setTimeout(r, 200));
  const second = follow();
  await new Promise((r) => setTimeout(r, 200));
  t.match(second.text(), /^HTTP\/1.1 503/, 'a second stream is refused');
  t.match(second.text(), 'cnmd is busy: 1 streams (events, logs, attach, wait, exec) are open; try again');
  second.s.destroy();
  slow.s.pause();
  // 1 MB: far below the default of 1 MiB once the sockets' own buffers have taken their share, past 64 KiB
  await flood(d, 500);
  await new Promise((r) => setTimeout(r, 300));
  slow.s.resume();
  await new Promise((r) => setTimeout(r, 300));
  t.ok(slow.closed(), 'the slow follower was disconnected');
  t.match((await call(d, 'GET', '/metrics')).text, 'cnmd_limit_refused_total{limit="slow_followers"} 1');
  t.match((await call(d, 'GET', '/metrics')).text, 'cnmd_limit_refused_total{limit="streams"} 1');
});

/** The daemon's API on a unix socket, and raw connections following GET /events on it. */
async function eventFollowers(t: Tap.Test, daemon: Awaited<ReturnType<typeof buildTestDaemon>>) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const net = await import('node:net');
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-follow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'api.sock');
  await daemon.app.listen({ path });
  const follow = () => {
    const s = net.connect(path);
    s.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    let text = '';
    let got = 0;
    let closed = false;
    s.on('data', (b: Buffer) => {
      got += b.length;
      if (text.length < 4096) text += b.toString('latin1');
    });
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    return { s, got: () => got, text: () => text, closed: () => closed };
  };
  return Object.assign(follow, { daemon });
}

/** n events of 2 kB, in batches, so that the readers in this same process get their turns. */
async function flood(d: Awaited<ReturnType<typeof buildTestDaemon>>, n: number): Promise<void> {
  const big = 'y'.repeat(2000);
  for (let i = 0; i < n; i++) {
    d.events.emit('network', 'create', 'n'.repeat(64), { name: big });
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 3));
  }
}
