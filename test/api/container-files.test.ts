/**
 * docker cp through the API with a recording executor: the stat header, where a path is read (the
 * container's mount namespace while it runs, through its binds on the host without one), Docker's
 * 4xx texts, and 501s that say why for what needs image layers.
 */
import t from 'tap';
import { buildTestDaemon, call, type TestDaemon } from '../helpers/app.js';

const create = (d: TestDaemon, name: string, body: Record<string, unknown> = {}) =>
  call(d, 'POST', `/v1.41/containers/create?name=${name}`, { Image: 'busybox', ...body });
const statOf = (h: unknown) => JSON.parse(Buffer.from(String(h), 'base64').toString());

t.test('a stopped container: paths through its binds on the host, a tmpfs holds nothing', async (t) => {
  const d = await buildTestDaemon(t);
  d.exec.paths.add('/srv/data');
  d.exec.files.set('/srv/data/a.txt', 'hello\n');
  await create(d, 'cp1', { HostConfig: { Binds: ['/srv/data:/data:ro'], Tmpfs: { '/scratch': '' } } });
  const head = await d.app.inject({ method: 'HEAD', url: '/v1.41/containers/cp1/archive?path=/data/a.txt' });
  t.equal(head.statusCode, 200);
  t.same(statOf(head.headers['x-docker-container-path-stat']), { name: 'a.txt', size: 6, mode: 0o644, mtime: '2026-01-02T03:04:05.123456789Z', linkTarget: '' });
  t.ok(d.exec.calls.some((c) => c.file === 'stat' && c.args.join(' ') === '/srv/data/a.txt'), 'read from the bind source on the host');
  const get = await d.app.inject({ method: 'GET', url: '/v1.41/containers/cp1/archive?path=/data' });
  t.equal(get.statusCode, 200);
  t.equal(get.headers['content-type'], 'application/x-tar');
  t.equal(statOf(get.headers['x-docker-container-path-stat']).name, 'data');
  t.same(d.exec.calls.filter((c) => c.file === 'tar-out').pop()!.args, ['/srv', 'data', 'as=data'], 'the bind source, its entries named as asked');
  await d.app.inject({ method: 'GET', url: '/v1.41/containers/cp1/archive?path=/data/.' });
  t.same(d.exec.calls.filter((c) => c.file === 'tar-out').pop()!.args, ['/srv/data', '.'], 'dir/. is its contents');
  const missing = await call(d, 'GET', '/v1.41/containers/cp1/archive?path=/nosuch');
  t.same([missing.status, missing.body], [404, { message: 'Could not find the file /nosuch in container cp1' }]);
  t.equal((await call(d, 'GET', '/v1.41/containers/cp1/archive?path=/scratch')).status, 404, 'a tmpfs of a stopped container holds nothing');
  t.same((await call(d, 'GET', '/v1.41/containers/cp1/archive')).body, { message: 'bad parameter: path cannot be empty' });
  const ro = await d.app.inject({ method: 'PUT', url: '/v1.41/containers/cp1/archive?path=/data', payload: Buffer.from('x'), headers: { 'content-type': 'application/x-tar' } });
  t.equal(ro.statusCode, 400, 'a read-only bind takes nothing');
  t.equal(d.exec.extracted.length, 0);
});

t.test('a running container: its mount namespace; PUT extracts into a directory, 400 for a file', async (t) => {
  const d = await buildTestDaemon(t);
  await create(d, 'cp2', { Cmd: ['sleep', '100'] });
  t.equal((await call(d, 'POST', '/containers/cp2/start')).status, 204);
  const id = (await call(d, 'GET', '/containers/cp2/json')).body.Id as string;
  const put = await d.app.inject({ method: 'PUT', url: '/containers/cp2/archive?path=/tmp&noOverwriteDirNonDir=true', payload: Buffer.from('tar bytes'), headers: { 'content-type': 'application/x-tar' } });
  t.equal(put.statusCode, 200, put.body);
  const x = d.exec.extracted.pop()!;
  t.equal(x.dir, '/tmp');
  t.match(x.mnt, new RegExp(`/${id.slice(0, 12)}/mnt$`), "inside the container's mount namespace");
  t.equal(x.bytes.toString(), 'tar bytes', 'the body as it came');
  d.exec.files.set('/tmp/file', 'x');
  const notDir = await d.app.inject({ method: 'PUT', url: '/containers/cp2/archive?path=/tmp/file', payload: Buffer.from('x'), headers: { 'content-type': 'application/x-tar' } });
  t.same([notDir.statusCode, JSON.parse(notDir.body)], [400, { message: 'extraction point is not a directory' }], 'Docker: 500');
  const missing = await d.app.inject({ method: 'PUT', url: '/containers/cp2/archive?path=/nosuchdir', payload: Buffer.from('x'), headers: { 'content-type': 'application/x-tar' } });
  t.same(JSON.parse(missing.body), { message: 'Could not find the file /nosuchdir in container cp2' });
  const events = (await call(d, 'GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["extract-to-dir"]}')}`)).text;
  t.match(events, /"Action":"extract-to-dir"/);
});

t.test('what needs image layers: 501 with the reason', async (t) => {
  const d = await buildTestDaemon(t);
  await create(d, 'cp3');
  for (const url of ['/containers/cp3/changes', '/containers/cp3/export', '/containers/cp3/attach/ws']) {
    const r = await call(d, 'GET', url);
    t.equal(r.status, 501, url);
    t.match(r.body.message, /^cnmd does not /, url);
  }
});
