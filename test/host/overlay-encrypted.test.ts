/**
 * Encrypted overlay networks (`docker network create -d overlay -o encrypted`) across two hosts: two
 * test-host namespaces on an underlay bridge, one cnmd in each, etcd in the underlay's namespace.
 * WireGuard is wireguard-go here (this kernel has none). What the underlay carries is captured with
 * tcpdump: a known payload is seen in clear on a plain overlay network (the check can fail) and never
 * on the encrypted one. Skipped, saying why, without etcd, wg, wireguard-go or tcpdump.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dockerCli } from '../helpers/docker.js';
import { ETCD, underlayWithEtcd, until } from '../helpers/etcd.js';
import { hostTestsReady, hostTestsUnavailable, startDaemonIn, containerNames, nsOfInspect, underlayHost } from '../helpers/host.js';

const V = '/v1.48';
const STORE = '10.98.0.100';
const TOOLS = ['/usr/bin/wg', '/usr/bin/wireguard-go', '/usr/bin/tcpdump'];

/** wireguard-go processes of the given links (they outlive a deleted namespace: the test ends them) */
function wireguardGoOf(links: (name: string) => boolean): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv[0].endsWith('wireguard-go') && links(argv[1] ?? '')) pids.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const why = hostTestsUnavailable()
  ?? (existsSync(ETCD) ? undefined : 'etcd is not installed (Debian package etcd-server; .ci/run installs it)')
  ?? TOOLS.filter((f) => !existsSync(f)).map((f) => `${f} is not installed (.ci/run installs wireguard-tools, wireguard-go and tcpdump)`)[0];
if (await hostTestsReady(t, why)) {
  const name = containerNames(t);
  const { under } = await underlayWithEtcd(t, 'eul', STORE);
  const hosts = [];
  for (const i of [1, 2]) {
    const addr = `10.98.0.${i}`;
    const ns = await underlayHost(t, under, `eh${i}`, addr, `q${i}`);
    const d = await startDaemonIn(t, ns, ['--cluster-store', `etcd://${STORE}:2379`, '--cluster-advertise', addr, '--cluster-lease-ttl', '3']);
    hosts.push({ ns, d, addr, port: `q${i}` });
  }
  const [h1, h2] = hosts;
  const nodeIds = await Promise.all(hosts.map(async (h) => (await h.d.request('GET', `${V}/info`)).body.ID as string));
  // this test's wireguard-go processes: their links are named wg<node 6 hex><network 7 hex>
  const ours = (link: string) => nodeIds.some((id) => link.startsWith(`wg${id.slice(0, 6)}`));
  t.teardown(() => {
    for (const pid of wireguardGoOf(ours)) process.kill(pid, 'SIGTERM');
  });
  t.ok(await until(async () => (await h1.d.request('GET', `${V}/info`)).body.CnmdCluster?.Nodes?.length === 2), 'the two hosts see each other');
  const cfg = mkdtempSync('/tmp/cnmd-docker-config-');
  t.teardown(() => rmSync(cfg, { recursive: true, force: true }));
  const [d1, d2] = [dockerCli(h1.d.socket, cfg), dockerCli(h2.d.socket, cfg)];
  const netnsOf = async (d: typeof d1, c: string) => nsOfInspect(JSON.parse((await d('inspect', c)).stdout)[0]);
  const inNs = (ns: string, args: string[]) => execa('ip', ['netns', 'exec', ns, ...args], { reject: false });
  /** A container on each host on that network (removed when the test ends): their names and a's namespace. */
  async function pair(t: Test, tag: string, net: string): Promise<{ a: string; b: string; nsA: string }> {
    const [a, b] = [name(`${tag}a`), name(`${tag}b`)];
    t.teardown(async () => {
      await d1('rm', '-f', a);
      await d2('rm', '-f', b);
    });
    t.equal((await d1('run', '-d', '--name', a, '--network', net, 'busybox', 'sleep', '1d')).exitCode, 0, `${a} on host 1`);
    t.equal((await d2('run', '-d', '--name', b, '--network', net, 'busybox', 'sleep', '1d')).exitCode, 0, `${b} on host 2`);
    return { a, b, nsA: await netnsOf(d1, a) };
  }

  /** What the underlay port of host 2 carries while a ping with this payload pattern goes from host 1's container to host 2's. */
  async function captured(from: string, to: string, pattern: string): Promise<{ text: string; ok: boolean }> {
    const dump = execa('ip', ['netns', 'exec', under.name, 'timeout', '6', 'tcpdump', '-l', '-n', '-X', '-i', h2.port, 'udp'], { reject: false });
    await until(async () => String(dump.stderr ?? '').includes('listening') || undefined, 3000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const ping = await inNs(from, ['ping', '-c', '3', '-i', '0.3', '-W', '1', '-p', pattern, to]);
    const r = await dump;
    return { text: String(r.stdout), ok: ping.exitCode === 0 };
  }
  // how the payload looks in tcpdump -X's hex (groups of 4 hex digits)
  const PATTERN = 'c0ffee15c0ffee15';
  const inHex = (text: string) => text.replace(/^\s*0x[0-9a-f]+:\s+/gm, '').replace(/ {2}.*$/gm, '').replace(/\s+/g, '').includes(PATTERN);

  t.test('an encrypted network: containers on two hosts reach each other by name, and the underlay carries only WireGuard', async (t) => {
    const created = await d1('network', 'create', '-d', 'overlay', '-o', 'encrypted', '--attachable', '--subnet', '10.201.0.0/24', 'sec');
    t.equal(created.exitCode, 0, created.stderr);
    const id = created.stdout.trim();
    t.ok(await until(async () => (await d2('network', 'inspect', 'sec')).exitCode === 0, 5000), 'seen on host 2');
    t.match(JSON.parse((await d2('network', 'inspect', 'sec')).stdout)[0].Options, { encrypted: '' }, 'the option, as Docker shows it');
    const { b, nsA } = await pair(t, 's', 'sec');
    t.ok(await until(async () => (await inNs(nsA, ['ping', '-c', '1', '-W', '1', b])).exitCode === 0, 10_000), 'a on host 1 pings b on host 2 by name');
    const wg = `wg${nodeIds[0].slice(0, 6)}${id.slice(0, 7)}`;
    const dump = (await h1.ns.run('wg', ['show', wg, 'dump'])).stdout.trim().split('\n').map((l) => l.split('\t'));
    t.equal(dump.length, 2, 'one peer: the other host');
    t.equal(dump[1][2], `${h2.addr}:51900`, "the peer's endpoint: its underlay address, the port of VXLAN id 4096");
    t.match(dump[1][3], /^fd63:6e6d:0:1000:[0-9a-f:]+\/128$/, 'it may send only from its tunnel address');
    const link = JSON.parse((await h1.ns.run('ip', ['-json', '-details', 'link', 'show', 'dev', `vx-${id.slice(0, 10)}`])).stdout)[0];
    t.match(link.linkinfo.info_data, { id: 4096, local6: /^fd63:6e6d:0:1000:/ }, 'VXLAN from the tunnel address');
    t.equal(link.mtu, 1370, 'room for VXLAN over IPv6 inside WireGuard over IPv4');
    const sec = await captured(nsA, b, PATTERN);
    t.ok(sec.ok, 'the ping went through while captured');
    t.notOk(inHex(sec.text), 'the payload is nowhere on the underlay');
    t.notMatch(sec.text, /\.4789[ :]/, 'no VXLAN on the underlay');
    t.match(sec.text, /\.51900[ :]/, 'WireGuard on the underlay');
  });

  t.test('the same capture on a plain overlay network shows the payload (the check above can fail)', async (t) => {
    t.equal((await d1('network', 'create', '-d', 'overlay', '--attachable', '--subnet', '10.202.0.0/24', 'plain')).exitCode, 0);
    t.ok(await until(async () => (await d2('network', 'inspect', 'plain')).exitCode === 0, 5000));
    // torn down last: after the containers that pair() removes
    t.teardown(async () => void (await d1('network', 'rm', 'plain')));
    const { b, nsA } = await pair(t, 'p', 'plain');
    t.ok(await until(async () => (await inNs(nsA, ['ping', '-c', '1', '-W', '1', b])).exitCode === 0, 10_000));
    const plain = await captured(nsA, b, PATTERN);
    t.ok(plain.ok);
    t.ok(inHex(plain.text), 'the payload is in clear on the underlay');
    t.match(plain.text, /\.4789[ :]/, 'in VXLAN');
  });

  t.test('a WireGuard link deleted by hand, or its wireguard-go killed, is made again by the periodic repair', async (t) => {
    const { b, nsA } = await pair(t, 'r', 'sec');
    const reaches = () => until(async () => (await inNs(nsA, ['ping', '-c', '1', '-W', '1', b])).exitCode === 0, 15_000);
    t.ok(await reaches(), 'reachable');
    const id = JSON.parse((await d1('network', 'inspect', 'sec')).stdout)[0].Id as string;
    const wg = `wg${nodeIds[0].slice(0, 6)}${id.slice(0, 7)}`;
    await h1.ns.run('ip', ['link', 'del', wg]);
    t.ok(await until(async () => (await h1.ns.run('wg', ['show', wg, 'peers'], { reject: false })).stdout.trim().length > 0, 12_000), 'back, with its peer, within the repair interval');
    t.ok(await reaches(), 'and traffic flows again');
    for (const pid of wireguardGoOf((l) => l === wg)) process.kill(pid, 'SIGKILL');
    t.ok(await until(async () => (await h1.ns.run('wg', ['show', wg, 'peers'], { reject: false })).stdout.trim().length > 0 && wireguardGoOf((l) => l === wg).length === 1, 12_000), 'a killed wireguard-go is started again');
    t.ok(await reaches());
    // as after a crash between wireguard-go making the link and the batch marking it: an unmarked link
    await h1.ns.run('ip', ['link', 'del', wg]);
    await h1.ns.run('wireguard-go', [wg]);
    const alias = async () => JSON.parse((await h1.ns.run('ip', ['-json', 'link', 'show', 'dev', wg], { reject: false })).stdout || '[{}]')[0].ifalias as string | undefined;
    t.ok(await until(async () => (await alias())?.endsWith(id), 12_000), 'an unmarked link of that name is marked by the repair, not refused');
    t.ok(await reaches(), 'and configured: traffic flows');
  });

  t.test('VXLAN over IPv6 from the underlay (not through WireGuard) is dropped: no frame reaches the encrypted network', async (t) => {
    const { b } = await pair(t, 'i', 'sec');
    const info = JSON.parse((await d2('inspect', b)).stdout)[0];
    const { MacAddress: mac, IPAddress: ip } = info.NetworkSettings.Networks.sec;
    const nsB = nsOfInspect(info);
    const local = JSON.parse((await h2.ns.run('ip', ['-6', '-json', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])).stdout)[0].addr_info[0].local as string;
    /** whether b's namespace sees the intruder's ping (sent over IPv6 from the underlay's own link-local address) */
    const intruderArrives = async () => {
      const dump = execa('ip', ['netns', 'exec', nsB, 'timeout', '4', 'tcpdump', '-l', '-n', '-c', '1', '-i', 'eth0', 'icmp and src 10.201.0.99'], { reject: false });
      await new Promise((r) => setTimeout(r, 1000));
      await under.run('python3', [new URL('../helpers/vxlan-frame.py', import.meta.url).pathname, `${local}%ul`, '4096', mac, '10.201.0.99', ip]);
      return (await dump).stdout.includes('10.201.0.99');
    };
    t.notOk(await intruderArrives(), 'the frame does not reach the container');
    const table = (await h2.ns.run('nft', ['list', 'tables'])).stdout.split('\n').find((l) => l.startsWith('table inet '))!.slice('table inet '.length);
    const chain = async () => (await h2.ns.run('nft', ['-a', 'list', 'chain', 'inet', table, 'input'])).stdout;
    const rule = (await chain()).split('\n').find((l) => l.includes('"wg*"'))!;
    t.match(rule, /counter packets [1-9]/, 'it was counted by the IPv6 underlay guard');
    // without that rule the same frame gets in (so the check above can fail); the repair puts it back
    await h2.ns.run('nft', ['delete', 'rule', 'inet', table, 'input', 'handle', rule.match(/# handle (\d+)/)![1]]);
    t.ok(await intruderArrives(), 'without the guard the intruder reaches the container');
    t.ok(await until(async () => (await chain()).includes('"wg*"'), 12_000), 'the guard is back within the repair interval');
    t.notOk(await intruderArrives(), 'and the frame is dropped again');
  });

  t.test('a host without endpoints on it has no WireGuard link; removing the network ends its links and their wireguard-go', async (t) => {
    const links = async (h: typeof h1) => (JSON.parse((await h.ns.run('ip', ['-json', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith('wg'));
    t.ok(await until(async () => (await links(h1)).length === 0 && (await links(h2)).length === 0, 10_000), 'no endpoints left: no links');
    t.same(wireguardGoOf(ours), [], 'and no wireguard-go');
    t.equal((await d1('network', 'rm', 'sec')).exitCode, 0);
    t.ok(await until(async () => (await d2('network', 'inspect', 'sec')).exitCode !== 0, 5000), 'gone on host 2 as well');
  });
}
