import t from 'tap';
import { readFileSync } from 'node:fs';
import { buildTestDaemon, call } from '../helpers/app.js';

t.test('ping: Docker headers on GET and HEAD, with and without a version prefix', async (t) => {
  const d = await buildTestDaemon(t);
  for (const url of ['/_ping', '/v1.41/_ping']) {
    const get = await call(d, 'GET', url);
    t.equal(get.status, 200);
    t.equal(get.text, 'OK');
    t.equal(get.headers['api-version'], '1.49');
    t.equal(get.headers['ostype'], 'linux');
    t.equal(get.headers['docker-experimental'], 'false');
    t.match(String(get.headers['cache-control']), /no-cache/);
  }
  const head = await d.app.inject({ method: 'HEAD', url: '/_ping' });
  t.equal(head.statusCode, 200);
  t.equal(head.body, '');
  t.equal(head.headers['content-length'], '0');
  t.equal(head.headers['api-version'], '1.49');
});

t.test('version negotiation errors are Docker\'s', async (t) => {
  const d = await buildTestDaemon(t);
  const tooNew = await call(d, 'GET', '/v1.99/networks');
  t.equal(tooNew.status, 400);
  t.same(tooNew.body, { message: 'client version 1.99 is too new. Maximum supported API version is 1.49' });
  t.equal(tooNew.headers['content-type'], 'application/json');
  const tooOld = await call(d, 'GET', '/v1.12/networks');
  t.equal(tooOld.status, 400);
  t.match(String(tooOld.headers['content-type']), /^text\/plain/);
  t.equal(tooOld.text, 'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version\n');
  t.equal((await call(d, 'GET', '/v1.24/networks')).status, 200);
});

t.test('unknown routes and methods: 404 page not found', async (t) => {
  const d = await buildTestDaemon(t);
  for (const [m, u] of [['GET', '/nope'], ['PUT', '/networks'], ['GET', '/v1.41/nope']]) {
    const r = await call(d, m, u);
    t.equal(r.status, 404, `${m} ${u}`);
    t.same(r.body, { message: 'page not found' });
  }
});

t.test('/version and /info carry what clients read', async (t) => {
  const d = await buildTestDaemon(t);
  const v = (await call(d, 'GET', '/v1.41/version')).body;
  t.equal(v.ApiVersion, '1.49');
  t.equal(v.MinAPIVersion, '1.24');
  t.equal(v.Os, 'linux');
  t.equal(v.Components[0].Name, 'Engine');
  const i = (await call(d, 'GET', '/info')).body;
  t.match(i, { ID: /^[0-9a-f]{64}$/, OSType: 'linux', ExperimentalBuild: false, Swarm: { LocalNodeState: 'inactive', ControlAvailable: false } });
    t.same(i.Plugins.Network, ['bridge', 'host', 'macvlan', 'null', 'overlay']);
  t.equal(typeof i.Name, 'string');
  t.equal(i.DefaultAddressPools[0].Base, '172.17.0.0/16');
});

t.test('the OpenAPI document is served', async (t) => {
  const d = await buildTestDaemon(t);
  const r = await call(d, 'GET', '/openapi.json');
  t.equal(r.status, 200);
  t.ok(r.body.paths['/networks/create'].post);
  t.ok(r.body.components.schemas.Network);
  const committed = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'));
  t.same(r.body, committed, 'the document kept in openapi/ (test/api/openapi.test.ts checks it against the routes)');
});

t.test('/metrics in Prometheus text format: requests, reconciles, objects', async (t) => {
  const d = await buildTestDaemon(t);
  await call(d, 'POST', '/networks/create', { Name: 'm1' });
  await call(d, 'GET', '/networks/m1');
  const r = await d.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /^text\/plain/);
  t.match(r.body, /cnmd_http_request_duration_seconds_count\{method="GET",route="\/networks\/:id",status="200"\} 1/);
  t.match(r.body, /cnmd_reconcile_runs_total\{scope="scoped",ok="true"\} 1/);
  t.match(r.body, /cnmd_reconcile_runs_total\{scope="all",ok="true"\} 1/);
  t.match(r.body, /cnmd_objects\{kind="network"\} 4/);
  t.match(r.body, /cnmd_host_command_duration_seconds/, 'declared (observed by the real executor)');
});

t.test('/info reports the firewall backend from API 1.49, as dockerd 28.2+; none is not reported', async (t) => {
  const ipt = await buildTestDaemon(t);
  t.same((await call(ipt, 'GET', '/v1.49/info')).body.FirewallBackend, { Driver: 'iptables' });
  t.equal((await call(ipt, 'GET', '/v1.48/info')).body.FirewallBackend, undefined, 'not before 1.49');
  const nft = await buildTestDaemon(t, ['--firewall-backend', 'nftables']);
  t.same((await call(nft, 'GET', '/info')).body.FirewallBackend, { Driver: 'nftables' }, 'the latest version when none is given');
  const none = await buildTestDaemon(t, ['--iptables=false']);
  t.equal((await call(none, 'GET', '/v1.49/info')).body.FirewallBackend, undefined, 'no firewall, no field');
  const create = await call(nft, 'POST', '/networks/create', { Name: 'n1' });
  t.equal(create.status, 201);
  t.match(nft.exec.lines().join('\n'), /nft -f -\nadd element inet cnmd bridges \{ "cnmd-[0-9a-f]{10}" comment "cnmd:[0-9a-f]{12}" \}/, 'a network create on nftables is one nft -f - transaction of elements');
});
