import t from 'tap';
import { frame, parseDetachKeys, DetachScanner, DEFAULT_DETACH_KEYS } from '../../src/runtime/streams.js';
import { resolveUser } from '../../src/runtime/users.js';
import { parsePs, parsePsArgs, parseStatTimes, parseProcStat, parseNetDev } from '../../src/runtime/info.js';
import { FrameDecoder, encodeFrame, FRAME, resizePayload } from '../../src/host/shim-protocol.js';
import { inNamespaces } from '../../src/host/placement.js';
import { KeyedLock } from '../../src/services/locks.js';

t.test('stream frames: 8-byte header with the stream and the length', async (t) => {
  t.same([...frame(1, Buffer.from('hi'))], [1, 0, 0, 0, 0, 0, 0, 2, 104, 105]);
  t.same([...frame(2, Buffer.alloc(0))], [2, 0, 0, 0, 0, 0, 0, 0]);
});

t.test('detach keys: Docker syntax, and a scanner that holds back a partial sequence', async (t) => {
  t.same([...parseDetachKeys(DEFAULT_DETACH_KEYS)], [16, 17], 'ctrl-p, ctrl-q');
  t.same([...parseDetachKeys('ctrl-a,x,ctrl-@,ctrl-[')], [1, 120, 0, 27]);
  t.throws(() => parseDetachKeys('ctrl-ab'), { message: 'Invalid detach keys (ctrl-ab) provided' });
  const s = new DetachScanner(parseDetachKeys('ctrl-p,ctrl-q'));
  t.same(s.feed(Buffer.from('ls\n')), { pass: Buffer.from('ls\n'), detach: false });
  t.same(s.feed(Buffer.from([0x10])), { pass: Buffer.alloc(0), detach: false }, 'ctrl-p alone is held back');
  t.same(s.feed(Buffer.from('a')), { pass: Buffer.from([0x10, 0x61]), detach: false }, 'and given through when the sequence breaks');
  t.same(s.feed(Buffer.from([0x61, 0x10, 0x11, 0x62])), { pass: Buffer.from('a'), detach: true }, 'the sequence detaches; what follows is not sent');
  const p = new DetachScanner(parseDetachKeys('ctrl-p,ctrl-q'));
  t.same(p.feed(Buffer.from([0x10, 0x10, 0x11])), { pass: Buffer.from([0x10]), detach: true }, 'a repeated first key starts the sequence again');
});

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nweb:x:1000:1001::/home/web:/bin/sh\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\nstaff:x:50:\nwheel:x:10:root,web\naudio:x:29:web\n';

t.test('--user as runc resolves it against passwd and group', async (t) => {
  t.same(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, home: '/root', groups: [10] });
  t.same(resolveUser('nobody', PASSWD, GROUP), { uid: 65534, gid: 65534, home: '/nonexistent', groups: [] });
  t.same(resolveUser('web:staff', PASSWD, GROUP), { uid: 1000, gid: 50, home: '/home/web', groups: [10, 29] }, 'the groups that list the user');
  t.same(resolveUser('1000', PASSWD, GROUP), { uid: 1000, gid: 1001, home: '/home/web', groups: [10, 29] });
  t.same(resolveUser('4242:4343', PASSWD, GROUP), { uid: 4242, gid: 4343, home: '/', groups: [] }, 'numeric ids need no entry');
  t.same(resolveUser('nobody', PASSWD, GROUP, ['audio', '4000']), { uid: 65534, gid: 65534, home: '/nonexistent', groups: [29, 4000] }, 'GroupAdd by name or gid');
  t.throws(() => resolveUser('nobody', PASSWD, GROUP, ['nosuch']), { message: 'Unable to find group nosuch: no matching entries in group file' });
  t.throws(() => resolveUser('nobody2', PASSWD, GROUP), { message: 'unable to find user nobody2: no matching entries in passwd file' });
  t.throws(() => resolveUser('web:nogrp', PASSWD, GROUP), { message: 'unable to find group nogrp: no matching entries in group file' });
});

t.test('a process in namespaces is an nsenter argv, never a shell string', async (t) => {
  t.same(inNamespaces({ net: '/run/netns/cnmd-x', mnt: '/run/cnmd/x/mnt', uts: '/run/cnmd/x/uts', uid: 1000, gid: 50, groups: [10, 29], cwd: '/srv' }, ['sh', '-c', 'echo $HOME; rm -rf /']), {
    file: 'nsenter',
    args: ['--net=/run/netns/cnmd-x', '--mount=/run/cnmd/x/mnt', '--uts=/run/cnmd/x/uts', '--wd=/srv', '--', 'setpriv', '--reuid=1000', '--regid=50', '--groups=10,29', '--', 'sh', '-c', 'echo $HOME; rm -rf /'],
  });
  t.same(inNamespaces({ mnt: '/m', uid: 65534, gid: 65534, groups: [] }, ['id']).args, ['--mount=/m', '--', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', 'id'], 'no groups of the daemon\'s leak in');
  t.same(inNamespaces({}, ['true']), { file: 'true', args: [] });
});

t.test('top: ps output filtered to the container, the last column with its spaces', async (t) => {
  const out = 'UID          PID    PPID  C STIME TTY          TIME CMD\nroot           1       0  0 05:00 ?        00:00:01 /sbin/init splash\nroot        4242       1  0 05:01 pts/0    00:00:00 sleep 100\n';
  t.same(parsePs(out, [4242]), { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: [['root', '4242', '1', '0', '05:01', 'pts/0', '00:00:00', 'sleep 100']] });
  t.throws(() => parsePs('USER COMMAND\nroot x\n', [1]), { message: "Couldn't find PID field in ps output" });
  t.same(parsePsArgs(undefined), ['-ef']);
  t.same(parsePsArgs('-o pid,comm'), ['-o', 'pid,comm']);
  t.throws(() => parsePsArgs('aux;reboot'), { message: 'invalid ps_args: aux;reboot' });
});

t.test('stats: /proc parsers', async (t) => {
  t.same(parseStatTimes('4242 (sleep (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 500 0'), { user: 7, system: 3 }, 'a command with parentheses');
  t.same(parseProcStat('cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 50 0 25 500 0 0 0 0 0 0\ncpu1 50 0 25 500 0 0 0 0 0 0\n'), { total: 1150 * 1e7, cpus: 2 });
  const dev = 'Inter-|   Receive\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1500 12 1 2 0 0 0 0 900 7 3 4 0 0 0 0\n';
  t.same(parseNetDev(dev), { eth0: { rx_bytes: 1500, rx_packets: 12, rx_errors: 1, rx_dropped: 2, tx_bytes: 900, tx_packets: 7, tx_errors: 3, tx_dropped: 4 } });
});

t.test('shim frames survive any split', async (t) => {
  const bytes = Buffer.concat([encodeFrame(FRAME.stdin, Buffer.from('abc')), encodeFrame(FRAME.resize, resizePayload(120, 40)), encodeFrame(FRAME.closeStdin)]);
  const d = new FrameDecoder();
  const got = [...bytes].flatMap((b) => d.feed(Buffer.from([b])));
  t.same(got.map((f) => f.type), [FRAME.stdin, FRAME.resize, FRAME.closeStdin]);
  t.equal(got[0].payload.toString(), 'abc');
  t.same([got[1].payload.readUInt16BE(0), got[1].payload.readUInt16BE(2)], [120, 40]);
});

t.test('one lock per key: in arrival order, other keys do not wait', async (t) => {
  const lock = new KeyedLock();
  const order: string[] = [];
  let release!: () => void;
  const first = lock.run('a', () => new Promise<void>((r) => (release = r)).then(() => void order.push('a1')));
  const second = lock.run('a', async () => void order.push('a2'));
  await lock.run('b', async () => void order.push('b'));
  t.same(order, ['b'], 'b ran while a was held');
  release();
  await Promise.all([first, second]);
  t.same(order, ['b', 'a1', 'a2']);
  await t.rejects(lock.run('a', async () => Promise.reject(new Error('boom'))));
  t.equal(await lock.run('a', async () => 7), 7, 'a failure releases the lock');
  t.notOk(lock.busy('a'));
});
