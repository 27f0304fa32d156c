/**
 * A container's life through the API with a recording executor: concurrent requests on one object,
 * names as long as Docker's, and every client mistake a 4xx with Docker's text.
 */
import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';

const create = (d: TestDaemon, name: string, body: Record<string, unknown> = {}) =>
  call(d, 'POST', `/v1.48/containers/create?name=${name}`, { Image: 'busybox', ...body });
const statuses = (rs: Array<{ status: number }>) => rs.map((r) => r.status).sort().join(',');

t.test('16 concurrent starts: one 204, fifteen 304, one process', async (t) => {
  const d = await buildTestDaemon(t);
  await create(d, 'racer', { Cmd: ['sleep', '100'], HostConfig: { NetworkMode: 'none' } });
  d.exec.clear();
  const rs = await Promise.all(Array.from({ length: 16 }, () => call(d, 'POST', '/containers/racer/start')));
  t.equal(statuses(rs), ['204', ...Array(15).fill('304')].sort().join(','));
  t.equal(d.exec.calls.filter((c) => c.file === 'spawn').length, 1, 'the command was started once');
  t.equal(d.exec.lines({ files: false }).filter((l) => l.startsWith('ip -batch -\nnetns add')).length, 1, 'one namespace');
});

t.test('start racing rm -f, stop racing kill: each answers 2xx or 4xx, never a 5xx, and what remains is consistent', async (t) => {
  const d = await buildTestDaemon(t);
  await call(d, 'POST', '/v1.48/networks/create', { Name: 'n' });
  for (let round = 0; round < 5; round++) {
    await create(d, `r${round}`, { Cmd: ['sleep', '100'], HostConfig: { NetworkMode: 'n' } });
    const [start, rm] = await Promise.all([call(d, 'POST', `/containers/r${round}/start`), call(d, 'DELETE', `/containers/r${round}?force=1`)]);
    t.ok(start.status < 500 && rm.status < 500, `start ${start.status} (${start.body?.message ?? ''}), rm ${rm.status}`);
    const after = await call(d, 'GET', `/containers/r${round}/json`);
    if (after.status === 200) t.equal(after.body.State.Status, 'running', 'when the removal came first, the start made it run');
    else t.equal(after.status, 404, 'else it is gone');
  }
  const eps = Object.keys((await call(d, 'GET', '/networks/n')).body.Containers);
  const running = ((await call(d, 'GET', '/containers/json')).body as Array<{ Id: string }>).map((c) => c.Id);
  t.same(eps.sort(), running.sort(), 'endpoints exactly for the running containers');
  await create(d, 'sk', { Cmd: ['sleep', '100'] });
  await call(d, 'POST', '/containers/sk/start');
  const [stop, kill] = await Promise.all([call(d, 'POST', '/containers/sk/stop?t=1'), call(d, 'POST', '/containers/sk/kill')]);
  t.ok([204, 304].includes(stop.status) && [204, 409].includes(kill.status), `stop ${stop.status}, kill ${kill.status} ${kill.body?.message ?? ''}`);
  t.equal((await call(d, 'GET', '/containers/sk/json')).body.State.Status, 'exited');
});

t.test('concurrent connects, disconnects and renames on one object: one wins, the others get a 4xx', async (t) => {
  const d = await buildTestDaemon(t);
  await call(d, 'POST', '/v1.48/networks/create', { Name: 'a' });
  await call(d, 'POST', '/v1.48/networks/create', { Name: 'b' });
  await create(d, 'c1', { HostConfig: { NetworkMode: 'a' } });
  await call(d, 'POST', '/containers/c1/start');
  const connects = await Promise.all(Array.from({ length: 8 }, () => call(d, 'POST', '/networks/b/connect', { Container: 'c1' })));
  t.equal(statuses(connects), ['200', ...Array(7).fill('403')].sort().join(','), 'one connect; the others: already exists');
  t.same(new Set(connects.filter((r) => r.status === 403).map((r) => r.body.message)), new Set(['endpoint with name c1 already exists in network b']));
  const disconnects = await Promise.all(Array.from({ length: 16 }, () => call(d, 'POST', '/networks/b/disconnect', { Container: 'c1' })));
  t.equal(statuses(disconnects), ['200', ...Array(15).fill('404')].sort().join(','), 'one disconnect; fifteen 404s (Docker: 500s)');
  t.match(disconnects.find((r) => r.status === 404)!.body.message, /^container [0-9a-f]{64} is not connected to network b$/);
  await create(d, 'x1');
  await create(d, 'x2');
  const renames = await Promise.all([call(d, 'POST', '/containers/x1/rename?name=same'), call(d, 'POST', '/containers/x2/rename?name=same')]);
  t.equal(statuses(renames), '204,409', 'two containers renamed to one name: one wins');
});

t.test('concurrent removals of one container and of one network, and a network removed while containers join it: never a 5xx', async (t) => {
  const d = await buildTestDaemon(t);
  await call(d, 'POST', '/v1.48/networks/create', { Name: 'gone' });
  await create(d, 'victim', { Cmd: ['sleep', '100'], HostConfig: { NetworkMode: 'gone' } });
  await call(d, 'POST', '/containers/victim/start');
  const rms = await Promise.all(Array.from({ length: 16 }, () => call(d, 'DELETE', '/containers/victim?force=1')));
  t.equal(rms.filter((r) => r.status === 204).length, 1, 'one removal');
  t.same(new Set(rms.filter((r) => r.status !== 204).map((r) => r.status)), new Set([404]), 'the others: no such container (they waited for the lock)');
  const nets = await Promise.all(Array.from({ length: 16 }, () => call(d, 'DELETE', '/networks/gone')));
  t.equal(statuses(nets), ['204', ...Array(15).fill('404')].sort().join(','), 'one network removal; fifteen 404s');
  t.equal((await call(d, 'GET', '/networks/gone')).status, 404);

  await call(d, 'POST', '/v1.48/networks/create', { Name: 'busy' });
  for (let i = 0; i < 6; i++) {
    await create(d, `j${i}`, { Cmd: ['sleep', '100'] });
    await call(d, 'POST', `/containers/j${i}/start`);
  }
  const [rm, ...joins] = await Promise.all([
    call(d, 'DELETE', '/networks/busy'),
    ...Array.from({ length: 6 }, (_, i) => call(d, 'POST', '/networks/busy/connect', { Container: `j${i}` })),
  ]);
  t.ok([204, 403].includes(rm.status), `network rm: ${rm.status} ${rm.body?.message ?? ''}`);
  t.ok(joins.every((r) => [200, 404].includes(r.status)), `connects: ${statuses(joins)}`);
  const left = await call(d, 'GET', '/networks/busy');
  if (rm.status === 204) {
    t.equal(left.status, 404);
    t.equal(joins.filter((r) => r.status === 200).length, 0, 'the network went first: no container joined it');
  } else {
    t.match(rm.body.message, /has active endpoints/);
    t.equal(Object.keys(left.body.Containers).length, joins.filter((r) => r.status === 200).length, 'exactly the joins that succeeded are there');
  }
  const id0 = (await call(d, 'GET', '/containers/j0/json')).body.Id;
  const renames = await Promise.all(['ra', 'rb', 'rc', 'rd'].map((n) => call(d, 'POST', `/containers/j0/rename?name=${n}`)));
  t.ok(renames.every((r) => [204, 404].includes(r.status)) && renames.some((r) => r.status === 204), `one container renamed four ways: ${statuses(renames)}`);
  const last = ['ra', 'rb', 'rc', 'rd'].filter((_, i) => renames[i].status === 204);
  t.equal((await call(d, 'GET', `/containers/${id0}/json`)).body.Name, `/${last[last.length - 1]}`, 'the last rename that found it holds');
  const same = await Promise.all(Array.from({ length: 4 }, () => call(d, 'POST', '/containers/j1/rename?name=twin')));
  t.equal(statuses(same), '204,400,400,400', 'to one name: the first wins, then "the same name as its current name"');
});

t.test('names as long as Docker takes them, in paths too; framework errors in Docker\'s shape', async (t) => {
  const d = await buildTestDaemon(t);
  const long = 'n' + 'x'.repeat(299);
  t.equal((await create(d, long, { Cmd: ['sleep', '1'] })).status, 201);
  t.equal((await call(d, 'POST', `/containers/${long}/start`)).status, 204, 'a 300-character name: start by name');
  const c = (await call(d, 'GET', `/v1.41/containers/${long}/json`)).body;
  t.equal(c.Name, `/${long}`);
  t.match(c.NetworkSettings.SandboxKey, /^\/run\/netns\/cnmd-[0-9a-f]{12}$/, 'its namespace is named by its id, not its name');
  const longer = 'm' + 'y'.repeat(400);
  t.equal((await call(d, 'POST', `/containers/${c.Id}/rename?name=${longer}`)).status, 204);
  t.equal((await call(d, 'DELETE', `/containers/${longer}?force=1`)).status, 204);
  const net = 'w' + 'z'.repeat(299);
  t.equal((await call(d, 'POST', '/networks/create', { Name: net })).status, 201);
  t.equal((await call(d, 'GET', `/networks/${net}`)).body.Name, net, 'a long network name in the path');
  const bad = await d.app.inject({ method: 'POST', url: '/containers/create', payload: '{"Image":', headers: { 'content-type': 'application/json' } });
  t.equal(bad.statusCode, 400);
  t.match(JSON.parse(bad.body), { message: /^invalid JSON/ });
  const missing = await call(d, 'GET', '/no/such/route');
  t.same([missing.status, missing.body], [404, { message: 'page not found' }]);
  const textBody = await d.app.inject({ method: 'POST', url: '/containers/create', payload: 'Image=x', headers: { 'content-type': 'text/plain' } });
  t.same([textBody.statusCode, JSON.parse(textBody.body)], [400, { message: "Content-Type specified (text/plain) must be 'application/json'" }]);
});

t.test('client mistakes: a 4xx with Docker\'s text, and nothing changed', async (t) => {
  const d = await buildTestDaemon(t);
  await create(d, 'idle', { Cmd: ['sleep', '100'] });
  const idle = (await call(d, 'GET', '/containers/idle/json')).body.Id;
  const expect = async (method: string, url: string, body: unknown, status: number, message: string | RegExp) => {
    const r = await call(d, method, url, body);
    t.equal(r.status, status, `${method} ${url}: ${r.text}`);
    t.match(r.body?.message, message);
  };
  await expect('POST', '/containers/nope/attach?stream=1&stdout=1', undefined, 404, 'No such container: nope');
  await expect('POST', '/containers/nope/exec', { Cmd: ['ls'] }, 404, 'No such container: nope');
  await expect('POST', '/containers/idle/exec', { Cmd: [] }, 400, 'No exec command specified');
  await expect('POST', '/containers/idle/exec', { Cmd: ['ls'] }, 409, `Container ${idle} is not running`);
  await expect('POST', '/exec/nope/start', {}, 404, 'No such exec instance: nope');
  await expect('GET', '/exec/nope/json', undefined, 404, 'No such exec instance: nope');
  await expect('POST', '/containers/idle/resize?h=abc&w=10', undefined, 400, 'strconv.Atoi: parsing "abc": invalid syntax');
  await expect('POST', '/containers/idle/resize?h=10&w=10', undefined, 409, `Container ${idle} is not running`);
  await expect('POST', '/containers/idle/resize?h=10&w=99999999', undefined, 400, 'invalid terminal size: 99999999');
  await expect('GET', '/containers/idle/top', undefined, 409, `Container ${idle} is not running`);
  await expect('POST', '/containers/idle/pause', undefined, 409, `Container ${idle} is not running`);
  await expect('POST', '/containers/idle/unpause', undefined, 409, `Container ${idle} is not paused`);
  await expect('POST', '/containers/idle/rename?name=', undefined, 400, 'Neither old nor new names may be empty');
  await expect('POST', '/containers/idle/rename?name=idle', undefined, 400, 'Renaming a container with the same name as its current name');
  await expect('POST', '/containers/idle/rename?name=bad/name', undefined, 400, 'Error when allocating new name: Invalid container name (/bad/name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
  await expect('POST', '/containers/idle/update', { RestartPolicy: { Name: 'bogus' } }, 400, "invalid restart policy 'bogus'");
  await expect('POST', '/containers/create?name=rm-restart', { Image: 'x', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }, 400, "can't create 'AutoRemove' container with restart policy");
  await expect('POST', '/containers/create?name=hx', { Image: 'x', Hostname: '-x' }, 400, 'invalid hostname format: -x');
  await expect('POST', '/containers/create?name=ux', { Image: 'x', User: 'a b' }, 400, 'invalid user: a b');
  await create(d, 'who', { Cmd: ['true'], User: 'nobody-such' });
  await expect('POST', '/containers/who/start', undefined, 400, 'unable to find user nobody-such: no matching entries in passwd file');
  t.match((await call(d, 'GET', '/containers/who/json')).body.State, { Status: 'created', ExitCode: 126, Error: 'unable to find user nobody-such: no matching entries in passwd file' }, 'recorded, as Docker');
  d.exec.missingExecutables.add('nosuchcmd');
  await create(d, 'miss', { Cmd: ['nosuchcmd'] });
  await expect('POST', '/containers/miss/start', undefined, 400, 'exec: "nosuchcmd": executable file not found in $PATH');
  t.same((await call(d, 'GET', '/networks/bridge')).body.Containers, {}, 'failed starts made no endpoint');
  t.notOk(d.exec.calls.some((c) => c.file === 'spawn'), 'and ran nothing');
  await call(d, 'POST', '/containers/idle/start');
  await expect('POST', '/containers/idle/exec', { Cmd: ['ls'], User: 'x;y' }, 400, 'invalid user: x;y');
  await expect('POST', '/containers/idle/exec', { Cmd: ['ls'], WorkingDir: 'rel' }, 400, "the working directory 'rel' is invalid, it needs to be an absolute path");
  const ex = (await call(d, 'POST', '/containers/idle/exec', { Cmd: ['ls'], User: 'nobody-such' })).body.Id;
  await expect('POST', `/exec/${ex}/start`, { Detach: true }, 400, 'unable to find user nobody-such');
  await expect('GET', '/containers/idle/top?ps_args=aux%3Breboot', undefined, 400, 'invalid ps_args: aux;reboot');
  t.equal((await call(d, 'POST', '/containers/idle/pause')).status, 204);
  await expect('POST', '/containers/idle/pause', undefined, 409, `Container ${idle} is already paused`);
  await expect('POST', '/containers/idle/exec', { Cmd: ['ls'] }, 409, 'Container idle is paused, unpause the container before exec');
  t.match((await call(d, 'GET', '/containers/idle/json')).body.State, { Status: 'paused', Paused: true, Running: true });
});
