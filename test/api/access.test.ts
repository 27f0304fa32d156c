import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { buildTestDaemon, type TestDaemon } from '../helpers/app.js';
import type { ClientConnection } from '../../src/api/access.js';

/** Injected requests name their client with x-test-cn (a TLS client) or x-test-via: unix. */
const identify = (req: IncomingMessage): ClientConnection => {
  if (req.headers['x-test-via'] === 'unix') return { name: 'unix socket', via: 'unix' };
  const cn = req.headers['x-test-cn'];
  return cn ? { name: String(cn), via: 'tls' } : { name: 'tcp 127.0.0.1', via: 'tcp' };
};

async function daemon(t: Parameters<typeof buildTestDaemon>[0], flags: string[] = []): Promise<TestDaemon> {
  return buildTestDaemon(t, ['--tlsverify', '--authz', 'reader=viewer', '--authz', 'ci=network', '--authz', 'ops=admin', ...flags], undefined, { identify });
}

async function as(d: TestDaemon, cn: string | undefined, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await d.app.inject({
    method: method as 'GET',
    url,
    headers: { ...(cn ? { 'x-test-cn': cn } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  let parsed: any;
  try {
    parsed = r.body ? JSON.parse(r.body) : undefined;
  } catch {
    parsed = r.body;
  }
  return { status: r.statusCode, body: parsed };
}

t.test('the role matrix: each role against each kind of route', async (t) => {
  const d = await daemon(t);
  const proc = await as(d, 'ops', 'POST', '/containers/create?name=proc', { Image: 'busybox', Cmd: ['sleep', '100'] });
  t.equal(proc.status, 201);
  const sandbox = await as(d, 'ops', 'POST', '/containers/create?name=sb', { Image: 'busybox' });
  t.equal(sandbox.status, 201);
  // [what, method, url, body, viewer, network, admin]
  const rows: Array<[string, string, string, unknown, number, number, number]> = [
    ['ping', 'GET', '/_ping', undefined, 200, 200, 200],
    ['list networks', 'GET', '/v1.41/networks', undefined, 200, 200, 200],
    ['inspect a container', 'GET', '/containers/proc/json', undefined, 200, 200, 200],
    ['events', 'GET', `/events?until=${Math.floor(Date.now() / 1000)}`, undefined, 200, 200, 200],
    ['metrics', 'GET', '/metrics', undefined, 200, 200, 200],
    ['a container\'s files (the host\'s)', 'GET', '/containers/proc/archive?path=/etc/hostname', undefined, 403, 403, 404],
    ['create a network', 'POST', '/networks/create', { Name: 'n-$ROLE' }, 403, 201, 201],
    ['create a sandbox', 'POST', '/containers/create?name=s-$ROLE', { Image: 'busybox' }, 403, 201, 201],
    ['create a container with a command', 'POST', '/containers/create?name=c-$ROLE', { Image: 'busybox', Cmd: ['id'] }, 403, 403, 201],
    ['connect a sandbox', 'POST', '/networks/n-$ROLE/connect', { Container: 's-$ROLE' }, 403, 200, 200],
    ['start a sandbox', 'POST', '/containers/s-$ROLE/start', undefined, 403, 204, 204],
    ['stop a sandbox', 'POST', '/containers/s-$ROLE/stop', undefined, 403, 204, 204],
    ['disconnect a sandbox', 'POST', '/networks/n-$ROLE/disconnect', { Container: 's-$ROLE' }, 403, 200, 200],
    ['start a container with a command', 'POST', '/containers/proc/start', undefined, 403, 403, 204],
    ['exec', 'POST', '/containers/proc/exec', { Cmd: ['id'] }, 403, 403, 201],
    ['create a volume', 'POST', '/volumes/create', { Name: 'v-$ROLE' }, 403, 403, 201],
    ['rename', 'POST', '/containers/s-$ROLE/rename?name=r-$ROLE', undefined, 403, 403, 204],
    ['remove a sandbox', 'DELETE', '/containers/s-$ROLE?force=1', undefined, 403, 204, 404],
    ['remove a network', 'DELETE', '/networks/n-$ROLE', undefined, 403, 204, 204],
    ['stop a container with a command', 'POST', '/containers/proc/stop', undefined, 403, 403, 204],
    ['remove a container with a command', 'DELETE', '/containers/proc?force=1', undefined, 403, 403, 204],
  ];
  for (const [role, cn, col] of [['viewer', 'reader', 4], ['network', 'ci', 5], ['admin', 'ops', 6]] as const) {
    for (const row of rows) {
      const [what, method, url, body] = row;
      const fill = (s: string) => s.replaceAll('$ROLE', role);
      const r = await as(d, cn, method, fill(url), body === undefined ? undefined : JSON.parse(fill(JSON.stringify(body))));
      t.equal(r.status, row[col], `${role}: ${what} (${method} ${url})${r.status >= 400 ? ': ' + r.body?.message : ''}`);
      if (r.status === 403) t.match(r.body.message, new RegExp(`^authorization denied by cnmd: client "${cn}" \\(role ${role}\\) may not `), `${role}: ${what}: the denial names the client and role`);
    }
  }
});

t.test('the network role: each field that would run code or reach the host is refused by name', async (t) => {
  const d = await daemon(t);
  const fields: Array<[string, Record<string, unknown>]> = [
    ['Cmd', { Cmd: ['sh'] }],
    ['Entrypoint', { Entrypoint: ['sh'] }],
    ['Env', { Env: ['A=1'] }],
    ['Healthcheck', { Healthcheck: { Test: ['CMD', 'true'] } }],
    ['HostConfig.NetworkMode', { HostConfig: { NetworkMode: 'host' } }],
    ['HostConfig.Binds', { HostConfig: { Binds: ['/etc:/x'] } }],
    ['HostConfig.Mounts', { HostConfig: { Mounts: [{ Type: 'bind', Source: '/', Target: '/x' }] } }],
    ['SandboxKey', { SandboxKey: '/proc/1/ns/net' }],
    ['SandboxKey', { SandboxKey: '/run/netns/../../proc/1/ns/net' }],
  ];
  for (const [field, body] of fields) {
    const r = await as(d, 'ci', 'POST', '/containers/create', { Image: 'busybox', ...body });
    t.equal(r.status, 403, field);
    t.equal(r.body.message, `authorization denied by cnmd: client "ci" (role network) may not set ${field} in POST /containers/create: that role makes sandboxes without a process`);
  }
  t.equal((await as(d, 'ci', 'POST', '/containers/create', { Image: 'busybox', Healthcheck: { Test: ['NONE'] }, Cmd: [], Env: [] })).status, 201, 'empty and NONE are not a process');
  t.equal((await d.app.inject({ method: 'GET', url: '/containers/json?all=1', headers: { 'x-test-cn': 'ci' } })).json().length, 1, 'nothing was made by the refused requests');
});

t.test('clients: an unlisted name is refused everywhere; the socket and loopback TCP are admin', async (t) => {
  const d = await daemon(t);
  const r = await as(d, 'mallory', 'GET', '/_ping');
  t.equal(r.status, 403);
  t.equal(r.body.message, 'authorization denied by cnmd: client "mallory" has no role (give it one with --authz NAME=ROLE)');
  t.equal((await as(d, undefined, 'POST', '/networks/create', { Name: 'via-tcp' })).status, 201, 'loopback TCP (started with --tls=false) is admin');
  t.equal((await as(d, undefined, 'POST', '/networks/create', { Name: 'via-unix' }, { 'x-test-via': 'unix' })).status, 201);
  const open = await buildTestDaemon(t, ['--tlsverify'], undefined, { identify });
  t.equal((await as(open, 'anyone', 'POST', '/containers/create', { Cmd: ['id'] })).status, 201, 'without --authz every verified client is admin, as dockerd');
});

t.test('browser safety: Origin and foreign Host names are refused; the socket takes any Host', async (t) => {
  const d = await daemon(t, ['--allowed-host', 'cnmd.lab.example']);
  const origin = await as(d, 'ops', 'POST', '/networks/create', { Name: 'x' }, { origin: 'http://evil.example' });
  t.equal(origin.status, 403);
  t.match(origin.body.message, 'requests from web browsers are refused (Origin: http://evil.example)');
  t.equal((await as(d, 'ops', 'GET', '/_ping', undefined, { origin: 'null', 'x-test-via': 'unix' })).status, 403, 'Origin on the socket too');
  const rebound = await as(d, 'ops', 'GET', '/containers/json', undefined, { host: 'evil.example:2376' });
  t.equal(rebound.status, 403);
  t.match(rebound.body.message, 'Host "evil.example:2376" is not a loopback name, an address or a name given with --allowed-host');
  for (const host of ['localhost', 'localhost:2375', '127.0.0.1:2375', '[::1]:2376', '10.1.2.3:2376', 'api.moby.localhost', 'cnmd.lab.example:2376', 'CNMD.lab.example']) {
    t.equal((await as(d, 'ops', 'GET', '/_ping', undefined, { host })).status, 200, host);
  }
  t.equal((await as(d, 'ops', 'GET', '/_ping', undefined, { host: 'evil.example', 'x-test-via': 'unix' })).status, 200, 'on the socket, Host is not checked');
  t.equal((await as(d, 'ops', 'GET', '/networks?filters=' + encodeURIComponent('{"name":["x"]}'), undefined)).status, 200);
  t.equal((await as(d, 'ops', 'POST', '/networks/create', { Name: 'x' })).status, 201, 'nothing was made by the refused request before');
});

t.test('a pathological filter answers at once, and /_ping with it', async (t) => {
  const d = await daemon(t);
  for (let i = 0; i < 20; i++) await as(d, 'ops', 'POST', '/networks/create', { Name: `${'a'.repeat(60)}${i}` });
  const grouped = await as(d, 'ops', 'GET', '/networks?filters=' + encodeURIComponent(JSON.stringify({ id: ['([0-9a-f]+)+z'] })));
  t.equal(grouped.status, 400);
  t.match(grouped.body.message, 'cnmd matches filters without groups');
  const [list, ping] = await Promise.all([
    as(d, 'ops', 'GET', '/networks?filters=' + encodeURIComponent(JSON.stringify({ name: ['a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*z'] }))),
    as(d, 'ops', 'GET', '/_ping'),
  ]);
  t.same([list.status, list.body, ping.status], [200, [], 200], `no network matches; nothing hangs: ${JSON.stringify(list.body).slice(0, 200)}`);
});
