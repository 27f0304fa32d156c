/**
 * Compose v2's recreate of a changed service, as docker/compose's pkg/compose plans it
 * (planRecreateContainer: create under `<old 12 hex>_<name>` with the replace label, stop the old
 * one, remove it with force, rename the new one to the service's name, start it), driven over the
 * API at 1.48 for three services at once, as compose runs them in parallel.
 */
import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';

const API = '/v1.48';
const project = 'shop';
const labels = (service: string, hash: string) => ({
  'com.docker.compose.project': project, 'com.docker.compose.service': service, 'com.docker.compose.container-number': '1',
  'com.docker.compose.config-hash': hash, 'com.docker.compose.oneoff': 'False',
});
const body = (service: string, hash: string, extra: Record<string, string> = {}) => ({
  Image: 'busybox', Cmd: ['sleep', '1d'], Hostname: service, Labels: { ...labels(service, hash), ...extra },
  HostConfig: { NetworkMode: `${project}_default`, RestartPolicy: { Name: 'unless-stopped' } },
  NetworkingConfig: { EndpointsConfig: { [`${project}_default`]: { Aliases: [`${project}-${service}-1`, service] }, [`${project}_back`]: { Aliases: [`${project}-${service}-1`, service] } } },
});

async function recreate(d: TestDaemon, service: string): Promise<{ oldId: string; newId: string; steps: number[] }> {
  const name = `${project}-${service}-1`;
  const old = (await call(d, 'GET', `${API}/containers/${name}/json`)).body;
  const tmp = `${old.Id.slice(0, 12)}_${name}`;
  const created = await call(d, 'POST', `${API}/containers/create?name=${tmp}`, body(service, 'new', { 'com.docker.compose.replace': name }));
  const stop = await call(d, 'POST', `${API}/containers/${old.Id}/stop?t=1`);
  const rm = await call(d, 'DELETE', `${API}/containers/${old.Id}?force=1`);
  const rename = await call(d, 'POST', `${API}/containers/${created.body.Id}/rename?name=${name}`);
  const start = await call(d, 'POST', `${API}/containers/${created.body.Id}/start`);
  return { oldId: old.Id, newId: created.body.Id, steps: [created.status, stop.status, rm.status, rename.status, start.status] };
}

t.test('create under a temporary name, stop, remove, rename, start: for three services at once', async (t) => {
  const d = await buildTestDaemon(t);
  for (const n of ['default', 'back']) await call(d, 'POST', `${API}/networks/create`, { Name: `${project}_${n}`, Labels: { 'com.docker.compose.project': project, 'com.docker.compose.network': n } });
  const services = ['web', 'api', 'worker'];
  for (const s of services) {
    t.equal((await call(d, 'POST', `${API}/containers/create?name=${project}-${s}-1`, body(s, 'old'))).status, 201);
    t.equal((await call(d, 'POST', `${API}/containers/${project}-${s}-1/start`)).status, 204);
  }
  const results = await Promise.all(services.map((s) => recreate(d, s)));
  for (const [i, r] of results.entries()) {
    const s = services[i];
    t.same(r.steps, [201, 204, 204, 204, 204], `${s}: create, stop, rm, rename, start`);
    const now = (await call(d, 'GET', `${API}/containers/${project}-${s}-1/json`)).body;
    t.equal(now.Id, r.newId, `${s}: the name is the new container's`);
    t.equal(now.State.Status, 'running');
    t.equal(now.Config.Labels['com.docker.compose.config-hash'], 'new');
    t.same(Object.keys(now.NetworkSettings.Networks).sort(), [`${project}_back`, `${project}_default`], 'both networks at create (API 1.44+)');
    t.ok(now.NetworkSettings.Networks[`${project}_default`].Aliases.includes(s));
    t.equal((await call(d, 'GET', `${API}/containers/${r.oldId}/json`)).status, 404, `${s}: the old one is gone`);
  }
  for (const n of ['default', 'back']) {
    const members = Object.values((await call(d, 'GET', `${API}/networks/${project}_${n}`)).body.Containers).map((e: any) => e.Name).sort();
    t.same(members, services.map((s) => `${project}-${s}-1`).sort(), `${n}: one endpoint per service, under the final names`);
  }
  const list = (await call(d, 'GET', `${API}/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }))}`)).body;
  t.equal(list.length, 3, 'no temporary container left');
  t.notOk(list.some((c: any) => /^\/[0-9a-f]{12}_/.test(c.Names[0])), 'no temporary name left');
});

t.test('a rename onto a name still taken (the old container not removed yet) is a 409, and the temporary name stays usable', async (t) => {
  const d = await buildTestDaemon(t);
  await call(d, 'POST', `${API}/networks/create`, { Name: `${project}_default` });
  await call(d, 'POST', `${API}/containers/create?name=${project}-db-1`, { Image: 'busybox', HostConfig: { NetworkMode: `${project}_default` } });
  const old = (await call(d, 'GET', `${API}/containers/${project}-db-1/json`)).body.Id;
  const tmp = (await call(d, 'POST', `${API}/containers/create?name=${old.slice(0, 12)}_${project}-db-1`, { Image: 'busybox', HostConfig: { NetworkMode: `${project}_default` } })).body.Id;
  const early = await call(d, 'POST', `${API}/containers/${tmp}/rename?name=${project}-db-1`);
  t.equal(early.status, 409);
  t.match(early.body.message, /is already in use by container/);
  t.equal((await call(d, 'GET', `${API}/containers/${old.slice(0, 12)}_${project}-db-1/json`)).body.Id, tmp);
});
