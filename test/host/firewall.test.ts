/**
 * The firewall backends on a real kernel, where they meet other firewalls and each other: the
 * nftables backend beside iptables policies of DROP (a Docker engine's FORWARD, a ufw-like INPUT),
 * healed after `iptables -F`; a migration iptables -> nftables -> iptables with traffic checked after
 * each start; a foreign table and a foreign chain left as they are.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { hostTestsReady, makeNetns, makeWorld, startDaemonIn, containerNames, netnsOf, nftElements, type Netns } from '../helpers/host.js';
import { HTTP, pings, until, pause, pingsFrom, pings6From, world, traffic } from '../helpers/traffic.js';

if (await hostTestsReady(t)) {
  await tests();
}

async function tests() {
  for (const backend of ['nftables', 'iptables'] as const) {
    t.test(`allow-lists on ${backend}: the label and the network option limit who reaches a published port, through repairs`, async (t) => {
      const host = await makeNetns(t, 'h');
      const outside = await makeWorld(t, host);
      await outside.run('ip', ['addr', 'add', '192.0.2.3/24', 'dev', 'eth0']);
      const d = await startDaemonIn(t, host, ['--firewall-backend', backend, '--reconcile-interval', '1']);
      const name = containerNames(t);
      t.equal((await d.request('POST', '/v1.48/networks/create', { Name: 'al', Options: { 'cnmd.ports.allow': '192.0.2.0/24' } })).status, 201);
      const run = async (c: string, port: string, labels: Record<string, string>) => {
        const r = await d.request('POST', `/v1.48/containers/create?name=${c}`, { Image: 'x', Cmd: [process.execPath, '-e', HTTP], Labels: labels, HostConfig: { NetworkMode: 'al', PortBindings: { '80/tcp': [{ HostPort: port }] } } });
        t.equal(r.status, 201, r.text);
        t.equal((await d.request('POST', `/v1.48/containers/${c}/start`)).status, 204);
      };
      await run(name('only2'), '8081', { 'cnmd.ports.allow': '192.0.2.2, 2001:db8::/32' });
      await run(name('net'), '8082', {});
      const from = async (src: string, port: number) =>
        (await outside.run('curl', ['-s', '--max-time', '1', '--interface', src, `http://192.0.2.1:${port}/`], { reject: false })).stdout.trim() === 'up';
      t.ok(await until(async () => (await from('192.0.2.2', 8081)) || (await pause(), false)), 'the label allows 192.0.2.2');
      t.notOk(await from('192.0.2.3', 8081), 'and refuses 192.0.2.3');
      t.ok(await from('192.0.2.3', 8082), 'the network option alone allows 192.0.2.0/24');
      const b = name('b');
      t.equal((await d.request('POST', `/v1.48/containers/create?name=${b}`, { Image: 'x', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'al' } })).status, 201);
      await d.request('POST', `/v1.48/containers/${b}/start`);
      const fromContainer = await execa('ip', ['netns', 'exec', await netnsOf(d, b), 'curl', '-s', '--max-time', '1', 'http://192.0.2.1:8082/'], { reject: false });
      t.not(fromContainer.stdout.trim(), 'up', 'a container (10.x, outside the network\'s list) is refused too: the list says who, wherever they come from');

      if (backend === 'nftables') await host.run('nft', ['flush', 'ruleset']);
      else for (const table of ['filter', 'nat', 'mangle']) await host.run('iptables', ['-t', table, '-F']);
      t.ok(await until(async () => (await from('192.0.2.2', 8081)) || (await pause(), false)), 'healed: allowed again');
      t.notOk(await from('192.0.2.3', 8081), 'and still refused after the repair');
    });
  }

  for (const backend of ['nftables', 'iptables'] as const) t.test(`IPv6 on ${backend}: isolation, NAT66, a published port reached over IPv6 with the client seen inside`, async (t) => {
    const host = await makeNetns(t, 'h');
    const outside = await makeWorld(t, host);
    await host.run('ip', ['-6', 'addr', 'add', 'fd00:192::1/64', 'dev', 'uplink', 'nodad']);
    await outside.run('ip', ['-6', 'addr', 'add', 'fd00:192::2/64', 'dev', 'eth0', 'nodad']);
    const d = await startDaemonIn(t, host, ['--firewall-backend', backend]);
    const name = containerNames(t);
    for (const [net, v4, v6] of [['v6a', '10.81.0.0/24', 'fd00:a::/64'], ['v6b', '10.82.0.0/24', 'fd00:b::/64'], ['v6i', '10.83.0.0/24', 'fd00:c::/64']]) {
      const r = await d.request('POST', '/v1.48/networks/create', { Name: net, EnableIPv6: true, Internal: net === 'v6i', IPAM: { Config: [{ Subnet: v4 }, { Subnet: v6 }] } });
      t.equal(r.status, 201, r.text);
    }
    const WHO = `require('http').createServer((q, s) => s.end(q.socket.remoteAddress + '\\n')).listen(80, '::')`;
    const run = async (c: string, net: string, cmd: string[], ports: Record<string, unknown> = {}) => {
      const r = await d.request('POST', `/v1.48/containers/create?name=${c}`, { Image: 'x', Cmd: cmd, HostConfig: { NetworkMode: net, PortBindings: ports } });
      t.equal(r.status, 201, r.text);
      t.equal((await d.request('POST', `/v1.48/containers/${c}/start`)).status, 204);
      const n = (await d.request('GET', `/v1.48/containers/${c}/json`)).body.NetworkSettings.Networks[net];
      return { ns: await netnsOf(d, c), ip6: n.GlobalIPv6Address as string };
    };
    const a1 = await run(name('a1'), 'v6a', ['sleep', '300']);
    const web = await run(name('web'), 'v6a', [process.execPath, '-e', WHO], { '80/tcp': [{ HostIp: '::', HostPort: '8086' }] });
    const b1 = await run(name('b1'), 'v6b', ['sleep', '300']);
    const i1 = await run(name('i1'), 'v6i', ['sleep', '300']);
    const ping6 = async (ns: string, ip: string) => (await execa('ip', ['netns', 'exec', ns, 'ping', '-6', '-c', '1', '-W', '1', ip], { reject: false })).exitCode === 0;
    t.ok(await ping6(a1.ns, web.ip6), 'ping6 within a network');
    t.notOk(await ping6(a1.ns, b1.ip6), 'networks are isolated over IPv6');
    t.notOk(await ping6(b1.ns, web.ip6), 'in both directions');
    t.ok(await ping6(a1.ns, 'fd00:192::2'), 'NAT66: the other machine is reached (it has no route back to fd00:a::/64)');
    t.notOk(await ping6(i1.ns, 'fd00:192::2'), 'an internal network has no way out over IPv6 either');
    await outside.run('ip', ['-6', 'route', 'add', 'fd00:a::/64', 'via', 'fd00:192::1']);
    t.notOk(await pings6From(outside, web.ip6), 'the other machine, with a route to the subnet, cannot reach a container directly');
    const seen = async () => (await outside.run('curl', ['-s', '-g', '--max-time', '2', 'http://[fd00:192::1]:8086/'], { reject: false })).stdout.trim();
    t.ok(await until(async () => (await seen()) !== '' || (await pause(), false)), 'the published port answers over IPv6');
    t.equal(await seen(), 'fd00:192::2', 'DNATed to the container\'s IPv6 address: it sees the real client, not the daemon');
    t.equal((await host.run('sysctl', ['-n', 'net.ipv6.conf.all.forwarding'])).stdout.trim(), '1', 'IPv6 forwarding is on, as Docker sets it');
  });

  t.test('gateway modes on nftables: routed, nat-unprotected, nat, isolated', async (t) => {
    const host = await makeNetns(t, 'h');
    const outside = await makeWorld(t, host);
    const d = await startDaemonIn(t, host, ['--firewall-backend', 'nftables']);
    const name = containerNames(t);
    const mode = 'com.docker.network.bridge.gateway_mode_ipv4';
    for (const [net, subnet, extra] of [
      ['rt', '10.84.0.0/24', { Options: { [mode]: 'routed' } }],
      ['nu', '10.85.0.0/24', { Options: { [mode]: 'nat-unprotected' } }],
      ['nt', '10.86.0.0/24', {}],
      ['iso', '10.87.0.0/24', { Internal: true, Options: { [mode]: 'isolated' } }],
    ] as const) {
      const r = await d.request('POST', '/v1.48/networks/create', { Name: net, IPAM: { Config: [{ Subnet: subnet }] }, ...extra });
      t.equal(r.status, 201, r.text);
      if (net !== 'iso') await outside.run('ip', ['route', 'add', subnet, 'via', '192.0.2.1']);
    }
    // two ports: 80 published, 81 not; each answers with the address it sees the client at
    const WHO = `for (const p of [80, 81]) require('http').createServer((q, s) => s.end(q.socket.remoteAddress + '\\n')).listen(p, '0.0.0.0')`;
    const run = async (c: string, net: string, publish: boolean) => {
      const ports = publish ? { '80/tcp': [{ HostPort: net === 'rt' ? '8087' : '8088' }] } : {};
      const r = await d.request('POST', `/v1.48/containers/create?name=${c}`, { Image: 'x', Cmd: [process.execPath, '-e', WHO], HostConfig: { NetworkMode: net, PortBindings: ports } });
      t.equal(r.status, 201, r.text);
      t.equal((await d.request('POST', `/v1.48/containers/${c}/start`)).status, 204);
      const n = (await d.request('GET', `/v1.48/containers/${c}/json`)).body.NetworkSettings.Networks[net];
      return { ns: await netnsOf(d, c), ip: n.IPAddress as string };
    };
    const rweb = await run(name('rweb'), 'rt', true);
    const uweb = await run(name('uweb'), 'nu', false);
    const nweb = await run(name('nweb'), 'nt', true);
    const [i1, i2] = [await run(name('i1'), 'iso', false), await run(name('i2'), 'iso', false)];
    const get = async (from: Netns | string, url: string) =>
      (typeof from === 'string'
        ? await execa('ip', ['netns', 'exec', from, 'curl', '-s', '--max-time', '1', url], { reject: false })
        : await from.run('curl', ['-s', '--max-time', '1', url], { reject: false })).stdout.trim();
    t.ok(await until(async () => (await get(outside, `http://${rweb.ip}:80/`)) !== '' || (await pause(), false)), 'routed: a published port at the container\'s own address');
    t.equal(await get(outside, `http://${rweb.ip}:80/`), '192.0.2.2', 'without NAT: the container sees the client');
    t.equal(await get(outside, `http://${rweb.ip}:81/`), '', 'routed: an unpublished port is not reachable');
    t.ok(await pingsFrom(outside, rweb.ip), 'routed: ICMP is');
    t.equal(await get(outside, 'http://192.0.2.1:8087/'), '', 'routed: the host port is not used');
    // (through its own network's masquerade, as in Docker: it leaves its bridge)
    t.equal(await get(nweb.ns, `http://${rweb.ip}:80/`), '10.84.0.1', 'routed: a container of another network reaches the published port directly');
    const bridgeOf = async (net: string) => `cnmd-${(await d.request('GET', `/v1.48/networks/${net}`)).body.Id.slice(0, 10)}`;
    const egress = async (net: string) => {
      const [sets, key] = [await nftElements(host), `ipv4 . ${await bridgeOf(net)}`];
      return ['egressallow', 'egressmasq', 'egressdrop'].filter((s) => sets?.get(s)?.has(key));
    };
    t.same(await egress('rt'), ['egressallow'], 'routed: no masquerade');
    t.equal(await get(outside, `http://${uweb.ip}:81/`), '192.0.2.2', 'nat-unprotected: any port by direct routing');
    t.equal(await get(nweb.ns, `http://${uweb.ip}:81/`), '', 'but not from another network');
    t.same(await egress('nu'), ['egressmasq'], 'nat-unprotected: NAT out as nat');
    t.equal(await get(outside, `http://${nweb.ip}:80/`), '', 'nat: no direct routing, even to a published port');
    // the other machine answers with the address it sees: it has routes back to every subnet, so only NAT hides one
    const who = execa('nsenter', [`--net=/run/netns/${outside.name}`, process.execPath, '-e', WHO.replace(/\[80, 81\]/, '[9090]')], { reject: false });
    t.teardown(() => { who.kill(); });
    t.ok(await until(async () => (await get(nweb.ns, 'http://192.0.2.2:9090/')) !== '' || (await pause(), false)), 'the other machine answers');
    t.equal(await get(nweb.ns, 'http://192.0.2.2:9090/'), '192.0.2.1', 'nat: a container leaves with the host\'s address');
    t.equal(await get(uweb.ns, 'http://192.0.2.2:9090/'), '192.0.2.1', 'nat-unprotected: as nat');
    t.equal(await get(rweb.ns, 'http://192.0.2.2:9090/'), rweb.ip, 'routed: with its own');
    const fromGateway = await host.run('curl', ['-s', '--max-time', '1', '--interface', '10.86.0.1', 'http://192.0.2.2:9090/'], { reject: false });
    t.equal(fromGateway.stdout.trim(), '192.0.2.1', "the host's own connection from a gateway is masqueraded too (Docker's -s SUBNET ! -o BRIDGE)");
    t.equal(await get(outside, 'http://192.0.2.1:8088/'), '192.0.2.2', 'nat: the host port works');
    const isoBridge = `cnmd-${(await d.request('GET', '/v1.48/networks/iso')).body.Id.slice(0, 10)}`;
    const addrs = JSON.parse((await host.run('ip', ['-json', 'addr', 'show', 'dev', isoBridge])).stdout)[0].addr_info as Array<{ family: string }>;
    t.same(addrs.filter((a) => a.family === 'inet'), [], 'isolated: the bridge has no IPv4 address on the host');
    t.ok(await pings(i1.ns, i2.ip), 'isolated: its containers reach each other');
    t.notOk(await pingsFrom(host, i1.ip), 'and the host does not reach them');
  });

  t.test('allow-lists are checked where they are given: a bad entry is a 400 that names it, and nothing is made', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const bad = await d.request('POST', '/v1.48/networks/create', { Name: 'x', Options: { 'cnmd.ports.allow': '10.0.0.0/8, 10.1.2.3/8' } });
    t.equal(bad.status, 400);
    t.match(bad.body.message, 'invalid cnmd.ports.allow entry "10.1.2.3/8" in the network option cnmd.ports.allow: host bits are set (did you mean 10.0.0.0/8?)');
    const c = await d.request('POST', '/v1.48/containers/create?name=ax', { Image: 'x', Labels: { 'cnmd.ports.allow': 'example.com' } });
    t.equal(c.status, 400);
    t.match(c.body.message, 'invalid cnmd.ports.allow entry "example.com" in the label cnmd.ports.allow');
    t.equal((await d.request('GET', '/v1.48/containers/ax/json')).status, 404, 'no container');
    t.equal((await d.request('GET', '/v1.48/networks/x')).status, 404, 'no network');
  });

  t.test('nftables beside iptables policies of DROP on FORWARD and INPUT: containers work; iptables -F heals', async (t) => {
    const host = await makeNetns(t, 'h');
    const outside = await makeWorld(t, host);
    // what a Docker engine does to FORWARD, and a ufw-like INPUT: replies and loopback in, nothing else
    await host.run('iptables', ['-P', 'FORWARD', 'DROP']);
    await host.run('iptables', ['-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT']);
    await host.run('iptables', ['-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
    await host.run('iptables', ['-P', 'INPUT', 'DROP']);
    const d = await startDaemonIn(t, host, ['--firewall-backend', 'nftables', '--reconcile-interval', '1']);
    const w = await world(t, d);
    await traffic(t, outside, w, 'with DROP policies');
    const saved = (await host.run('iptables-save', [])).stdout;
    t.match(saved, '-A FORWARD -j CNMD-FORWARD', 'cnmd jumps from FORWARD …');
    t.match(saved, '-A CNMD-FORWARD -m mark --mark 0x200000/0x200000 -j ACCEPT', '… to accept what its nftables chains accepted (their mark)');
    t.match(saved, '-A CNMD-INPUT -m mark --mark 0x200000/0x200000 -j ACCEPT', 'and the same on INPUT');
    t.notMatch(saved, 'CNMD-DEST', 'nothing else of ours is in iptables');
    t.match(saved, ':FORWARD DROP', 'their policy stays as they set it');

    await host.run('iptables', ['-F']);
    t.notOk(await pings(w.bns, w.ipW), 'after iptables -F the DROP policy wins for a moment');
    t.ok(await until(async () => (await host.run('iptables-save', [])).stdout.includes('-A FORWARD -j CNMD-FORWARD') || (await pause(), false)), 'the marked accepts are back within the interval');
    await traffic(t, outside, w, 'after iptables -F');
  });

  t.test('migration: iptables -> nftables -> iptables, traffic after each start; foreign objects stay', async (t) => {
    const host = await makeNetns(t, 'h');
    const outside = await makeWorld(t, host);
    await host.run('nft', ['add', 'table', 'inet', 'theirs']);
    await host.run('iptables', ['-N', 'CNMDX-THEIRS']);
    const d = await startDaemonIn(t, host, ['--firewall-backend', 'iptables']);
    const w = await world(t, d);
    await traffic(t, outside, w, 'on iptables');
    t.match((await host.run('iptables-save', [])).stdout, '-A CNMD-DEST', 'the iptables backend\'s chains');

    await d.stop();
    d.flags = ['--firewall-backend', 'nftables'];
    await d.start();
    await traffic(t, outside, w, 'on nftables after the switch');
    const saved = (await host.run('iptables-save', [])).stdout;
    for (const chain of ['CNMD-DEST', 'CNMD-SRC', 'CNMD-N-', 'CNMD-DNAT', 'CNMD-POSTROUTING']) t.notMatch(saved, chain, `${chain}… is gone from iptables`);
    t.ok((await nftElements(host))?.get('ports4any')?.has('tcp . 8080'), 'the port is in the nftables table');

    await d.stop();
    d.flags = ['--firewall-backend', 'iptables'];
    await d.start();
    await traffic(t, outside, w, 'on iptables again');
    t.equal((await host.run('nft', ['list', 'table', 'inet', 'cnmd'], { reject: false })).exitCode, 1, 'the nftables table is gone');
    t.match((await host.run('iptables-save', [])).stdout, '-A CNMD-DEST', 'the iptables chains are back');
    t.equal((await host.run('nft', ['list', 'table', 'inet', 'theirs'], { reject: false })).exitCode, 0, 'a table of someone else stays through both moves');
    t.match((await host.run('iptables-save', [])).stdout, ':CNMDX-THEIRS', 'and a chain of someone else');
  });
}
