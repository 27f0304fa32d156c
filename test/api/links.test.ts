/**
 * Docker's legacy links through the API with a recording executor: on the default bridge a hosts
 * entry and environment variables for the linked container, Docker's 400s and 409s, inspect's form,
 * `rm --link`; on a user-defined network the link is kept for the embedded DNS.
 */
import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';

const create = (d: TestDaemon, name: string, body: Record<string, unknown> = {}) =>
  call(d, 'POST', `/v1.41/containers/create?name=${name}`, { Image: 'busybox', ...body });
const hostsOf = async (d: TestDaemon, name: string) => d.exec.files.get((await call(d, 'GET', `/containers/${name}/json`)).body.HostsPath) ?? '';
const ipOf = async (d: TestDaemon, name: string) => (await call(d, 'GET', `/containers/${name}/json`)).body.NetworkSettings.Networks.bridge.IPAddress as string;

t.test('on the default bridge: hosts entry, environment, inspect, and the child followed when it restarts', async (t) => {
  const d = await buildTestDaemon(t);
  await create(d, 'db', { Cmd: ['sleep', '100'], Env: ['SECRET=x', 'PATH=/bin'], ExposedPorts: { '5432/tcp': {} } });
  t.equal((await call(d, 'POST', '/containers/db/start')).status, 204);
  const made = await create(d, 'app', { Cmd: ['sleep', '100'], Env: ['DB_NAME=mine'], HostConfig: { Links: ['db:database'] } });
  t.equal(made.status, 201);
  t.equal((await call(d, 'POST', '/containers/app/start')).status, 204);
  const dbIp = await ipOf(d, 'db');
  const dbHost = (await call(d, 'GET', '/containers/db/json')).body.Config.Hostname;
  t.match(await hostsOf(d, 'app'), new RegExp(`\\n${dbIp.replace(/\./g, '\\.')}\\tdatabase ${dbHost} db\\n`), 'ip, alias, hostname, name');
  const pid = (await d.exec.findProcess(`CNMD_CONTAINER_ID=${(await call(d, 'GET', '/containers/app/json')).body.Id}`))!;
  const env = d.exec.processEnv.get(pid)!;
  t.equal(env.DATABASE_PORT, `tcp://${dbIp}:5432`);
  t.equal(env.DATABASE_PORT_5432_TCP_ADDR, dbIp);
  t.equal(env.DATABASE_ENV_SECRET, 'x');
  t.equal(env.DATABASE_ENV_PATH, undefined, 'PATH is left out');
  t.equal(env.DATABASE_NAME, '/app/database');
  t.equal(env.DB_NAME, 'mine', "the container's own Env wins");
  t.same((await call(d, 'GET', '/containers/app/json')).body.HostConfig.Links, ['/db:/app/database']);
  t.equal((await call(d, 'POST', '/containers/db/rename?name=db2')).status, 204);
  t.same((await call(d, 'GET', '/containers/app/json')).body.HostConfig.Links, ['/db2:/app/database'], 'the link follows a rename');

  // the child restarts elsewhere: the parent's hosts file follows (Docker updates its parents too)
  await create(d, 'filler', { HostConfig: { NetworkMode: 'bridge' } });
  await call(d, 'POST', '/containers/db2/stop?t=0');
  t.notMatch(await hostsOf(d, 'app'), /database/, 'no entry while the child is down');
  await call(d, 'POST', '/containers/filler/start');
  await call(d, 'POST', '/containers/db2/start');
  const moved = await ipOf(d, 'db2');
  t.not(moved, dbIp, 'the child has a new address');
  t.match(await hostsOf(d, 'app'), new RegExp(`\\n${moved.replace(/\./g, '\\.')}\\tdatabase ${dbHost} db2\\n`));

  // rm --link drops it
  const rmLink = await call(d, 'DELETE', '/containers/app/database?link=1');
  t.equal(rmLink.status, 204, rmLink.body?.message);
  t.notMatch(await hostsOf(d, 'app'), /database/);
  t.equal((await call(d, 'GET', '/containers/app/json')).body.HostConfig.Links, null);
  t.equal((await call(d, 'DELETE', '/containers/app/database?link=1')).status, 404);
  t.same((await call(d, 'DELETE', '/containers/app?link=1')).body, { message: 'Conflict, cannot remove the default link name of the container' });
  t.equal((await call(d, 'DELETE', '/containers/nosuch/x?link=1')).body.message, 'Cannot get parent /nosuch for link name /nosuch/x');
  t.equal((await call(d, 'DELETE', '/containers/app/database')).status, 404, 'a name with a slash without link=1 is no container');
});

t.test("Docker's refusals: unknown child, bad format, host mode, a child that is not running or not on the bridge", async (t) => {
  const d = await buildTestDaemon(t);
  const unknown = await create(d, 'p1', { HostConfig: { Links: ['nosuch:x'] } });
  t.same([unknown.status, unknown.body.message], [400, 'could not get container for nosuch: No such container: nosuch']);
  t.same((await create(d, 'p2', { HostConfig: { Links: ['a:b:c'] } })).body, { message: 'bad format for links: a:b:c' });
  t.same((await create(d, 'p3', { HostConfig: { Links: ['a:b\n1.2.3.4 x'] } })).status, 400, 'nothing that would break the hosts file');
  await create(d, 'hosty', { HostConfig: { NetworkMode: 'host' } });
  t.equal((await create(d, 'p4', { HostConfig: { Links: ['hosty:h'] } })).body.message, "conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  t.equal((await create(d, 'p5', { HostConfig: { NetworkMode: 'host', Links: ['hosty:h'] } })).status, 400);
  await create(d, 'idle');
  await create(d, 'p6', { HostConfig: { Links: ['idle:db'] } });
  const start = await call(d, 'POST', '/containers/p6/start');
  t.same([start.status, start.body.message], [409, 'Cannot link to a non running container: /idle AS /p6/db']);
  t.equal((await call(d, 'GET', '/containers/p6/json')).body.State.Status, 'created', 'nothing started');
  await call(d, 'POST', '/v1.41/networks/create', { Name: 'user' });
  await create(d, 'elsewhere', { HostConfig: { NetworkMode: 'user' } });
  await call(d, 'POST', '/containers/elsewhere/start');
  await create(d, 'p7', { HostConfig: { Links: ['elsewhere:e'] } });
  t.equal((await call(d, 'POST', '/containers/p7/start')).body.message, 'Cannot link to /elsewhere, as it does not belong to the default network');
  await call(d, 'DELETE', '/containers/idle');
  t.equal((await call(d, 'POST', '/containers/p6/start')).body.message, 'Cannot link to a non running container: /idle AS /p6/db', 'a removed child keeps the parent from starting, as Docker');
});

t.test('on a user-defined network: HostConfig.Links is ignored by the daemon, EndpointSettings.Links is kept', async (t) => {
  const d = await buildTestDaemon(t);
  await call(d, 'POST', '/v1.41/networks/create', { Name: 'proj' });
  const r = await create(d, 'client', {
    HostConfig: { NetworkMode: 'proj', Links: ['nosuch:web'] },
    NetworkingConfig: { EndpointsConfig: { proj: { Links: ['proj_web_1:web'] } } },
  });
  t.equal(r.status, 201, 'no lookup of the target, as Docker');
  const c = (await call(d, 'GET', '/containers/client/json')).body;
  t.equal(c.HostConfig.Links, null);
  t.same(c.NetworkSettings.Networks.proj.Links, ['proj_web_1:web']);
  t.equal((await create(d, 'bad', { HostConfig: { NetworkMode: 'proj' }, NetworkingConfig: { EndpointsConfig: { proj: { Links: ['x:y:z'] } } } })).body.message, 'bad format for links: x:y:z');
  await create(d, 'other');
  t.equal((await call(d, 'POST', '/networks/proj/connect', { Container: 'other', EndpointConfig: { Links: ['a:b:c'] } })).status, 400);
});
