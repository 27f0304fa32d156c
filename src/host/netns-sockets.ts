/** Sockets made inside a network namespace by a short-lived helper (bind-in-netns.ts) and handed over. */
import { spawn } from 'node:child_process';
import { packageFile } from '../paths.js';
import type { Socket } from 'node:dgram';
import type { Server, Socket as NetSocket } from 'node:net';

export class NamespaceSocketError extends Error {}

/** Runs the helper in the namespace at path with args; resolves with the handles it sent, by name. */
export function socketsFromNamespace(path: string, args: string[], wanted: string[]): Promise<Map<string, Socket | Server | NetSocket>> {
  const helper = packageFile('dist/host/bind-in-netns.js');
  const child = spawn('nsenter', [`--net=${path}`, process.execPath, helper, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    const got = new Map<string, Socket | Server | NetSocket>();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('message', (m, handle) => {
      if (typeof m === 'string' && handle) got.set(m, handle as Socket | Server | NetSocket);
    });
    child.once('error', (e) => reject(e));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (wanted.every((w) => got.has(w))) resolve(got);
      else {
        for (const h of got.values()) 'destroy' in h ? h.destroy() : h.close();
        reject(new NamespaceSocketError(`nsenter --net=${path} ${args.join(' ')}: ${stderr.trim() || `exit status ${code}`}`));
      }
    });
  });
}
