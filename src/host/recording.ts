/**
 * An executor that changes nothing: it records every command (for tests and --dry-run) and answers
 * reads with scripted output. failOn() makes a matching command fail, to test rollbacks.
 */
import { Readable } from 'node:stream';
import type { PathStat, TarStream } from './archive.js';
import { type Child, type ChildOptions, type Executor, type NamespaceSockets, type ForwardSockets, type RunOptions, type RunResult, type ShimHandle, type ShimSpec, type SpawnOptions, type SpawnedProcess, HostCommandError, PortInUseError } from './executor.js';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket as NetSocket } from 'node:net';
import { constants } from 'node:os';

export interface RecordedCall {
  file: string;
  args: string[];
  input?: string;
}

type Matcher = (call: RecordedCall) => boolean;

export const matches = (pattern: string | RegExp): Matcher => (call) => {
  const text = [call.file, ...call.args].join(' ') + (call.input ? '\n' + call.input : '');
  return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
};

export class RecordingExecutor implements Executor {
  readonly calls: RecordedCall[] = [];
  private readonly responses: Array<{ match: Matcher; stdout: string }> = [];
  private readonly failures: Array<{ match: Matcher; stderr: string; times: number }> = [];
  readonly sysctls = new Map<string, string>();
  /** scripted kernel files (path -> content), e.g. /proc/net/route */
  readonly files = new Map<string, string>();
  /** names listed under /run/netns */
  readonly namespaces = new Set<string>();

  /** Scripted stdout for commands that match; the newest script wins. */
  respond(pattern: string | RegExp, stdout: string): this {
    this.responses.unshift({ match: matches(pattern), stdout });
    return this;
  }

  /** Make matching commands fail (times: how often; Infinity by default). */
  failOn(pattern: string | RegExp, stderr = 'injected failure', times = Infinity): this {
    this.failures.push({ match: matches(pattern), stderr, times });
    return this;
  }

  clear(): void {
    this.calls.length = 0;
  }

  clearFailures(): void {
    this.failures.length = 0;
  }

  /** The recorded calls as shell-like lines, stdin appended after a newline: handy in assertions. */
  lines(opts: { files?: boolean } = {}): string[] {
    return this.calls.filter((c) => opts.files !== false || (c.file !== 'write' && c.file !== 'remove')).map((c) => [c.file, ...c.args].join(' ') + (c.input ? '\n' + c.input.trimEnd() : ''));
  }

  async run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const call: RecordedCall = { file, args, input: opts.input };
    this.calls.push(call);
    const failure = this.failures.find((f) => f.times > 0 && f.match(call));
    if (failure) {
      failure.times--;
      throw new HostCommandError(file, args, failure.stderr, 1);
    }
    const scripted = this.responses.find((r) => r.match(call));
    return { stdout: scripted?.stdout ?? defaultOutput(file, args), stderr: '' };
  }

  async readSysctl(key: string): Promise<string | undefined> {
    return this.sysctls.get(key);
  }

  async readSysctls(keys: string[]): Promise<Map<string, string>> {
    return new Map(keys.filter((k) => this.sysctls.has(k)).map((k) => [k, this.sysctls.get(k)!]));
  }

  async readFile(path: string): Promise<string | undefined> {
    return this.files.get(path);
  }

  async writeFile(path: string, content: string): Promise<void> {
    this.calls.push({ file: 'write', args: [path], input: content });
    this.files.set(path, content);
  }

  async removePath(path: string): Promise<void> {
    this.calls.push({ file: 'remove', args: [path] });
    for (const k of [...this.files.keys()]) if (k === path || k.startsWith(path + '/')) this.files.delete(k);
  }

  async listDir(path: string): Promise<string[]> {
    return path === '/run/netns' ? [...this.namespaces] : [];
  }

  /** ports other programs hold ("tcp/0.0.0.0/8080"): reserving them fails */
  readonly takenPorts = new Set<string>();
  readonly heldPorts = new Set<string>();
  private nextPort = 32768;

  async reservePort(proto: 'tcp' | 'udp', ip: string, port: number): Promise<number> {
    const p = port || this.nextPort++;
    const clash = [...this.takenPorts, ...this.heldPorts].some((k) => {
      const [kp, kip, kport] = k.split('/');
      const any = (x: string) => x === '0.0.0.0' || x === '::';
      const fam = (x: string) => (x.includes(':') ? 6 : 4);
      return kp === proto && Number(kport) === p && fam(kip) === fam(ip) && (kip === ip || any(kip) || any(ip));
    });
    if (clash) throw new PortInUseError(`listen EADDRINUSE: address already in use ${ip}:${p}`);
    this.heldPorts.add(`${proto}/${ip}/${p}`);
    return p;
  }

  async releasePort(proto: 'tcp' | 'udp', ip: string, port: number): Promise<void> {
    this.heldPorts.delete(`${proto}/${ip}/${port}`);
  }

  async repairHeldPorts(): Promise<string[]> {
    return [];
  }

  forwardPort(proto: 'tcp' | 'udp', ip: string, port: number, to: { ip: string; port: number }): void {
    this.calls.push({ file: 'proxy', args: [`${proto}/[${ip}]:${port}`, `${to.ip}:${to.port}`] });
  }

  private nextPid = 40000;
  /** pretend processes: pid -> how to end it */
  readonly processes = new Map<number, (code: number) => void>();
  /** the environment each pretend process was started with */
  readonly processEnv = new Map<number, Record<string, string>>();

  spawnProcess(file: string, args: string[], opts: SpawnOptions): SpawnedProcess {
    this.calls.push({ file: 'spawn', args: [file, ...args] });
    const pid = this.nextPid++;
    this.processEnv.set(pid, opts.env);
    const exit = new Promise<number>((resolve) => this.processes.set(pid, resolve));
    return { pid, exit };
  }

  /** Records the binding; the sockets are real but bound nowhere (nothing reaches them). */
  async bindInNamespace(path: string, ip: string, port: number): Promise<NamespaceSockets> {
    this.calls.push({ file: 'bind', args: [path, `${ip}:${port}`] });
    return { udp: createSocket('udp4'), tcp: createServer() };
  }

  /** Records the call; the sockets are real, in this process's namespace, on loopback (tests run an upstream there). */
  async forwardSocketsInNamespace(path: string): Promise<ForwardSockets> {
    this.calls.push({ file: 'forwarder', args: [path] });
    const udp4 = createSocket('udp4');
    await new Promise<void>((r) => udp4.bind(0, '127.0.0.1', () => r()));
    return { udp4 };
  }

  /**
   * Records the call; the connection is real, from this process's namespace and from 127.0.0.1 as the
   * UDP sockets above, so that it reaches an upstream on loopback (tests run one there) and nothing else.
   */
  async connectInNamespace(path: string, ip: string, port: number): Promise<NetSocket> {
    this.calls.push({ file: 'connect', args: [path, `${ip}:${port}`] });
    const sock = connect({ host: ip, port, localAddress: ip.includes(':') ? '::1' : '127.0.0.1' });
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    return sock;
  }

  async findProcess(envEntry: string): Promise<number | undefined> {
    const [k, v] = [envEntry.slice(0, envEntry.indexOf('=')), envEntry.slice(envEntry.indexOf('=') + 1)];
    return [...this.processes.keys()].find((pid) => this.processEnv.get(pid)?.[k] === v);
  }

  /** input written to pretend processes with a shim or an exec session, by pid */
  readonly input = new Map<number, Buffer[]>();

  async startShim(spec: ShimSpec): Promise<ShimHandle> {
    this.calls.push({ file: 'shim', args: [spec.file, ...spec.args] });
    const p = this.spawnProcess(spec.file, spec.args, { env: spec.env, stdoutPath: spec.stdoutPath, stderrPath: spec.stderrPath });
    return { pid: p.pid, shimPid: 0, input: this.inputOf(p.pid), exit: p.exit };
  }

  async connectShim(): Promise<ShimHandle | undefined> {
    return undefined;
  }

  /** A pretend process that prints nothing and ends when signalled or exitProcess()ed. */
  spawnChild(file: string, args: string[], opts: ChildOptions): Child {
    const p = this.spawnProcess(file, args, { env: opts.env, stdoutPath: '', stderrPath: '' });
    return { pid: p.pid, onOutput: () => undefined, ...this.inputOf(p.pid), exit: p.exit };
  }

  private inputOf(pid: number) {
    const list: Buffer[] = [];
    this.input.set(pid, list);
    return { write: (d: Buffer) => void list.push(d), closeStdin: () => undefined, resize: () => undefined };
  }

  async processesIn(): Promise<number[]> {
    return [];
  }

  /** executables on the pretend host: every name, unless listed as missing */
  readonly missingExecutables = new Set<string>();

  async findExecutable(name: string, dirs: string[]): Promise<string | undefined> {
    if (this.missingExecutables.has(name)) return undefined;
    return name.includes('/') ? name : `${dirs[0] ?? '/usr/bin'}/${name}`;
  }

  /** paths that exist on the pretend host (besides files written) */
  readonly paths = new Set<string>(['/', '/tmp', '/etc', '/root', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname']);

  async exists(path: string): Promise<boolean> {
    return this.paths.has(path) || this.files.has(path);
  }

  async pathKind(path: string): Promise<'dir' | 'file' | undefined> {
    return this.files.has(path) || path.startsWith('/etc/') ? 'file' : this.paths.has(path) ? 'dir' : undefined;
  }

  async makeDirs(path: string): Promise<string[]> {
    this.calls.push({ file: 'mkdir', args: [path] });
    const made: string[] = [];
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const dir = '/' + parts.slice(0, i).join('/');
      if (!this.paths.has(dir)) made.push(dir);
      this.paths.add(dir);
    }
    return made;
  }

  async makePrivateMount(dir: string): Promise<void> {
    this.paths.add(dir);
  }

  async statPath(path: string, mnt?: string): Promise<PathStat | undefined> {
    this.calls.push({ file: 'stat', args: [path, ...(mnt ? [mnt] : [])] });
    const name = path.split('/').filter(Boolean).pop() ?? '/';
    const mtime = '2026-01-02T03:04:05.123456789Z';
    if (this.files.has(path)) return { name, size: Buffer.byteLength(this.files.get(path)!), mode: 0o644, mtime, linkTarget: '' };
    if (this.paths.has(path)) return { name, size: 4096, mode: 2 ** 31 + 0o755, mtime, linkTarget: '' };
    return undefined;
  }

  /** the archives docker cp extracted: where, in which mount namespace, what bytes */
  readonly extracted: Array<{ dir: string; mnt?: string; bytes: Buffer }> = [];

  tarOut(dir: string, name: string, mnt?: string, as?: string): TarStream {
    this.calls.push({ file: 'tar-out', args: [dir, name, ...(mnt ? [mnt] : []), ...(as ? [`as=${as}`] : [])] });
    return { stream: Readable.from([Buffer.from(`pretend tar of ${name} in ${dir}`)]), done: Promise.resolve() };
  }

  async tarIn(dir: string, input: Readable, mnt?: string): Promise<void> {
    this.calls.push({ file: 'tar-in', args: [dir, ...(mnt ? [mnt] : [])] });
    const chunks: Buffer[] = [];
    for await (const c of input) chunks.push(Buffer.from(c));
    this.extracted.push({ dir, ...(mnt ? { mnt } : {}), bytes: Buffer.concat(chunks) });
  }

  async removeEmptyDirs(paths: string[]): Promise<void> {
    this.calls.push({ file: 'rmdir', args: paths });
    for (const p of paths) this.paths.delete(p);
  }

  /** Ends a pretend process as if it exited by itself. */
  exitProcess(pid: number, code: number): void {
    this.processes.get(pid)?.(code);
    this.processes.delete(pid);
  }

  signal(pid: number, sig: NodeJS.Signals | number): boolean {
    if (!this.processes.has(pid)) return false;
    const n = typeof sig === 'number' ? sig : (constants.signals[sig] ?? 0);
    // signals whose default action is not to end the process (SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, …, SIGWINCH)
    if (n !== 0 && ![17, 18, 19, 20, 21, 22, 23, 28].includes(n)) this.exitProcess(pid, 128 + n);
    return true;
  }

  /** network namespaces of the pretend host, by path (besides /run/netns/*); '/proc/self/ns/net' is the daemon's */
  readonly netns = new Map<string, string>([['/proc/self/ns/net', 'host'], ['/proc/1/ns/net', 'host']]);

  /** namespace files that are gone (an adopted namespace deleted by its owner) */
  readonly goneNetns = new Set<string>();

  async netnsIdentity(path: string): Promise<string | undefined> {
    if (this.goneNetns.has(path)) return undefined;
    if (this.netns.has(path)) return this.netns.get(path);
    return /^\/run\/netns\/[^/]+$/.test(path) ? `netns:${path}` : undefined;
  }

  isAlive(pid: number): boolean {
    return this.processes.has(pid);
  }

  /** pretend start times: a pid's is `t<pid>` unless a test set another (a reused pid) */
  readonly starts = new Map<number, string>();
  /** the pretend boot; a test changes it to stand for a reboot */
  boot = 'boot-1';

  processStart(pid: number): string | undefined {
    return this.processes.has(pid) ? (this.starts.get(pid) ?? `t${pid}`) : undefined;
  }

  bootId(): string {
    return this.boot;
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    const call: RecordedCall = { file: 'sysctl', args: ['-w', `${key}=${value}`] };
    this.calls.push(call);
    const failure = this.failures.find((f) => f.times > 0 && f.match(call));
    if (failure) {
      failure.times--;
      throw new HostCommandError('sysctl', call.args, failure.stderr, 1);
    }
    this.sysctls.set(key, value);
  }
}

/** What an empty host answers: no links, no rules. */
function defaultOutput(file: string, args: string[]): string {
  if (file === 'ip' && args.includes('-json')) return '[]';
  return '';
}
