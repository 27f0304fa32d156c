/**
 * Overlay networks across three hosts: three test-host namespaces on an underlay bridge (10.99.0.0/24),
 * one cnmd in each, and etcd (Debian's etcd-server) started by the test in a namespace of the
 * underlay, reachable only there. Skipped, saying why, when etcd is not installed.
 */
import t from 'tap';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dockerCli } from '../helpers/docker.js';
import { ETCD, underlayWithEtcd, until } from '../helpers/etcd.js';
import { hostTestsReady, hostTestsUnavailable, startDaemonIn, containerNames, type DaemonProcess, type Netns, nsOfInspect, underlayHost } from '../helpers/host.js';

const V = '/v1.48';
const STORE = '10.99.0.100';

const why = hostTestsUnavailable() ?? (existsSync(ETCD) ? undefined : 'etcd is not installed (Debian package etcd-server; .ci/run installs it)');
if (await hostTestsReady(t, why)) {
  const name = containerNames(t);
  const { under, etcd } = await underlayWithEtcd(t, 'ul', STORE);
  const hosts: Array<{ ns: Netns; d: DaemonProcess; addr: string }> = [];
  for (const i of [1, 2, 3]) {
    const addr = `10.99.0.${i}`;
    const ns = await underlayHost(t, under, `oh${i}`, addr, `p${i}`);
    const d = await startDaemonIn(t, ns, ['--cluster-store', `etcd://${STORE}:2379`, '--cluster-advertise', addr, '--cluster-lease-ttl', '3']);
    hosts.push({ ns, d, addr });
  }
  const [h1, h2, h3] = hosts;
  const joined = await until(async () => (await h1.d.request('GET', `${V}/info`)).body.CnmdCluster?.Nodes?.length === 3);
  t.ok(joined, 'the three hosts see each other in /info');

  const run = async (h: (typeof hosts)[number], c: string, net: string) => {
    const r = await h.d.request('POST', `${V}/containers/create?name=${c}`, { Image: 'busybox', Cmd: ['sleep', '600'], HostConfig: { NetworkMode: net } });
    if (r.status !== 201) throw new Error(r.text);
    const s = await h.d.request('POST', `${V}/containers/${c}/start`);
    if (s.status !== 204) throw new Error(s.text);
    const info = (await h.d.request('GET', `${V}/containers/${c}/json`)).body;
    netnsOfName.set(c, nsOfInspect(info));
    return info.NetworkSettings.Networks[net].IPAddress as string;
  };
  /** container name -> the /run/netns name of its namespace */
  const netnsOfName = new Map<string, string>();
  const inNs = (c: string, args: string[]) => execa('ip', ['netns', 'exec', netnsOfName.get(c) ?? c, ...args], { reject: false });
  const web = name('web'), client = name('client');

  t.test('created on one host, seen on all; containers on two hosts reach each other by name over VXLAN', async (t) => {
    const r = await h1.d.request('POST', `${V}/networks/create`, { Name: 'ov', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.200.0.0/24' }] } });
    t.equal(r.status, 201, r.text);
    for (const h of [h2, h3]) {
      const seen = await until(async () => (await h.d.request('GET', `${V}/networks/ov`)).status === 200, 5000);
      t.ok(seen, `visible on ${h.addr}`);
    }
    const n = (await h2.d.request('GET', `${V}/networks/ov`)).body;
    t.match(n, { Id: r.body.Id, Driver: 'overlay', Scope: 'global', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' } });
    t.equal((await h3.d.request('POST', `${V}/networks/create`, { Name: 'ov', Driver: 'overlay' })).status, 409, 'the name is taken cluster-wide');
    const ipWeb = await run(h1, web, 'ov');
    const ipClient = await run(h2, client, 'ov');
    t.not(ipWeb, ipClient);
    const ping = await until(async () => (await inNs(client, ['ping', '-c', '1', '-W', '1', web])).exitCode === 0, 8000);
    t.ok(ping, 'client on host 2 pings web on host 1 by name');
    t.equal((await inNs(web, ['ping', '-c', '1', '-W', '1', ipClient])).exitCode, 0, 'and back by address');
    const link = JSON.parse((await h1.ns.run('ip', ['-json', '-details', 'link', 'show', 'dev', `vx-${r.body.Id.slice(0, 10)}`])).stdout)[0];
    t.match(link.linkinfo, { info_kind: 'vxlan', info_data: { id: 4096, port: 4789, learning: false, proxy: true } }, 'a VXLAN port: id, port, no learning, ARP from its table');
    t.equal(link.mtu, 1450, 'MTU leaves room for the 50 bytes of VXLAN');
    const peers = (await h1.d.request('GET', `${V}/networks/ov`)).body.Peers.map((p: { IP: string }) => p.IP);
    t.same(peers, ['10.99.0.1', '10.99.0.2'], 'Peers: the hosts with endpoints on it');
    t.equal((await h3.d.request('DELETE', `${V}/networks/ov`)).status, 403, 'a network with endpoints on other hosts stays');
  });

  t.test('an FDB entry deleted by hand is put back by the periodic repair', async (t) => {
    const vx = `vx-${((await h1.d.request('GET', `${V}/networks/ov`)).body.Id as string).slice(0, 10)}`;
    const remote = (await h2.d.request('GET', `${V}/containers/${client}/json`)).body.NetworkSettings.Networks.ov;
    // the VXLAN port's own entry (with a destination), not what the bridge learned on that port
    const entry = async () =>
      (JSON.parse((await h1.ns.run('bridge', ['-json', 'fdb', 'show', 'dev', vx])).stdout) as Array<{ mac: string; dst?: string }>).find((e) => e.mac === remote.MacAddress && e.dst);
    t.equal((await entry())?.dst, h2.addr, 'host 1 sends client\'s MAC to host 2');
    await h1.ns.run('bridge', ['fdb', 'del', remote.MacAddress, 'dev', vx, 'self']);
    t.notOk(await entry(), 'deleted by hand');
    t.ok(await until(async () => (await entry())?.dst === h2.addr, 12_000), 'back within the repair interval (5 s)');
    t.equal((await inNs(web, ['ping', '-c', '1', '-W', '1', remote.IPAddress])).exitCode, 0, 'web reaches client again');
  });

  t.test('a port published by an overlay container answers on its host\'s address', async (t) => {
    const srv = name('srv');
    const http = `require('http').createServer((q, s) => s.end('overlay port\\n')).listen(80)`;
    const r = await h1.d.request('POST', `${V}/containers/create?name=${srv}`, {
      Image: 'x', Cmd: [process.execPath, '-e', http], HostConfig: { NetworkMode: 'ov', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } },
    });
    t.equal(r.status, 201, r.text);
    t.equal((await h1.d.request('POST', `${V}/containers/${srv}/start`)).status, 204);
    const curl = async () => (await h2.ns.run('curl', ['-s', '--max-time', '2', `http://${h1.addr}:8080/`], { reject: false })).stdout.trim();
    t.ok(await until(async () => (await curl()) === 'overlay port', 5000), 'host 2 reaches it through host 1\'s underlay address');
    t.equal((await h1.d.request('DELETE', `${V}/containers/${srv}?force=1`)).status, 204);
  });

  t.test('names are served on the overlay gateway of each host, also after its last local container left', async (t) => {
    const links = async () => (JSON.parse((await h3.ns.run('ip', ['-json', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
    t.notOk((await links()).some((l) => l.startsWith('ov-')), 'host 3 has no endpoint on ov, so no bridge for it');
    for (const round of [1, 2]) {
      const c = name(`dn${round}`);
      await run(h3, c, 'ov');
      t.match(readFileSync(`/etc/netns/${netnsOfName.get(c)}/resolv.conf`, 'utf8'), /^nameserver 127\.0\.0\.11$/m, `round ${round}: resolv.conf names 127.0.0.11, as Docker`);
      t.match((await inNs(c, ['ip', 'route', 'show', 'table', 'local', '127.0.0.11'])).stdout, 'via 10.200.0.1', `round ${round}: routed to this host's gateway, no helper inside`);
      const ping = await until(async () => (await inNs(c, ['ping', '-c', '1', '-W', '1', web])).exitCode === 0, 5000);
      t.ok(ping, `round ${round}: a container on host 3 pings web on host 1 by name`);
      t.equal((await h3.d.request('DELETE', `${V}/containers/${c}?force=1`)).status, 204);
      t.ok(await until(async () => !(await links()).some((l) => l.startsWith('ov-')), 5000), `round ${round}: its last container gone, host 3's bridge goes`);
    }
  });

  t.test('the docker CLI: create on one host, list and run on another', async (t) => {
    const cfg = mkdtempSync('/tmp/cnmd-docker-config-');
    t.teardown(() => rmSync(cfg, { recursive: true, force: true }));
    const [d1, d2] = [dockerCli(h1.d.socket, cfg), dockerCli(h2.d.socket, cfg)];
    const r = await d1('network', 'create', '-d', 'overlay', '--subnet', '10.201.0.0/24', '--attachable', 'ovcli');
    t.equal(r.exitCode, 0, r.stderr);
    const listed = await until(async () => (await d2('network', 'ls', '--filter', 'scope=global', '--format', '{{.Name}} {{.Driver}} {{.Scope}}')).stdout.includes('ovcli overlay global'), 5000);
    t.ok(listed, 'docker network ls on host 2 shows it, scope global');
    const c = name('cli');
    t.equal((await d2('run', '-d', '--name', c, '--network', 'ovcli', 'busybox', 'sleep', '1d')).exitCode, 0);
    t.equal((await d2('inspect', '-f', '{{.NetworkSettings.Networks.ovcli.IPAddress}}', c)).stdout, '10.201.0.2');
    t.equal((await d2('rm', '-f', c)).exitCode, 0);
    t.equal((await d1('network', 'rm', 'ovcli')).exitCode, 0);
    t.ok(await until(async () => (await d2('network', 'inspect', 'ovcli')).exitCode !== 0, 5000), 'and its removal reaches host 2');
  });

  t.test('addresses stay unique when all hosts start containers at once', async (t) => {
    const started = await Promise.all(hosts.flatMap((h, i) => [0, 1, 2].map((k) => run(h, name(`u${i}${k}`), 'ov'))));
    t.equal(new Set(started).size, started.length, `${started.length} containers, as many addresses: ${started.join(' ')}`);
  });

  t.test('a host that dies leaves the others\' data plane when its lease runs out', async (t) => {
    const id = (await h1.d.request('GET', `${V}/networks/ov`)).body.Id as string;
    const onH3 = (await h3.d.request('GET', `${V}/containers/json`)).body.map((c: { NetworkSettings: { Networks: { ov: { IPAddress: string } } } }) => c.NetworkSettings.Networks.ov.IPAddress);
    const neigh = async () => JSON.parse((await h1.ns.run('ip', ['-json', 'neigh', 'show', 'dev', `vx-${id.slice(0, 10)}`])).stdout).map((n: { dst: string }) => n.dst) as string[];
    t.ok(onH3.length > 0, 'host 3 has containers on the network');
    const before = await neigh();
    t.ok(onH3.every((ip: string) => before.includes(ip)), 'each of host 3\'s endpoints has a neighbour entry on host 1');
    h3.d.signal('SIGKILL');
    await h3.d.exited();
    const fdb = async () => (await h1.ns.run('bridge', ['fdb', 'show', 'dev', `vx-${id.slice(0, 10)}`])).stdout;
    t.match(await fdb(), 'dst 10.99.0.3', 'and FDB entries towards host 3');
    const gone = await until(async () => {
      const l = await neigh();
      return onH3.every((ip: string) => !l.includes(ip)) && !(await fdb()).includes('dst 10.99.0.3');
    }, 12_000);
    t.ok(gone, 'after the lease (3 s) host 1 has neither neighbour nor FDB entries for them any more');
    const nodes = (await h1.d.request('GET', `${V}/info`)).body.CnmdCluster.Nodes.length;
    t.equal(nodes, 2, 'and /info shows two hosts');
  });

  t.test('without etcd: local networks work, overlay changes are 503, and all is well once it is back', async (t) => {
    await etcd.stop();
    const local = await h1.d.request('POST', `${V}/networks/create`, { Name: 'local-only' });
    t.equal(local.status, 201, 'a bridge network needs no cluster store');
    const down = await until(async () => {
      const r = await h1.d.request('POST', `${V}/networks/create`, { Name: 'ov2', Driver: 'overlay' });
      return r.status === 503 && r;
    }, 15_000);
    t.ok(down, 'overlay create: 503 while etcd is away');
    if (down) t.match(down.body.message, 'cluster store is unavailable');
    const t0 = Date.now();
    await h2.d.stop();
    t.ok(Date.now() - t0 < 5000, `SIGTERM stops a daemon whose cluster store is away, without waiting for it (${Date.now() - t0} ms)`);
    await etcd.start();
    const back = await until(async () => (await h1.d.request('POST', `${V}/networks/create`, { Name: 'ov2', Driver: 'overlay' })).status === 201, 20_000);
    t.ok(back, 'and 201 once it is back');
    const c = name('na');
    await h1.d.request('POST', `${V}/containers/create?name=${c}`, { Image: 'busybox', HostConfig: { NetworkMode: 'ov2' } });
    const refused = await h1.d.request('POST', `${V}/containers/${c}/start`);
    t.equal(refused.status, 403);
    t.equal(refused.body.message, 'Could not attach to network ov2: rpc error: code = PermissionDenied desc = network ov2 not manually attachable', 'as Docker: only an --attachable overlay takes standalone containers');
  });

  t.test('a host that was away (stopped past its lease) rejoins: its running containers are reachable again, none on a taken address', async (t) => {
    const alone = await until(async () => (await h1.d.request('GET', `${V}/info`)).body.CnmdCluster?.Nodes?.length === 1, 15_000);
    t.ok(alone, 'host 2\'s lease ran out: host 1 sees itself only');
    t.notOk((await inNs(web, ['ping', '-c', '1', '-W', '1', client])).exitCode === 0, 'and client is out of reach');
    const addressOf = async (c: string) => /inet (\S+)\//.exec((await inNs(c, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout)?.[1];
    const old = await addressOf(client);
    t.ok(old, `client had ${old}`);
    // meanwhile a container on host 1 asks for client's address, which host 2's lapsed claim no longer holds
    const thief = name('thief');
    const r = await h1.d.request('POST', `${V}/containers/create?name=${thief}`, {
      Image: 'busybox', Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'ov' }, NetworkingConfig: { EndpointsConfig: { ov: { IPAMConfig: { IPv4Address: old } } } },
    });
    t.equal(r.status, 201, r.text);
    t.equal((await h1.d.request('POST', `${V}/containers/${thief}/start`)).status, 204, 'host 1 gives it that address');
    const since = Math.floor(Date.now() / 1000);
    await h2.d.start();
    const back = await until(async () => (await inNs(web, ['ping', '-c', '1', '-W', '1', client])).exitCode === 0, 15_000);
    t.ok(back, 'web on host 1 reaches client on host 2 by name again');
    const now = await addressOf(client);
    t.ok(now && now !== old, `client moved off the taken address to ${now}`);
    t.equal((await h2.d.request('GET', `${V}/containers/${client}/json`)).body.NetworkSettings.Networks.ov.IPAddress, now, 'inspect shows the new address');
    // host 1's VXLAN port knows client by its new address only: the taken one stays host 1's own
    const vx = `vx-${((await h1.d.request('GET', `${V}/networks/ov`)).body.Id as string).slice(0, 10)}`;
    const neigh = JSON.parse((await h1.ns.run('ip', ['-json', 'neigh', 'show', 'nud', 'permanent', 'dev', vx])).stdout) as Array<{ dst: string }>;
    t.notOk(neigh.some((n) => n.dst === old), 'host 1 has no entry sending the taken address to host 2');
    t.ok(neigh.some((n) => n.dst === now), 'and one for client\'s new address');
    const ev = await h2.d.request('GET', `${V}/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["cnmd"]}')}`);
    t.match(ev.text, `"Action":"readdress"`, 'an event says so');
    t.same((await h2.d.request('GET', '/cnmd/v1/state?plan=1')).body.Plan, [], 'host 2 converged');
  });
}
