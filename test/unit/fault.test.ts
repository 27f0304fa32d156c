import t from 'tap';
import { CrashingExecutor, isHostRead } from '../../src/host/fault.js';
import { RecordingExecutor } from '../../src/host/recording.js';

function harness(k: number) {
  const inner = new RecordingExecutor();
  const log: string[] = [];
  let died = 0;
  const exec = new CrashingExecutor(inner, k, (l) => log.push(l.trim()), () => void died++);
  return { inner, exec, log, died: () => died };
}

t.test('nothing is counted until armed; reads are never steps', async (t) => {
  const h = harness(1);
  await h.exec.run('ip', ['-batch', '-'], { input: 'link add x type dummy\n' });
  t.equal(h.died(), 0, 'not armed: no crash');
  h.exec.arm();
  await h.exec.run('ip', ['-json', '-details', 'addr', 'show']);
  await h.exec.run('iptables-save', []);
  await h.exec.readFile('/proc/net/route');
  t.equal(h.died(), 0, 'reads are not steps');
  await h.exec.writeSysctl('net.ipv4.ip_forward', '1');
  t.equal(h.died(), 1, 'the first step ends it');
  t.same(h.log, ['cnmd fault armed', 'cnmd fault step 1: sysctl net.ipv4.ip_forward=1']);
  t.ok(isHostRead('iptables', ['--version']) && !isHostRead('iptables-restore', ['-w', '--noflush']));
});

t.test('k counts every kind of host change, in order; k = 0 dies before the first', async (t) => {
  const h = harness(4);
  h.exec.arm();
  await h.exec.writeFile('/etc/netns/a/hosts', '');
  const p = h.exec.spawnProcess('sleep', ['1'], { env: {}, stdoutPath: '', stderrPath: '' });
  h.exec.signal(p.pid, 0);
  h.exec.signal(p.pid, 'SIGTERM');
  t.equal(h.died(), 0, 'a liveness probe (signal 0) is not a step');
  t.notOk(h.exec.signal(-p.pid, 'SIGKILL'), 'the process is gone');
  t.equal(h.log.length, 4, 'a signal that reached no process changed nothing: not a step');
  await h.exec.removePath('/etc/netns/a');
  t.equal(h.died(), 1);
  t.same(h.log.slice(1).map((l) => l.replace(/: .*/, '')), ['cnmd fault step 1', 'cnmd fault step 2', 'cnmd fault step 3', 'cnmd fault step 4']);
  const zero = harness(0);
  zero.exec.arm();
  await zero.exec.run('iptables-save', []);
  t.equal(zero.died(), 0);
  await zero.exec.run('iptables-restore', ['-w', '--noflush'], { input: '' });
  t.equal(zero.died(), 1, 'before the first step');
  t.equal(zero.inner.calls.filter((c) => c.file === 'iptables-restore').length, 1, 'the hook kills; here the test double carries on');
});
