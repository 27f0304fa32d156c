import t from 'tap';
import type * as Tap from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDaemon, call } from '../helpers/app.js';

// a full collection on demand, without starting node with --expose-gc
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const MiB = 1024 * 1024;

/**
 * GET over a unix socket the daemon listens on, one kept-alive connection. (Not fastify.inject: a
 * light-my-request round trip itself keeps about 9.6 KB on the heap, even on a bare Fastify.)
 */
async function overSocket(t: Tap.Test, d: Awaited<ReturnType<typeof buildTestDaemon>>): Promise<(path: string, method?: string, body?: unknown) => Promise<number>> {
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-mem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'api.sock');
  await d.app.listen({ path: socketPath });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  return (path, method = 'GET', body) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const headers = data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
      http
        .request({ socketPath, path, method, agent, headers }, (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode ?? 0));
        })
        .on('error', reject)
        .end(data);
    });
}

t.test('no per-request growth of the heap: 10,000 inspects and 1,000 lists leave it as it was', async (t) => {
  const d = await buildTestDaemon(t);
  for (let i = 0; i < 20; i++) t.equal((await call(d, 'POST', '/v1.48/networks/create', { Name: `mem-${i}` })).status, 201);
  const c = await call(d, 'POST', '/v1.48/containers/create?name=mem-c', { Image: 'x', HostConfig: { NetworkMode: 'mem-3' } });
  t.equal(c.status, 201, c.text);
  const get = await overSocket(t, d);
  const round = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const url = i % 2 ? `/v1.48/networks/mem-${i % 20}` : '/v1.48/containers/mem-c/json';
      if ((await get(url)) !== 200) throw new Error(`GET ${url}`);
      if (i % 10 === 0 && (await get('/v1.48/networks')) !== 200) throw new Error('list');
    }
  };
  await round(2_000); // warm: compiled code, caches that fill once
  const before = heapAfterGc();
  await round(10_000);
  const after = heapAfterGc();
  // a leak of 200 bytes a request would be 2 MB here (a fastify.inject round trip keeps 9.6 KB)
  t.ok(after - before < 2 * MiB, `heap after 10,000 requests: ${((after - before) / 1024).toFixed(0)} KiB more than before`);
});

t.test('networks created and removed leave nothing behind: 300 more creates and deletes, listed in between', async (t) => {
  const d = await buildTestDaemon(t, ['--default-address-pool', 'base=10.0.0.0/8,size=24']);
  const send = await overSocket(t, d);
  const cycle = async (k: number) => {
    let created = 0;
    let deleted = 0;
    for (let i = 0; i < 100; i++) created += +((await send('/v1.48/networks/create', 'POST', { Name: `churn-${k}-${i}` })) === 201);
    if ((await call(d, 'GET', '/v1.48/networks')).body.length !== 103) throw new Error('not 100 networks more');
    for (let i = 0; i < 100; i++) deleted += +((await send(`/v1.48/networks/churn-${k}-${i}`, 'DELETE')) === 204);
    if (created !== 100 || deleted !== 100) throw new Error(`round ${k}: ${created} created, ${deleted} deleted`);
  };
  // warm until the event history (1024 events, 200 a round) is full, so that it no longer grows;
  // the recording executor's log of commands is emptied before each measure
  for (let k = 0; k < 6; k++) await cycle(k);
  d.exec.clear();
  const before = heapAfterGc();
  for (let k = 6; k < 9; k++) await cycle(k);
  d.exec.clear();
  const after = heapAfterGc();
  t.equal((await call(d, 'GET', '/v1.48/networks')).body.length, 3, 'the predefined networks are left');
  t.ok(after - before < 1.5 * MiB, `heap after 300 more networks made and removed: ${((after - before) / 1024).toFixed(0)} KiB more than before`);
});
