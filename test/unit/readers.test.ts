import t from 'tap';
import { parseProcNetRoute, checkTools } from '../../src/host/readers.js';
import { parseFdb, parseIpAddrJson, parseIptablesSave, parseNeighbors } from '../../src/host/state.js';
import { formatPrefix } from '../../src/ipam/cidr.js';
import { RecordingExecutor } from '../../src/host/recording.js';

t.test('/proc/net/route: on-link routes only', async (t) => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'wg0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'tun0\t0000000A\t0200000A\t0003\t0\t0\t0\t000000FF\t0\t0\t0',
  ].join('\n');
  t.same(parseProcNetRoute(text).map(formatPrefix), ['10.0.0.0/24', '192.168.0.0/16'], 'no default route, no route via a gateway');
  const more = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                ',
    'eth1\t0102A8C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0                                ',
    'eth1\t000010AC\t00000000\t0001\t0\t0\t0\t0000F0FF\t0\t0\t0',
    'odd\t0000000B\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0',
    'short\t0000000C',
    '',
  ].join('\n');
  t.same(parseProcNetRoute(more).map(formatPrefix), ['192.168.2.1/32', '172.16.0.0/12'], 'a host route, a /12; a mask with a hole and a short line are skipped; trailing blanks as the kernel pads');
  const many = ['Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT'];
  const hex = (a: number[]) => a.map((b) => b.toString(16).padStart(2, '0')).reverse().join('').toUpperCase();
  for (let k = 0; k < 1000; k++) many.push(`cnmd-${k}\t${hex([10, k >> 8, k & 255, 0])}\t00000000\t0001\t0\t0\t0\t${hex([255, 255, 255, 0])}\t0\t0\t0`);
  t.same(parseProcNetRoute(many.join('\n') + '\n').map(formatPrefix), Array.from({ length: 1000 }, (_, k) => `10.${k >> 8}.${k & 255}.0/24`), 'a thousand bridges');
});

t.test('ip -json addr: links, aliases, global addresses', async (t) => {
  const links = parseIpAddrJson(JSON.stringify([
    { ifname: 'cnmd0', ifalias: 'cnmd:abc', mtu: 1500, flags: ['BROADCAST', 'UP'], linkinfo: { info_kind: 'bridge' },
      addr_info: [{ family: 'inet', local: '172.17.0.1', prefixlen: 16, scope: 'global' }, { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' }] },
    { ifname: 'lo', mtu: 65536, flags: ['LOOPBACK'] },
  ]));
  t.same(links.get('cnmd0'), { name: 'cnmd0', kind: 'bridge', alias: 'cnmd:abc', mtu: 1500, up: true, addresses: ['172.17.0.1/16'] });
  t.equal(links.get('lo')!.up, false);
});

t.test('iptables-save: our chains and the hooks into them, nothing else', async (t) => {
  const tagged = '-o br1 -m comment --comment "cnmd:0123456789ab" -j CNMD-N-0123456789ab';
  const rules = parseIptablesSave([
    '*filter', ':FORWARD ACCEPT [0:0]', ':CNMD-FORWARD - [0:0]', ':CNMD-DEST - [0:0]', ':CNMDX-OTHER - [0:0]', ':DOCKER - [0:0]',
    '-A FORWARD -j DOCKER-USER', '-A FORWARD -j CNMD-FORWARD', '-A CNMD-FORWARD -j CNMD-DEST', `-A CNMD-DEST ${tagged}`,
    '-A CNMDX-OTHER -j DROP', 'COMMIT',
    '*nat', ':POSTROUTING ACCEPT [0:0]', '-A POSTROUTING -s 1.2.3.0/24 -j MASQUERADE', 'COMMIT',
  ].join('\n'), 'CNMD', 'cnmd');
  t.same([...rules.chains.keys()], ['filter CNMD-FORWARD', 'filter CNMD-DEST'], 'CNMDX- is someone else\'s');
  t.same([...rules.chains.get('filter CNMD-FORWARD')!], [['-j CNMD-DEST', 1]]);
  t.same([...rules.hooks], [['filter FORWARD', ['-j CNMD-FORWARD']]]);
  t.same([...rules.byOwner.get('0123456789ab')!.get('filter CNMD-DEST')!], [tagged], 'rules are indexed by their owner tag');
});

t.test('bridge -json fdb and ip -json neigh: each neighbour on a VXLAN port with the host its MAC goes to', async (t) => {
  const fdb = parseFdb(JSON.stringify([
    { mac: '02:42:0A:C8:00:03', ifname: 'vx-aaaaaaaaaa', dst: '10.99.0.2', flags: ['self'], state: 'permanent' },
    { mac: '00:00:00:00:00:00', ifname: 'vx-aaaaaaaaaa', dst: '10.99.0.7', flags: ['self'], state: 'permanent' },
    { mac: '02:42:0a:c8:00:09', dev: 'vx-bbbbbbbbbb', dst: '10.99.0.3', flags: ['self'] },
    { mac: '02:42:0a:c8:00:03', ifname: 'vxlan0', dst: '10.1.1.1', flags: ['self'] },
    { mac: '33:33:00:00:00:01', ifname: 'ov-aaaaaaaaaa', flags: ['self'], state: 'permanent' },
  ]), 'vx-');
  t.same([...fdb], [['vx-aaaaaaaaaa 02:42:0a:c8:00:03', '10.99.0.2'], ['vx-bbbbbbbbbb 02:42:0a:c8:00:09', '10.99.0.3']], 'unicast entries on our ports only, either field name');
  const neigh = JSON.stringify([
    { dst: '10.200.0.3', dev: 'vx-aaaaaaaaaa', lladdr: '02:42:0a:c8:00:03', state: ['PERMANENT'] },
    { dst: '10.200.0.4', dev: 'vx-aaaaaaaaaa', lladdr: '02:42:0a:c8:00:04', state: ['PERMANENT'] },
    { dst: '10.1.1.4', dev: 'eth0', lladdr: '02:42:0a:c8:00:05', state: ['PERMANENT'] },
  ]);
  t.same([...parseNeighbors(neigh, 'vx-', fdb).values()].map((n) => [n.ip, n.vtep]), [['10.200.0.3', '10.99.0.2'], ['10.200.0.4', '']], 'a neighbour without its FDB entry says so');
  t.equal(parseNeighbors(neigh, 'vx-').get('vx-aaaaaaaaaa 10.200.0.3')?.vtep, undefined, 'without the FDB read it is unknown');
});

t.test('a missing tool names the Debian package to install', async (t) => {
  const exec = new RecordingExecutor().failOn('iptables-restore --version', 'not found');
  await t.rejects(checkTools(exec, 'iptables'), { message: 'iptables-restore is not installed or does not run: install the Debian package iptables (apt-get install iptables)' });
  await t.resolves(checkTools(new RecordingExecutor(), 'iptables'));
  await t.resolves(checkTools(exec, 'none'), 'with --iptables=false iptables is not needed');
  await t.resolves(checkTools(exec, 'nftables'), 'nor with the nftables backend');
  const noNft = new RecordingExecutor().failOn('nft list tables', 'Operation not supported');
  await t.rejects(checkTools(noNft, 'nftables'), { message: 'nft is not installed or does not run: install the Debian package nftables (apt-get install nftables)' });
});

t.test('/proc/self/mountinfo: our namespace files, octal escapes decoded', async (t) => {
  const { parseNsMounts } = await import('../../src/host/state.js');
  const text = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '800 22 0:4 mnt:[4026532400] /run/cnmd/aaaaaaaaaaaa/mnt rw shared:400 - nsfs nsfs rw',
    '801 22 0:4 uts:[4026532401] /run/cnmd/aaaaaaaaaaaa/uts rw - nsfs nsfs rw',
    '802 22 0:4 net:[4026532402] /run/netns/cnmd-aaaaaaaaaaaa rw - nsfs nsfs rw',
    '803 22 0:4 mnt:[4026532403] /tmp/with\\040space/x/mnt rw - nsfs nsfs rw',
  ].join('\n');
  t.same([...parseNsMounts(text, '/run/cnmd')], ['/run/cnmd/aaaaaaaaaaaa/mnt', '/run/cnmd/aaaaaaaaaaaa/uts']);
  t.same([...parseNsMounts(text, '/tmp/with space')], ['/tmp/with space/x/mnt']);
});

t.test('/proc/net/{tcp,udp}6?: local addresses and states', async (t) => {
  const { parseProcNetSockets } = await import('../../src/host/state.js');
  const tcp = '  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n   1: 0112A8C0:0035 00000000:0000 0A 00000000:00000000\n';
  t.same(parseProcNetSockets(tcp), [{ ip: '127.0.0.1', port: 8080, state: '0A' }, { ip: '192.168.18.1', port: 53, state: '0A' }]);
  const tcp6 = '  sl  local_address                         remote_address\n   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0\n   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 0\n';
  t.same(parseProcNetSockets(tcp6).map((x) => `${x.ip} ${x.port}`), [':: 8080', '::1 8081']);
  t.same(parseProcNetSockets(tcp, 53), [{ ip: '192.168.18.1', port: 53, state: '0A' }], 'only the port asked for');
  // read from a socket bound to ::ffff:127.0.0.1 port 45678 (the last word is IPv4's, in the kernel's order)
  const mapped = '  sl  local_address\n   0: 0000000000000000FFFF00000100007F:B26E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2820118 1\n';
  t.same(parseProcNetSockets(mapped), [{ ip: '::ffff:127.0.0.1', port: 45678, state: '0A' }], 'an IPv4-mapped address');
  t.same(parseProcNetSockets('  sl  local_address\n   0: 0100007F:1F90 00000000:0000 0A\n\n   garbage line\n'), [{ ip: '127.0.0.1', port: 8080, state: '0A' }], 'lines that are not sockets are skipped');
});

t.test('listening sockets by "ip port": TCP listeners only, every bound UDP socket', async (t) => {
  const { parseProcNetSockets, listeningKeys } = await import('../../src/host/state.js');
  const text = '  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 0\n   1: 0100007F:1F91 0200007F:9C40 01 0\n   2: 0112A8C0:0035 00000000:0000 07 0\n';
  t.same([...listeningKeys(parseProcNetSockets(text), true)], ['127.0.0.1 8080']);
  t.same([...listeningKeys(parseProcNetSockets(text), false)], ['127.0.0.1 8080', '127.0.0.1 8081', '192.168.18.1 53']);
});

t.test('inside a sandbox: links, default routes and the route to 127.0.0.11', async (t) => {
  const { parseSandboxInside } = await import('../../src/host/state.js');
  const s = parseSandboxInside('[]\n[{"dst":"default","gateway":"10.0.0.1","dev":"eth0"}]\n[{"type":"unicast","dst":"127.0.0.11","gateway":"10.0.0.1","dev":"eth0"}]\n');
  t.same(s.gateways, ['10.0.0.1']);
  t.equal(s.dnsVia, '10.0.0.1');
  t.equal(parseSandboxInside('[]\n[]\n[]\n').dnsVia, undefined);
});
