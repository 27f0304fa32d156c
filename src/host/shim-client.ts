/**
 * The daemon's side of a shim (shim.ts): starting one, and connecting to it again after a restart.
 * The connection carries stdin, terminal sizes and the end of input to the shim, and tells the
 * command's pid and its exit.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { packageFile } from '../paths.js';
import net from 'node:net';
import type { ShimSpec } from './shim.js';
import { FRAME, FrameDecoder, encodeFrame, resizePayload } from './shim-protocol.js';

export type { ShimSpec } from './shim.js';

export interface ProcessInput {
  write(data: Buffer): void;
  closeStdin(): void;
  resize(cols: number, rows: number): void;
}

export interface ShimHandle {
  /** the command's pid */
  pid: number;
  /** the shim's pid (0 when not known: connected after a restart) */
  shimPid: number;
  input: ProcessInput;
  /** the command's exit code; 255 when the shim died without telling it */
  exit: Promise<number>;
}

const SHIM = packageFile('dist/host/shim.js');

export async function startShim(spec: ShimSpec): Promise<ShimHandle> {
  mkdirSync(dirname(spec.socketPath), { recursive: true });
  const specPath = `${spec.socketPath}.json`;
  writeFileSync(specPath, JSON.stringify(spec), { mode: 0o600 });
  chmodSync(specPath, 0o600);
  const child = spawn(process.execPath, [SHIM, specPath], { detached: true, stdio: 'ignore' });
  child.unref();
  const died = new Promise<void>((r) => child.once('exit', () => r()));
  const h = await connectShim(spec.socketPath, spec.statusPath, died);
  if (!h) throw new Error(`the shim for ${spec.file} did not start`);
  return { ...h, shimPid: child.pid ?? 0 };
}

/** Connects to a running shim; undefined when there is none (it ended, or never listened). */
export async function connectShim(socketPath: string, statusPath: string, died?: Promise<void>): Promise<ShimHandle | undefined> {
  let gone = false;
  void died?.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const sock = await tryConnect(socketPath);
    if (sock) return handshake(sock, statusPath);
    if (gone || Date.now() > deadline || (!died && !existsSync(socketPath))) return undefined;
    await new Promise((r) => setTimeout(r, 5));
  }
}

function tryConnect(path: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

function handshake(sock: net.Socket, statusPath: string): Promise<ShimHandle | undefined> {
  return new Promise((resolve) => {
    const frames = new FrameDecoder();
    let exitCode: number | undefined;
    let settleExit!: (code: number) => void;
    const exit = new Promise<number>((r) => (settleExit = r));
    sock.on('data', (chunk) => {
      for (const f of frames.feed(chunk)) {
        if (f.type === FRAME.hello) {
          const pid = Number(JSON.parse(f.payload.toString()).pid) || 0;
          resolve({ pid, shimPid: 0, input: inputOver(sock), exit });
        } else if (f.type === FRAME.exit) exitCode = Number(JSON.parse(f.payload.toString()).exitCode);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      resolve(undefined);
      settleExit(exitCode ?? readStatus(statusPath) ?? 255);
    });
  });
}

/** The exit code a shim recorded, if it did. */
export function readStatus(statusPath: string): number | undefined {
  try {
    const code = JSON.parse(readFileSync(statusPath, 'utf8')).exitCode;
    return typeof code === 'number' ? code : undefined;
  } catch {
    return undefined;
  }
}

function inputOver(sock: net.Socket): ProcessInput {
  const send = (type: number, payload?: Buffer) => {
    if (!sock.destroyed) sock.write(encodeFrame(type, payload));
  };
  return {
    write: (d) => send(FRAME.stdin, d),
    closeStdin: () => send(FRAME.closeStdin),
    resize: (cols, rows) => send(FRAME.resize, resizePayload(cols, rows)),
  };
}
