/**
 * The swarm routes of cnmd beside a reference Docker engine outside a swarm (started with
 * ../shared/tools/start-reference-dockerd.sh; skipped without one): the same status and text per
 * route, except where Docker answers 500 for a client's mistake and cnmd 400. Never init or join.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { unixRequest } from '../helpers/host.js';
import { buildTestDaemon, call } from '../helpers/app.js';
import { SWARM_ROUTES } from '../helpers/swarm-routes.js';

const REFERENCE = process.env.CNMD_REFERENCE_SOCKET ?? '/var/tmp/peer-dockerd/docker.sock';

async function referenceUnavailable(): Promise<string | undefined> {
  if (!existsSync(REFERENCE)) return `no reference Docker engine at ${REFERENCE} (../shared/tools/start-reference-dockerd.sh starts one)`;
  const ping = await unixRequest(REFERENCE, 'GET', '/_ping').catch(() => undefined);
  if (ping?.status !== 200) return `the reference Docker engine at ${REFERENCE} does not answer`;
  const info = await unixRequest(REFERENCE, 'GET', '/v1.41/info');
  if (info.body?.Swarm?.LocalNodeState !== 'inactive') return 'the reference Docker engine is in a swarm';
  return undefined;
}

const why = await referenceUnavailable();
if (why) t.plan(0, why);
else {
  t.test('every swarm route: the reference engine and cnmd answer alike', async (t) => {
    const d = await buildTestDaemon(t);
    for (const r of SWARM_ROUTES) {
      const ref = await unixRequest(REFERENCE, r.method, `/v1.41${r.path}`, r.method === 'POST' ? {} : undefined);
      const ours = await call(d, r.method, `/v1.41${r.path}`, r.method === 'POST' ? {} : undefined);
      t.same(ref.body, { message: r.message }, `the reference says what we recorded: ${r.method} ${r.path}`);
      t.equal(ref.status, r.dockerStatus ?? r.status, `reference status of ${r.method} ${r.path}`);
      t.same([ours.status, ours.body], [r.status, ref.body], `cnmd: ${r.method} ${r.path}`);
    }
  });
}
