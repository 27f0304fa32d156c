/**
 * The engine around networks through the API (recording executor): images as names, volumes,
 * container prune, system df, and the swarm routes as an engine outside a swarm.
 */
import t from 'tap';
import { buildTestDaemon, call } from '../helpers/app.js';
import { SWARM_ROUTES } from '../helpers/swarm-routes.js';

t.test('images: pull streams an honest status, inspect, list with filters, tag, history, rmi 409s, prune', async (t) => {
  const d = await buildTestDaemon(t);
  const pull = await d.app.inject({ method: 'POST', url: '/v1.41/images/create?fromImage=busybox&tag=latest' });
  t.equal(pull.statusCode, 200);
  const lines = pull.body.trim().split('\r\n').map((l) => JSON.parse(l));
  t.same(lines[0], { status: 'Pulling from library/busybox', id: 'latest' });
  t.match(lines[1].status, /keeps no image layers/, 'it says that nothing is downloaded');
  t.equal(lines[2].status, 'Status: Downloaded newer image for busybox:latest');
  const again = await d.app.inject({ method: 'POST', url: '/v1.41/images/create?fromImage=busybox:latest' });
  t.match(again.body, /Image is up to date for busybox:latest/);
  const img = (await call(d, 'GET', '/v1.41/images/busybox/json')).body;
  t.match(img.Id, /^sha256:[0-9a-f]{64}$/);
  t.same(img.RepoTags, ['busybox:latest']);
  t.ok('ContainerConfig' in img, 'ContainerConfig, which compose v1 reads');
  t.same((await call(d, 'GET', '/v1.41/images/nosuch:1/json')).body, { message: 'No such image: nosuch:1' });
  t.equal((await call(d, 'POST', '/v1.41/images/busybox/tag?repo=registry.example:5000/team/app&tag=v1')).status, 201);
  t.same((await call(d, 'GET', '/v1.41/images/registry.example:5000/team/app:v1/json')).body.Id, img.Id, 'a name with slashes and a port');
  const listed = (await call(d, 'GET', `/v1.41/images/json?filters=${encodeURIComponent('{"reference":["team/*","registry.example:5000/team/*"]}')}`)).body;
  t.same(listed.map((i: any) => i.RepoTags), [['busybox:latest', 'registry.example:5000/team/app:v1']]);
  t.equal((await call(d, 'GET', '/v1.41/images/busybox/history')).body.length, 1);
  await call(d, 'POST', '/v1.41/containers/create?name=user', { Image: 'busybox' });
  const byId = await call(d, 'DELETE', `/v1.41/images/${img.Id.slice(7, 19)}`);
  t.same([byId.status, byId.body.message], [409, `conflict: unable to delete ${img.Id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`]);
  t.same((await call(d, 'DELETE', '/v1.41/images/registry.example:5000/team/app:v1')).body, [{ Untagged: 'registry.example:5000/team/app:v1' }]);
  const inUse = await call(d, 'DELETE', '/v1.41/images/busybox');
  t.equal(inUse.status, 409);
  t.match(inUse.body.message, /^conflict: unable to remove repository reference "busybox" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}$/);
  t.equal((await call(d, 'POST', '/v1.41/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D')).body.ImagesDeleted, null, 'an image a container uses stays');
  await call(d, 'DELETE', '/containers/user');
  const pruned = (await call(d, 'POST', '/v1.41/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D')).body;
  t.same(pruned.ImagesDeleted.map((x: any) => Object.keys(x)[0]).sort(), ['Deleted', 'Untagged']);
  t.same((await call(d, 'GET', '/images/json')).body, []);
  for (const [method, url] of [['POST', '/build'], ['POST', '/images/load'], ['GET', '/images/get?names=busybox'], ['GET', '/images/search?term=x'], ['POST', '/commit?container=x']]) {
    const r = await d.app.inject({ method: method as 'GET', url, payload: method === 'POST' ? Buffer.from('a tar') : undefined, headers: { 'content-type': 'application/x-tar' } });
    t.equal(r.statusCode, 501, `${method} ${url}`);
    t.match(JSON.parse(r.body).message, /^cnmd does not /);
  }
});

t.test('volumes: create, list, inspect, in use 409, rm, prune; container prune; system df', async (t) => {
  const d = await buildTestDaemon(t);
  const v = await call(d, 'POST', '/v1.41/volumes/create', { Name: 'data', Labels: { a: 'b' } });
  t.equal(v.status, 201);
  t.match(v.body, { Name: 'data', Driver: 'local', Scope: 'local', Labels: { a: 'b' } });
  t.match(v.body.Mountpoint, /\/volumes\/data\/_data$/);
  t.same((await call(d, 'POST', '/v1.41/volumes/create', { Name: 'nfs', DriverOpts: { type: 'nfs' } })).status, 400);
  t.same((await call(d, 'GET', '/v1.41/volumes/nosuch')).body, { message: 'get nosuch: no such volume' });
  await call(d, 'POST', '/v1.41/containers/create?name=vuser', { Image: 'busybox', HostConfig: { Binds: ['data:/srv/x'] } });
  const rm = await call(d, 'DELETE', '/v1.41/volumes/data');
  t.equal(rm.status, 409);
  t.match(rm.body.message, /^remove data: volume is in use - \[[0-9a-f]{64}\]$/);
  const df = (await call(d, 'GET', '/v1.41/system/df')).body;
  t.same(df.Volumes.map((x: any) => [x.Name, x.UsageData.RefCount]), [['data', 1]]);
  t.same(df.Containers.map((x: any) => x.Names), [['/vuser']]);
  t.same(df.BuildCache, []);
  const cp = (await call(d, 'POST', '/v1.41/containers/prune')).body;
  t.equal(cp.ContainersDeleted.length, 1, 'a created container is pruned');
  t.same((await call(d, 'GET', '/volumes')).body.Volumes.map((x: any) => x.Name), ['data'], 'a named volume stays with its container gone');
  t.same((await call(d, 'POST', '/v1.42/volumes/prune')).body, { VolumesDeleted: [], SpaceReclaimed: 0 }, 'from 1.42 prune takes anonymous volumes only (an empty list, as Docker)');
  t.same((await call(d, 'POST', `/v1.42/volumes/prune?filters=${encodeURIComponent('{"all":["true"]}')}`)).body.VolumesDeleted, ['data'], 'all=true: named ones too (at 1.41: all unused, without the filter)');
});

t.test('swarm, node, service, task, secret and config routes answer as an engine outside a swarm', async (t) => {
  const d = await buildTestDaemon(t);
  for (const r of SWARM_ROUTES) {
    const reply = await call(d, r.method, `/v1.41${r.path}`, r.method === 'POST' ? {} : undefined);
    t.same([reply.status, reply.body], [r.status, { message: r.message }], `${r.method} ${r.path}`);
  }
  const init = await call(d, 'POST', '/v1.41/swarm/init', { ListenAddr: '0.0.0.0:2377' });
  t.equal(init.status, 501);
  t.match(init.body.message, /--cluster-store etcd:\/\//, 'the refusal names cnmd\'s way across hosts');
  t.equal((await call(d, 'GET', '/v1.41/info')).body.Swarm.LocalNodeState, 'inactive');
});
