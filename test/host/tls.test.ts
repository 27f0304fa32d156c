import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { hostTestsReady, makeNetns, makeWorld, runMain, startDaemonIn, type Netns } from '../helpers/host.js';
import { dockerCliAvailable } from '../helpers/docker.js';
import { makePki } from '../helpers/certs.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const URL_ = 'https://192.0.2.1:2376';

/** curl from "another machine" with a client directory's certificate (or none). */
async function curl(world: Netns, certDir: string | undefined, caFile: string, args: string[]) {
  const cert = certDir ? ['--cert', `${certDir}/cert.pem`, '--key', `${certDir}/key.pem`] : [];
  return world.run('curl', ['-sS', '--max-time', '5', '--cacert', caFile, ...cert, '-w', '\n%{http_code}', ...args], { reject: false });
}

/** A client program on "another machine" with only the environment given (DOCKER_HOST and, with certs, TLS). */
function client(world: Netns, certs: string | undefined, argv: string[], extra: string[] = [], input?: string) {
  const tls = certs ? ['DOCKER_TLS_VERIFY=1', `DOCKER_CERT_PATH=${certs}`] : [];
  return execa('nsenter', [`--net=/run/netns/${world.name}`, 'env', '-i', `PATH=${process.env.PATH}`, 'DOCKER_HOST=tcp://192.0.2.1:2376', ...tls, ...extra, ...argv], { reject: false, timeout: 30_000, input });
}


if (await hostTestsReady(t)) {
  t.test('TLS with client certificates from another machine; roles by Common Name', async (t) => {
    const host = await makeNetns(t, 'h');
    const world = await makeWorld(t, host);
    const pki = await makePki(t, ['192.0.2.1']);
    const d = await startDaemonIn(t, host, [
      '-H', 'tcp://192.0.2.1:2376', '--tlsverify', '--tlscacert', pki.path('ca.pem'), '--tlscert', pki.path('server.pem'), '--tlskey', pki.path('server-key.pem'),
      '--authz', 'ops=admin', '--authz', 'ci=network', '--authz', 'reader=viewer',
    ]);
    const [ops, ci, reader, mallory, foreign] = await Promise.all([
      pki.clientDir('ops'), pki.clientDir('ci'), pki.clientDir('reader'), pki.clientDir('mallory'), pki.clientDir('ops', 'other'),
    ]);
    const ca = pki.path('ca.pem');

    const version = await curl(world, ops, ca, [`${URL_}/v1.41/version`]);
    t.match(version.stdout, /"ApiVersion":"1\.\d+"[\s\S]*\n200$/, 'a verified client gets the API');
    const none = await curl(world, undefined, ca, [`${URL_}/_ping`]);
    t.not(none.exitCode, 0, `no client certificate: the handshake fails (${none.stderr.trim()})`);
    const other = await curl(world, foreign, ca, [`${URL_}/_ping`]);
    t.not(other.exitCode, 0, `a certificate of another CA: refused (${other.stderr.trim()})`);
    const plain = await world.run('curl', ['-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', 'http://192.0.2.1:2376/_ping'], { reject: false });
    t.ok(plain.exitCode !== 0 || plain.stdout !== '200', `plain HTTP to the TLS port gets no answer (${plain.stdout} ${plain.stderr.trim()})`);
    const tls11 = await curl(world, ops, ca, ['--tls-max', '1.1', `${URL_}/_ping`]);
    t.not(tls11.exitCode, 0, 'TLS 1.1 is refused');

    const json = ['-H', 'content-type: application/json', '-X', 'POST'];
    const net = await curl(world, ci, ca, [...json, '-d', '{"Name":"tlsnet"}', `${URL_}/networks/create`]);
    t.match(net.stdout, /\n201$/, 'the network role creates a network');
    const run = await curl(world, ci, ca, [...json, '-d', '{"Image":"busybox","Cmd":["id"]}', `${URL_}/containers/create`]);
    t.match(run.stdout, /^\{"message":"authorization denied by cnmd: client \\"ci\\" \(role network\) may not set Cmd in POST \/containers\/create: that role makes sandboxes without a process"\}\n403$/);
    t.match((await curl(world, reader, ca, [...json, '-d', '{"Name":"r"}', `${URL_}/networks/create`])).stdout, /may not POST \/networks\/create"\}\n403$/);
    t.match((await curl(world, reader, ca, [`${URL_}/networks/tlsnet`])).stdout, /"Name":"tlsnet"[\s\S]*\n200$/, 'the viewer reads');
    t.match((await curl(world, mallory, ca, [`${URL_}/_ping`])).stdout, /has no role[\s\S]*\n403$/, 'an unlisted name gets 403');
    const rebound = await curl(world, ops, ca, ['-H', 'Host: evil.example', `${URL_}/_ping`]);
    t.match(rebound.stdout, /is not a loopback name[\s\S]*\n403$/, 'a foreign Host is refused over TLS too');
    const log = d.output();
    t.match(log, /"client":"ci","via":"tls","role":"network","method":"POST","url":"\/networks\/create","status":201/, 'a mutating request is logged with its client');
    t.match(log, /"client":"reader","role":"viewer","method":"POST".*"msg":"request denied"/, 'a denial is logged with its client');
    t.equal((await d.request('GET', '/networks/tlsnet')).status, 200, 'the socket still works');

    if (await dockerCliAvailable()) {
      const configDir = mkdtempSync('/tmp/cnmd-docker-config-');
      t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
      const docker = (certs: string | undefined, ...args: string[]) => client(world, certs, ['docker', ...args], [`DOCKER_CONFIG=${configDir}`]);
      const ls = await docker(ops, 'network', 'ls', '--format', '{{.Name}}');
      t.match(String(ls.stdout), /tlsnet/, `docker network ls over TLS: ${ls.stderr}`);
      const echo = await docker(ops, 'run', '--rm', '--network', 'tlsnet', 'busybox', 'sh', '-c', 'echo over-tls; hostname -i');
      t.match(String(echo.stdout), /^over-tls\n\d+\.\d+\.\d+\.\d+$/, `docker run --rm (attach over TLS): ${echo.stderr}`);
      const piped = await client(world, ops, ['docker', 'run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; exit 3'], [`DOCKER_CONFIG=${configDir}`], 'in-over-tls\n');
      t.same([String(piped.stdout), piped.exitCode], ['in-over-tls', 3], `stdin over TLS (the CLI half-closes with a close_notify): ${piped.stderr}`);
      const denied = await docker(ci, 'run', '--rm', 'busybox', 'id');
      t.not(denied.exitCode, 0);
      t.match(String(denied.stderr), 'authorization denied by cnmd: client "ci" (role network) may not set Cmd', 'the CLI prints the denial');
      const plainCli = await docker(undefined, 'version');
      t.not(plainCli.exitCode, 0, 'the CLI without TLS gets nothing');
    }

    const py = await client(world, ops, ['python3', '-c', 'import docker; c = docker.from_env(); print(c.version()["Components"][0]["Name"], [n.name for n in c.networks.list(names=["tlsnet"])])']);
    t.equal(String(py.stdout).trim(), "Engine ['tlsnet']", `docker-py over TLS: ${py.stderr}`);

    const script = `${pki.dir}/dockerode.cjs`;
    writeFileSync(script, `const fs = require('fs'); const Docker = require(${JSON.stringify(`${ROOT}node_modules/dockerode`)});
const dir = process.argv[2];
const d = new Docker({ protocol: 'https', host: '192.0.2.1', port: 2376, ca: fs.readFileSync(dir + '/ca.pem'), cert: fs.readFileSync(dir + '/cert.pem'), key: fs.readFileSync(dir + '/key.pem') });
d.getNetwork('tlsnet').inspect().then((n) => console.log(n.Name), (e) => { console.log('error', e.message); process.exit(1); });`);
    const node = await execa('nsenter', [`--net=/run/netns/${world.name}`, process.execPath, script, ops], { reject: false, timeout: 30_000 });
    t.equal(String(node.stdout).trim(), 'tlsnet', `dockerode over TLS: ${node.stderr}`);
  });

  t.test('refusals at start: plain TCP off loopback, TLS files missing, a second daemon on the same data root', async (t) => {
    const host = await makeNetns(t, 'h');
    await makeWorld(t, host);
    const dir = mkdtempSync('/tmp/cnmd-refusal-');
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const base = ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--dns', '127.0.0.1'];
    const plain = await runMain(host, [...base, '-H', 'tcp://192.0.2.1:2375']);
    t.equal(plain.exitCode, 2);
    t.match(plain.stderr, 'refusing to listen on tcp://192.0.2.1:2375 without TLS client verification');
    t.equal((await runMain(host, [...base, '-H', 'tcp://192.0.2.1:2375', '--tls=false'])).exitCode, 2, '--tls=false does not open a non-loopback address');
    const files = await runMain(host, [...base, '-H', 'tcp://192.0.2.1:2376', '--tlsverify', '--tlscacert', `${dir}/none.pem`]);
    t.equal(files.exitCode, 2);
    t.match(files.stderr, `could not read --tlscacert ${dir}/none.pem`);
    t.notOk(existsSync(`${dir}/data/cnmd.db`), 'nothing was started');

    const first = await startDaemonIn(t, host, ['-G', 'nogroup']);
    t.equal(statSync(first.socket).gid, 65534, '-G: the socket\'s group');
    t.equal(statSync(first.socket).mode & 0o777, 0o660);
    t.equal(statSync(`${first.dir}/data`).mode & 0o777, 0o700, 'the data root is private (cnmd.db holds containers\' Env)');
    const second = await runMain(host, ['-H', `unix://${first.dir}/second.sock`, '--data-root', `${first.dir}/data`, '--exec-root', `${first.dir}/exec2`, '--dns', '127.0.0.1']);
    t.equal(second.exitCode, 1);
    t.match(second.stderr, /pid file found, ensure cnmd is not running or delete .*cnmd\.pid/);
    t.ok(existsSync(first.socket), 'the first daemon\'s socket is still there');
    t.equal((await first.request('GET', '/_ping')).status, 200, 'and the first daemon answers');
    first.signal('SIGKILL');
    await first.exited();
    await first.start();
    t.equal((await first.request('GET', '/_ping')).status, 200, 'a pid file left by a killed daemon is taken over');
    const loop = await runMain(host, [...base, '-H', 'tcp://127.0.0.1:2375', '-G', 'no-such-group']);
    t.equal(loop.exitCode, 2);
    t.match(loop.stderr, 'refusing to listen on tcp://127.0.0.1:2375');
  });
}

if (await hostTestsReady(t)) {
  t.test('--user and GroupAdd are honoured on a real kernel; options cnmd cannot honour are refused', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const run = async (name: string, body: Record<string, unknown>) => {
      t.equal((await d.request('POST', `/v1.48/containers/create?name=${name}`, { Image: 'busybox', ...body })).status, 201);
      t.equal((await d.request('POST', `/v1.48/containers/${name}/start`)).status, 204);
      t.equal((await d.request('POST', `/v1.48/containers/${name}/wait`)).body.StatusCode, 0);
      return (await d.request('GET', `/v1.48/containers/${name}/logs?stdout=1`)).text.replace(/[\0-\x08]/g, '');
    };
    const ids = await run('uid', { User: '65534', HostConfig: { GroupAdd: ['users'], NetworkMode: 'none' }, Cmd: ['sh', '-c', 'id -u; id -g; id -G'] });
    t.match(ids, /65534\s+65534\s+65534 100\s*$/, `uid, gid and the supplementary groups: ${JSON.stringify(ids)}`);
    t.equal((await d.request('POST', '/v1.48/containers/create', { Image: 'busybox', HostConfig: { CapAdd: ['NET_ADMIN'] } })).status, 400, 'CapAdd: a 400, not dropped');
    const exe = await d.request('POST', '/v1.48/containers/create?name=up', { Image: 'busybox', Cmd: ['sleep', '30'], HostConfig: { NetworkMode: 'none' } });
    t.equal(exe.status, 201);
    t.equal((await d.request('POST', '/v1.48/containers/up/start')).status, 204);
    const ex = await d.request('POST', '/v1.48/containers/up/exec', { Cmd: ['id', '-u'], User: 'nobody', AttachStdout: true });
    t.equal(ex.status, 201);
    const out = await d.request('POST', `/v1.48/exec/${ex.body.Id}/start`, { Detach: false, Tty: true });
    t.equal(out.text.trim(), '65534', 'exec -u nobody');
    t.equal((await d.request('POST', '/v1.48/containers/up/exec', { Cmd: ['id'], Privileged: true })).status, 400, 'exec --privileged: a 400');
    await d.request('DELETE', '/v1.48/containers/up?force=1');
  });
}
