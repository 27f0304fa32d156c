/**
 * The unchanged docker CLI against cnmd's socket: what it prints must be what it prints against
 * Docker (texts taken from a real dockerd 20.10 with the same CLI, see shared/reference/).
 */
import t from 'tap';
import { hostTestsReady } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';

if (await hostTestsReady(t, await compatUnavailable())) {
  const { host, docker } = await cliAgainstDaemon(t, 'cli');

  t.test('version and info', async (t) => {
    t.equal((await docker('version', '--format', '{{.Server.APIVersion}}')).stdout, '1.49');
    const v = await docker('version');
    t.match(v.stdout, /API version:\s+1\.49 \(downgraded from 1\.\d+\)|API version:\s+1\.49/);
    t.equal((await docker('info', '--format', '{{.OSType}} {{.Swarm.LocalNodeState}}')).stdout, 'linux inactive');
  });

  t.test('network create, ls, inspect, rm, prune', async (t) => {
    const created = await docker('network', 'create', 'my-net');
    t.equal(created.exitCode, 0, created.stderr);
    t.match(created.stdout, /^[0-9a-f]{64}$/, 'prints the id');
    const myId = created.stdout;

    const lab = await docker('network', 'create', '--subnet', '10.50.0.0/24', '--gateway', '10.50.0.1', '--ip-range', '10.50.0.128/25',
      '--aux-address', 'host1=10.50.0.5', '--label', 'team=a', '-o', 'com.docker.network.bridge.enable_icc=false', '--internal', '--attachable', 'lab');
    t.equal(lab.exitCode, 0, lab.stderr);

    const ls = await docker('network', 'ls', '--filter', 'driver=bridge');
    const rows = ls.stdout.split('\n');
    t.match(rows[0], /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    t.same(rows.slice(1).map((r) => r.split(/\s+/).slice(1)), [['bridge', 'bridge', 'local'], ['lab', 'bridge', 'local'], ['my-net', 'bridge', 'local']]);
    t.equal(rows[3].split(/\s+/)[0], myId.slice(0, 12), 'the short id');
    t.equal((await docker('network', 'ls', '-q', '--no-trunc', '--filter', 'name=my-net')).stdout, myId);
    t.equal((await docker('network', 'ls', '--format', '{{.Name}}', '--filter', 'label=team=a')).stdout, 'lab');
    t.equal((await docker('network', 'ls', '--format', '{{.Name}}', '--filter', 'type=builtin')).stdout, 'bridge\nhost\nnone');
    t.equal((await docker('network', 'ls', '--format', '{{.Name}}', '--filter', 'dangling=true')).stdout, 'lab\nmy-net');
    t.equal((await docker('network', 'ls', '--format', '{{.Name}} {{.Internal}} {{.IPv6}}', '--filter', 'id=' + myId.slice(0, 8))).stdout, 'my-net false false');

    const inspect = await docker('network', 'inspect', 'lab');
    t.equal(inspect.exitCode, 0);
    const [n] = JSON.parse(inspect.stdout);
    t.same(Object.keys(n).filter((k) => k !== 'EnableIPv4'), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels']);
    t.match(n, {
      Name: 'lab', Scope: 'local', Driver: 'bridge', EnableIPv6: false, Internal: true, Attachable: true, Ingress: false,
      ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {},
      Options: { 'com.docker.network.bridge.enable_icc': 'false' }, Labels: { team: 'a' },
    });
    t.same(n.IPAM, { Driver: 'default', Options: {}, Config: [{ Subnet: '10.50.0.0/24', IPRange: '10.50.0.128/25', Gateway: '10.50.0.1', AuxiliaryAddresses: { host1: '10.50.0.5' } }] });
    t.equal((await docker('network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}', 'my-net')).stdout, '172.18.0.0/16 172.18.0.1');
    t.equal((await docker('network', 'inspect', '-f', '{{.Name}}', myId.slice(0, 5))).stdout, 'my-net', 'by id prefix');

    const missing = await docker('network', 'inspect', 'nonexist');
    t.equal(missing.exitCode, 1);
    t.match(missing.stderr, /network nonexist not found|No such network: nonexist/);

    const dup = await docker('network', 'create', 'my-net');
    t.equal(dup.exitCode, 1);
    t.equal(dup.stderr, 'Error response from daemon: network with name my-net already exists');
    const pre = await docker('network', 'create', 'bridge');
    t.equal(pre.stderr, 'Error response from daemon: operation is not permitted on predefined bridge network');
    const badSubnet = await docker('network', 'create', '--subnet', '10.1.2.3/40', 'bad');
    t.equal(badSubnet.stderr, 'Error response from daemon: Invalid subnet 10.1.2.3/40 : invalid CIDR address: 10.1.2.3/40');
    const overlap = await docker('network', 'create', '--subnet', '10.50.0.0/16', 'bad');
    t.equal(overlap.stderr, 'Error response from daemon: Pool overlaps with other one on this address space');
    const rmBridge = await docker('network', 'rm', 'bridge');
    t.equal(rmBridge.stderr, 'Error response from daemon: bridge is a pre-defined network and cannot be removed\nexit status 1');

    const rm = await docker('network', 'rm', 'my-net', 'lab');
    t.equal(rm.exitCode, 0, rm.stderr);
    t.equal(rm.stdout, 'my-net\nlab', 'prints each name as typed');
    const rmMissing = await docker('network', 'rm', 'nonexist');
    t.equal(rmMissing.exitCode, 1);
    t.equal(rmMissing.stderr, 'Error response from daemon: network nonexist not found\nexit status 1');
    t.equal((await docker('network', 'rm', '-f', 'nonexist')).exitCode, 0, '-f ignores a missing network');

    await docker('network', 'create', '--label', 'old=1', 'p1');
    await docker('network', 'create', 'p2');
    const pruneLabel = await docker('network', 'prune', '-f', '--filter', 'label=old');
    t.equal(pruneLabel.stdout, 'Deleted Networks:\np1\n');
    const prune = await docker('network', 'prune', '-f');
    t.equal(prune.stdout, 'Deleted Networks:\np2\n');
    t.equal((await docker('network', 'prune', '-f')).stdout, '', 'nothing left to prune prints nothing');
    t.equal((await docker('network', 'ls', '--format', '{{.Name}}')).stdout, 'bridge\nhost\nnone');
  });

  t.test('IPv6 and driver options through the CLI', async (t) => {
    const r = await docker('network', 'create', '--ipv6', '--subnet', 'fd00:1::/64', '-o', 'com.docker.network.driver.mtu=1400', 'v6');
    t.equal(r.exitCode, 0, r.stderr);
    t.equal((await docker('network', 'inspect', '-f', '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{end}}', 'v6')).stdout, 'true 172.18.0.0/16,fd00:1::/64,');
    const links = JSON.parse((await host.run('ip', ['-json', 'addr', 'show', `cnmd-${r.stdout.slice(0, 10)}`])).stdout);
    t.equal(links[0].mtu, 1400);
    t.same(links[0].addr_info.filter((a: { scope: string }) => a.scope === 'global').map((a: { local: string }) => a.local), ['172.18.0.1', 'fd00:1::1']);
    t.equal((await docker('network', 'rm', 'v6')).exitCode, 0);
  });
}
