/**
 * The spawn helper (src/host/spawn-helper.c, built by `npm run build`) and the executor's use of it:
 * what a command writes, its exit, a command not found, a timeout, many at once, large input and
 * output, and the helper's death (a command it had not started is started by the daemon itself).
 * Runs harmless local commands only.
 */
import t from 'tap';
import { execa } from 'execa';
import { Spawner, helperPath, NOT_STARTED } from '../../src/host/spawner.js';
import { ExecaExecutor, HostCommandError } from '../../src/host/executor.js';

t.test('the helper is built', async (t) => {
  t.ok(helperPath(), 'dist/host/cnmd-spawn exists (npm run build compiles it)');
});

t.test('output, exit status, signals, a command not found', async (t) => {
  const s = new Spawner();
  t.teardown(() => s.close());
  const r = await s.run('sh', ['-c', 'read x; echo "out $x"; echo err >&2; exit 3'], 'in\n', 5000);
  t.match(r, { exitCode: 3, stdout: 'out in\n', stderr: 'err\n', timedOut: false });
  t.notOk(r!.startError);
  t.match(await s.run('sh', ['-c', 'kill -TERM $$'], '', 5000), { exitCode: undefined, signal: 15 });
  t.match(await s.run('cnmd-no-such-command', [], '', 5000), { startError: 'ENOENT' });
  t.match(await s.run('true', [], '', 5000), { exitCode: 0, stdout: '', stderr: '' });
});

t.test('a command past its time is killed and says so', async (t) => {
  const s = new Spawner();
  t.teardown(() => s.close());
  const started = Date.now();
  const r = await s.run('sleep', ['30'], '', 150);
  t.match(r, { timedOut: true, signal: 9 });
  t.ok(Date.now() - started < 10_000, 'it did not run to its end');
});

t.test('fifty at once, each its own output; megabytes in and out', async (t) => {
  const s = new Spawner();
  t.teardown(() => s.close());
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => s.run('sh', ['-c', `echo o${i}; echo e${i} >&2; exit ${i % 4}`], '', 10_000)));
  rs.forEach((r, i) => t.match(r, { stdout: `o${i}\n`, stderr: `e${i}\n`, exitCode: i % 4 }, `command ${i}`));
  const big = 'x'.repeat(3 * 1024 * 1024) + '\n';
  const echoed = await s.run('cat', [], big, 10_000);
  t.equal(echoed!.stdout.length, big.length);
  t.equal(echoed!.stdout, big);
});

t.test('the helper dies: what it had started fails, what it had not is for the caller; twice, and it is not used', async (t) => {
  const deaths: string[] = [];
  const s = new Spawner(undefined, (why) => deaths.push(why));
  t.teardown(() => s.close());
  // the sleep outlives its killed helper: ended here by its unique argument
  t.teardown(() => void execa('pkill', ['-f', 'sleep 31.4159'], { reject: false }));
  const running = s.run('sleep', ['31.4159'], '', 20_000)!;
  // the helper's pid: the parent of the sleep it started
  await new Promise((r) => setTimeout(r, 200));
  const helper = (s as unknown as { child: { pid: number } }).child.pid;
  process.kill(helper, 'SIGKILL');
  const r = await running;
  t.equal(r.startError, 'EHELPER');
  t.match(r.stderr, /cnmd-spawn .* while the command ran/);
  t.ok(s.available, 'one death: it starts again on the next command');
  t.match(await s.run('true', [], '', 5000), { exitCode: 0 });
  const second = (s as unknown as { child: { pid: number } }).child.pid;
  t.not(second, helper);
  process.kill(second, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(s.available);
  t.same(deaths, ['cnmd-spawn exited (SIGKILL)', 'cnmd-spawn exited (SIGKILL)'], 'each death is told (the daemon logs it)');
  t.equal(s.run('true', [], '', 5000), undefined, 'the caller starts commands itself from now on');
});

t.test('a helper that cannot start: the command is not started by it; no helper: nothing is', async (t) => {
  const s = new Spawner('/nonexistent/cnmd-spawn');
  const r = await s.run('true', [], '', 5000);
  t.equal(r!.startError, NOT_STARTED);
  const none = new Spawner(null);
  t.notOk(none.available);
  t.equal(none.run('true', [], '', 5000), undefined);
});

t.test('the executor: brief tools through the helper, others and a missing helper the usual way, errors alike', async (t) => {
  for (const [name, spawner] of [['helper', new Spawner()], ['no helper', new Spawner(null)], ['a helper that cannot start', new Spawner('/nonexistent/cnmd-spawn')]] as const) {
    const seen: Array<[string, boolean]> = [];
    const exec = new ExecaExecutor((file, _s, ok) => seen.push([file, ok]), spawner);
    t.teardown(() => spawner.close());
    const r = await exec.run('ip', ['-V']);
    t.match(r.stdout, /iproute2/, `${name}: ip runs`);
    const e = await exec.run('ip', ['link', 'show', 'dev', 'cnmd-nosuchlink']).catch((x: unknown) => x);
    t.ok(e instanceof HostCommandError, `${name}: a failing command rejects with HostCommandError`);
    t.match((e as HostCommandError).stderr, /does not exist/);
    t.equal((e as HostCommandError).exitCode, 1);
    const missing = await exec.run('cnmd-no-such-tool', []).catch((x: unknown) => x);
    t.ok((missing as HostCommandError).missing, `${name}: a missing tool says so`);
    t.same(seen.map(([f, ok]) => `${f}:${ok}`), ['ip:true', 'ip:false', 'cnmd-no-such-tool:false']);
  }
});

t.test('many sysctls are read by one grep: the values read in place, keys the kernel lacks left out', async (t) => {
  const { readdirSync } = await import('node:fs');
  const { SYSCTLS_READ_IN_PLACE, parseGrepLines } = await import('../../src/host/executor.js');
  t.same(parseGrepLines('/proc/sys/a/b:1\n/proc/sys/c:32768\t60999\n\nno colon\n'), [['/proc/sys/a/b', '1'], ['/proc/sys/c', '32768\t60999']]);
  // read only, in the namespace the tests run in: lo's IPv4 settings, by dotted name and by path
  const names = readdirSync('/proc/sys/net/ipv4/conf/lo').filter((n) => n !== 'stable_secret').slice(0, 20);
  const keys = [...names.map((n, i) => (i % 2 ? `net.ipv4.conf.lo.${n}` : `net/ipv4/conf/lo/${n}`)), 'net/ipv4/conf/cnmd-nosuchlink/route_localnet'];
  t.ok(keys.length > SYSCTLS_READ_IN_PLACE, 'more than are read in place');
  for (const [name, spawner] of [['helper', new Spawner()], ['no helper', new Spawner(null)]] as const) {
    const seen: string[] = [];
    const exec = new ExecaExecutor((file) => seen.push(file), spawner);
    t.teardown(() => spawner.close());
    const expected = new Map<string, string>();
    for (const k of keys) {
      const v = await exec.readSysctl(k);
      if (v !== undefined) expected.set(k, v);
    }
    t.equal(expected.size, keys.length - 1, 'every key but the missing one is there');
    t.same([...(await exec.readSysctls(keys))].sort(), [...expected].sort(), `${name}: the same values`);
    t.same(seen, ['grep'], `${name}: one process`);
    seen.length = 0;
    t.same([...(await exec.readSysctls(keys.slice(0, 3)))].sort(), [...expected].filter(([k]) => keys.slice(0, 3).includes(k)).sort(), `${name}: a few, in place`);
    t.same(seen, [], `${name}: no process for a few`);
  }
});

t.test('`ip -batch -` runs in a spare started ahead: the same output and exit; a spare that ended is not used; none is left', async (t) => {
  const { readFileSync, existsSync } = await import('node:fs');
  const s = new Spawner();
  const helperPid = () => (s as unknown as { child?: { pid?: number } }).child?.pid;
  const spareOf = () => {
    const pid = helperPid();
    const kids = pid ? readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number) : [];
    return kids.find((k) => existsSync(`/proc/${k}/cmdline`) && readFileSync(`/proc/${k}/cmdline`, 'utf8') === 'ip\0-batch\0-\0');
  };
  const waitFor = async <T>(f: () => T | undefined): Promise<T | undefined> => {
    for (let i = 0; i < 200; i++) {
      const v = f();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  };
  const startedPid = () => [...(s as unknown as { pending: Map<number, { pid?: number }> }).pending.values()][0]?.pid;
  const first = await s.run('ip', ['-batch', '-'], 'link show dev lo\n', 5000);
  t.match(first, { exitCode: 0, stdout: /\blo:/ }, 'the first is started as any command');
  const spare = await waitFor(spareOf);
  t.ok(spare, 'then a spare waits, started in the helper');
  // a line that does not end (ip monitor), so the request is seen while it runs; its time ends it
  const run = s.run('ip', ['-batch', '-'], 'monitor link\n', 500)!;
  t.equal(await waitFor(startedPid), spare, 'the next request is given to it');
  t.match(await run, { timedOut: true }, 'and its time is kept as any command\'s');
  const next = await waitFor(spareOf);
  t.ok(next && next !== spare, 'another spare is started');
  t.same(await s.run('ip', ['-batch', '-'], 'link show dev lo\n', 5000), first, 'which answers as the first did');
  const failed = await s.run('ip', ['-batch', '-'], 'link show dev cnmd-nosuchlink\n', 5000);
  t.match(failed, { exitCode: 1, stderr: /does not exist/ }, 'a failing line fails as it would');
  const killed = await waitFor(spareOf);
  process.kill(killed!, 'SIGKILL');
  await waitFor(() => (existsSync(`/proc/${killed}/stat`) && !readFileSync(`/proc/${killed}/stat`, 'utf8').includes(') Z ') ? undefined : true));
  await new Promise((r) => setTimeout(r, 100));
  t.match(await s.run('ip', ['-batch', '-'], 'link show dev lo\n', 5000), { exitCode: 0, stdout: /\blo:/ }, 'a spare that died is not used: the request starts its own');
  const last = await waitFor(spareOf);
  t.ok(last, 'and a spare waits again');
  s.close();
  t.ok(await waitFor(() => (existsSync(`/proc/${last}/stat`) ? undefined : true)), 'once the helper is closed, the spare ends');
});
