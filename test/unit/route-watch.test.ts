import t, { type Test } from 'tap';
import { OnLinkRoutes, routeLineMatters, MAX_AGE_MS, SUBSCRIBE_MS } from '../../src/host/route-watch.js';
import { RecordingExecutor } from '../../src/host/recording.js';
import { formatPrefix } from '../../src/ipam/cidr.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const line = (iface: string, destHex: string, maskHex: string) => `${iface}\t${destHex}\t00000000\t0001\t0\t0\t0\t${maskHex}\t0\t0\t0`;
// 10.1.0.0/24 on a bridge of ours, 192.168.0.0/16 on eth0
const TABLE = [HEADER, line('cnmd-aaaa', '0000010A', '00FFFFFF'), line('eth0', '0000A8C0', '0000FFFF')].join('\n') + '\n';

const own = (dev: string, prefix: string) => dev === 'cnmd-aaaa' && prefix === '10.1.0.0/24';
const ownLink = (name: string) => name === 'cnmd-aaaa';

t.test('which monitor lines can change the on-link routes read from /proc/net/route', async (t) => {
  // [line, whether it can change what is read, why]
  const cases: Array<[string, boolean, string]> = [
    ['10.1.0.0/24 dev cnmd-aaaa proto kernel scope link src 10.1.0.1 ', false, 'the kernel\'s route for our subnet on our bridge'],
    ['Deleted 10.1.0.0/24 dev cnmd-aaaa proto kernel scope link src 10.1.0.1 ', false, 'nor its removal'],
    ['local 10.1.0.1 dev cnmd-aaaa table local proto kernel scope host src 10.1.0.1 ', false, 'the local table is not read'],
    ['broadcast 10.9.0.255 dev eth1 table local proto kernel scope link src 10.9.0.1 ', false, 'whoever\'s it is'],
    ['10.12.0.0/16 dev eth1 table 100 scope link ', false, 'nor another table'],
    ['10.10.0.0/16 via 10.9.0.5 dev eth1 ', false, 'a route via a gateway is not on-link'],
    ['10.9.0.0/24 dev eth1 proto kernel scope link src 10.9.0.1 ', true, 'a route of another link'],
    ['10.2.0.0/24 dev cnmd-aaaa scope link ', true, 'another prefix on our bridge (someone added it)'],
    ['10.3.0.7 dev eth1 scope link ', true, 'a host route'],
    ['unreachable 10.11.0.0/16 ', true, 'an unreachable route'],
    ['Deleted unreachable 10.11.0.0/16 ', true, 'and its removal'],
    ['10.9.0.0/24 dev eth1 table main proto kernel scope link', true, 'table main is the one read'],
    ['10.1.0.0/24 dev cnmd-aaaa table main proto kernel scope link', false, 'ours there too'],
    ['Deleted 8: zzv@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 8e:9f:67:52:88:e4', true, 'a link going away takes its routes along unreported'],
    ['8: eth1: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether 8e:9f:67:52:88:e4', true, 'so does one going down'],
    ['8: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default', false, 'one coming up: its routes are reported'],
    ['Deleted 9: cnmd-aaaa: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default', false, 'our own bridge'],
    ['Deleted 9: cnmd-bbbb: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default', true, 'a bridge no network of ours has'],
  ];
  for (const [line, matters, why] of cases) t.equal(routeLineMatters(line, own, ownLink), matters, why);
});

interface FakeWatch {
  line(l: string): void;
  end(): void;
  stopped: boolean;
}

function setup(t: Test) {
  const exec = new RecordingExecutor();
  exec.files.set('/proc/net/route', TABLE);
  let reads = 0;
  const readFile = exec.readFile.bind(exec);
  exec.readFile = async (p: string) => {
    if (p === '/proc/net/route') reads += 1;
    return readFile(p);
  };
  const watches: FakeWatch[] = [];
  (exec as unknown as { watchRoutes: unknown }).watchRoutes = (onLine: (l: string) => void, onEnd: () => void) => {
    const w: FakeWatch = { line: onLine, end: onEnd, stopped: false };
    watches.push(w);
    return { stop: () => void (w.stopped = true) };
  };
  let clock = 1_000_000;
  const routes = new OnLinkRoutes(exec, own, ownLink, () => clock);
  t.teardown(() => routes.stop());
  return { routes, reads: () => reads, watches, tick: (ms: number) => void (clock += ms) };
}

t.test('the routes are kept between reads while the monitor reports nothing that matters', async (t) => {
  const s = setup(t);
  const read = async () => (await s.routes.read()).map(formatPrefix);
  t.same(await read(), ['192.168.0.0/16'], 'without the monitor: read, our own bridge\'s route left out');
  t.same(await read(), ['192.168.0.0/16']);
  t.equal(s.reads(), 2, 'and read each time');

  s.routes.start();
  t.equal(s.watches.length, 1, 'the monitor started');
  await read();
  t.equal(s.reads(), 3, 'a read before the monitor can have subscribed is not kept');
  s.tick(SUBSCRIBE_MS);
  await read();
  await read();
  t.equal(s.reads(), 4, 'once it has: read once, then kept');
  s.watches[0]!.line('10.1.0.0/24 dev cnmd-aaaa proto kernel scope link src 10.1.0.1 ');
  await read();
  t.equal(s.reads(), 4, 'our own bridge\'s route changes nothing');
  s.watches[0]!.line('10.9.0.0/24 dev eth1 proto kernel scope link src 10.9.0.1 ');
  await read();
  t.equal(s.reads(), 5, 'another link\'s route: read again');
  s.tick(MAX_AGE_MS);
  await read();
  t.equal(s.reads(), 6, 'and again once what was kept is too old');

  // a change reported while a read is under way: that read is not kept
  s.tick(MAX_AGE_MS);
  const slow = s.routes.read();
  s.watches[0]!.line('10.9.0.0/24 dev eth1 proto kernel scope link src 10.9.0.1 ');
  await slow;
  await read();
  t.equal(s.reads(), 8, 'a change during a read: the next read reads again');
});

t.test('a monitor that ends is started again; until then every read reads', async (t) => {
  const s = setup(t);
  s.routes.start();
  s.tick(SUBSCRIBE_MS);
  await s.routes.read();
  await s.routes.read();
  t.equal(s.reads(), 1);
  s.watches[0]!.end();
  await s.routes.read();
  t.equal(s.reads(), 2, 'read while no monitor runs');
  await new Promise((r) => setTimeout(r, 1_100));
  t.equal(s.watches.length, 2, 'started again after a second');
  s.routes.stop();
  t.ok(s.watches[1]!.stopped, 'stop stops it');
  s.watches[1]!.end();
  await new Promise((r) => setTimeout(r, 1_100));
  t.equal(s.watches.length, 2, 'and it is not started again after a stop');
});
