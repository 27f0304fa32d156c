/**
 * macvlan on a real kernel, driven by the docker CLI: the test host's eth0 is a veth whose peer is
 * "another machine" on the same segment (192.168.50.254). Containers get their own MACs on that
 * segment, reach each other and the other machine without NAT, and resolve each other's names
 * through the DNS server cnmd binds inside their sandboxes.
 */
import t from 'tap';
import { hostTestsReady, makeNetns, containerNames, type Netns } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';

const linkNames = async (ns: Netns) => (JSON.parse((await ns.run('ip', ['-json', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map((l) => l.ifname).sort();

if (await hostTestsReady(t, await compatUnavailable())) {
  const { docker, host, daemon } = await cliAgainstDaemon(t, 'mvh');
  /** a command inside the container, as a user runs it */
  const inNs = (c: string, args: string[]) => docker('exec', c, ...args);
  const name = containerNames(t);
  const other = await makeNetns(t, 'mvo');
  await host.run('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', other.name]);
  await host.run('ip', ['link', 'set', 'eth0', 'up']);
  await other.run('ip', ['addr', 'add', '192.168.50.254/24', 'dev', 'eth0']);
  await other.run('ip', ['link', 'set', 'eth0', 'up']);
  const vlanKernel = (await host.run('ip', ['link', 'add', 'link', 'eth0', 'name', 'probe.7', 'type', 'vlan', 'id', '7'], { reject: false })).exitCode === 0;
  if (vlanKernel) await host.run('ip', ['link', 'del', 'probe.7']);

  t.test('containers on the physical segment: own MACs, reachable from the other machine, names resolve', async (t) => {
    const r = await docker('network', 'create', '-d', 'macvlan', '--subnet', '192.168.50.0/24', '--gateway', '192.168.50.1', '-o', 'parent=eth0', 'pub');
    t.equal(r.exitCode, 0, r.stderr);
    const a = name('app'), b = name('b');
    t.equal((await docker('run', '-d', '--name', a, '--network', 'pub', '--ip', '192.168.50.10', 'busybox', 'sleep', '1d')).exitCode, 0);
    t.equal((await docker('run', '-d', '--name', b, '--network', 'pub', 'busybox', 'sleep', '1d')).exitCode, 0);
    const ipB = (await docker('inspect', '-f', '{{.NetworkSettings.Networks.pub.IPAddress}}', b)).stdout;
    t.equal(ipB, '192.168.50.2');
    t.equal((await inNs(a, ['ping', '-c', '1', '-W', '1', ipB])).exitCode, 0, 'the two containers talk');
    for (const ip of ['192.168.50.10', ipB]) t.equal((await other.run('ping', ['-c', '1', '-W', '1', ip], { reject: false })).exitCode, 0, `the other machine reaches ${ip}`);
    const neigh = JSON.parse((await other.run('ip', ['-json', 'neigh', 'show', 'dev', 'eth0'])).stdout) as Array<{ dst: string; lladdr?: string }>;
    t.equal(neigh.find((n) => n.dst === '192.168.50.10')?.lladdr, '02:42:c0:a8:32:0a', 'and sees its own MAC, derived from its address');
    t.equal(neigh.find((n) => n.dst === ipB)?.lladdr, '02:42:c0:a8:32:02');
    const kind = JSON.parse((await inNs(a, ['ip', '-json', '-details', 'link', 'show', 'eth0'])).stdout)[0].linkinfo.info_kind;
    t.equal(kind, 'macvlan', 'eth0 is a macvlan link');
    t.equal((await inNs(a, ['ip', 'route', 'show', 'default'])).stdout.trim(), 'default via 192.168.50.1 dev eth0', 'default route via the gateway given');
    const resolved = await inNs(a, ['getent', 'hosts', b]);
    t.match(resolved.stdout, new RegExp(`^${ipB.replaceAll('.', '\\.')}\\s+${b}`), 'b resolves by name inside a (DNS at 127.0.0.11 in its sandbox)');
    t.equal((await inNs(b, ['getent', 'hosts', a])).stdout.split(/\s+/)[0], '192.168.50.10', 'and a inside b');
    t.equal((await docker('network', 'create', '-d', 'macvlan', '-o', 'parent=eth0', 'again')).stderr.trim(), `Error response from daemon: network dm-${(await docker('network', 'inspect', '-f', '{{.Id}}', 'pub')).stdout.slice(0, 12)} is already using parent interface eth0`);
    await daemon.stop();
    await daemon.start();
    t.same((await daemon.request('GET', '/cnmd/v1/state?plan=1')).body.Plan, [], 'a restart finds everything as it should be, inside the sandboxes too');
    t.equal((await inNs(a, ['getent', 'hosts', b])).stdout.split(/\s+/)[0], ipB, 'names resolve again after the restart');
    t.equal((await docker('network', 'disconnect', 'pub', b)).exitCode, 0);
    t.notOk((await inNs(b, ['ip', '-o', 'link'])).stdout.includes('eth0'), 'disconnect removes the macvlan link from the sandbox');
    t.equal((await docker('rm', '-f', a, b)).exitCode, 0);
    t.equal((await docker('network', 'rm', 'pub')).exitCode, 0);
    t.same(await linkNames(host), ['cnmd0', 'eth0', 'lo'], 'nothing of the network is left on the host');
  });

  t.test('a bad parent is a 400 that says why, and leaves nothing', async (t) => {
    const before = await linkNames(host);
    const r = await docker('network', 'create', '-d', 'macvlan', '-o', 'parent=eth9', 'bad');
    t.equal(r.stderr.trim(), 'Error response from daemon: the requested parent interface eth9 was not found on the Docker host');
    t.equal((await docker('network', 'inspect', 'bad')).exitCode, 1);
    t.same(await linkNames(host), before);
  });

  t.test('an 802.1Q parent: made and removed with the network where the kernel has VLANs; else a clear error and nothing left', async (t) => {
    const before = await linkNames(host);
    const r = await docker('network', 'create', '-d', 'macvlan', '--subnet', '192.168.60.0/24', '-o', 'parent=eth0.60', 'vlan60');
    if (!vlanKernel) {
      t.equal(r.stderr.trim(), 'Error response from daemon: cannot create the 802.1Q VLAN sub-interface eth0.60: this kernel has no VLAN support (CONFIG_VLAN_8021Q, module 8021q)');
      t.same(await linkNames(host), before, 'no link left');
      t.equal((await docker('network', 'inspect', 'vlan60')).exitCode, 1, 'no network left');
      return;
    }
    t.equal(r.exitCode, 0, r.stderr);
    t.ok((await linkNames(host)).includes('eth0.60'), 'the sub-interface exists');
    await other.run('ip', ['link', 'add', 'link', 'eth0', 'name', 'eth0.60', 'type', 'vlan', 'id', '60']);
    await other.run('ip', ['addr', 'add', '192.168.60.254/24', 'dev', 'eth0.60']);
    await other.run('ip', ['link', 'set', 'eth0.60', 'up']);
    const c = name('v');
    t.equal((await docker('run', '-d', '--name', c, '--network', 'vlan60', 'busybox', 'sleep', '1d')).exitCode, 0);
    t.equal((await inNs(c, ['ping', '-c', '1', '-W', '1', '192.168.60.254'])).exitCode, 0, 'tagged traffic reaches the other machine\'s VLAN 60');
    await docker('rm', '-f', c);
    t.equal((await docker('network', 'rm', 'vlan60')).exitCode, 0);
    t.same(await linkNames(host), before, 'the sub-interface went with the network');
  });
}
