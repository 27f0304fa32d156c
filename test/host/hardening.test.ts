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
import { attachSandbox, hostTestsReady, makeNetns, pings, startDaemonIn, runMain, uniqueName } from '../helpers/host.js';

const V = '/v1.48';
const mode = (p: string) => statSync(p).mode & 0o777;


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

  for (const backend of ['nftables', 'iptables'] as const) {
    t.test(`${backend}: the localhost guard: a packet from a bridge to the host's 127.0.0.1 gets no answer; 127.0.0.1 ports still work from the host`, async (t) => {
      const host = await makeNetns(t, 'h');
      const d = await startDaemonIn(t, host, ['--firewall-backend', backend, '--reconcile-interval', '0']);
      const br = `cnmdlg${Math.random().toString(16).slice(2, 8)}`;
      const net = uniqueName('lg');
      const created = await d.request('POST', `${V}/networks/create`, {
        Name: net, IPAM: { Config: [{ Subnet: '10.231.0.0/24', Gateway: '10.231.0.1' }] }, Options: { 'com.docker.network.bridge.name': br },
      });
      t.equal(created.status, 201, created.text);
      // a service the host binds to loopback only
      const secret = spawn('nsenter', [`--net=/run/netns/${host.name}`, process.execPath, '-e', "require('http').createServer((q, s) => s.end('secret')).listen(7777, '127.0.0.1')"], { stdio: 'ignore' });
      t.teardown(() => void secret.kill('SIGKILL'));
      // a container whose root crafts packets for 127.0.0.1 and sends them to its gateway
      const evil = await attachSandbox(t, host, br, '10.231.0.50/24', '10.231.0.1', 'evil');
      for (const k of ['all', 'eth0']) await evil.run('sysctl', ['-qw', `net.ipv4.conf.${k}.route_localnet=1`]);
      await evil.run('ip', ['rule', 'add', 'pref', '10', 'lookup', 'local']);
      await evil.run('ip', ['rule', 'del', 'pref', '0']);
      await evil.run('ip', ['rule', 'add', 'pref', '5', 'to', '127.0.0.1', 'lookup', '100']);
      await evil.run('ip', ['route', 'add', '127.0.0.1/32', 'via', '10.231.0.1', 'dev', 'eth0', 'src', '10.231.0.50', 'table', '100']);
      const probe = async () => (await evil.run('curl', ['-sS', '--max-time', '3', 'http://127.0.0.1:7777/'], { reject: false })).stdout;
      await new Promise((r) => setTimeout(r, 300));
      t.equal((await host.run('curl', ['-sS', '--max-time', '3', 'http://127.0.0.1:7777/'])).stdout, 'secret', 'the host reaches its own service');
      t.equal(await probe(), '', 'the container gets no answer from the host\'s 127.0.0.1');

      // the check can fail: without the guard the crafted packets reach the service
      if (backend === 'nftables') {
        const rules = JSON.parse((await host.run('nft', ['-j', '-a', 'list', 'chain', 'inet', 'cnmd', 'input'])).stdout).nftables as Array<{ rule?: { handle: number; expr: unknown[] } }>;
        const guard = rules.find((r) => r.rule && JSON.stringify(r.rule.expr).includes('"127.0.0.0"'));
        t.ok(guard, 'the guard is a rule of cnmd\'s input chain');
        await host.run('nft', ['delete', 'rule', 'inet', 'cnmd', 'input', 'handle', String(guard!.rule!.handle)]);
      } else {
        const lines = (await host.run('iptables', ['-S', 'CNMD-INPUT'])).stdout.split('\n');
        const at = lines.findIndex((l) => l.includes('127.0.0.0/8') && l.includes(br));
        t.ok(at > 0, 'the guard is a rule of CNMD-INPUT');
        await host.run('iptables', ['-D', 'CNMD-INPUT', String(at)]);
      }
      t.equal(await probe(), 'secret', 'without the guard the container reads the host\'s loopback service');
      // a restart reconciles the guard back
      await d.stop();
      await d.start();
      t.equal(await probe(), '', 'the guard is back after the start-up reconcile');

      // a port published on 127.0.0.1 still works from the host
      const name = uniqueName('lo');
      const c = await d.request('POST', `${V}/containers/create?name=${name}`, {
        Image: 'node', Cmd: [process.execPath, '-e', "require('http').createServer((q, s) => s.end('published')).listen(80, '0.0.0.0')"],
        HostConfig: { NetworkMode: net, PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8089' }] } }, ExposedPorts: { '80/tcp': {} },
      });
      t.equal(c.status, 201, c.text);
      t.equal((await d.request('POST', `${V}/containers/${name}/start`)).status, 204);
      let body = '';
      for (let i = 0; i < 30 && body !== 'published'; i++) {
        body = (await host.run('curl', ['-sS', '--max-time', '2', 'http://127.0.0.1:8089/'], { reject: false })).stdout;
        if (body !== 'published') await new Promise((r) => setTimeout(r, 100));
      }
      t.equal(body, 'published', 'the host reaches a port published on 127.0.0.1 (the replies are let through)');
    });
  }

  t.test('log rotation: --log-opt max-size and max-file on a real container; docker logs reads the rotated file too', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const name = uniqueName('rot');
    const c = await d.request('POST', `${V}/containers/create?name=${name}`, {
      Image: 'busybox', Cmd: ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done; sleep 1000'],
      HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: { 'max-size': '4k', 'max-file': '2' } } },
    });
    t.equal(c.status, 201, c.text);
    t.equal((await d.request('POST', `${V}/containers/${name}/start`)).status, 204);
    const id = (await d.request('GET', `${V}/containers/${name}/json`)).body.Id as string;
    const log = `${d.dir}/data/containers/${id}/stdout.log`;
    const { existsSync: exists } = await import('node:fs');
    for (let i = 0; i < 100 && !exists(`${log}.1`); i++) await new Promise((r) => setTimeout(r, 100));
    t.ok(exists(`${log}.1`), 'the log past 4k was rotated');
    t.ok(statSync(log).size < 4096, 'the current file was emptied');
    t.notOk(exists(`${log}.2`), 'max-file 2: one rotated file');
    t.equal(mode(`${log}.1`) & 0o077, 0, 'the rotated file is root\'s alone');
    const demux = (raw: Buffer) => {
      let out = '';
      for (let i = 0; i + 8 <= raw.length; ) {
        const n = raw.readUInt32BE(i + 4);
        out += raw.subarray(i + 8, i + 8 + n).toString();
        i += 8 + n;
      }
      return out;
    };
    const { request } = await import('node:http');
    const get = (path: string) => new Promise<Buffer>((resolve, reject) => {
      const req = request({ socketPath: d.socket, path }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b) => parts.push(b));
        res.on('end', () => resolve(Buffer.concat(parts)));
      });
      req.on('error', reject);
      req.end();
    });
    const all = demux(await get(`${V}/containers/${name}/logs?stdout=1`));
    t.ok(all.startsWith('line0\n'), 'docker logs starts in the rotated file');
    t.ok(all.endsWith('line2999\n'), 'and ends with the last line');
    t.equal(demux(await get(`${V}/containers/${name}/logs?stdout=1&tail=2`)), 'line2998\nline2999\n', 'tail');
    const bad = await d.request('POST', `${V}/containers/create?name=${uniqueName('bad')}`, { Image: 'busybox', HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-file': '3' } } } });
    t.equal(bad.status, 400);
    t.equal(bad.body.message, 'max-file cannot be set without max-size');
  });
}
