/**
 * Run by the executor inside a sandbox's network namespace (nsenter --net=PATH node bind-in-netns.js IP PORT)
 * with an IPC channel: binds a UDP socket and a TCP listener on IP:PORT there, hands both to the
 * daemon over the channel, and exits. The daemon then serves, from its own namespace, sockets that
 * live in the sandbox's (how the DNS server answers on 127.0.0.11 inside macvlan sandboxes).
 */
import dgram from 'node:dgram';
import net from 'node:net';

const [ip, port] = [process.argv[2], Number(process.argv[3])];
const fail = (e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
};
const udp = dgram.createSocket('udp4');
udp.once('error', fail);
udp.bind({ address: ip, port, exclusive: true }, () => {
  const tcp = net.createServer();
  tcp.once('error', fail);
  tcp.listen({ host: ip, port, exclusive: true }, () => {
    process.send!('udp', udp, () =>
      process.send!('tcp', tcp, () => {
        // the daemon holds its own copies now
        udp.close();
        tcp.close();
        process.disconnect!();
      }),
    );
  });
});
