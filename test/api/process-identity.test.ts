/**
 * A container's process is known by identity (pid, the kernel's start time, the boot), not by pid:
 * after a restart of the daemon, a recorded pid that now names another process is never given a
 * namespace name nor signalled, and containers of an earlier boot are exited before the first reconcile.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../helpers/app.js';
import { loadConfig } from '../../src/config.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { RecordingExecutor } from '../../src/host/recording.js';
import { REBOOTED } from '../../src/services/recovery.js';

const nsOf = (id: string) => `cnmd-${id.slice(0, 12)}`;

interface Scene {
  exec: RecordingExecutor;
  restart(): Promise<Daemon>;
  first: Daemon;
}

async function scene(t: { teardown: (fn: () => unknown) => void }): Promise<Scene> {
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-identity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig(['--data-root', dir, '--reconcile-interval', '0'], () => undefined);
  const exec = new RecordingExecutor();
  const first = await startDaemon({ config, exec });
  let closed = false;
  t.teardown(() => (closed ? undefined : first.close()));
  return {
    exec,
    first,
    async restart() {
      closed = true;
      await first.close();
      exec.calls.length = 0;
      const second = await startDaemon({ config, exec });
      t.teardown(() => second.close());
      return second;
    },
  };
}

async function runContainer(d: Daemon, name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; pid: number }> {
  const r = await call(d, 'POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'n' }, ...extra });
  if (r.status !== 201) throw new Error(r.text);
  const started = await call(d, 'POST', `/containers/${name}/start`);
  if (started.status !== 204) throw new Error(started.text);
  const c = (await call(d, 'GET', `/containers/${name}/json`)).body;
  return { id: c.Id, pid: c.State.Pid };
}

for (const reused of [false, true]) {
  t.test(`a namespace whose name was removed while the daemon was down, its process ${reused ? 'gone and its pid reused' : 'still running'}`, async (t) => {
    const s = await scene(t);
    await call(s.first, 'POST', '/networks/create', { Name: 'n' });
    const { id, pid } = await runContainer(s.first, 'web');
    t.ok(pid > 0);
    // someone ran `ip netns del`: only the process holds the namespace now
    s.exec.namespaces.delete(nsOf(id));
    // the process ended and another one got its pid: same pid, another start time
    if (reused) s.exec.starts.set(pid, 'another start');
    const d = await s.restart();
    const lines = s.exec.lines({ files: false }).join('\n');
    const c = (await call(d, 'GET', '/containers/web/json')).body;
    if (!reused) {
      t.match(lines, `netns attach ${nsOf(id)} ${pid}`, 'the namespace gets its name back from its process');
      t.match(c.State, { Status: 'running', Pid: pid });
      return;
    }
    t.notMatch(lines, /netns attach/, 'no namespace of another process is given the name');
    t.notMatch(lines, /mount --bind \/proc\//, 'nor are its mount or UTS namespaces taken');
    t.match(c.State, { Status: 'exited', Running: false, Pid: 0 }, 'the container is exited');
    t.ok(s.exec.isAlive(pid), 'the process that has the pid now was not signalled');
    const stop = await call(d, 'POST', '/containers/web/stop?t=1');
    t.equal(stop.status, 304, 'stop finds nothing to stop');
    const kill = await call(d, 'POST', '/containers/web/kill');
    t.equal(kill.status, 409, 'kill: not running');
    t.ok(s.exec.isAlive(pid), 'and neither stop nor kill signalled it');
  });
}

t.test('a force removal cut short by a crash does not kill a process that got the pid', async (t) => {
  const s = await scene(t);
  await call(s.first, 'POST', '/networks/create', { Name: 'n' });
  const { id, pid } = await runContainer(s.first, 'gone');
  const { ContainerRepo } = await import('../../src/store/containers.js');
  new ContainerRepo(s.first.db).update(id, { state: 'removing' });
  s.exec.starts.set(pid, 'another start');
  const d = await s.restart();
  t.equal((await call(d, 'GET', '/containers/gone/json')).status, 404, 'the removal is finished');
  t.ok(s.exec.isAlive(pid), 'the process at the recorded pid, another one, lives');
});

t.test('containers of an earlier boot are exited before the first reconcile; a restart policy starts them again', async (t) => {
  const s = await scene(t);
  await call(s.first, 'POST', '/networks/create', { Name: 'n' });
  const plain = await runContainer(s.first, 'plain');
  const always = await runContainer(s.first, 'always', { HostConfig: { NetworkMode: 'n', RestartPolicy: { Name: 'always' } } });
  const sandbox = await call(s.first, 'POST', '/containers/create?name=sandbox', { Image: 'busybox', HostConfig: { NetworkMode: 'n' } });
  t.equal(sandbox.status, 201);
  t.equal((await call(s.first, 'POST', '/containers/sandbox/start')).status, 204);
  // a reboot: the namespaces are gone; the pids recorded name whatever runs now (here: still the same processes)
  for (const c of [plain, always]) s.exec.namespaces.delete(nsOf(c.id));
  s.exec.namespaces.clear();
  s.exec.boot = 'boot-2';
  const d = await s.restart();
  const lines = s.exec.lines({ files: false }).join('\n');
  t.notMatch(lines, /netns attach/, 'no recorded pid is trusted');
  for (const name of ['plain', 'sandbox']) {
    const c = (await call(d, 'GET', `/containers/${name}/json`)).body;
    t.match(c.State, { Status: 'exited', Running: false, Pid: 0, ExitCode: 255, Error: REBOOTED }, `${name} is exited`);
    t.same(c.NetworkSettings.Networks.n?.IPAddress ?? '', '', `${name} holds no address`);
  }
  t.ok(s.exec.isAlive(plain.pid), 'the process at its recorded pid was not signalled');
  const again = (await call(d, 'GET', '/containers/always/json')).body;
  t.match(again.State, { Status: 'running', Running: true }, 'restart=always starts it again');
  t.not(again.State.Pid, always.pid, 'as a new process');
  t.same(Object.keys((await call(d, 'GET', '/networks/n')).body.Containers).length, 1, 'only the restarted container is on the network');
});
