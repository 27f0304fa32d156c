/**
 * Published ports on a real kernel: a server in a sandbox, reached from "another machine" (a namespace
 * on the test host's uplink), from the test host itself and through hairpin from a sandbox.
 */
import t from 'tap';
import { execa } from 'execa';
import { hostTestsReady, makeNetns, makeWorld, startDaemonIn, containerNames, netnsOf } from '../helpers/host.js';

if (await hostTestsReady(t)) {
  await tests();
}

const HTTP = `require('http').createServer((q, s) => s.end('hello from ' + process.env.HOSTNAME + '\\n')).listen(Number(process.argv[1]), '0.0.0.0')`;
const UDP = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('echo ' + m, r.port, r.address)); s.bind(Number(process.argv[1]))`;

async function tests() {
  t.test('tcp and udp, from outside, from the host, hairpin; 127.0.0.1 only from the host', async (t) => {
    const name = containerNames(t);
    const host = await makeNetns(t, 'h');
    const world = await makeWorld(t, host);
    await host.run('ip', ['-6', 'addr', 'add', 'fd00:192::1/64', 'dev', 'uplink', 'nodad']);
    await world.run('ip', ['-6', 'addr', 'add', 'fd00:192::2/64', 'dev', 'eth0', 'nodad']);
    const d = await startDaemonIn(t, host);
    await d.request('POST', '/v1.48/networks/create', { Name: 'web-net' });
    const web = name('web');
    const client = name('client');
    const mk = async (name: string, cmd: string[], bindings: Record<string, unknown>) => {
      const r = await d.request('POST', `/v1.48/containers/create?name=${name}`, { Image: 'x', Hostname: name.slice(-8), Cmd: cmd, HostConfig: { NetworkMode: 'web-net', PortBindings: bindings } });
      t.equal(r.status, 201, r.text);
      const s = await d.request('POST', `/v1.48/containers/${name}/start`);
      t.equal(s.status, 204, s.text);
    };
    await mk(web, [process.execPath, '-e', HTTP, '80'], { '80/tcp': [{ HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }] });
    const local = name('local');
    await mk(local, [process.execPath, '-e', HTTP, '80'], { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8081' }] });
    const udp = name('udp');
    await mk(udp, [process.execPath, '-e', UDP, '53'], { '53/udp': [{ HostPort: '5353' }] });
    await mk(client, ['sleep', '60'], {});
    const clientNs = await netnsOf(d, client);
    const expect = `hello from ${web.slice(-8)}`;
    const curl = async (ns: 'world' | 'host' | 'client', url: string) => {
      const args = ['-s', '-g', '--max-time', '3', url];
      const r = ns === 'world' ? await world.run('curl', args, { reject: false }) : ns === 'host' ? await host.run('curl', args, { reject: false }) : await execa('ip', ['netns', 'exec', clientNs, 'curl', ...args], { reject: false });
      return r.stdout.trim();
    };
    // let the servers listen
    for (let i = 0; i < 50 && (await curl('host', 'http://192.0.2.1:8080/')) !== expect; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal(await curl('world', 'http://192.0.2.1:8080/'), expect, 'from another machine, through the host\'s address');
    t.equal(await curl('host', 'http://192.0.2.1:8080/'), expect, 'from the host, to its own address');
    t.equal(await curl('host', 'http://127.0.0.1:8080/'), expect, 'from the host, to 127.0.0.1');
    t.equal(await curl('client', 'http://192.0.2.1:8080/'), expect, 'from a sandbox on the same bridge, through the host (hairpin)');
    t.equal(await curl('world', 'http://[fd00:192::1]:8080/'), expect, 'from another machine over IPv6, relayed to the container\'s IPv4 address');
    t.equal(await curl('host', 'http://[::1]:8080/'), expect, 'from the host over IPv6');
    t.equal(await curl('host', 'http://127.0.0.1:8081/'), `hello from ${local.slice(-8)}`, 'a port bound to 127.0.0.1 is reachable from the host');
    await world.run('ip', ['route', 'add', '127.0.0.0/8', 'via', '192.0.2.1', 'dev', 'eth0', 'onlink'], { reject: false });
    t.equal(await curl('world', 'http://127.0.0.1:8081/'), '', 'and not from another machine that routes 127.0.0.1 to the host');
    t.equal(await curl('world', 'http://192.0.2.1:8081/'), '', 'nor through the host\'s other addresses');
    const echo = await world.run(process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log(String(m));process.exit(0)});s.send('ping',5353,'192.0.2.1');setTimeout(()=>process.exit(1),3000)`], { reject: false });
    t.equal(echo.stdout.trim(), 'echo ping', 'udp from another machine');
  });
}
