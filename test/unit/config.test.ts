import t from 'tap';
import { loadConfig } from '../../src/config.js';

const noFile = () => undefined;

t.test('defaults', async (t) => {
  const c = loadConfig([], noFile);
  t.same(c.hosts, ['unix:///run/cnmd.sock']);
  t.equal(c.dataRoot, '/var/lib/cnmd');
  t.equal(c.bridgeName, 'cnmd0');
  t.equal(c.iptables, true);
  t.equal(c.mtu, 1500);
  t.equal(c.dryRun, false);
});

t.test('dockerd-style flags', async (t) => {
  const c = loadConfig(
    ['-H', 'unix:///tmp/a.sock', '--host=tcp://127.0.0.1:2375', '--tls=false', '--data-root', '/tmp/d', '--bip=10.9.0.1/24', '--iptables=false', '--icc=false',
      '--ip-masq', '--mtu', '1400', '--default-address-pool', 'base=10.10.0.0/16,size=24', '--dry-run', '--instance', 'cnmdb'],
    noFile,
  );
  t.same(c.hosts, ['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375']);
  t.equal(c.dataRoot, '/tmp/d');
  t.equal(c.bip, '10.9.0.1/24');
  t.equal(c.iptables, false);
  t.equal(c.icc, false);
  t.equal(c.ipMasq, true);
  t.equal(c.mtu, 1400);
  t.same(c.defaultAddressPools, [{ base: '10.10.0.0/16', size: 24 }]);
  t.equal(c.dryRun, true);
  t.equal(c.bridgeName, 'cnmdb0', 'the default bridge follows the instance name');
});

t.test('the JSON config file, and a setting given twice', async (t) => {
  const file = JSON.stringify({ 'data-root': '/srv/cnmd', 'default-address-pools': [{ base: '10.20.0.0/16', size: 24 }], icc: false });
  const c = loadConfig(['--config-file', '/etc/x.json'], (p) => (p === '/etc/x.json' ? file : undefined));
  t.equal(c.dataRoot, '/srv/cnmd');
  t.same(c.defaultAddressPools, [{ base: '10.20.0.0/16', size: 24 }]);
  t.equal(c.icc, false);
  t.throws(() => loadConfig(['--config-file', '/etc/x.json', '--icc=true'], () => file), {
    message: 'the following directives are specified both as a flag and in the configuration file: icc',
  });
  t.throws(() => loadConfig(['--config-file', '/nope.json'], noFile), { message: 'unable to read /nope.json: no such file' });
  t.throws(() => loadConfig([], () => '{"bogus": 1}'), { message: /unknown configuration key "bogus"/ });
});

t.test('bad values are refused', async (t) => {
  t.throws(() => loadConfig(['--mtu', '10'], noFile), { message: /invalid MTU/ });
  t.throws(() => loadConfig(['--icc=maybe'], noFile), { message: /invalid boolean/ });
  t.throws(() => loadConfig(['--bogus'], noFile), { message: /unknown flag/ });
  t.throws(() => loadConfig(['-H', 'http://x'], noFile), { message: /invalid host/ });
  t.throws(() => loadConfig(['--bridge-name', 'a-very-long-bridge-name'], noFile), { message: /at most 15/ });
});

t.test('the cluster flags: etcd://HOST:PORT, an IPv4 address to advertise, a lease of 2 s or more', async (t) => {
  const c = loadConfig(['--cluster-store', 'etcd://10.0.0.5:2379', '--cluster-advertise', '10.0.0.11', '--cluster-lease-ttl', '3'], noFile);
  t.match(c, { clusterStore: 'etcd://10.0.0.5:2379', clusterAdvertise: '10.0.0.11', clusterLeaseTtl: 3 });
  t.equal(loadConfig([], noFile).clusterLeaseTtl, 10, 'a 10 s lease by default');
  t.equal(loadConfig([], noFile).clusterStore, undefined, 'no cluster unless asked');
  t.throws(() => loadConfig(['--cluster-store', 'http://10.0.0.5:2379', '--cluster-advertise', '10.0.0.11'], noFile), { message: /use etcd:\/\/HOST:PORT/ });
  t.throws(() => loadConfig(['--cluster-store', 'etcd://10.0.0.5:2379'], noFile), { message: /needs --cluster-advertise/ });
  t.throws(() => loadConfig(['--cluster-lease-ttl', '1'], noFile), { message: /at least 2 seconds/ });
});

t.test('the cluster store over TLS and with authentication: etcds://, several endpoints, --cluster-store-opt (dockerd\'s names)', async (t) => {
  const adv = ['--cluster-advertise', '10.0.0.11'];
  const tls = ['--cluster-store', 'etcds://10.0.0.5:2379,10.0.0.6:2379', ...adv, '--cluster-store-opt', 'kv.cacertfile=/c/ca.pem', '--cluster-store-opt', 'kv.certfile=/c/cert.pem', '--cluster-store-opt', 'kv.keyfile=/c/key.pem'];
  t.same(loadConfig(tls, noFile).clusterStoreOpts, { 'kv.cacertfile': '/c/ca.pem', 'kv.certfile': '/c/cert.pem', 'kv.keyfile': '/c/key.pem' });
  const { endpointsOf } = await import('../../src/cluster/store.js');
  t.same(endpointsOf('etcds://10.0.0.5:2379,10.0.0.6:2379'), ['https://10.0.0.5:2379', 'https://10.0.0.6:2379']);
  t.same(endpointsOf('etcd://h:2379'), ['http://h:2379']);
  const file = JSON.stringify({ 'cluster-store': 'etcd://10.0.0.5:2379', 'cluster-advertise': '10.0.0.11', 'cluster-store-opts': { 'kv.username': 'cnmd', 'kv.passwordfile': '/c/pw' } });
  t.same(loadConfig([], () => file).clusterStoreOpts, { 'kv.username': 'cnmd', 'kv.passwordfile': '/c/pw' }, 'the file key, a map');
  const refuse = (args: string[], message: RegExp) => t.throws(() => loadConfig(args, noFile), { message }, String(message));
  refuse(['--cluster-store', 'etcds://10.0.0.5:2379', ...adv], /etcds:\/\/ needs --cluster-store-opt kv.cacertfile/);
  refuse(['--cluster-store', 'etcd://10.0.0.5:2379', ...adv, '--cluster-store-opt', 'kv.cacertfile=/c/ca.pem'], /kv.cacertfile is for TLS: use etcds:\/\//);
  refuse(['--cluster-store', 'etcds://10.0.0.5:2379', ...adv, '--cluster-store-opt', 'kv.cacertfile=/c/ca.pem', '--cluster-store-opt', 'kv.certfile=/c/cert.pem'], /kv.certfile and kv.keyfile go together/);
  refuse(['--cluster-store', 'etcd://10.0.0.5:2379', ...adv, '--cluster-store-opt', 'kv.username=cnmd'], /kv.username and kv.passwordfile go together/);
  refuse(['--cluster-store', 'etcd://10.0.0.5:2379', ...adv, '--cluster-store-opt', 'kv.path=/x'], /invalid --cluster-store-opt "kv.path"/);
  refuse(['--cluster-store-opt', 'novalue'], /use KEY=VALUE/);
});

t.test('TCP needs TLS with client certificates; loopback may opt out with --tls=false', async (t) => {
  const c = loadConfig(['-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscacert', '/c/ca.pem', '--tlscert=/c/cert.pem', '--tlskey', '/c/key.pem'], noFile);
  t.match(c, { tlsVerify: true, tlsCaCert: '/c/ca.pem', tlsCert: '/c/cert.pem', tlsKey: '/c/key.pem' });
  t.match(loadConfig(['-H', 'tcp://10.1.2.3:2376', '--tlsverify'], noFile), { tlsCaCert: '/etc/cnmd/ca.pem', tlsCert: '/etc/cnmd/cert.pem', tlsKey: '/etc/cnmd/key.pem' });
  t.throws(() => loadConfig(['-H', 'tcp://10.1.2.3:2375'], noFile), { message: /refusing to listen on tcp:\/\/10\.1\.2\.3:2375 without TLS client verification/ });
  t.throws(() => loadConfig(['-H', 'tcp://10.1.2.3:2375', '--tls=false'], noFile), { message: /without TLS client verification/ }, '--tls=false only on loopback');
  t.throws(() => loadConfig(['-H', 'tcp://10.1.2.3:2376', '--tls'], noFile), { message: /without TLS client verification/ }, 'TLS without client certificates is not enough');
  t.throws(() => loadConfig(['-H', 'tcp://127.0.0.1:2375'], noFile), { message: /or --tls=false to accept any local user/ }, 'loopback is refused too unless asked');
  t.same(loadConfig(['-H', 'tcp://127.0.0.1:2375', '--tls=false'], noFile).hosts, ['tcp://127.0.0.1:2375']);
  t.same(loadConfig(['-H', 'tcp://[::1]:2375', '--tls=false'], noFile).hosts, ['tcp://[::1]:2375']);
  t.throws(() => loadConfig(['--tlsverify', '--tls=false'], noFile), { message: /--tlsverify needs TLS/ });
  const file = JSON.stringify({ hosts: ['tcp://0.0.0.0:2376'], tlsverify: true, tlscacert: '/f/ca.pem', authz: { ci: 'network', grafana: 'viewer' } });
  t.match(loadConfig([], () => file), { tlsVerify: true, tlsCaCert: '/f/ca.pem', authz: { ci: 'network', grafana: 'viewer' } });
});

t.test('--authz NAME=ROLE, -G, --allowed-host', async (t) => {
  const c = loadConfig(['-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--authz', 'ci=network', '--authz=ops=admin', '--authz', 'a=b=viewer', '-G', 'docker', '--allowed-host', 'cnmd.example'], noFile);
  t.same(c.authz, { ci: 'network', ops: 'admin', 'a=b': 'viewer' }, 'the last = separates the role');
  t.equal(c.group, 'docker');
  t.same(c.allowedHosts, ['cnmd.example']);
  t.throws(() => loadConfig(['--tlsverify', '--authz', 'ci=root'], noFile), { message: /invalid --authz role "root" for "ci": one of viewer, network, admin/ });
  t.throws(() => loadConfig(['--tlsverify', '--authz', 'ci'], noFile), { message: /use NAME=ROLE/ });
  t.throws(() => loadConfig(['--authz', 'ci=viewer'], noFile), { message: /it needs --tlsverify/ });
  t.throws(() => loadConfig([], () => JSON.stringify({ tlsverify: true, authz: { ci: 'god' } })), { message: /invalid .*role "god"/ });
  t.throws(() => loadConfig([], () => JSON.stringify({ authz: ['ci'] })), { message: /invalid value for "authz"/ });
  t.throws(() => loadConfig(['-G', 'bad group'], noFile), { message: /invalid --group/ });
  t.throws(() => loadConfig(['--allowed-host', 'evil"name'], noFile), { message: /invalid --allowed-host/ });
});

t.test('--firewall-backend: nftables or iptables, as a flag or the file key firewall-backend', async (t) => {
  t.equal(loadConfig(['--firewall-backend', 'nftables'], () => undefined).firewallBackend, 'nftables');
  t.equal(loadConfig([], () => JSON.stringify({ 'firewall-backend': 'iptables' })).firewallBackend, 'iptables');
  t.equal(loadConfig([], () => undefined).firewallBackend, undefined, 'not given: chosen at start by what the host runs');
  t.throws(() => loadConfig(['--firewall-backend', 'pf'], () => undefined), { message: 'invalid --firewall-backend "pf": nftables or iptables' });
});

t.test('--limit NAME=N and the file\'s "limits": defaults, each limit, bad names and values', async (t) => {
  const { DEFAULT_LIMITS, LIMITS } = await import('../../src/limits.js');
  t.same(loadConfig([], noFile).limits, { apiRequests: 512, apiStreams: 1024, followerBuffer: 1048576, dnsForwards: 1024, publishedPorts: 4096, relayFlows: 1024 });
  t.same(loadConfig([], noFile).limits, DEFAULT_LIMITS);
  const c = loadConfig(['--limit', 'dns-forwards=16', '--limit=api-requests=8', '--limit', 'relay-flows=2'], noFile);
  t.same([c.limits.dnsForwards, c.limits.apiRequests, c.limits.relayFlows, c.limits.apiStreams], [16, 8, 2, 1024], 'the rest keep their defaults');
  for (const l of LIMITS) t.equal(loadConfig(['--limit', `${l.name}=${l.min}`], noFile).limits[l.key], l.min, `${l.name} at its lowest`);
  const file = JSON.stringify({ limits: { 'published-ports': 10, 'follower-buffer': 65536 } });
  const f = loadConfig([], () => file);
  t.same([f.limits.publishedPorts, f.limits.followerBuffer, f.limits.dnsForwards], [10, 65536, 1024]);
  t.throws(() => loadConfig(['--limit', 'dns-forwards=16'], () => file), { message: /specified both as a flag and in the configuration file: limits/ });
  t.throws(() => loadConfig(['--limit', 'bogus=1'], noFile), { message: /unknown limit "bogus": one of api-requests, api-streams, follower-buffer, dns-forwards, published-ports, relay-flows/ });
  t.throws(() => loadConfig(['--limit', 'dns-forwards=0'], noFile), { message: 'invalid limit dns-forwards=0: a whole number from 1 to 65536' });
  t.throws(() => loadConfig(['--limit', 'dns-forwards=1e3'], noFile), { message: /invalid limit dns-forwards=1e3/ });
  t.throws(() => loadConfig(['--limit', 'dns-forwards'], noFile), { message: /invalid --limit "dns-forwards": use NAME=N/ });
  t.throws(() => loadConfig(['--limit', 'follower-buffer=1024'], noFile), { message: /from 65536/ });
  t.throws(() => loadConfig([], () => '{"limits": {"api-streams": "8"}}'), { message: /invalid limit api-streams="8": a number/ });
  t.throws(() => loadConfig([], () => '{"limits": [1]}'), { message: /"limits" must be an object/ });
});
