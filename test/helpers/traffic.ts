/** What a user expects of a network on a real kernel: a published port, ping, NAT, DNS (shared by the firewall suites). */
import type { Test } from 'tap';
import { execa } from 'execa';
import { containerNames, netnsOf, type DaemonProcess, type Netns } from './host.js';

export const HTTP = `require('http').createServer((q, s) => s.end('up\\n')).listen(80, '0.0.0.0')`;
export const pings = async (ns: string, ip: string) => (await execa('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', ip], { reject: false })).exitCode === 0;
export const until = async (check: () => Promise<boolean>, tries = 50) => {
  for (let i = 0; i < tries; i++) if (await check()) return true;
  return false;
};
export const pause = () => new Promise((r) => setTimeout(r, 100));
export const pingsFrom = async (ns: Netns, ip: string) => (await ns.run('ping', ['-c', '1', '-W', '1', ip], { reject: false })).exitCode === 0;
export const pings6From = async (ns: Netns, ip: string) => (await ns.run('ping', ['-6', '-c', '1', '-W', '1', ip], { reject: false })).exitCode === 0;

/** A network 'fw' with a web server publishing 8080 and a plain container b; their namespaces and web's address. */
export async function world(t: Test, d: DaemonProcess) {
  const name = containerNames(t);
  t.equal((await d.request('POST', '/v1.48/networks/create', { Name: 'fw', IPAM: { Config: [{ Subnet: '10.77.0.0/24' }] } })).status, 201);
  const web = name('web'), b = name('b');
  for (const [c, cmd, ports] of [[web, [process.execPath, '-e', HTTP], { '80/tcp': [{ HostPort: '8080' }] }], [b, ['sleep', '300'], {}]] as const) {
    const r = await d.request('POST', `/v1.48/containers/create?name=${c}`, { Image: 'x', Cmd: cmd, HostConfig: { NetworkMode: 'fw', PortBindings: ports } });
    t.equal(r.status, 201, r.text);
    t.equal((await d.request('POST', `/v1.48/containers/${c}/start`)).status, 204);
  }
  const ipW = (await d.request('GET', `/v1.48/containers/${web}/json`)).body.NetworkSettings.Networks.fw.IPAddress as string;
  return { web, b, ipW, bns: await netnsOf(d, b) };
}

/** Everything a user expects of a network, seen from the containers and from another machine. */
export async function traffic(t: Test, outside: Netns, w: Awaited<ReturnType<typeof world>>, label: string) {
  const curl = async () => (await outside.run('curl', ['-s', '--max-time', '2', 'http://192.0.2.1:8080/'], { reject: false })).stdout.trim() === 'up';
  t.ok(await until(async () => (await curl()) || (await pause(), false)), `${label}: the published port answers another machine`);
  t.ok(await pings(w.bns, w.ipW), `${label}: b reaches web on their network`);
  t.ok(await pings(w.bns, '192.0.2.2'), `${label}: b reaches the other machine (NAT)`);
  const dns = await execa('ip', ['netns', 'exec', w.bns, 'nslookup', w.web, '127.0.0.11'], { reject: false });
  t.match(dns.stdout, new RegExp(`Address: ${w.ipW.replace(/\./g, '\\.')}`), `${label}: the embedded DNS server answers b`);
}

