/**
 * The bridge walkthrough end to end, with the docker CLI, on a throwaway test host: name resolution
 * between containers, a published port reached from another machine and from the host, and the
 * embedded DNS server (aliases, round robin, AAAA, forwarding to a resolver the test runs itself).
 */
import t, { type Test } from 'tap';
import { createRequire } from 'node:module';
import { execa } from 'execa';
import { hostTestsReady, makeWorld, containerNames, FIREWALL, nftElements, type Netns } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';

if (await hostTestsReady(t, await compatUnavailable())) {
  await walkthrough();
}

type Docker = (...args: string[]) => Promise<{ stdout: string; stderr: string; exitCode: number }>;

/** Asks the DNS server the container's resolv.conf names, from inside the container (docker exec). */
async function lookup(docker: Docker, c: string, name: string, type: 'A' | 'AAAA' = 'A'): Promise<string> {
  const script = `const fs=require('fs');const s=/nameserver (\\S+)/.exec(fs.readFileSync('/etc/resolv.conf','utf8'))[1];
const r=new (require('dns').promises.Resolver)({timeout:3000,tries:1});r.setServers([s]);
r.${type === 'A' ? 'resolve4' : 'resolve6'}(process.argv[1]).then(a=>console.log(a.join(' ')),e=>console.log(e.code))`;
  return (await docker('exec', c, process.execPath, '-e', script, name)).stdout.trim();
}

/**
 * A DNS resolver of the test's own, in "another machine": example.test is 203.0.113.7; big.test is 40
 * addresses, over TCP only (over UDP the answer is truncated, as a real server's that does not fit).
 */
async function upstream(t: Tap, world: Netns): Promise<void> {
  const script = `const dgram=require('dgram');const p=require(${JSON.stringify(require.resolve('dns-packet'))});
const s=dgram.createSocket('udp4');s.on('message',(m,r)=>{const q=p.decode(m);const known=q.questions[0].name==='example.test';const tc=q.questions[0].name==='big.test';
s.send(p.encode({id:q.id,type:'response',flags:p.RECURSION_AVAILABLE|(tc?p.TRUNCATED_RESPONSE:known?0:3),questions:q.questions,answers:known?[{type:'A',name:'example.test',ttl:60,data:'203.0.113.7'}]:[]}),r.port,r.address)});
const big=(q)=>p.encode({id:q.id,type:'response',flags:p.RECURSION_AVAILABLE,questions:q.questions,answers:Array.from({length:40},(_,i)=>({type:'A',name:'big.test',ttl:60,data:'203.0.113.'+(i+1)}))});
const tcp=require('net').createServer((c)=>{let b=Buffer.alloc(0);c.on('data',(d)=>{b=Buffer.concat([b,d]);if(b.length<2||b.length<2+b.readUInt16BE(0))return;const r=big(p.decode(b.subarray(2,2+b.readUInt16BE(0))));const h=Buffer.alloc(2);h.writeUInt16BE(r.length);c.end(Buffer.concat([h,r]))})});
s.bind(53,'192.0.2.2',()=>tcp.listen(53,'192.0.2.2',()=>console.log('ready')));setTimeout(()=>process.exit(0),60000).unref()`;
  const child = execa('nsenter', [`--net=/run/netns/${world.name}`, process.execPath, '-e', script], { reject: false });
  t.teardown(() => void child.kill());
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
}
/** A DNS server to run in a container (on 0.0.0.0:53 inside it): example.test is `address`. */
function resolverScript(address: string): string {
  return `const dgram=require('dgram');const p=require(${JSON.stringify(require.resolve('dns-packet'))});
const s=dgram.createSocket('udp4');s.on('message',(m,r)=>{const q=p.decode(m);const known=q.questions[0].name==='example.test';
s.send(p.encode({id:q.id,type:'response',flags:p.RECURSION_AVAILABLE|(known?0:3),questions:q.questions,answers:known?[{type:'A',name:'example.test',ttl:60,data:'${address}'}]:[]}),r.port,r.address)});
s.bind(53,'0.0.0.0');setInterval(()=>{},1e9)`;
}
type Tap = Test;
const require = createRequire(import.meta.url);

async function walkthrough() {
  const name = containerNames(t);
  const { host, docker } = await cliAgainstDaemon(t, 'e2e');
  // "another machine", on the test host's uplink
  const world = await makeWorld(t, host);
  const ok = async (t: Tap, ...args: string[]) => {
    const r = await docker(...args);
    t.equal(r.exitCode, 0, `docker ${args.join(' ')} ${r.stderr}`);
    return r.stdout;
  };

  t.test('the walkthrough', async (t) => {
    const b1 = name('busybox1'), b2 = name('busybox2'), web = name('web');
    await ok(t, 'network', 'create', '-d', 'bridge', 'my-net');
    await ok(t, 'run', '-d', '--name', b1, '--network', 'my-net', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', b2, '--network', 'my-net', 'busybox', 'sleep', '1d');
    for (const [from, to] of [[b1, b2], [b2, b1]]) {
      const p = await docker('exec', from, 'ping', '-c', '3', '-i', '0.2', '-W', '1', to);
      t.match(p.stdout, ' 0% packet loss', `docker exec ${from.slice(-12)} ping -c 3 ${to.slice(-12)}: resolved by name, from inside`);
    }
    const net = JSON.parse(await ok(t, 'network', 'inspect', 'my-net'))[0];
    t.same(Object.values(net.Containers).map((c: any) => [c.Name, /^172\.18\.0\.\d+\/16$/.test(c.IPv4Address), /^02:42:ac:12:00:/.test(c.MacAddress)]).sort(),
      [[b1, true, true], [b2, true, true]].sort());
    await ok(t, 'run', '-d', '--name', web, '--network', 'my-net', '-p', '8080:80', 'busybox', 'python3', '-m', 'http.server', '80', '--bind', '0.0.0.0');
    const fromWorld = async () => (await world.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', 'http://192.0.2.1:8080/'], { reject: false })).stdout;
    for (let i = 0; i < 60 && (await fromWorld()) !== '200'; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal(await fromWorld(), '200', 'curl http://<host address>:8080/ from another machine');
    t.equal((await host.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', 'http://127.0.0.1:8080/'], { reject: false })).stdout, '200', 'curl http://127.0.0.1:8080/ from the host');
    t.equal(await ok(t, 'port', web), '80/tcp -> 0.0.0.0:8080');
    if (FIREWALL === 'iptables') {
      const nat = (await host.run('iptables', ['-t', 'nat', '-S'])).stdout;
      t.match(nat, /-A CNMD-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "cnmd:[0-9a-f]{12}" -j DNAT --to-destination 172\.18\.0\.\d+:80/, 'the DNAT for 8080 in a chain of ours');
    } else {
      const dnat = (await nftElements(host))?.get('ports4any')?.get('tcp . 8080');
      t.match(dnat, { value: /^172\.18\.0\.\d+ \. 80$/, owner: /^cnmd:[0-9a-f]{12}$/ }, 'the DNAT for 8080: an element of our table, marked as the container\'s');
    }
    const conflict = await docker('run', '-d', '--name', name('web2'), '--network', 'my-net', '-p', '8080:80', 'busybox', 'sleep', '1d');
    t.match(conflict.stderr, 'Bind for 0.0.0.0:8080 failed: port is already allocated');
    await ok(t, 'rm', '-f', b1, b2, web);
  });

  t.test('name resolution: aliases, round robin, AAAA, name.network, two networks, forwarding, disconnect', async (t) => {
    await upstream(t, world);
    // a host firewall like ufw's: replies come in, nothing else
    await host.run('iptables', ['-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
    await host.run('iptables', ['-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT']);
    await host.run('iptables', ['-P', 'INPUT', 'DROP']);
    await ok(t, 'network', 'create', '--ipv6', '--subnet', 'fd00:e2e::/64', 'dns-a');
    await ok(t, 'network', 'create', 'dns-b');
    await ok(t, 'network', 'create', '--internal', 'dns-int');
    const c1 = name('c1'), c2 = name('c2'), c3 = name('c3'), q = name('q'), iso = name('iso');
    await ok(t, 'run', '-d', '--name', c1, '--network', 'dns-a', '--network-alias', 'shared', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', c2, '--network', 'dns-a', '--network-alias', 'shared', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', c3, '--network', 'dns-b', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', q, '--network', 'dns-a', '--dns', '192.0.2.2', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', iso, '--network', 'dns-int', '--dns', '192.0.2.2', 'busybox', 'sleep', '1d');
    const ip = async (c: string, net: string, f = 'IPAddress') => ok(t, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").${f}}}`, c);
    const [ip1, ip2] = [await ip(c1, 'dns-a'), await ip(c2, 'dns-a')];
    t.equal(await lookup(docker, q, c1), ip1, 'a container name (with the host\'s INPUT policy at DROP)');
    t.equal(await lookup(docker, q, `${c1}.dns-a`), ip1, 'name.network');
    const rr1 = (await lookup(docker, q, 'shared')).split(' ');
    const rr2 = (await lookup(docker, q, 'shared')).split(' ');
    t.same([...rr1].sort(), [ip1, ip2].sort(), 'a shared alias gives both addresses');
    t.not(rr1[0], rr2[0], 'in rotating order');
    t.equal(await lookup(docker, q, c1, 'AAAA'), await ip(c1, 'dns-a', 'GlobalIPv6Address'), 'AAAA');
    t.equal(await lookup(docker, q, c3), 'ENOTFOUND', 'not on a shared network: not resolved (forwarded, and the test resolver says NXDOMAIN)');
    t.equal(await lookup(docker, q, 'example.test'), '203.0.113.7', 'other names go to the container\'s --dns server');
    t.equal(await lookup(docker, iso, 'example.test'), 'ESERVFAIL', 'a sandbox only on internal networks gets no forwarding');
    const many = (await lookup(docker, q, 'big.test')).split(' ');
    t.equal(many.length, 40, `an answer too large for UDP: truncated there, then asked over TCP and forwarded over TCP, whole (got ${many.slice(0, 3)}…)`);
    await ok(t, 'network', 'connect', 'dns-b', q);
    t.equal(await lookup(docker, q, c3), await ip(c3, 'dns-b'), 'connected to a second network: its names resolve at once');
    t.equal(await lookup(docker, q, c1), ip1, 'and those of the first still do');
    await ok(t, 'network', 'disconnect', 'dns-b', q);
    t.equal(await lookup(docker, q, c3), 'ENOTFOUND', 'disconnected: gone at once');
    await ok(t, 'stop', '-t', '1', c1);
    const afterStop = await lookup(docker, q, 'shared');
    t.equal(afterStop, ip2, `a stopped container's names are gone (got ${afterStop})`);
    // a DNS server of the user's own, in a container: names go to it from inside the asking container,
    // so the isolation between networks holds for them as for any packet
    const res = name('res'), resInt = name('resint'), q2 = name('q2'), iso2 = name('iso2');
    await ok(t, 'run', '-d', '--name', res, '--network', 'dns-b', 'busybox', process.execPath, '-e', resolverScript('203.0.113.9'));
    await ok(t, 'run', '-d', '--name', resInt, '--network', 'dns-int', 'busybox', process.execPath, '-e', resolverScript('203.0.113.10'));
    const [resIp, resIntIp] = [await ip(res, 'dns-b'), await ip(resInt, 'dns-int')];
    await ok(t, 'run', '-d', '--name', q2, '--network', 'dns-a', '--dns', resIp, 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', iso2, '--network', 'dns-int', '--dns', resIntIp, 'busybox', 'sleep', '1d');
    for (let i = 0; i < 50 && (await lookup(docker, iso2, 'example.test')) !== '203.0.113.10'; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal(await lookup(docker, iso2, 'example.test'), '203.0.113.10', 'internal network: a DNS server on that network answers (forwarded from inside, as Docker 26)');
    t.equal(await lookup(docker, q2, 'example.test'), 'ESERVFAIL', 'a DNS server on another network is not reached through the daemon: isolation holds');
    t.equal(await lookup(docker, q2, c2), ip2, 'container names still answer');
    await ok(t, 'rm', '-f', c1, c2, c3, q, iso, res, resInt, q2, iso2);
  });
}
