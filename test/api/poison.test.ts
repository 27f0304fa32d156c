/**
 * One bad sandbox does not stop the daemon: a container whose sandbox cannot be converged (its
 * adopted namespace deleted while cnmd was down, a step of its own that fails) is set apart and
 * exited with the error; the networks and the other containers converge; start-up goes on.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../helpers/app.js';
import { loadConfig } from '../../src/config.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { RecordingExecutor } from '../../src/host/recording.js';
import { SANDBOX_FAILED } from '../../src/services/recovery.js';

const nsOf = (id: string) => `cnmd-${id.slice(0, 12)}`;

async function twoContainers(t: { teardown: (fn: () => unknown) => void }, exec: RecordingExecutor) {
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-poison-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig(['--data-root', dir, '--reconcile-interval', '0'], () => undefined);
  const first = await startDaemon({ config, exec });
  await call(first, 'POST', '/networks/create', { Name: 'n' });
  const ids: Record<string, string> = {};
  for (const [name, extra] of [['adopted', { SandboxKey: '/run/netns/users-own' }], ['good', {}]] as const) {
    const r = await call(first, 'POST', `/containers/create?name=${name}`, { Image: 'x', HostConfig: { NetworkMode: 'n' }, ...extra });
    if (r.status !== 201) throw new Error(r.text);
    ids[name] = r.body.Id;
    const s = await call(first, 'POST', `/containers/${name}/start`);
    if (s.status !== 204) throw new Error(s.text);
  }
  await first.close();
  exec.calls.length = 0;
  return {
    ids,
    async restart(): Promise<Daemon> {
      const second = await startDaemon({ config, exec });
      t.teardown(() => second.close());
      return second;
    },
  };
}

async function states(d: Daemon) {
  const out: Record<string, { Status: string; Error: string; ExitCode: number }> = {};
  for (const name of ['adopted', 'good']) out[name] = (await call(d, 'GET', `/containers/${name}/json`)).body.State;
  return out;
}

t.test('an adopted namespace deleted while the daemon was down: the daemon starts, that container is exited, the other converges', async (t) => {
  const exec = new RecordingExecutor();
  const s = await twoContainers(t, exec);
  exec.goneNetns.add('/run/netns/users-own');
  const d = await s.restart();
  const st = await states(d);
  t.match(st.adopted, { Status: 'exited', ExitCode: 255 });
  t.equal(st.adopted.Error, `${SANDBOX_FAILED}: its network namespace /run/netns/users-own is gone`);
  t.match(st.good, { Status: 'running', Error: '' });
  const lines = exec.lines({ files: false }).join('\n');
  t.match(lines, `netns add ${nsOf(s.ids.good)}`, 'the other container\'s sandbox is made');
  t.notMatch(lines, 'users-own', 'nothing is tried in the missing namespace');
  const n = (await call(d, 'GET', '/networks/n')).body;
  t.same(Object.keys(n.Containers), [s.ids.good], 'only the good container is on the network');
  t.equal((await call(d, 'GET', '/containers/adopted/json')).body.NetworkSettings.Networks.n?.IPAddress ?? '', '', 'the adopted one released its address');
});

t.test('a sandbox whose own steps fail at start-up: set apart with the error, the rest applies', async (t) => {
  const exec = new RecordingExecutor();
  const s = await twoContainers(t, exec);
  // every ip batch run inside the adopted namespace fails (a bad value, a kernel refusing it)
  exec.failOn(/nsenter --net=\/run\/netns\/users-own ip -batch/, 'Error: argument "x" is wrong: Invalid "netns" value');
  const d = await s.restart();
  const st = await states(d);
  t.match(st.adopted, { Status: 'exited', ExitCode: 255 });
  t.match(st.adopted.Error, `${SANDBOX_FAILED}: `);
  t.match(st.adopted.Error, 'Invalid "netns" value');
  t.match(st.good, { Status: 'running' });
  t.ok(d.reconciler.last, 'the daemon answers');
  const events = await call(d, 'GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: ['die'] }))}`);
  t.match(events.text, s.ids.adopted, 'a die event names it');
  exec.clearFailures();
  t.equal((await call(d, 'POST', '/containers/adopted/start')).status, 204, 'once its namespace works again, it starts');
  t.match((await states(d)).adopted, { Status: 'running' });
});
