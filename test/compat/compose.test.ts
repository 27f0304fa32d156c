/**
 * Debian's docker-compose (v1, through python3-docker) against cnmd, as a user runs it: a project
 * with a published port, a front network and an internal back network, aliases, a named volume, a
 * health check that another service waits for, legacy links, restart: unless-stopped. up -d, ps,
 * exec -T, logs, port, restart, an edit and a second up -d (recreate), down -v; nothing is left.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostTestsReady, hostTestsUnavailable, makeNetns, startDaemonIn, uniqueName } from '../helpers/host.js';

async function composeUnavailable(): Promise<string | undefined> {
  const r = await execa('docker-compose', ['version', '--short'], { reject: false });
  return hostTestsUnavailable() ?? (r.exitCode === 0 ? undefined : 'docker-compose (Debian) is not installed');
}

if (await hostTestsReady(t, await composeUnavailable())) {
  const host = await makeNetns(t, 'cmp');
  const daemon = await startDaemonIn(t, host);
  const dir = mkdtempSync('/tmp/cnmd-compose-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const project = uniqueName('proj').replace(/[^a-z0-9]/g, '');
  const www = `${dir}/www`;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const file = `${dir}/docker-compose.yml`;
  const write = (clientGreeting: string) =>
    writeFileSync(
      file,
      `version: "2.4"
services:
  web:
    image: busybox
    command: ["python3", "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", "${www}"]
    ports: ["127.0.0.1:${port}:80"]
    volumes: ["site:${www}"]
    healthcheck:
      test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
      timeout: 3s
      retries: 30
    networks:
      front: { aliases: [www] }
      back: {}
  db:
    image: busybox
    command: ["sleep", "1d"]
    networks:
      back: { aliases: [database] }
  client:
    image: busybox
    command: ["sh", "-c", "echo ${clientGreeting}; exec sleep 1d"]
    restart: unless-stopped
    links: ["web:site"]
    depends_on:
      web: { condition: service_healthy }
    networks: [front]
networks:
  front: {}
  back: { internal: true }
volumes:
  site: {}
`,
    );
  const compose = async (...args: string[]) => {
    const r = await execa('docker-compose', ['-p', project, '-f', file, ...args], {
      reject: false, cwd: dir, timeout: 120_000, env: { DOCKER_HOST: `unix://${daemon.socket}`, COMPOSE_INTERACTIVE_NO_CLI: '1' },
    });
    return { out: String(r.stdout), err: String(r.stderr), code: r.exitCode ?? -1 };
  };
  const ok = async (t: Test, ...args: string[]) => {
    const r = await compose(...args);
    t.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.err.slice(-2000)}`);
    return r;
  };
  const api = async (path: string) => (await daemon.request('GET', path)).body as any;
  const curl = (path = '/') => host.run('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}${path}`], { reject: false });

  t.test('up -d: networks, volume, health before the dependent service, then the published port', async (t) => {
    write('hello');
    const up = await ok(t, 'up', '-d');
    t.match(up.err, /Creating .*_web_1 \.\.\. done/);
    const containers = (await api('/containers/json')) as Array<{ Names: string[]; State: string; Status: string }>;
    t.same(containers.map((c) => c.Names[0].replace(`/${project}_`, '')).sort(), ['client_1', 'db_1', 'web_1']);
    const web = await api(`/containers/${project}_web_1/json`);
    t.equal(web.State.Health.Status, 'healthy', 'the client started after web was healthy');
    const client = await api(`/containers/${project}_client_1/json`);
    t.ok(Date.parse(client.State.StartedAt) >= Date.parse(web.State.Health.Log.find((l: any) => l.ExitCode === 0).End), 'client started after the first passing check');
    const nets = (await api('/networks')) as Array<{ Name: string; Internal: boolean }>;
    t.same(nets.filter((n) => n.Name.startsWith(project)).map((n) => [n.Name, n.Internal]).sort(), [[`${project}_back`, true], [`${project}_front`, false]]);
    t.same((await api('/volumes')).Volumes.map((v: any) => v.Name), [`${project}_site`]);
    t.equal(web.Mounts[0].Name, `${project}_site`);
  });

  t.test('ps, exec -T, the volume, the published port, logs, port', async (t) => {
    const ps = await ok(t, 'ps');
    t.match(ps.out, new RegExp(`${project}_web_1 .*Up \\(healthy\\)`));
    t.match(ps.out, new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
    t.equal((await ok(t, 'exec', '-T', 'client', 'ping', '-c', '1', '-W', '2', 'web')).code, 0, 'exec -T client ping web');
    t.equal((await compose('exec', '-T', 'client', 'ping', '-c', '1', '-W', '2', 'www')).code, 0, 'the alias on front');
    t.equal((await compose('exec', '-T', 'client', 'ping', '-c', '1', '-W', '2', 'site')).code, 0, 'the link alias, for the client');
    t.not((await compose('exec', '-T', 'db', 'ping', '-c', '1', '-W', '1', 'site')).code, 0, 'not for another container');
    t.equal((await compose('exec', '-T', 'web', 'ping', '-c', '1', '-W', '2', 'database')).code, 0, 'web reaches db by its alias on back');
    t.not((await compose('exec', '-T', 'client', 'ping', '-c', '1', '-W', '1', 'database')).code, 0, 'the client is not on back');
    await ok(t, 'exec', '-T', 'web', 'sh', '-c', `echo from-the-volume > ${www}/index.html`);
    t.equal((await curl()).stdout.trim(), 'from-the-volume', 'the published port serves the volume');
    t.notOk(existsSync(`${www}/index.html`), "the file is in the volume, not on the host's path");
    t.match((await ok(t, 'logs', '--no-color', 'client')).out, /client_1 +\| hello/);
    t.match((await ok(t, 'logs', '--no-color', 'web')).out, /"GET \/ HTTP\/1\.1" 200/);
    t.equal((await ok(t, 'port', 'web', '80')).out.trim(), `127.0.0.1:${port}`);
  });

  t.test('restart, then an edit and up -d: the changed service is recreated, the others stay', async (t) => {
    const before = await api(`/containers/${project}_db_1/json`);
    await ok(t, 'restart', '-t', '1');
    const after = await api(`/containers/${project}_db_1/json`);
    t.equal(after.Id, before.Id);
    t.not(after.State.StartedAt, before.State.StartedAt, 'restarted');
    // restart: unless-stopped: a command that dies by itself comes back
    const pid = (await api(`/containers/${project}_client_1/json`)).State.Pid as number;
    t.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    let back: any;
    for (let i = 0; i < 100; i++) {
      back = await api(`/containers/${project}_client_1/json`);
      if (back.RestartCount === 1 && back.State.Running && back.State.Pid !== pid) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.same([back.RestartCount, back.State.Status], [1, 'running'], 'the restart policy brought the client back');
    const oldClient = back.Id;
    write('edited');
    const up = await ok(t, 'up', '-d');
    t.match(up.err, /Recreating .*_client_1/);
    const client = await api(`/containers/${project}_client_1/json`);
    t.not(client.Id, oldClient, 'a new container');
    t.equal((await api(`/containers/${project}_db_1/json`)).Id, before.Id, 'db untouched');
    t.match((await ok(t, 'logs', '--no-color', 'client')).out, /edited/);
    t.equal((await compose('exec', '-T', 'client', 'ping', '-c', '1', '-W', '2', 'site')).code, 0, 'the link follows the recreate');
    t.equal((await api(`/containers/${oldClient}/json`)).message, `No such container: ${oldClient}`);
  });

  t.test('down -v: no container, network, volume, namespace or mount point left', async (t) => {
    const ids = ((await api('/containers/json?all=1')) as Array<{ Id: string }>).map((c) => c.Id.slice(0, 12));
    await ok(t, 'down', '-v', '-t', '1');
    t.same(await api('/containers/json?all=1'), []);
    t.same(((await api('/networks')) as Array<{ Name: string }>).map((n) => n.Name).sort(), ['bridge', 'host', 'none']);
    t.same((await api('/volumes')).Volumes, []);
    const netns = (await execa('ip', ['netns', 'list'])).stdout;
    t.notOk(ids.some((id) => netns.includes(id)), 'no namespace of theirs');
    t.notOk(existsSync(www), 'the mount point cnmd made for the volume is gone');
    t.equal((await curl()).exitCode === 0, false, 'the port is closed');
  });
}
