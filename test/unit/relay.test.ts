/**
 * The daemon's port relay (IPv6 host addresses, ::1): at most relayLimits.flows clients per port,
 * idle ones dropped. On loopback only.
 */
import t from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, connect, type AddressInfo } from 'node:net';
import { ExecaExecutor, RELAY_MAX_FLOWS } from '../../src/host/executor.js';

const udpEcho = async () => {
  const s = createSocket('udp4');
  s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
};

const ask = (client: Socket, port: number, text: string) =>
  new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(''), 500);
    client.once('message', (m) => {
      clearTimeout(timer);
      resolve(String(m));
    });
    client.send(text, port, '127.0.0.1');
  });

t.test('UDP: at most N clients per relayed port; a new one past it is dropped and counted; an idle one makes room', async (t) => {
  t.equal(RELAY_MAX_FLOWS, 1024);
  const exec = new ExecaExecutor();
  let refused = 0;
  Object.assign(exec.relayLimits, { flows: 2, udpIdleMs: 300, onRefused: () => refused++ });
  const echo = await udpEcho();
  t.teardown(() => echo.close());
  const port = await exec.reservePort('udp', '127.0.0.1', 0);
  t.teardown(() => exec.releasePort('udp', '127.0.0.1', port));
  exec.forwardPort('udp', '127.0.0.1', port, { ip: '127.0.0.1', port: (echo.address() as AddressInfo).port });
  const clients = [0, 1, 2].map(() => createSocket('udp4'));
  t.teardown(() => clients.forEach((c) => c.close()));
  t.equal(await ask(clients[0], port, 'a'), 'echo:a');
  t.equal(await ask(clients[1], port, 'b'), 'echo:b');
  t.equal(await ask(clients[2], port, 'c'), '', 'the third client gets nothing');
  t.equal(refused, 1);
  t.equal(await ask(clients[0], port, 'a2'), 'echo:a2', 'the first two keep working');
  await new Promise((r) => setTimeout(r, 700));
  t.equal(await ask(clients[2], port, 'c2'), 'echo:c2', 'after the idle ones were dropped there is room');
});

t.test('TCP: at most N connections per relayed port; one more is closed at once', async (t) => {
  const exec = new ExecaExecutor();
  let refused = 0;
  Object.assign(exec.relayLimits, { flows: 1, onRefused: () => refused++ });
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = await exec.reservePort('tcp', '127.0.0.1', 0);
  t.teardown(() => exec.releasePort('tcp', '127.0.0.1', port));
  exec.forwardPort('tcp', '127.0.0.1', port, { ip: '127.0.0.1', port: (server.address() as AddressInfo).port });
  const talk = (text: string) =>
    new Promise<string>((resolve) => {
      const c = connect({ host: '127.0.0.1', port });
      let got = '';
      c.on('data', (d) => {
        got += d;
        if (got.length >= text.length) resolve(got);
      });
      c.on('close', () => resolve(got));
      c.on('error', () => resolve(got));
      c.write(text);
      t.teardown(() => c.destroy());
    });
  t.equal(await talk('first'), 'first', 'the first connection is relayed and stays open');
  t.equal(await talk('second'), '', 'the second is closed at once');
  t.equal(refused, 1);
});

t.test('a host command past its timeout is killed, with a message that says so', async (t) => {
  const { COMMAND_TIMEOUTS_MS } = await import('../../src/host/executor.js');
  t.equal(COMMAND_TIMEOUTS_MS['iptables-restore'], 30_000, 'iptables-restore may wait for the xtables lock');
  t.equal(COMMAND_TIMEOUTS_MS.ip, 15_000);
  const exec = new ExecaExecutor();
  const started = Date.now();
  const err = await exec.run('sleep', ['30'], { timeoutMs: 200 }).then(() => undefined, (e: Error) => e);
  t.ok(Date.now() - started < 5000, 'it did not run to its end');
  t.match(err?.message, 'sleep did not finish within 0.2 s and was killed');
});

t.test('a batch may take its tool\'s timeout plus a share per line (1000 link deletions take the kernel 15-50 s)', async (t) => {
  const { commandTimeout, COMMAND_TIMEOUTS_MS, BATCH_LINE_MS } = await import('../../src/host/executor.js');
  t.equal(commandTimeout('ip', ''), COMMAND_TIMEOUTS_MS.ip, 'no input: the tool\'s own');
  t.equal(commandTimeout('ip', 'link del dev a\nlink del dev b\n'), COMMAND_TIMEOUTS_MS.ip + 2 * BATCH_LINE_MS.ip);
  const thousand = Array.from({ length: 1000 }, (_, i) => `link del dev cnmd-${i}\n`).join('');
  t.ok(commandTimeout('ip', thousand) >= 1000 * 50, 'a thousand deletions at 50 ms each fit');
  t.equal(commandTimeout('nft', 'add element inet cnmd x { 1 }\n'.repeat(50)), COMMAND_TIMEOUTS_MS.nft, 'nft applies a script as one transaction: no share per line');
  t.equal(commandTimeout('true', ''), 60_000, 'a tool without its own timeout: a minute');
});
