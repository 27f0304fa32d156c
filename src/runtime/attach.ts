/**
 * `docker attach`, `docker run` in the foreground, `docker start -a`: a client connection joined to a
 * container's command. Output is followed in the log files (so a command outlives the daemon);
 * stdin goes to the shim; the session ends when the command does (its output drained), when the
 * client types the detach keys, or when the client goes.
 */
import type { Readable, Writable } from 'node:stream';
import { LogFollower, type LogPaths } from './logs.js';
import { DetachScanner, frame } from './streams.js';
import type { Processes } from './processes.js';
import { readFile } from 'node:fs/promises';

export interface AttachTarget {
  id: string;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  running: boolean;
  logs: LogPaths;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  stream: boolean;
  /** replay what was logged before */
  logs: boolean;
  detachKeys: Buffer;
}

export interface ClientIO {
  output: Writable;
  /** the client's input (an upgraded connection), paused until the session reads it; absent for a plain streamed response */
  input?: Readable;
}

/** Resolves when the session is over. gone: settles when the container is removed (a failed start of a --rm one). */
export async function attach(io: ClientIO, t: AttachTarget, o: AttachOptions, processes: Processes, gone?: Promise<unknown>): Promise<void> {
  const write = (stream: 1 | 2, data: Buffer) => {
    if (!data.length || io.output.destroyed || io.output.writableEnded) return;
    io.output.write(t.tty ? data : frame(stream, data));
  };
  const streams: Array<[1 | 2, string]> = [];
  if (o.stdout) streams.push([1, t.logs.stdoutPath]);
  if (o.stderr && !t.tty) streams.push([2, t.logs.stderrPath]);
  if (!o.stream) {
    if (o.logs) for (const [s, path] of streams) write(s, (await readFile(path).catch(() => Buffer.alloc(0))) as Buffer);
    io.input?.resume();
    return void io.output.end();
  }
  // with logs, the followers start at the beginning: the replay, then what comes
  const followers = streams.map(([s, path]) => new LogFollower(path, (d) => write(s, d)));
  await Promise.all(followers.map((f) => f.start(o.logs ? 'start' : 'end')));
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = async (drain: boolean) => {
      if (done) return;
      done = true;
      off();
      if (drain) await Promise.all(followers.map((f) => f.drain()));
      for (const f of followers) f.close();
      if (!io.output.destroyed) io.output.end();
      resolve();
    };
    // a created or exited container: wait for its next run, then for that run's end
    let started = t.running;
    const off = processes.subscribe(t.id, {
      start: () => {
        started = true;
        flushInput();
      },
      end: () => {
        if (started) void finish(true);
      },
    });
    if (t.running && !processes.running(t.id)) void finish(true);
    io.output.on('close', () => void finish(false));
    io.output.on('error', () => void finish(false));
    void gone?.then(() => finish(true));
    let detached = false;

    const pending: Buffer[] = [];
    // the client's input may end before the command starts (`echo x | docker run -i`): its end waits too
    let inputEnded = false;
    const flushInput = () => {
      const input = processes.input(t.id);
      if (!input) return;
      for (const b of pending.splice(0)) input.write(b);
      if (inputEnded && !t.tty && t.stdinOnce) input.closeStdin();
    };
    if (o.stdin && t.openStdin && io.input) {
      const scanner = new DetachScanner(o.detachKeys);
      io.input.on('data', (chunk: Buffer) => {
        const { pass, detach } = scanner.feed(chunk);
        if (pass.length) {
          pending.push(pass);
          flushInput();
        }
        if (detach) {
          detached = true;
          void finish(false);
        }
      });
      // The client's input ended (as Docker: the docker CLI sends no detach keys, it detaches by going).
      // Without a terminal and with StdinOnce, the command's input ends too; with a terminal the session does.
      io.input.on('end', () => {
        if (detached) return;
        inputEnded = true;
        if (t.tty) void finish(false);
        else flushInput();
      });
    }
    // read from here on (what came with the request is waiting); without stdin, to see the client go
    io.input?.resume();
  });
}
