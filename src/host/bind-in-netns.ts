/**
 * Run by the executor inside a sandbox's network namespace with an IPC channel, it makes sockets
 * there, hands them to the daemon over the channel, and exits. The daemon then uses, from its own
 * namespace, sockets that live in the sandbox's:
 *   node bind-in-netns.js IP PORT     a UDP socket and a TCP listener on IP:PORT (how the DNS server
 *                                     answers on 127.0.0.11 inside macvlan sandboxes)
 *   node bind-in-netns.js --forwarder UDP sockets on any address and a free port, IPv4 and, where the
 *                                     namespace has it, IPv6 (how names are forwarded from inside)
 *   node bind-in-netns.js --connect IP PORT  a TCP connection to IP:PORT (a name asked over TCP,
 *                                     forwarded from inside)
 */
import dgram from 'node:dgram';
import net from 'node:net';

const fail = (e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
};

function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(type);
    s.once('error', () => resolve(undefined));
    s.bind({ address, port, exclusive: true }, () => resolve(s));
  });
}

/** Sends each named handle in turn, then leaves: the daemon holds its own copies by then. */
function hand(handles: Array<[string, dgram.Socket | net.Server | net.Socket]>): void {
  const [first, ...rest] = handles;
  if (!first) {
    process.disconnect!();
    return;
  }
  process.send!(first[0], first[1], () => {
    const h = first[1];
    if (h instanceof net.Socket) h.destroy();
    else h.close();
    hand(rest);
  });
}

if (process.argv[2] === '--connect') {
  const sock = net.connect({ host: process.argv[3], port: Number(process.argv[4]) });
  sock.once('error', fail);
  sock.once('connect', () => hand([['tcp', sock]]));
} else if (process.argv[2] === '--forwarder') {
  const udp4 = await bindUdp('udp4', '0.0.0.0', 0);
  if (!udp4) fail(new Error('cannot bind a UDP socket in this namespace'));
  const udp6 = await bindUdp('udp6', '::', 0);
  hand([['udp4', udp4!], ...(udp6 ? [['udp6', udp6] as [string, dgram.Socket]] : [])]);
} else {
  const [ip, port] = [process.argv[2], Number(process.argv[3])];
  const udp = dgram.createSocket('udp4');
  udp.once('error', fail);
  udp.bind({ address: ip, port, exclusive: true }, () => {
    const tcp = net.createServer();
    tcp.once('error', fail);
    tcp.listen({ host: ip, port, exclusive: true }, () => hand([['udp', udp], ['tcp', tcp]]));
  });
}
