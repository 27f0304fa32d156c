/** Encrypted overlays' pure parts: names, ports and tunnel addresses, the key pair, wg's argv and dump. */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tunnelAddress, wireguardLink, wireguardPort } from '../../src/drivers/wireguard.js';
import { loadOrCreateKey, publicKeyOf } from '../../src/host/wireguard-key.js';
import { parseWgDump, wgCommand } from '../../src/host/wg-text.js';
import { HostTextError } from '../../src/host/text-gate.js';

const key = (c: string) => c.repeat(42) + 'A=';

t.test('names, ports and tunnel addresses', async (t) => {
  t.equal(wireguardLink('0123456789'.repeat(7), 'abcdef0123'.repeat(7)), 'wg012345abcdef0', '15 characters: the node, then the network');
  t.equal(wireguardPort(4096), 51900);
  t.equal(wireguardPort(4097), 51901);
  t.ok([1, 4095, 2 ** 24 - 1].every((v) => wireguardPort(v) >= 51900 && wireguardPort(v) <= 65535), 'every VXLAN id has a port');
  t.equal(tunnelAddress(4096, 'abcdef0123456789'.repeat(4)), 'fd63:6e6d:0:1000:abcd:ef01:2345:6789');
  t.equal(tunnelAddress(0x123456, '0'.repeat(64)), 'fd63:6e6d:12:3456::', 'written as ip prints it (RFC 5952)');
});

t.test('the key pair: the public key is what wg pubkey prints; the file is made once, 0600', async (t) => {
  // a pair made by wg genkey | wg pubkey
  t.equal(publicKeyOf('4CilkUD4fCgm8wLIKTAjpFLJpDtFDFrp5eph0jOOzEo='), 'wF3ybtsGGokiweThFuOfKvk5nQ0ouvmDm1Mu2eRb/UA=');
  const dir = mkdtempSync('/tmp/cnmd-wgkey-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'wireguard.key');
  const pub = loadOrCreateKey(file);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(publicKeyOf(readFileSync(file, 'utf8').trim()), pub);
  t.equal(loadOrCreateKey(file), pub, 'kept across restarts');
  writeFileSync(file, 'not a key\n');
  t.throws(() => loadOrCreateKey(file), /is not a WireGuard private key/);
});

t.test("wg's argv: only the shapes cnmd writes; the private key by its file", async (t) => {
  const config = { keyFile: '/var/lib/cnmd/wireguard.key', publicKey: key('A'), port: 51900, peers: [{ publicKey: key('B'), endpoint: '10.0.0.2:51900', allowedIp: 'fd63:6e6d:0:1000::2/128' }] };
  t.same(wgCommand({ op: 'set', dev: 'wg012345abcdef0', config, remove: [key('C')] }), {
    file: 'wg',
    args: ['set', 'wg012345abcdef0', 'listen-port', '51900', 'private-key', '/var/lib/cnmd/wireguard.key', 'peer', key('B'), 'endpoint', '10.0.0.2:51900', 'allowed-ips', 'fd63:6e6d:0:1000::2/128', 'peer', key('C'), 'remove'],
  });
  t.same(wgCommand({ op: 'start', dev: 'wg012345abcdef0' }), { file: 'wireguard-go', args: ['wg012345abcdef0'] });
  const refused = (what: string, f: () => unknown) => t.throws(f, HostTextError, what);
  refused('a link that is not ours', () => wgCommand({ op: 'start', dev: 'eth0' }));
  refused('a key with more in it', () => wgCommand({ op: 'set', dev: 'wg012345abcdef0', config: { ...config, peers: [{ ...config.peers[0], publicKey: `${key('B')} allowed-ips ::/0` }] }, remove: [] }));
  refused('a peer allowed more than its address', () => wgCommand({ op: 'set', dev: 'wg012345abcdef0', config: { ...config, peers: [{ ...config.peers[0], allowedIp: '::/0' }] }, remove: [] }));
  refused('an endpoint that is a name', () => wgCommand({ op: 'set', dev: 'wg012345abcdef0', config: { ...config, peers: [{ ...config.peers[0], endpoint: 'evil.example:1' }] }, remove: [] }));
});

t.test('wg show all dump, without the private key', async (t) => {
  const dump = [
    `wg012345abcdef0\tPRIVATE\t${key('A')}\t51900\toff`,
    `wg012345abcdef0\t${key('B')}\t(none)\t10.0.0.2:51900\tfd63:6e6d:0:1000::2/128\t0\t0\t0\toff`,
    `wg999999abcdef0\t${key('D')}\t${key('E')}\t51901\toff`,
    `wg999999abcdef0\t${key('F')}\t(none)\t(none)\t(none)\t0\t0\t0\toff`,
  ].join('\n');
  const m = parseWgDump(dump);
  t.same([...m.keys()], ['wg012345abcdef0', 'wg999999abcdef0']);
  t.same(m.get('wg012345abcdef0'), { publicKey: key('A'), port: 51900, peers: new Map([[key('B'), { endpoint: '10.0.0.2:51900', allowedIps: ['fd63:6e6d:0:1000::2/128'] }]]) });
  t.same(m.get('wg999999abcdef0')!.peers.get(key('F')), { endpoint: '', allowedIps: [] });
  t.notMatch(JSON.stringify([...m.values()].map((v) => ({ ...v, peers: [...v.peers] }))), /PRIVATE/, 'the private key is not kept');
});
