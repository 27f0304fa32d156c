/**
 * Drift under running containers, repaired by the periodic reconcile within its interval: a bridge's
 * address, a container's host-side veth, our NAT emptied and a published port's DNAT deleted (a chain
 * flushed and a rule deleted on iptables; a set flushed and an element deleted on nftables). Traffic
 * comes back (ping between containers, the port from another machine), an event says so, and
 * look-alike objects the test made itself are left as they were. drift-iptables.test.ts runs it on
 * the iptables backend.
 */
import t from 'tap';
import { execa } from 'execa';
import { hostTestsReady, makeNetns, makeWorld, startDaemonIn, containerNames, type Netns, nsOfInspect, netnsOf, FIREWALL, nftElements } from '../helpers/host.js';

if (await hostTestsReady(t)) {
  await tests();
}

const HTTP = `require('http').createServer((q, s) => s.end('up\\n')).listen(80, '0.0.0.0')`;
const rules = async (host: Netns) => (await host.run('iptables-save', [])).stdout;
const IPT = FIREWALL === 'iptables';
/** the published port 8080 in our firewall */
const hasPort = async (host: Netns) => (IPT ? (await rules(host)).includes('--dport 8080') : !!(await nftElements(host))?.get('ports4any')?.has('tcp . 8080'));
/** the default pool's first network masqueraded */
const hasMasquerade = async (host: Netns) => (IPT ? /-A CNMD-POSTROUTING -s 172\.18\.0\.0\/16/.test(await rules(host)) : ((await nftElements(host))?.get('egressmasq')?.size ?? 0) > 0);
/** links with their aliases (ip link) and addresses (ip addr) */
const linksOf = async (host: Netns) => {
  const links = JSON.parse((await host.run('ip', ['-json', 'link', 'show'])).stdout) as Array<{ ifname: string; ifalias?: string }>;
  const addrs = JSON.parse((await host.run('ip', ['-json', 'addr', 'show'])).stdout) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>;
  return links.map((l) => ({ ...l, addr_info: addrs.find((a) => a.ifname === l.ifname)?.addr_info ?? [] }));
};
const pings = async (ns: string, ip: string) => (await execa('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', ip], { reject: false })).exitCode === 0;

async function tests() {
  t.test('a bridge address, a host-side veth, a flushed chain and a port rule: back within one interval; look-alikes stay', async (t) => {
    const name = containerNames(t);
    const host = await makeNetns(t, 'h');
    const world = await makeWorld(t, host);
    const d = await startDaemonIn(t, host, ['--reconcile-interval', '1']);
    const net = await d.request('POST', '/v1.48/networks/create', { Name: 'drift' });
    t.equal(net.status, 201, net.text);
    const br = `cnmd-${(net.body.Id as string).slice(0, 10)}`;
    const web = name('web'), b = name('b');
    const run = async (c: string, cmd: string[], ports: Record<string, unknown>) => {
      const r = await d.request('POST', `/v1.48/containers/create?name=${c}`, { Image: 'x', Cmd: cmd, HostConfig: { NetworkMode: 'drift', PortBindings: ports } });
      t.equal(r.status, 201, r.text);
      t.equal((await d.request('POST', `/v1.48/containers/${c}/start`)).status, 204);
      return (await d.request('GET', `/v1.48/containers/${c}/json`)).body;
    };
    const cw = await run(web, [process.execPath, '-e', HTTP], { '80/tcp': [{ HostPort: '8080' }] });
    const cb = await run(b, ['sleep', '120'], {});
    const ipW = cw.NetworkSettings.Networks.drift.IPAddress as string;
    const curl = async () => (await world.run('curl', ['-s', '--max-time', '2', 'http://192.0.2.1:8080/'], { reject: false })).stdout.trim();
    for (let i = 0; i < 50 && (await curl()) !== 'up'; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal(await curl(), 'up', 'the published port answers another machine before the drift');
    t.ok(await pings(nsOfInspect(cb), ipW), 'b reaches web before the drift');

    // look-alikes: a veth, a bridge with an address, a DNAT rule for another port, none made by cnmd
    await host.run('ip', ['link', 'add', 'vethlook0', 'type', 'veth', 'peer', 'name', 'vethlook1']);
    await host.run('ip', ['link', 'add', 'cnmd-look', 'type', 'bridge']);
    await host.run('ip', ['addr', 'add', '10.99.0.1/24', 'dev', 'cnmd-look']);
    await host.run('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '9999', '-j', 'DNAT', '--to-destination', `${ipW}:80`]);

    const since = Math.floor(Date.now() / 1000);
    const vethB = (await linksOf(host)).find((l) => l.ifalias?.includes(cb.Id))!.ifname;
    await host.run('ip', ['addr', 'flush', 'dev', br]);
    await host.run('ip', ['link', 'del', vethB]);
    if (IPT) {
      const dnat = (await rules(host)).split('\n').find((l) => l.startsWith('-A CNMD-DNAT') && l.includes('--dport 8080'));
      t.ok(dnat, 'the port has its DNAT rule');
      await host.run('iptables', ['-t', 'nat', ...dnat!.replace(/^-A /, '-D ').split(' ').map((w) => w.replace(/^"|"$/g, ''))]);
      await host.run('iptables', ['-t', 'nat', '-F', 'CNMD-POSTROUTING']);
    } else {
      t.ok((await nftElements(host))?.get('ports4any')?.has('tcp . 8080'), 'the port has its DNAT element');
      await host.run('nft', ['delete', 'element', 'inet', 'cnmd', 'ports4any', '{ tcp . 8080 }']);
      await host.run('nft', ['flush', 'set', 'inet', 'cnmd', 'egressmasq']);
    }
    t.notOk(await hasPort(host), 'the DNAT is gone');

    const healed = async () => {
      const links = await linksOf(host);
      return (
        !!links.find((l) => l.ifname === br)?.addr_info.some((a) => a.local === '172.18.0.1') &&
        links.some((l) => l.ifalias?.includes(cb.Id)) &&
        (await hasPort(host)) &&
        (await hasMasquerade(host))
      );
    };
    let ok = false;
    for (let i = 0; i < 50 && !(ok = await healed()); i++) await new Promise((r) => setTimeout(r, 100));
    t.ok(ok, 'the gateway address, b\'s veth, the masquerade rule and the DNAT rule are back within 5 s');
    t.ok(await pings(nsOfInspect(cb), ipW), 'b reaches web again: its eth0 was made anew inside');
    t.ok(await pings(nsOfInspect(cw), cb.NetworkSettings.Networks.drift.IPAddress), 'and web reaches b');
    t.equal(await curl(), 'up', 'the published port answers another machine again');

    const links = await linksOf(host);
    t.ok(links.some((l) => l.ifname === 'vethlook0') && links.some((l) => l.ifname === 'vethlook1'), 'a look-alike veth stays');
    t.ok(links.find((l) => l.ifname === 'cnmd-look')?.addr_info.some((a) => a.local === '10.99.0.1'), 'a look-alike bridge keeps its address');
    t.match(await rules(host), `-A PREROUTING -p tcp -m tcp --dport 9999 -j DNAT --to-destination ${ipW}:80`, 'a look-alike DNAT rule (in iptables) stays');
    t.same((await d.request('GET', '/cnmd/v1/state?plan=1')).body.Plan, [], 'nothing is left to do');
    const ev = await d.request('GET', `/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["cnmd"]}')}`);
    t.match(ev.text, /"Action":"repair"/, 'the repair is an event');
    const metrics = (await d.request('GET', '/metrics')).text;
    const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? 0);
    t.ok(value(/^cnmd_drift_repaired_total (\d+)/m) >= 4, 'and counted in /metrics');
    t.ok(value(new RegExp(`^cnmd_host_command_duration_seconds_count\\{tool="${IPT ? 'iptables-restore' : 'nft'}",ok="true"\\} (\\d+)`, 'm')) > 0, 'with the host commands that did it, by tool');
  });

  t.test('a bridge\'s route_localnet set back by hand, among more networks than are read in place: 1 again within one interval', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['--reconcile-interval', '1']);
    const bridges: string[] = [];
    // more than SYSCTLS_READ_IN_PLACE keys: the repair reads them all with one grep
    for (let i = 0; i < 10; i++) {
      const r = await d.request('POST', '/v1.48/networks/create', { Name: `sys${i}` });
      t.equal(r.status, 201, r.text);
      bridges.push(`cnmd-${(r.body.Id as string).slice(0, 10)}`);
    }
    const value = async (br: string) => (await host.run('sysctl', ['-n', `net.ipv4.conf.${br}.route_localnet`])).stdout.trim();
    t.same(await Promise.all(bridges.map(value)), bridges.map(() => '1'), 'every bridge has route_localnet=1');
    const plan = async () => (await d.request('GET', '/cnmd/v1/state?plan=1')).body.Plan as string[];
    t.same(await plan(), [], 'read back as they are: a full plan has nothing to do');
    const [a, b] = [bridges[3], bridges[8]];
    for (const br of [a, b]) await host.run('sysctl', ['-qw', `net.ipv4.conf.${br}.route_localnet=0`]);
    t.equal(await value(a), '0', 'set back to 0 by hand');
    let back = false;
    for (let i = 0; i < 40 && !(back = (await value(a)) === '1' && (await value(b)) === '1'); i++) await new Promise((r) => setTimeout(r, 100));
    t.ok(back, 'both are 1 again within the interval');
    t.same(await plan(), [], 'and nothing is left to do');
  });

  t.test('the daemon\'s own sockets: a published port\'s held socket and a DNS listener closed by hand come back within one interval', async (t) => {
    const name = containerNames(t);
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['--reconcile-interval', '1']);
    t.equal((await d.request('POST', '/v1.48/networks/create', { Name: 'sock', IPAM: { Config: [{ Subnet: '10.88.0.0/24' }] } })).status, 201);
    const web = name('web'), q = name('q');
    await d.request('POST', `/v1.48/containers/create?name=${web}`, { Image: 'x', Cmd: [process.execPath, '-e', HTTP], HostConfig: { NetworkMode: 'sock', PortBindings: { '80/tcp': [{ HostPort: '8081' }] } } });
    await d.request('POST', `/v1.48/containers/${web}/start`);
    await d.request('POST', `/v1.48/containers/create?name=${q}`, { Image: 'x', Cmd: ['sleep', '120'], HostConfig: { NetworkMode: 'sock' } });
    await d.request('POST', `/v1.48/containers/${q}/start`);
    const listening = async (port: number, addr = '0.0.0.0') => (await host.run('ss', ['-Htln', `sport = :${port}`])).stdout.includes(`${addr}:${port}`);
    t.ok(await listening(8081), 'the daemon holds port 8081');
    t.ok(await listening(53, '10.88.0.1'), 'and listens for DNS on the gateway');
    await host.run('ss', ['-K', '-tln', 'sport = :8081']);
    await host.run('ss', ['-K', '-tln', 'sport = :53']);
    t.notOk(await listening(8081), 'the held socket is closed by hand (ss -K)');
    t.notOk(await listening(53, '10.88.0.1'), 'and the DNS listener');
    let back = false;
    for (let i = 0; i < 40 && !(back = (await listening(8081)) && (await listening(53, '10.88.0.1'))); i++) await new Promise((r) => setTimeout(r, 100));
    t.ok(back, 'both listen again within the interval');
    const bind = await host.run(process.execPath, ['-e', 'require("net").createServer().listen(8081,"0.0.0.0",()=>{console.log("took it");process.exit(0)}).on("error",e=>{console.log(e.code);process.exit(0)})']);
    t.equal(bind.stdout.trim(), 'EADDRINUSE', 'no other program can take the port');
    const qns = await netnsOf(d, q);
    const tcpDns = await execa('ip', ['netns', 'exec', qns, 'nslookup', '-vc', web, '127.0.0.11'], { reject: false });
    t.match(tcpDns.stdout, new RegExp(`Name:\\s+${web}`), 'a DNS query over TCP is answered again');
    const ev = await d.request('GET', `/events?since=0&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["cnmd"]}')}`);
    t.match(ev.text, /"Action":"repair"/, 'an event says so');
  });
}
