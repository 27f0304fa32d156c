/**
 * A trusted cluster store: etcd started by the test with TLS and client certificates only, on an
 * underlay namespace; cnmd joins it with etcds:// and --cluster-store-opt (dockerd's names); a plain
 * etcd:// client is told what to use; records crafted in etcd change nothing on a host and are counted.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execa } from 'execa';
import { hostTestsReady, hostTestsUnavailable, makeNetns, startDaemonIn, underlayHost, uniqueName, type Netns } from '../helpers/host.js';
import { makePki } from '../helpers/certs.js';

const ETCD = '/usr/bin/etcd';
const V = '/v1.48';
const STORE = '10.98.0.100';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return true;
    await sleep(200);
  }
  return false;
}

const why = hostTestsUnavailable() ?? (existsSync(ETCD) ? undefined : 'etcd is not installed (Debian package etcd-server; .ci/run installs it)');
if (await hostTestsReady(t, why)) {
  t.test('etcd with TLS and client certificates: etcds:// joins; plain etcd:// is told why not; crafted records are dropped and counted', async (t) => {
    const under = await makeNetns(t, 'ul');
    await under.run('ip', ['link', 'add', 'ul', 'type', 'bridge']);
    await under.run('ip', ['addr', 'add', `${STORE}/24`, 'dev', 'ul']);
    await under.run('ip', ['link', 'set', 'ul', 'up']);
    const pki = await makePki(t, [STORE]);
    const certs = await pki.clientDir('cnmd-host');
    const dataDir = mkdtempSync('/tmp/cnmd-etcd-');
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const etcd: ChildProcess = spawn('nsenter', [`--net=/run/netns/${under.name}`, ETCD, '--data-dir', dataDir, '--name', 'cnmdtls',
      '--listen-client-urls', `https://${STORE}:2379`, '--advertise-client-urls', `https://${STORE}:2379`,
      '--cert-file', pki.path('server.pem'), '--key-file', pki.path('server-key.pem'), '--client-cert-auth', '--trusted-ca-file', pki.path('ca.pem'),
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster', 'cnmdtls=http://127.0.0.1:2380'], { stdio: 'ignore' });
    t.teardown(() => void etcd.kill('SIGKILL'));
    const curl = (args: string[]) => under.run('curl', ['-s', '-m', '3', '--cacert', `${certs}/ca.pem`, '--cert', `${certs}/cert.pem`, '--key', `${certs}/key.pem`, ...args], { reject: false });
    t.ok(await until(async () => (await curl([`https://${STORE}:2379/health`])).stdout.includes('true')), 'etcd with TLS is up');
    t.notMatch((await under.run('curl', ['-s', '-m', '3', '-k', `https://${STORE}:2379/v3/kv/range`, '-d', '{"key":"Lw=="}'], { reject: false })).stdout, '"kvs"', 'without a client certificate etcd answers nothing');

    const host = async (i: number): Promise<{ ns: Netns; addr: string }> => {
      const addr = `10.98.0.${i}`;
      return { ns: await underlayHost(t, under, `ch${i}`, addr, `q${i}`), addr };
    };
    const a = await host(1);
    const d = await startDaemonIn(t, a.ns, [
      '--cluster-store', `etcds://${STORE}:2379`, '--cluster-advertise', a.addr, '--cluster-lease-ttl', '3',
      '--cluster-store-opt', `kv.cacertfile=${certs}/ca.pem`, '--cluster-store-opt', `kv.certfile=${certs}/cert.pem`, '--cluster-store-opt', `kv.keyfile=${certs}/key.pem`,
    ]);
    t.ok(await until(async () => (await d.request('GET', `${V}/info`)).body.CnmdCluster?.Nodes?.length === 1), 'cnmd joined etcd over TLS with its client certificate');
    const net = uniqueName('ov');
    const created = await d.request('POST', `${V}/networks/create`, { Name: net, Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.201.0.0/24' }] } });
    t.equal(created.status, 201, created.text);
    const ctr = uniqueName('c');
    t.equal((await d.request('POST', `${V}/containers/create?name=${ctr}`, { Image: 'busybox', HostConfig: { NetworkMode: net } })).status, 201);
    const started = await d.request('POST', `${V}/containers/${ctr}/start`);
    t.equal(started.status, 204, started.text);

    // a plain client to the TLS-only etcd
    const b = await host(2);
    const plain = await startDaemonIn(t, b.ns, ['--cluster-store', `etcd://${STORE}:2379`, '--cluster-advertise', b.addr]);
    t.ok(await until(async () => plain.output().includes('speaks TLS')), 'the plain client says why it cannot join');
    t.match(plain.output(), `use --cluster-store etcds://${STORE}:2379 with --cluster-store-opt kv.cacertfile=FILE`);
    t.equal((await plain.request('POST', `${V}/networks/create`, { Name: uniqueName('x'), Driver: 'overlay' })).status, 503, 'and overlay changes are 503');

    // crafted records, written by whoever holds a certificate etcd trusts
    const put = async (key: string, value: unknown) => {
      const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64') });
      const r = await curl([`https://${STORE}:2379/v3/kv/put`, '-d', body]);
      if (!r.stdout.includes('header')) throw new Error(`etcd put: ${r.stdout} ${r.stderr}`);
    };
    const nid = created.body.Id as string;
    const node = (await d.request('GET', `${V}/info`)).body.CnmdCluster.Nodes[0] as { ID?: string; Id?: string };
    const rejected = async () => {
      const m = (await d.request('GET', '/metrics')).text;
      return [...m.matchAll(/^cnmd_cluster_rejected_total\{kind="(\w+)"\} (\d+)$/gm)].reduce((n, x) => n + Number(x[2]), 0);
    };
    const before = await rejected();
    const fake = 'e'.repeat(64);
    const vx = `vx-${nid.slice(0, 10)}`;
    const fdbBefore = (await a.ns.run('bridge', ['fdb', 'show', 'dev', vx])).stdout;
    const neighBefore = (await a.ns.run('ip', ['neigh', 'show', 'dev', vx])).stdout;
    const base = { id: fake, networkId: nid, containerId: 'f'.repeat(64), node: fake, vtep: '10.98.0.66', mac: '02:42:0a:c9:00:63', ipv4: '10.201.0.99/24', ipv6: null, names: ['evil'] };
    await put(`/cnmd/endpoints/${nid}/${fake}`, { ...base, mac: '02:42:0a:c9:00:63\nlink del dev eth0' });
    await put(`/cnmd/endpoints/${nid}/${'1'.repeat(64)}`, { ...base, id: '1'.repeat(64), node: String(node.ID ?? node.Id ?? ''), vtep: '10.98.0.66' });
    await put(`/cnmd/nodes/${'2'.repeat(64)}`, { id: '2'.repeat(64), address: '10.98.0.77 dev lo', name: 'x' });
    await put(`/cnmd/networks/${'3'.repeat(64)}`, { ...created.body, id: '3'.repeat(64), driver: 'overlay', scope: 'global', options: { 'com.docker.network.driver.overlay.vxlanid_list': '5000\nlink del dev eth0' } });
    await put(`/cnmd/endpoints/${nid}/${'4'.repeat(64)}`, 'not json {');
    t.ok(await until(async () => (await rejected()) >= before + 4), 'four crafted records are rejected and counted');
    await sleep(500);
    t.equal((await a.ns.run('bridge', ['fdb', 'show', 'dev', vx])).stdout, fdbBefore, 'no forwarding entry was added to the VXLAN port');
    t.equal((await a.ns.run('ip', ['neigh', 'show', 'dev', vx])).stdout, neighBefore, 'no neighbour entry either');
    t.equal((await a.ns.run('ip', ['link', 'show', 'eth0'])).exitCode, 0, 'eth0 is still there');
    const nets = (await d.request('GET', `${V}/networks`)).body as Array<{ Id: string }>;
    t.notOk(nets.some((n) => n.Id === '3'.repeat(64)), 'the crafted network is not mirrored');
    t.match(d.output(), 'cluster store: a record failed its check and is ignored', 'each is logged');
    const plan = (await d.request('GET', '/cnmd/v1/state?plan=1')).body.Plan as string[];
    t.same(plan, [], 'and the host is as the store wants it');

    // the underlay guard: a member's VXLAN reaches a container on A; a stranger's does not
    await plain.stop();
    const member = await startDaemonIn(t, b.ns, [
      '--cluster-store', `etcds://${STORE}:2379`, '--cluster-advertise', b.addr, '--cluster-lease-ttl', '3',
      '--cluster-store-opt', `kv.cacertfile=${certs}/ca.pem`, '--cluster-store-opt', `kv.certfile=${certs}/cert.pem`, '--cluster-store-opt', `kv.keyfile=${certs}/key.pem`,
    ]);
    t.ok(await until(async () => (await member.request('GET', `${V}/networks/${net}`)).status === 200), 'the second member joins (a value that is not JSON is skipped, not fatal) and sees the network');
    const lst = uniqueName('lst');
    const LISTEN = "require('dgram').createSocket('udp4').on('message', (m) => console.log(String(m))).bind(9999)";
    t.equal((await d.request('POST', `${V}/containers/create?name=${lst}`, { Image: 'node', Cmd: [process.execPath, '-e', LISTEN], HostConfig: { NetworkMode: net } })).status, 201);
    t.equal((await d.request('POST', `${V}/containers/${lst}/start`)).status, 204);
    const info = (await d.request('GET', `${V}/containers/${lst}/json`)).body;
    const [ip, mac] = [info.NetworkSettings.Networks[net].IPAddress as string, info.NetworkSettings.Networks[net].MacAddress as string];
    const logFile = `${d.dir}/data/containers/${info.Id}/stdout.log`;
    const heard = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    const send = (ns: string, text: string) => execa('nsenter', [`--net=${ns}`, process.execPath, '-e', `const s = require('dgram').createSocket('udp4'); s.send(${JSON.stringify(text)}, 9999, ${JSON.stringify(ip)}, () => s.close())`], { reject: false });
    const peer = uniqueName('peer');
    t.equal((await member.request('POST', `${V}/containers/create?name=${peer}`, { Image: 'busybox', HostConfig: { NetworkMode: net } })).status, 201);
    t.equal((await member.request('POST', `${V}/containers/${peer}/start`)).status, 204);
    const peerNs = (await member.request('GET', `${V}/containers/${peer}/json`)).body.NetworkSettings.SandboxKey as string;
    t.ok(await until(async () => {
      await send(peerNs, 'from-member');
      return heard().includes('from-member');
    }), 'a member\'s container reaches it over VXLAN');
    const stranger = await underlayHost(t, under, 'str', '10.98.0.9', 'q9');
    const vni = (await d.request('GET', `${V}/networks/${net}`)).body.Options['com.docker.network.driver.overlay.vxlanid_list'] as string;
    await stranger.run('ip', ['link', 'add', 'vxatk', 'type', 'vxlan', 'id', vni, 'remote', a.addr, 'local', '10.98.0.9', 'dstport', '4789']);
    await stranger.run('ip', ['addr', 'add', '10.201.0.250/24', 'dev', 'vxatk']);
    await stranger.run('ip', ['link', 'set', 'vxatk', 'up']);
    await stranger.run('ip', ['neigh', 'replace', ip, 'lladdr', mac, 'dev', 'vxatk', 'nud', 'permanent']);
    for (let i = 0; i < 5; i++) await send(`/run/netns/${stranger.name}`, 'from-stranger');
    await sleep(1000);
    t.notMatch(heard(), 'from-stranger', 'frames injected from a host that is not a member do not reach the container');
    const listed = (await a.ns.run('nft', ['list', 'chain', 'inet', 'cnmd', 'input'])).stdout;
    t.match(listed, /meta l4proto \. th dport @underlay ip saddr != @vteps4 counter packets [1-9]\d* bytes \d+ drop/, 'they are counted where they are dropped');
    // the check can fail: without the guard the stranger's frames arrive
    const rules = JSON.parse((await a.ns.run('nft', ['-j', '-a', 'list', 'chain', 'inet', 'cnmd', 'input'])).stdout).nftables as Array<{ rule?: { handle: number; expr: unknown[] } }>;
    const guard = rules.find((r) => r.rule && JSON.stringify(r.rule.expr).includes('vteps4'));
    await a.ns.run('nft', ['delete', 'rule', 'inet', 'cnmd', 'input', 'handle', String(guard!.rule!.handle)]);
    t.ok(await until(async () => {
      await send(`/run/netns/${stranger.name}`, 'from-stranger-unguarded');
      return heard().includes('from-stranger-unguarded');
    }, 5000), 'without the guard they would');
  });
}
