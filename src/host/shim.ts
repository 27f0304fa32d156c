/**
 * The shim: cnmd runs one for each container command that has a terminal or an open stdin
 * (`docker run -it`), as `node shim.js SPEC`. It holds the pseudo-terminal or the stdin pipe, so the
 * command outlives a restart (or a crash) of the daemon; writes the command's output to the
 * container's log files, which the daemon follows; takes stdin, terminal sizes and the end of input
 * from the daemon on a control socket; records the exit code in a file; and exits after the command.
 */
import { openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import { spawnChild } from './child.js';
import { FRAME, FrameDecoder, encodeFrame } from './shim-protocol.js';

export interface ShimSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  tty?: { cols: number; rows: number };
  stdoutPath: string;
  stderrPath: string;
  /** the control socket */
  socketPath: string;
  /** where the exit code is written: JSON {"pid","exitCode"} */
  statusPath: string;
}

function main(): void {
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as ShimSpec;
  rmSync(process.argv[2], { force: true });
  const out = openSync(spec.stdoutPath, 'a', 0o600);
  const err = spec.tty ? out : openSync(spec.stderrPath, 'a', 0o600);
  rmSync(spec.socketPath, { force: true });
  const clients = new Set<net.Socket>();
  let exitCode: number | undefined;
  const bye = () => encodeFrame(FRAME.exit, Buffer.from(JSON.stringify({ exitCode })));
  const server = net.createServer((sock) => {
    clients.add(sock);
    sock.on('close', () => clients.delete(sock));
    sock.on('error', () => undefined);
    sock.write(encodeFrame(FRAME.hello, Buffer.from(JSON.stringify({ pid: child.pid }))));
    // the command already ended (before the daemon first came): it learns the exit at once
    if (exitCode !== undefined) sock.end(bye());
    const frames = new FrameDecoder();
    sock.on('data', (chunk) => {
      for (const f of frames.feed(chunk)) {
        if (f.type === FRAME.stdin) child.write(f.payload);
        else if (f.type === FRAME.resize && f.payload.length === 4) child.resize(f.payload.readUInt16BE(0), f.payload.readUInt16BE(2));
        else if (f.type === FRAME.closeStdin) child.closeStdin();
      }
    });
  });
  const child = spawnChild(spec.file, spec.args, {
    env: spec.env,
    tty: spec.tty,
    stdin: true,
    ...(spec.tty ? {} : { stdoutFd: out, stderrFd: err }),
  });
  // on a terminal, the output comes through us: into the log the daemon follows
  child.onOutput((_stream, data) => writeSync(out, data));
  server.listen(spec.socketPath);
  let served = false;
  server.on('connection', () => (served = true));
  void child.exit.then((code) => {
    exitCode = code;
    writeFileSync(spec.statusPath, JSON.stringify({ pid: child.pid, exitCode }));
    for (const c of clients) c.end(bye());
    const finish = () => {
      server.close();
      rmSync(spec.socketPath, { force: true });
      setTimeout(() => process.exit(0), 50).unref();
    };
    if (served) return finish();
    // a command that ended before the daemon connected (echo): the daemon that started us is still coming
    const wait = setTimeout(finish, 10_000);
    server.once('connection', () => {
      clearTimeout(wait);
      finish();
    });
  });
  // the daemon going away must not take us (or the command) with it
  process.on('SIGHUP', () => undefined);
  process.on('SIGPIPE', () => undefined);
}

main();
