/**
 * The bridge driver on a real kernel: a throwaway test-host namespace, cnmd running inside it, and
 * checks with ip -json, nft -j (or iptables-save) and ping between namespaces the test makes. Runs on
 * the nftables backend; bridge-iptables.test.ts runs it again on the iptables backend.
 */
import t, { type Test } from 'tap';
import { statSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { hostTestsReady, makeNetns, makeWorld, startDaemonIn, attachSandbox, pings, FIREWALL, firewallText, firewallOwners, nftElements, type Netns } from '../helpers/host.js';

if (await hostTestsReady(t)) {
  await run();
}

async function links(host: Netns): Promise<Array<{ ifname: string; mtu: number; operstate: string; flags: string[]; ifalias?: string; addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>> {
  return JSON.parse((await host.run('ip', ['-json', '-details', 'addr', 'show'])).stdout);
}

const rules = (host: Netns, instance = 'cnmd') => firewallText(host, instance);
const IPT = FIREWALL === 'iptables';

async function run() {
  t.test('create puts a bridge with its gateway and our rules on the host; delete takes them away', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const r = await d.request('POST', '/v1.41/networks/create', {
      Name: 'lab', IPAM: { Config: [{ Subnet: '10.50.0.0/24', Gateway: '10.50.0.1' }] }, Options: { 'com.docker.network.driver.mtu': '1400' },
    });
    t.equal(r.status, 201, r.text);
    const id: string = r.body.Id;
    const br = `cnmd-${id.slice(0, 10)}`;
    const link = (await links(host)).find((l) => l.ifname === br);
    t.ok(link, 'the bridge exists');
    t.equal(link!.mtu, 1400);
    t.ok(link!.flags.includes('UP'));
    t.equal(link!.ifalias, `cnmd:${id}`, 'marked as ours');
    t.equal((link as unknown as { address: string }).address, ['02', ...id.slice(0, 10).match(/../g)!].join(':'), 'a fixed MAC: it does not follow the bridge\'s ports');
    t.same(link!.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`), ['10.50.0.1/24']);
    if (IPT) await iptablesRulesOf(t, host, id, br);
    else await nftElementsOf(t, host, id, br);
    t.equal((await host.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');
    const metrics = (await d.request('GET', '/metrics')).text;
    t.match(metrics, /cnmd_host_command_duration_seconds_count\{tool="ip",ok="true"\} \d+/, '/metrics counts host commands by tool');
    t.match(metrics, new RegExp(`cnmd_host_command_duration_seconds_count\\{tool="${IPT ? 'iptables-restore' : 'nft'}",ok="true"\\} \\d+`));

    const del = await d.request('DELETE', `/v1.41/networks/lab`);
    t.equal(del.status, 204);
    t.notOk((await links(host)).some((l) => l.ifname === br), 'the bridge is gone');
    t.notOk((await firewallOwners(host)).has(id.slice(0, 12)), 'no rule or element of the network is left');
    t.notMatch(await rules(host), id.slice(0, 12), 'not even its name');
  });

  async function iptablesRulesOf(t: Test, host: Netns, id: string, br: string) {
    const saved = await rules(host);
    const tag = `-m comment --comment "cnmd:${id.slice(0, 12)}"`;
    for (const line of [
      '-A FORWARD -j CNMD-FORWARD',
      '-A POSTROUTING -j CNMD-POSTROUTING',
      '-A CNMD-FORWARD -j CNMD-DEST',
      '-A CNMD-FORWARD -j CNMD-SRC',
      `-A CNMD-DEST -o ${br} ${tag} -j CNMD-N-${id.slice(0, 12)}`,
      `-A CNMD-SRC -i ${br} ${tag} -j ACCEPT`,
      `-A CNMD-N-${id.slice(0, 12)} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A CNMD-N-${id.slice(0, 12)} -i ${br} -j ACCEPT`,
      `-A CNMD-N-${id.slice(0, 12)} -j DROP`,
      `-A CNMD-POSTROUTING -s 10.50.0.0/24 ! -o ${br} ${tag} -j MASQUERADE`,
    ]) {
      t.ok(saved.split('\n').includes(line), line);
    }
  }

  async function nftElementsOf(t: Test, host: Netns, id: string, br: string) {
    const sets = (await nftElements(host))!;
    t.ok(sets, 'the table inet cnmd exists');
    const owner = `cnmd:${id.slice(0, 12)}`;
    for (const [set, key, value] of [
      ['bridges', br, ''],
      ['icc', `${br} . ${br}`, ''],
      ['egressmasq', `ipv4 . ${br}`, ''],
      ['egressallow', `ipv6 . ${br}`, ''],
      ['published', br, ''],
      ['dns', br, ''],
      ['hostmasq', br, ''],
      ['gateways4', '10.50.0.1', ''],
      ['gwown4', `10.50.0.1 . ${br}`, ''],
    ]) {
      t.same(sets.get(set)?.get(key), { value, owner }, `${set}: ${key}${value ? ` : ${value}` : ''}, marked as the network's`);
    }
    const listed = await rules(host);
    t.match(listed, 'chain forward {\n\t\ttype filter hook forward priority filter - 10; policy accept;', 'the chains hook into the kernel, before other firewalls\' filter chains');
    t.match(listed, 'jump user', 'the user chain comes first');
  }

  t.test('what we write is what the firewall reads back: a restart finds nothing to change', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['--log-level', 'debug']);
    for (const [name, extra] of [
      ['plain', {}],
      ['internal', { Internal: true }],
      ['noicc', { Options: { 'com.docker.network.bridge.enable_icc': 'false' } }],
      ['snat', { Options: { 'com.docker.network.host_ipv4': '192.0.2.9' } }],
      ['v6', { EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:5::/64' }] } }],
    ] as const) {
      t.equal((await d.request('POST', '/networks/create', { Name: name, ...extra })).status, 201, name);
    }
    const before = await rules(host);
    await d.stop();
    await d.start();
    const state = await d.request('GET', '/_ping');
    t.equal(state.status, 200);
    t.equal(strip(await rules(host)), strip(before), 'rules unchanged by the restart');
    const reports = d.output().split('\n').filter((l) => l.includes('start-up reconcile')).map((l) => JSON.parse(l));
    t.equal(reports.length, 2);
    t.ok(reports[0].applied > 0, 'the first start built the base');
    t.same(reports[1].steps, [], 'the second start found the host exactly as planned: what was written reads back the same');
  });

  t.test('traffic: same network talks, networks are isolated, NAT out, internal has no way out, icc=false', async (t) => {
    const host = await makeNetns(t, 'h');
    // "the world": another machine, with no route back to container subnets
    const world = await makeWorld(t, host);

    const d = await startDaemonIn(t, host);
    const mk = async (Name: string, Subnet: string, extra: Record<string, unknown> = {}) => {
      const r = await d.request('POST', '/networks/create', { Name, IPAM: { Config: [{ Subnet }] }, ...extra });
      t.equal(r.status, 201, r.text);
      return `cnmd-${r.body.Id.slice(0, 10)}`;
    };
    const brA = await mk('a', '10.61.0.0/24');
    const brB = await mk('b', '10.62.0.0/24');
    const brI = await mk('i', '10.63.0.0/24', { Internal: true });
    const brN = await mk('n', '10.64.0.0/24', { Options: { 'com.docker.network.bridge.enable_icc': 'false' } });

    const a1 = await attachSandbox(t, host, brA, '10.61.0.2/24', '10.61.0.1', 'a1');
    const a2 = await attachSandbox(t, host, brA, '10.61.0.3/24', '10.61.0.1', 'a2');
    const b1 = await attachSandbox(t, host, brB, '10.62.0.2/24', '10.62.0.1', 'b1');
    const i1 = await attachSandbox(t, host, brI, '10.63.0.2/24', '10.63.0.1', 'i1');
    const n1 = await attachSandbox(t, host, brN, '10.64.0.2/24', '10.64.0.1', 'n1');
    const n2 = await attachSandbox(t, host, brN, '10.64.0.3/24', '10.64.0.1', 'n2');

    t.ok(await pings(a1, '10.61.0.3'), 'two sandboxes on one network reach each other');
    t.ok(await pings(a1, '10.61.0.1'), 'and their gateway');
    t.notOk(await pings(a1, '10.62.0.2'), 'a sandbox on another network is unreachable');
    t.notOk(await pings(b1, '10.61.0.2'), 'in both directions');
    t.ok(await pings(a2, '192.0.2.2'), 'the world is reached through NAT (it has no route back to 10.61/24)');
    t.notOk(await pings(world, '10.61.0.2'), 'and the world cannot reach in: the host routes it, our rules drop it');
    t.notOk(await pings(i1, '192.0.2.2'), 'an internal network has no way out');
    t.notOk(await pings(a1, '10.63.0.2'), 'nor a way in');
    t.ok(await pings(i1, '10.63.0.1'), 'but its gateway address answers');
    t.notOk(await pings(n1, '10.64.0.3'), 'icc=false: no traffic between endpoints of one network');
    t.ok(await pings(n2, '10.64.0.1'), 'icc=false: the gateway still answers');
  });

  t.test('a restart converges the host to the store, and touches nothing of anyone else', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host);
    const id = (await d.request('POST', '/networks/create', { Name: 'keep' })).body.Id as string;
    const br = `cnmd-${id.slice(0, 10)}`;
    const gone = (await d.request('POST', '/networks/create', { Name: 'gone' })).body.Id as string;
    await d.stop();
    // a network that leaves the store while the daemon is down (a store restored from a backup, say)
    const db = new Database(`${d.dir}/data/cnmd.db`);
    db.prepare('DELETE FROM networks WHERE id = ?').run(gone);
    db.close();
    // someone deletes our bridge and empties part of our firewall; adds a look-alike bridge, chain and rule
    // of their own; a stale chain and bridge of ours (from a network no longer in the store) are lying around
    await host.run('ip', ['link', 'del', br]);
    await host.run('ip', ['link', 'add', 'cnmd-lookalike', 'type', 'bridge']);
    await host.run('ip', ['link', 'add', 'cnmd-stale', 'type', 'bridge']);
    await host.run('ip', ['link', 'set', 'cnmd-stale', 'alias', `cnmd:${'0'.repeat(64)}`]);
    if (IPT) {
      await host.run('iptables', ['-F', 'CNMD-SRC']);
      await host.run('iptables', ['-N', 'CNMDX-THEIRS']);
      await host.run('iptables', ['-A', 'FORWARD', '-j', 'CNMDX-THEIRS']);
      // named like ours, not made by cnmd: someone else's (the record in the store says what cnmd made)
      await host.run('iptables', ['-N', 'CNMD-N-000000000000']);
      await host.run('iptables', ['-N', 'CNMD-FOREIGN']);
      await host.run('iptables', ['-A', 'FORWARD', '-j', 'CNMD-FOREIGN']);
      await host.run('iptables', ['-A', 'CNMD-USER', '-s', '203.0.113.9/32', '-j', 'DROP']);
    } else {
      await host.run('nft', ['add', 'rule', 'inet', 'cnmd', 'user', 'ip', 'saddr', '203.0.113.9', 'drop']);
      await host.run('nft', ['flush', 'set', 'inet', 'cnmd', 'bridges']);
      await host.run('nft', ['add', 'table', 'inet', 'theirs']);
      await host.run('nft', ['add', 'chain', 'inet', 'theirs', 'forward', '{ type filter hook forward priority 0; policy accept; }']);
      await host.run('nft', ['add', 'rule', 'inet', 'theirs', 'forward', 'counter']);
      await host.run('nft', ['add', 'chain', 'inet', 'cnmd', 'stale']);
      await host.run('nft', ['add', 'element', 'inet', 'cnmd', 'bridges', '{ "ghost" }']);
      await host.run('nft', ['add', 'rule', 'inet', 'cnmd', 'into', 'counter']);
    }
    await d.start();
    const names = (await links(host)).map((l) => l.ifname);
    t.ok(names.includes(br), 'the deleted bridge is back');
    t.ok(names.includes('cnmd-lookalike'), 'a bridge we did not make is left alone, whatever its name');
    t.notOk(names.includes('cnmd-stale'), 'a bridge of ours that no network owns is removed');
    t.notOk(names.includes(`cnmd-${gone.slice(0, 10)}`), 'so is the bridge of the network that left the store');
    t.notOk((await firewallOwners(host)).has(gone.slice(0, 12)), 'and every rule or element of it');
    if (IPT) t.notMatch(await rules(host), `CNMD-N-${gone.slice(0, 12)}`, 'its chain too: cnmd made it');
    const saved = await rules(host);
    if (IPT) {
      t.match(saved, `-A CNMD-SRC -i ${br}`, 'the flushed chain is refilled');
      t.match(saved, '-A FORWARD -j CNMDX-THEIRS', 'their rule stays');
      t.match(saved, '-A CNMD-USER -s 203.0.113.9/32 -j DROP', 'a rule of the user in CNMD-USER stays (DOCKER-USER\'s role)');
      t.match(saved, /-A CNMD-FORWARD -j CNMD-USER\n-A CNMD-FORWARD -j CNMD-DEST/, 'and is jumped to first');
      t.match(saved, ':CNMD-N-000000000000', 'a chain named like ours that cnmd did not make stays');
      t.match(saved, ':CNMD-FOREIGN', 'whatever its name');
      t.match(saved, '-A FORWARD -j CNMD-FOREIGN', 'and so does the jump into it');
    } else {
      const bridges = (await nftElements(host))!.get('bridges')!;
      t.ok(bridges.has(br), 'the flushed set is refilled');
      t.notOk(bridges.has('ghost'), 'an element nobody asked for is removed');
      t.notMatch(saved, 'chain stale', 'a chain in our table that cnmd does not want is removed');
      t.match(saved, /chain user \{\n\t\tip saddr 203\.0\.113\.9 drop\n/, 'a rule of the user in the chain user stays');
      t.notMatch(saved, /chain into \{[^}]*counter/, 'a rule added to a chain of ours is gone');
      t.match((await host.run('nft', ['list', 'table', 'inet', 'theirs'])).stdout, 'counter', 'a table of someone else is never touched');
    }
    t.equal((await d.request('GET', '/networks/keep')).status, 200);
  });

  t.test('drift is repaired while running, within one interval, with an event; look-alikes stay', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['--reconcile-interval', '1']);
    const id = (await d.request('POST', '/networks/create', { Name: 'drifty' })).body.Id as string;
    const br = `cnmd-${id.slice(0, 10)}`;
    const since = Math.floor(Date.now() / 1000);
    await host.run('ip', ['link', 'del', br]);
    await host.run('ip', ['link', 'add', 'cnmd-lookalike', 'type', 'bridge']);
    if (IPT) {
      await host.run('iptables', ['-F']);
      await host.run('iptables', ['-t', 'nat', '-F']);
      await host.run('iptables', ['-X', 'CNMD-SRC']);
      await host.run('iptables', ['-N', 'CNMDX-MINE']);
      await host.run('iptables', ['-N', 'CNMD-FOREIGN']);
    } else {
      await host.run('nft', ['add', 'table', 'inet', 'mine']);
      await host.run('nft', ['delete', 'table', 'inet', 'cnmd']);
    }
    const healed = async () => {
      const saved = await rules(host);
      const names = (await links(host)).map((l) => l.ifname);
      if (!names.includes(br)) return false;
      if (IPT) return saved.includes(`-A CNMD-SRC -i ${br}`) && saved.includes('-A FORWARD -j CNMD-FORWARD') && saved.includes(`-A CNMD-POSTROUTING -s 172.18.0.0/16 ! -o ${br}`);
      const sets = await nftElements(host);
      return !!sets?.get('bridges')?.has(br) && !!sets.get('egressmasq')?.has(`ipv4 . ${br}`) && saved.includes('jump user');
    };
    let ok = false;
    for (let i = 0; i < 40 && !(ok = await healed()); i++) await new Promise((r) => setTimeout(r, 100));
    t.ok(ok, IPT ? 'iptables -F, -t nat -F, a deleted chain and a deleted bridge: all back' : 'nft delete table and a deleted bridge: all back');
    t.ok((await links(host)).some((l) => l.ifname === 'cnmd-lookalike'), 'a look-alike bridge stays');
    if (IPT) {
      t.match(await rules(host), ':CNMDX-MINE', 'a look-alike chain stays');
      t.match(await rules(host), ':CNMD-FOREIGN', 'even one with our prefix, through repairs');
    }
    else t.equal((await host.run('nft', ['list', 'table', 'inet', 'mine'], { reject: false })).exitCode, 0, 'a table of someone else stays');
    const state = (await d.request('GET', '/cnmd/v1/state')).body;
    t.ok(state.LastRepair.steps.length > 0, 'GET /cnmd/v1/state reports the repair');
    t.same((await d.request('GET', '/cnmd/v1/state?plan=1')).body.Plan, [], 'and nothing is left to do');
    const ev = await d.request('GET', `/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["cnmd"]}')}`);
    t.match(JSON.parse(ev.text.trim().split('\n')[0]), { Type: 'cnmd', Action: 'repair' }, 'an event says so');
  });

  t.test('a route the host gains or loses while the daemon runs is seen by the next automatic subnet', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['--default-address-pool', 'base=10.77.0.0/16,size=24']);
    const subnetOf = async (name: string) => {
      const r = await d.request('POST', '/networks/create', { Name: name });
      t.equal(r.status, 201, r.text);
      return (await d.request('GET', `/networks/${name}`)).body.IPAM.Config[0].Subnet as string;
    };
    const settle = () => new Promise((r) => setTimeout(r, 300));
    await settle();
    t.equal(await subnetOf('a'), '10.77.1.0/24', 'the next subnet after the default bridge\'s');
    t.equal(await subnetOf('b'), '10.77.2.0/24', 'and the next');
    // someone else's link takes the next subnet
    await host.run('ip', ['link', 'add', 'rt0', 'type', 'veth', 'peer', 'name', 'rt1']);
    await host.run('ip', ['addr', 'add', '10.77.3.1/24', 'dev', 'rt0']);
    await host.run('ip', ['link', 'set', 'rt0', 'up']);
    await host.run('ip', ['link', 'set', 'rt1', 'up']);
    t.match((await host.run('ip', ['-4', 'route', 'show', '10.77.3.0/24'])).stdout, 'dev rt0', 'the host has an on-link route');
    await settle();
    t.equal(await subnetOf('c'), '10.77.4.0/24', 'a route added after the last read is avoided');
    await host.run('ip', ['link', 'del', 'rt0']);
    await settle();
    t.equal(await subnetOf('e'), '10.77.3.0/24', 'and once its link is gone (the kernel reports no route removal), its subnet is free again');
  });

  t.test('two daemons side by side in one namespace keep to their own objects', async (t) => {
    const host = await makeNetns(t, 'h');
    const one = await startDaemonIn(t, host);
    const two = await startDaemonIn(t, host, ['--instance', 'cnmdb']);
    const r1 = await one.request('POST', '/networks/create', { Name: 'x' });
    const r2 = await two.request('POST', '/networks/create', { Name: 'x' });
    t.equal(r1.status, 201);
    t.equal(r2.status, 201, 'names are per daemon');
    t.not(JSON.stringify((await one.request('GET', '/networks/x')).body.IPAM), JSON.stringify((await two.request('GET', '/networks/x')).body.IPAM),
      'the second daemon sees the first one\'s bridges as host routes and picks another subnet');
    await one.stop();
    await one.start();
    await two.stop();
    await two.start();
    const names = (await links(host)).map((l) => l.ifname);
    for (const n of ['cnmd0', 'cnmdb0', `cnmd-${r1.body.Id.slice(0, 10)}`, `cnmdb-${r2.body.Id.slice(0, 9)}`]) t.ok(names.includes(n), n);
    if (IPT) {
      const saved = await rules(host);
      t.match(saved, ':CNMD-FORWARD');
      t.match(saved, ':CNMDB-FORWARD');
    } else {
      t.ok((await nftElements(host, 'cnmd'))?.get('bridges')?.has(`cnmd-${r1.body.Id.slice(0, 10)}`), 'a table per daemon, each with its own bridges');
      t.ok((await nftElements(host, 'cnmdb'))?.get('bridges')?.has(`cnmdb-${r2.body.Id.slice(0, 9)}`));
      t.notOk((await nftElements(host, 'cnmdb'))?.get('bridges')?.has(`cnmd-${r1.body.Id.slice(0, 10)}`), 'and not the other\'s');
    }
  });

  t.test('listeners: the unix socket is 0660, a TCP address works too, SIGTERM stops cleanly', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['-H', 'tcp://127.0.0.1:23750', '--tls=false']);
    t.equal(statSync(d.socket).mode & 0o777, 0o660);
    const viaTcp = await host.run('curl', ['-s', '--max-time', '5', 'http://127.0.0.1:23750/v1.41/networks/bridge']);
    t.equal(JSON.parse(viaTcp.stdout).Name, 'bridge', 'the same API over TCP (loopback of the test host)');
    await d.stop();
    t.notOk(existsSync(d.socket), 'the socket is removed on SIGTERM');
    t.match(d.output(), '"msg":"shutting down"');
  });

  t.test('--dry-run changes nothing on the host', async (t) => {
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['--dry-run']);
    t.equal((await d.request('POST', '/networks/create', { Name: 'dry' })).status, 201);
    t.same((await links(host)).map((l) => l.ifname), ['lo']);
    t.notMatch((await host.run('iptables-save', [])).stdout, 'CNMD');
    t.equal((await host.run('nft', ['list', 'tables'])).stdout, '', 'no table either');
    t.equal((await d.request('GET', '/networks/dry')).status, 200);
  });
}

/** iptables-save output without its timestamp comments and counters */
function strip(s: string): string {
  return s.split('\n').filter((l) => !l.startsWith('#')).join('\n');
}
