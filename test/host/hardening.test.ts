/**
 * Hardening on a real kernel: the data root and what is in it are root's alone at every start, a
 * damaged database stops the daemon with its name, a recorded pid that now names another process is
 * neither given a namespace name nor signalled, and one bad sandbox does not stop the daemon.
 */
import t from 'tap';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { hostTestsReady, makeNetns, pings, startDaemonIn, uniqueName, type Netns } from '../helpers/host.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const V = '/v1.48';
const mode = (p: string) => statSync(p).mode & 0o777;

async function runMain(ns: Netns, flags: string[]) {
  const r = await execa('nsenter', [`--net=/run/netns/${ns.name}`, process.execPath, `${ROOT}dist/main.js`, ...flags], { reject: false, timeout: 20_000 });
  return { exitCode: r.exitCode, stderr: String(r.stderr) };
}

if (await hostTestsReady(t)) {
  t.test('the data root 0700, the database, its WAL and the logs 0600 at every start; a truncated database is exit 1 naming it', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const name = uniqueName('log');
    t.equal((await d.request('POST', `${V}/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['echo', 'hello'], HostConfig: { NetworkMode: 'none' } })).status, 201);
    t.equal((await d.request('POST', `${V}/containers/${name}/start`)).status, 204);
    const id = (await d.request('GET', `${V}/containers/${name}/json`)).body.Id as string;
    const data = `${d.dir}/data`;
    const log = `${data}/containers/${id}/stdout.log`;
    t.equal(mode(log), 0o600, 'a new log is 0600');
    await d.stop();
    // what an older cnmd or a careless hand left: everything readable by all
    for (const [p, m] of [[data, 0o755], [`${data}/cnmd.db`, 0o644], [log, 0o644]] as const) chmodSync(p, m);
    await d.start();
    t.equal(mode(data), 0o700, 'the data root is 0700 again');
    t.equal(mode(`${data}/cnmd.db`), 0o600, 'the database is 0600 again');
    t.equal(mode(`${data}/cnmd.db-wal`), 0o600, 'its WAL too');
    t.equal(mode(log), 0o600, 'the log too');
    await d.stop();

    // a database cut short (a full disk, a bad copy)
    const other = mkdtempSync('/tmp/cnmd-damaged-');
    t.teardown(() => rmSync(other, { recursive: true, force: true }));
    mkdirSync(`${other}/data`);
    const db = new Database(`${other}/data/cnmd.db`);
    db.exec('CREATE TABLE filler (x TEXT)');
    for (let i = 0; i < 100; i++) db.prepare('INSERT INTO filler VALUES (?)').run('x'.repeat(1000));
    db.pragma('journal_mode = DELETE');
    db.close();
    truncateSync(`${other}/data/cnmd.db`, 4096 + 100);
    const r = await runMain(host, ['-H', `unix://${other}/cnmd.sock`, '--data-root', `${other}/data`, '--exec-root', `${other}/exec`, '--dns', '127.0.0.1']);
    t.equal(r.exitCode, 1, 'the daemon stops');
    t.match(r.stderr, `the database ${other}/data/cnmd.db cannot be used`, 'naming the file');
    writeFileSync(`${other}/data/cnmd.db`, 'plain text, not SQLite\n'.repeat(300));
    const r2 = await runMain(host, ['-H', `unix://${other}/cnmd.sock`, '--data-root', `${other}/data`, '--exec-root', `${other}/exec`, '--dns', '127.0.0.1']);
    t.equal(r2.exitCode, 1);
    t.match(r2.stderr, /cannot be used: file is not a database/);
  });

  t.test('a restart with a forged pid of an unrelated process: no netns attach, no signal, the container is exited', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const name = uniqueName('ident');
    t.equal((await d.request('POST', `${V}/networks/create`, { Name: name })).status, 201);
    t.equal((await d.request('POST', `${V}/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: name } })).status, 201);
    t.equal((await d.request('POST', `${V}/containers/${name}/start`)).status, 204);
    const c = (await d.request('GET', `${V}/containers/${name}/json`)).body;
    const ns = String(c.NetworkSettings.SandboxKey).replace('/run/netns/', '');
    // the daemon dies; meanwhile the command ends and the namespace loses its name
    d.signal('SIGKILL');
    await d.exited();
    process.kill(-c.State.Pid, 'SIGKILL');
    await execa('ip', ['netns', 'del', ns], { reject: false });
    // an unrelated process, in the test host, and the record pointing at it (same pid, another start time)
    const unrelated = spawn('nsenter', [`--net=/run/netns/${host.name}`, 'sleep', '1000'], { stdio: 'ignore' });
    t.teardown(() => void unrelated.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 200));
    const db = new Database(`${d.dir}/data/cnmd.db`);
    db.prepare('UPDATE containers SET pid = ? WHERE name = ?').run(unrelated.pid, name);
    db.close();
    await d.start();
    const after = (await d.request('GET', `${V}/containers/${name}/json`)).body;
    t.match(after.State, { Status: 'exited', Running: false, Pid: 0 }, 'the container is exited');
    t.equal(unrelated.exitCode, null, 'the unrelated process was not signalled');
    t.equal(unrelated.signalCode, null);
    const names = (await execa('ip', ['netns', 'list'])).stdout;
    t.notMatch(names, ns, 'its namespace was not given the name again (it would be the test host\'s)');
    t.equal((await d.request('POST', `${V}/containers/${name}/stop?t=1`)).status, 304, 'stop: nothing to stop');
    t.equal((await d.request('POST', `${V}/containers/${name}/kill`)).status, 409);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(unrelated.exitCode ?? unrelated.signalCode, null, 'and stop and kill did not signal it');
  });

  t.test('an adopted namespace deleted while the daemon is down: the daemon starts, that container is exited, the others converge', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const net = uniqueName('poison');
    t.equal((await d.request('POST', `${V}/networks/create`, { Name: net })).status, 201);
    const mine = await makeNetns(t, 'adopt');
    const adopted = uniqueName('adopted');
    const good = uniqueName('good');
    t.equal((await d.request('POST', `${V}/containers/create?name=${adopted}`, { Image: 'x', SandboxKey: `/run/netns/${mine.name}`, HostConfig: { NetworkMode: net } })).status, 201);
    t.equal((await d.request('POST', `${V}/containers/${adopted}/start`)).status, 204);
    t.equal((await d.request('POST', `${V}/containers/create?name=${good}`, { Image: 'x', HostConfig: { NetworkMode: net } })).status, 201);
    t.equal((await d.request('POST', `${V}/containers/${good}/start`)).status, 204);
    await d.stop();
    await execa('ip', ['netns', 'del', mine.name]);
    // the namespace of the good one loses its interfaces too: the start-up reconcile has work to do
    const goodNs = String((await (async () => {
      const db = new Database(`${d.dir}/data/cnmd.db`, { readonly: true });
      const row = db.prepare('SELECT netns FROM containers WHERE name = ?').get(good) as { netns: string };
      db.close();
      return row;
    })()).netns);
    await execa('ip', ['-n', goodNs, 'link', 'del', 'eth0']);
    await d.start();
    const a = (await d.request('GET', `${V}/containers/${adopted}/json`)).body;
    t.match(a.State, { Status: 'exited', Running: false, ExitCode: 255 }, 'the container with the missing namespace is exited');
    t.match(a.State.Error, `its network namespace /run/netns/${mine.name} is gone`, 'with the reason');
    const g = (await d.request('GET', `${V}/containers/${good}/json`)).body;
    t.match(g.State, { Status: 'running' }, 'the other one runs');
    const ip = g.NetworkSettings.Networks[net].IPAddress as string;
    t.ok(await pings(host, ip), `and its sandbox was repaired: the host reaches ${ip}`);
    const n = (await d.request('GET', `${V}/networks/${net}`)).body;
    t.same(Object.keys(n.Containers), [g.Id], 'only it is on the network');
    t.equal((await d.request('GET', '/_ping')).status, 200);
  });
}
