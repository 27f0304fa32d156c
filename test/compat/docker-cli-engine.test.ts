/**
 * The docker CLI on the engine around networks, as a user types it: health checks, docker cp both
 * ways, legacy links on the default bridge and on a user-defined network, volumes, images, df, prunes.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { hostTestsReady, containerNames } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';

if (await hostTestsReady(t, await compatUnavailable())) {
  const { docker } = await cliAgainstDaemon(t, 'cleng');
  const name = containerNames(t);
  const ok = async (t: Test, ...args: string[]) => {
    const r = await docker(...args);
    t.equal(r.exitCode, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const until = async (what: () => Promise<boolean>, ms = 15_000) => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await what()) return true;
    return false;
  };

  t.test('health checks: healthy, unhealthy, --no-healthcheck; ps and its health filter', async (t) => {
    const good = name('good'), bad = name('bad'), none = name('none');
    await ok(t, 'run', '-d', '--name', good, '--health-cmd', 'true', '--health-interval', '1s', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', bad, '--health-cmd', 'exit 3', '--health-interval', '1s', '--health-retries', '2', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', none, '--no-healthcheck', 'busybox', 'sleep', '1d');
    const status = async (c: string) => (await docker('inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', c)).stdout;
    t.ok(await until(async () => (await status(good)) === 'healthy'), 'healthy');
    t.ok(await until(async () => (await status(bad)) === 'unhealthy'), 'unhealthy after two failures');
    t.equal(await status(none), '', 'no health without a check');
    const log = JSON.parse(await ok(t, 'inspect', '-f', '{{json .State.Health.Log}}', bad));
    t.equal(log[0].ExitCode, 3);
    t.match(await ok(t, 'ps', '--filter', `name=${good}`, '--format', '{{.Status}}'), /^Up .* \(healthy\)$/);
    t.equal(await ok(t, 'ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'), bad);
    await ok(t, 'rm', '-f', good, bad, none);
  });

  t.test('docker cp into and out of a container, running and stopped, through a bind', async (t) => {
    const dir = mkdtempSync('/tmp/cnmd-cp-');
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(`${dir}/in.txt`, 'to the container\n');
    const c = name('cp');
    await ok(t, 'run', '-d', '--name', c, '-v', `${dir}/data:/tmp/cnmd-cp-target-${process.pid}`, 'busybox', 'sleep', '1d');
    await ok(t, 'cp', `${dir}/in.txt`, `${c}:/tmp/cnmd-cp-target-${process.pid}/`);
    t.equal(readFileSync(`${dir}/data/in.txt`, 'utf8'), 'to the container\n', 'it landed in the bind source');
    await ok(t, 'cp', `${c}:/etc/hostname`, `${dir}/hostname`);
    t.equal(readFileSync(`${dir}/hostname`, 'utf8').trim(), (await ok(t, 'inspect', '-f', '{{.Config.Hostname}}', c)), "the container's /etc/hostname, not the host's");
    await ok(t, 'stop', '-t', '0', c);
    await ok(t, 'cp', `${c}:/tmp/cnmd-cp-target-${process.pid}/in.txt`, `${dir}/back.txt`);
    t.equal(readFileSync(`${dir}/back.txt`, 'utf8'), 'to the container\n', 'a stopped container: through its bind');
    const missing = await docker('cp', `${c}:/tmp/cnmd-cp-target-${process.pid}/nope`, dir);
    t.match(missing.stderr, /Could not find the file \/tmp\/cnmd-cp-target-\d+\/nope in container/);
    await ok(t, 'rm', c);
    t.notOk(existsSync(`/tmp/cnmd-cp-target-${process.pid}`), 'the mount point it made on the host is gone');
    // -a: the copy belongs to the container's user (its uid from the host's passwd); without it, to the archive's owner
    const u = name('cpu');
    await ok(t, 'run', '-d', '--name', u, '--user', 'nobody', '-v', `${dir}/data:/tmp/cnmd-cp-target-${process.pid}`, 'busybox', 'sleep', '1d');
    await ok(t, 'cp', '-a', `${dir}/in.txt`, `${u}:/tmp/cnmd-cp-target-${process.pid}/owned.txt`);
    await ok(t, 'cp', `${dir}/in.txt`, `${u}:/tmp/cnmd-cp-target-${process.pid}/kept.txt`);
    const nobody = Number(/^nobody:[^:]*:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))![1]);
    t.equal(statSync(`${dir}/data/owned.txt`).uid, nobody, 'docker cp -a: the container user owns it');
    t.equal(statSync(`${dir}/data/kept.txt`).uid, statSync(`${dir}/in.txt`).uid, 'docker cp: the owner as archived');
    await ok(t, 'rm', '-f', u);
  });

  t.test('legacy links: default bridge (hosts, variables, ping) and a user-defined network (DNS for the linker only)', async (t) => {
    const db = name('db'), app = name('app'), net = name('lnet'), w = name('w');
    await ok(t, 'run', '-d', '--name', db, '-e', 'SECRET=s3', '--expose', '5432', 'busybox', 'sleep', '1d');
    const out = await ok(t, 'run', '--rm', '--link', `${db}:database`, 'busybox', 'sh', '-c', 'echo $DATABASE_PORT $DATABASE_ENV_SECRET; ping -c 1 -W 2 database >/dev/null && echo pinged');
    const ip = await ok(t, 'inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', db);
    t.equal(out, `tcp://${ip}:5432 s3\npinged`);
    await ok(t, 'network', 'create', net);
    await ok(t, 'run', '-d', '--name', w, '--network', net, 'busybox', 'sleep', '1d');
    t.equal((await docker('run', '--rm', '--network', net, '--link', `${w}:web`, 'busybox', 'ping', '-c', '1', '-W', '2', 'web')).exitCode, 0, 'the linker resolves the alias');
    t.not((await docker('run', '--rm', '--network', net, 'busybox', 'ping', '-c', '1', '-W', '1', 'web')).exitCode, 0, 'another container does not');
    await ok(t, 'rm', '-f', db, w);
    await ok(t, 'network', 'rm', net);
  });

  t.test('images, volumes, df and prunes', async (t) => {
    t.match(await ok(t, 'pull', 'busybox'), /busybox:latest/);
    t.match(await ok(t, 'images', '--format', '{{.Repository}}:{{.Tag}}'), /^busybox:latest$/m);
    const v = name('vol');
    await ok(t, 'volume', 'create', v);
    t.match(await ok(t, 'volume', 'ls', '-q'), new RegExp(`^${v}$`, 'm'));
    const c = name('vc');
    await ok(t, 'run', '--name', c, '-v', `${v}:/tmp/cnmd-cli-vol-${process.pid}`, 'busybox', 'sh', '-c', `echo kept > /tmp/cnmd-cli-vol-${process.pid}/f`);
    t.match(await ok(t, 'system', 'df'), /Local Volumes\s+1/);
    t.match(await ok(t, 'container', 'prune', '-f'), new RegExp(`Deleted Containers:\\n[0-9a-f]{64}`));
    t.equal(await ok(t, 'run', '--rm', '-v', `${v}:/tmp/cnmd-cli-vol-${process.pid}`, 'busybox', 'cat', `/tmp/cnmd-cli-vol-${process.pid}/f`), 'kept', 'the volume outlives its container');
    await ok(t, 'volume', 'rm', v);
    t.notOk(existsSync(`/tmp/cnmd-cli-vol-${process.pid}`), 'mount point gone');
  });
}
