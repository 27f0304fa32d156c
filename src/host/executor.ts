/**
 * The only place that starts processes or writes kernel settings. Argument arrays only: no shell.
 */
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { openSync, closeSync, mkdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, connect, isIP, Server, type AddressInfo, type Socket as NetSocket } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { readFile, readdir, writeFile, mkdir, rm, rmdir, stat, access, readlink, statfs } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { spawnChild, type Child, type ChildOptions } from './child.js';
import { startShim, connectShim, type ShimHandle, type ShimSpec } from './shim-client.js';
import { parseProcNetSockets, listeningKeys } from './state.js';
import type { Readable } from 'node:stream';
import { statPath, tarIn, tarOut, type PathStat, type TarStream } from './archive.js';
import { processStartTime } from './pidfile.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { socketsFromNamespace, NamespaceSocketError } from './netns-sockets.js';
import { Spawner, NOT_STARTED, type SpawnResult } from './spawner.js';
import { watchRoutes, type RouteWatch } from './route-watch.js';
import { NftSession } from './nft-session.js';

export type { Child, ChildOptions } from './child.js';
export type { ShimHandle, ShimSpec, ProcessInput } from './shim-client.js';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  /** kill it after this long (default: COMMAND_TIMEOUTS_MS for the tool, else a minute) */
  timeoutMs?: number;
}

/**
 * How long each host tool may take before it is killed: batches of ip, bridge and nft finish in
 * milliseconds; iptables-restore may wait for the xtables lock another program holds.
 */
export const COMMAND_TIMEOUTS_MS: Record<string, number> = {
  ip: 15_000, bridge: 15_000, nft: 20_000, sysctl: 5_000, nsenter: 15_000, mount: 10_000, umount: 10_000, unshare: 10_000, ps: 10_000,
  'iptables-restore': 30_000, 'ip6tables-restore': 30_000, 'iptables-save': 15_000, 'ip6tables-save': 15_000,
};
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * What each line of a batch adds to its tool's timeout: deleting a link waits for the kernel's grace
 * period (15-50 ms here, more on a loaded host), so a batch of 1000 deletions (a start with an
 * emptied store on a host full of cnmd's bridges) takes far longer than the 15 s a small one may.
 */
export const BATCH_LINE_MS: Record<string, number> = { ip: 100, bridge: 100, nsenter: 100 };

/** The timeout of one command: its tool's, plus BATCH_LINE_MS for each line of its batch input. */
export function commandTimeout(file: string, input: string): number {
  const base = COMMAND_TIMEOUTS_MS[file] ?? DEFAULT_TIMEOUT_MS;
  const perLine = BATCH_LINE_MS[file];
  if (!perLine || !input) return base;
  let lines = 0;
  for (let i = input.indexOf('\n'); i >= 0; i = input.indexOf('\n', i + 1)) lines++;
  return base + perLine * lines;
}

/**
 * kernel files read at once (see readFile): the network tables and settings of the daemon's namespace,
 * but its socket tables, which only the periodic repair reads: the kernel walks every socket to make
 * them (8 ms for /proc/net/tcp with 1000 listeners here), time a read at once takes from the daemon's
 * thread; read in the background, the thread is busy 1.3 ms.
 */
const KERNEL_TABLES = /^\/proc\/(net|self\/net|sys\/net)\/(?!(tcp|udp)6?$)/;

/**
 * The tools that run briefly and leave nothing behind: started by the spawn helper (./spawner.ts).
 * Others (wireguard-go, which stays in the background) start from the daemon itself.
 */
const BRIEF_TOOLS = new Set([
  'ip', 'bridge', 'nft', 'nsenter', 'mount', 'umount', 'unshare', 'sysctl', 'wg', 'ps', 'dbus-send',
  'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore', 'iptables-save', 'ip6tables-save',
]);

/** Flows (UDP clients, TCP connections) one relayed port carries at once by default (--limit relay-flows). */
export const RELAY_MAX_FLOWS = DEFAULT_LIMITS.relayFlows;

export interface Executor {
  /** Runs file with args; rejects with HostCommandError when it cannot start or exits non-zero. */
  run(file: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Reads a sysctl (e.g. net.ipv4.ip_forward); undefined when the kernel has no such key. */
  readSysctl(key: string): Promise<string | undefined>;
  /** Reads many sysctls at once (a read of the whole host: a key or two per network); the keys the kernel has. */
  readSysctls(keys: string[]): Promise<Map<string, string>>;
  writeSysctl(key: string, value: string): Promise<void>;
  /** Reads a kernel text file such as /proc/net/route; undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>;
  /** Names in a directory such as /run/netns; [] when it does not exist. */
  listDir(path: string): Promise<string[]>;
  /** Writes a file (such as /etc/netns/NAME/resolv.conf), making its directory. */
  writeFile(path: string, content: string): Promise<void>;
  /** Removes a file or directory tree; nothing when it is not there. */
  removePath(path: string): Promise<void>;
  /**
   * Starts a long-running process (a container's command) in its own process group, its output going
   * to files, so that it outlives a restart of the daemon. exit settles when it ends while we watch.
   */
  spawnProcess(file: string, args: string[], opts: SpawnOptions): SpawnedProcess;
  /**
   * Holds a host port (a listening TCP socket or a bound UDP socket in the daemon's namespace), so that
   * no other program can take a published port. Port 0 picks a free ephemeral port. Rejects with
   * PortInUseError when the port is taken. Returns the port held.
   */
  reservePort(proto: 'tcp' | 'udp', ip: string, port: number): Promise<number>;
  releasePort(proto: 'tcp' | 'udp', ip: string, port: number): Promise<void>;
  /**
   * Held ports whose socket is gone (closed by hand, `ss -K`): bound again, their relays with them.
   * Read from /proc/net; returns the ports repaired ("tcp/0.0.0.0/8080").
   */
  repairHeldPorts(): Promise<string[]>;
  /** Relays what reaches a held port to ip:port (the userland proxy for IPv6 host addresses). */
  forwardPort(proto: 'tcp' | 'udp', ip: string, port: number, to: { ip: string; port: number }): void;
  /** Sends a signal; false when there is no such process. */
  signal(pid: number, signal: NodeJS.Signals | number): boolean;
  isAlive(pid: number): boolean;
  /**
   * The kernel's start time of the live (not zombie) process at pid, in clock ticks since boot;
   * undefined when there is none. With the pid and the boot, a process's identity: a reused pid has
   * another start time.
   */
  processStart(pid: number): string | undefined;
  /** This boot's id (/proc/sys/kernel/random/boot_id): another one means every process we knew is gone. */
  bootId(): string;
  /** The identity (device:inode) of the network namespace at path; undefined when path is not one. */
  netnsIdentity(path: string): Promise<string | undefined>;
  /**
   * The process-group leader whose environment holds envEntry (such as CNMD_CONTAINER_ID=…): finds a
   * container's process that a crash left unrecorded. A scan of /proc, for start-up only.
   */
  findProcess(envEntry: string): Promise<number | undefined>;
  /** A UDP socket and a TCP listener bound to ip:port inside the namespace at path, held by the daemon. */
  bindInNamespace(path: string, ip: string, port: number): Promise<NamespaceSockets>;
  /** UDP sockets on a free port inside the namespace at path (IPv6 where it has it): what leaves them, leaves from there. */
  forwardSocketsInNamespace(path: string): Promise<ForwardSockets>;
  /** A TCP connection to ip:port made inside the namespace at path (a helper process connects, hands it over). */
  connectInNamespace(path: string, ip: string, port: number): Promise<NetSocket>;
  /**
   * Starts a container's command with a terminal or an open stdin under a shim (shim.ts): the shim
   * holds them, so the command outlives the daemon. Resolves once the command runs.
   */
  startShim(spec: ShimSpec): Promise<ShimHandle>;
  /** The shim of a command started before this daemon; undefined when it is gone. */
  connectShim(socketPath: string, statusPath: string): Promise<ShimHandle | undefined>;
  /** A process whose input and output the daemon holds (an exec session): on pipes or a terminal. */
  spawnChild(file: string, args: string[], opts: ChildOptions): Child;
  /** The pids of the processes in the namespace (of that kind) whose file (a /proc/PID/ns entry or a bind-mounted one) is at path. */
  processesIn(path: string, kind: 'mnt' | 'net'): Promise<number[]>;
  /** The first executable named name in these directories (name itself when it has a slash); undefined when none. */
  findExecutable(name: string, dirs: string[]): Promise<string | undefined>;
  /**
   * Reports each change of the host's IPv4 routes and links as a line of `ip -o -4 monitor route link`, until
   * stopped; onEnd when the monitor ends. Absent where there is no host to watch (recording).
   */
  watchRoutes?(onLine: (line: string) => void, onEnd: () => void): RouteWatch;
  /** Whether path exists (following links). */
  exists(path: string): Promise<boolean>;
  /** What is at path (following links): a directory, another kind of file, or nothing. */
  pathKind(path: string): Promise<'dir' | 'file' | undefined>;
  /** mkdir -p; returns the directories it made, outermost first. */
  makeDirs(path: string): Promise<string[]>;
  /** Removes each directory if it is empty (innermost first); one that is not is left. */
  removeEmptyDirs(paths: string[]): Promise<void>;
  /**
   * Makes dir a private mount point (bound on itself), as `ip netns` does for /run/netns: namespace
   * files can be bound in it without their mounts reaching the namespaces themselves.
   */
  makePrivateMount(dir: string): Promise<void>;
  /** docker cp (host/archive.ts): in a mount namespace (mnt) or the host's */
  statPath(path: string, mnt?: string): Promise<PathStat | undefined>;
  tarOut(dir: string, name: string, mnt?: string, as?: string): TarStream;
  tarIn(dir: string, input: Readable, mnt?: string): Promise<void>;
}

export interface NamespaceSockets {
  udp: Socket;
  tcp: Server;
}

export interface ForwardSockets {
  udp4: Socket;
  udp6?: Socket;
}

export interface SpawnOptions {
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
}

export interface SpawnedProcess {
  pid: number;
  /** exit code, or 128 + the signal number that ended it */
  exit: Promise<number>;
}

export class HostCommandError extends Error {
  constructor(
    readonly file: string,
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | undefined,
    readonly missing = false,
  ) {
    super(`${[file, ...args].join(' ')}: ${stderr.trim() || `exit status ${exitCode}`}`);
    this.name = 'HostCommandError';
  }
}

export class PortInUseError extends Error {}

/** statfs f_type of the kernel's namespace files (nsfs) */
const NSFS_MAGIC = 0x6e736673;

/** Up to this many sysctls are read in place; more, by one grep (see readSysctls). */
export const SYSCTLS_READ_IN_PLACE = 8;
/** keys per grep: far below the kernel's limit on a command line (a path is about 50 bytes) */
const SYSCTLS_PER_GREP = 4000;

/** `grep -H` lines, "PATH:LINE": [path, line] pairs (a sysctl's path has no colon; its value is one line). */
export function parseGrepLines(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return out;
}

/** A sysctl key's file: dots separate, or slashes when a segment (an interface name) holds dots. */
export const sysctlPath = (key: string) => `/proc/sys/${key.includes('/') ? key : key.replaceAll('.', '/')}`;

export interface CommandObserver {
  (file: string, seconds: number, ok: boolean): void;
}

export class ExecaExecutor implements Executor {
  private readonly held = new Map<string, Server | Socket>();
  /** relay targets of held ports (IPv6 host addresses), to set again on a socket bound anew */
  private readonly relays = new Map<string, { ip: string; port: number }>();

  /** starts the brief host commands (BRIEF_TOOLS); new Spawner(null) for none */
  private readonly spawner: Spawner;

  /** the daemon's own `nft -f -` scripts, through one long-lived `nft -i` */
  private readonly nft: NftSession;

  constructor(private readonly observe?: CommandObserver, spawner?: Spawner, nft?: NftSession) {
    this.spawner = spawner ?? new Spawner();
    this.nft = nft ?? new NftSession();
  }

  /** Ends the long-lived helpers: the spawn helper and the nft session (at daemon shutdown). */
  close(): void {
    this.spawner.close();
    this.nft.close();
  }

  readonly watchRoutes = watchRoutes;
  readonly statPath = statPath;
  readonly tarOut = tarOut;
  readonly tarIn = tarIn;

  async reservePort(proto: 'tcp' | 'udp', ip: string, port: number): Promise<number> {
    const fail = (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? new PortInUseError(e.message) : e);
    const v6 = ip.includes(':');
    if (proto === 'tcp') {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(fail(e as NodeJS.ErrnoException)));
        server.listen({ host: ip, port, exclusive: true, backlog: v6 ? 511 : 1, ipv6Only: v6 }, () => resolve());
      });
      const actual = (server.address() as AddressInfo).port;
      // IPv4 ports are served by DNAT and never reach this socket; until a proxy target is set, refuse
      server.on('connection', (s) => s.destroy());
      this.held.set(`tcp/${ip}/${actual}`, server);
      return actual;
    }
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (e) => reject(fail(e as NodeJS.ErrnoException)));
      socket.bind({ address: ip, port, exclusive: true }, () => resolve());
    });
    const actual = socket.address().port;
    this.held.set(`udp/${ip}/${actual}`, socket);
    return actual;
  }

  async releasePort(proto: 'tcp' | 'udp', ip: string, port: number): Promise<void> {
    const key = `${proto}/${ip}/${port}`;
    const h = this.held.get(key);
    this.held.delete(key);
    this.relays.delete(key);
    if (h) await new Promise<void>((r) => (h as { close(cb: () => void): void }).close(() => r()));
  }

  async repairHeldPorts(): Promise<string[]> {
    if (!this.held.size) return [];
    const read = async (f: string) => parseProcNetSockets((await this.readFile(`/proc/net/${f}`)) ?? '');
    const [t4, t6, u4, u6] = await Promise.all(['tcp', 'tcp6', 'udp', 'udp6'].map(read));
    const listening = { tcp: listeningKeys([...t4, ...t6], true), udp: listeningKeys([...u4, ...u6], false) };
    const repaired: string[] = [];
    for (const key of [...this.held.keys()]) {
      const [proto, ip, port] = key.split('/') as ['tcp' | 'udp', string, string];
      if (listening[proto].has(`${ip} ${port}`)) continue;
      const relay = this.relays.get(key);
      await this.releasePort(proto, ip, Number(port)).catch(() => undefined);
      try {
        await this.reservePort(proto, ip, Number(port));
        if (relay) this.forwardPort(proto, ip, Number(port), relay);
        repaired.push(key);
      } catch {
        // taken by someone else meanwhile: the DNAT rules still serve it
      }
    }
    return repaired;
  }

  /**
   * The relay's limits, per held port: flows (UDP clients, TCP connections) at once, and how long a
   * silent one lives. Past the limit a new client is dropped (counted through onRefused).
   */
  readonly relayLimits: { flows: number; udpIdleMs: number; tcpIdleMs: number; onRefused?: () => void } = {
    flows: RELAY_MAX_FLOWS, udpIdleMs: 60_000, tcpIdleMs: 3_600_000,
  };

  forwardPort(proto: 'tcp' | 'udp', ip: string, port: number, to: { ip: string; port: number }): void {
    const h = this.held.get(`${proto}/${ip}/${port}`);
    if (!h) return;
    this.relays.set(`${proto}/${ip}/${port}`, to);
    if (h instanceof Server) {
      h.removeAllListeners('connection');
      let open = 0;
      h.on('connection', (client) => {
        // past the limit a new client is closed at once; the others keep their relays
        if (open >= this.relayLimits.flows) {
          this.relayLimits.onRefused?.();
          client.destroy();
          return;
        }
        open++;
        const upstream = connect({ host: to.ip, port: to.port });
        client.pipe(upstream).pipe(client);
        let ended = false;
        const end = () => {
          if (!ended) open--;
          ended = true;
          client.destroy();
          upstream.destroy();
        };
        client.on('error', end);
        upstream.on('error', end);
        client.on('close', end);
        upstream.on('close', end);
        // a connection silent for this long is closed
        client.setTimeout(this.relayLimits.tcpIdleMs, end);
      });
      return;
    }
    // UDP: one upstream socket per client, dropped after a minute of silence; at most relayLimits.flows of them
    const flows = new Map<string, { sock: Socket; timer: NodeJS.Timeout }>();
    h.removeAllListeners('message');
    h.on('message', (msg, rinfo) => {
      const key = `${rinfo.address}/${rinfo.port}`;
      let flow = flows.get(key);
      if (!flow && flows.size >= this.relayLimits.flows) {
        this.relayLimits.onRefused?.();
        return;
      }
      if (!flow) {
        const sock = createSocket('udp4');
        sock.on('message', (reply) => h.send(reply, rinfo.port, rinfo.address));
        sock.on('error', () => undefined);
        flow = { sock, timer: setTimeout(() => undefined, 0) };
        flows.set(key, flow);
      }
      clearTimeout(flow.timer);
      const f = flow;
      f.timer = setTimeout(() => {
        flows.delete(key);
        f.sock.close();
      }, this.relayLimits.udpIdleMs);
      f.timer.unref();
      f.sock.send(msg, to.port, to.ip);
    });
    h.once('close', () => flows.forEach((f) => f.sock.close()));
  }

  async run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const started = process.hrtime.bigint();
    const input = opts.input ?? '';
    const timeout = opts.timeoutMs ?? commandTimeout(file, input);
    const session = file === 'nft' && args.length === 2 && args[0] === '-f' && args[1] === '-' ? await this.nft.run(input, timeout) : undefined;
    const helped = session && session.startError !== NOT_STARTED ? session : BRIEF_TOOLS.has(file) ? await this.spawner.run(file, args, input, timeout) : undefined;
    const r = helped && helped.startError !== NOT_STARTED ? helped : await this.runItself(file, args, input, timeout);
    const ok = !r.startError && r.exitCode === 0;
    this.observe?.(file, Number(process.hrtime.bigint() - started) / 1e9, ok);
    if (!ok) {
      const missing = r.startError === 'ENOENT';
      const why = missing
        ? `${file}: command not found`
        : r.timedOut
          ? `${file} did not finish within ${timeout / 1000} s and was killed`
          : r.startError
            ? `${file}: ${r.stderr || r.startError}`
            : r.stderr || r.stdout || (r.signal ? `killed by signal ${r.signal}` : `exit status ${r.exitCode}`);
      throw new HostCommandError(file, args, why, r.exitCode, missing);
    }
    return { stdout: r.stdout, stderr: r.stderr };
  }

  /** A command started from the daemon itself (execa): tools not in BRIEF_TOOLS, or no spawn helper. */
  private async runItself(file: string, args: string[], input: string, timeout: number): Promise<SpawnResult> {
    const r = await execa(file, args, { input, reject: false, timeout, stripFinalNewline: false });
    const code = (r as { code?: string }).code;
    const started = r.exitCode !== undefined || r.signal !== undefined;
    return {
      exitCode: r.exitCode,
      signal: r.signal ? constants.signals[r.signal] : undefined,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr || (started ? '' : r.message)),
      timedOut: !!r.timedOut,
      ...(started ? {} : { startError: code ?? 'EFAILED' }),
    };
  }

  async readSysctl(key: string): Promise<string | undefined> {
    try {
      // A read of the whole host reads a key or two per network at once. Asynchronous, each read took
      // a 64 KiB buffer (the size of a /proc file is not known) and a thread hop: 64 MiB and 126 ms for
      // 1000 networks; read in place, 13 ms and nothing kept (a sysctl is made in the kernel, no process waits).
      return readFileSync(sysctlPath(key), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  async readSysctls(keys: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const inPlace = async (list: string[]) => {
      for (const k of list) {
        const v = await this.readSysctl(k);
        if (v !== undefined) out.set(k, v);
      }
    };
    if (keys.length <= SYSCTLS_READ_IN_PLACE) {
      await inPlace(keys);
      return out;
    }
    // Read in place, 1000 keys held the daemon's one thread for 25-30 ms each periodic repair (a
    // string, an open and a close per key in Node); grep reads them in C in another process, and
    // the thread only parses its lines.
    for (let i = 0; i < keys.length; i += SYSCTLS_PER_GREP) {
      const chunk = keys.slice(i, i + SYSCTLS_PER_GREP);
      const byPath = new Map(chunk.map((k) => [sysctlPath(k), k]));
      const args = ['-asH', '', '--', ...byPath.keys()];
      const started = process.hrtime.bigint();
      const helped = await this.spawner.run('grep', args, '', COMMAND_TIMEOUTS_MS.sysctl);
      const r = helped && helped.startError !== NOT_STARTED ? helped : await this.runItself('grep', args, '', COMMAND_TIMEOUTS_MS.sysctl);
      // 0: lines found, 1: none, 2: some key the kernel does not have (its file is missing)
      const ok = !r.startError && !r.timedOut && (r.exitCode === 0 || r.exitCode === 1 || r.exitCode === 2);
      this.observe?.('grep', Number(process.hrtime.bigint() - started) / 1e9, ok);
      if (!ok) {
        await inPlace(chunk);
        continue;
      }
      for (const [path, value] of parseGrepLines(r.stdout)) {
        const key = byPath.get(path);
        if (key !== undefined) out.set(key, value.trim());
      }
    }
    return out;
  }

  async readFile(path: string): Promise<string | undefined> {
    try {
      // The kernel's network tables are made in memory as they are read, a page per read: an async
      // read pays a thread hop per page (3 ms for /proc/net/route at 1000 bridges, 1 ms at once).
      // Not for /proc/PID files, whose read can wait on a process.
      if (KERNEL_TABLES.test(path)) return readFileSync(path, 'utf8');
      return await readFile(path, 'utf8');
    } catch {
      return undefined;
    }
  }

  async listDir(path: string): Promise<string[]> {
    try {
      return await readdir(path);
    } catch {
      return [];
    }
  }

  async writeFile(path: string, content: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }

  async removePath(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  spawnProcess(file: string, args: string[], opts: SpawnOptions): SpawnedProcess {
    mkdirSync(dirname(opts.stdoutPath), { recursive: true });
    const out = openSync(opts.stdoutPath, 'a', 0o600);
    const err = openSync(opts.stderrPath, 'a', 0o600);
    try {
      const child = spawn(file, args, { detached: true, stdio: ['ignore', out, err], env: opts.env });
      const exit = new Promise<number>((resolve) => {
        child.once('error', () => resolve(127));
        child.once('exit', (code, sig) => resolve(code ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
      });
      child.unref();
      return { pid: child.pid ?? 0, exit };
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  signal(pid: number, sig: NodeJS.Signals | number): boolean {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** Alive and not a zombie (a process we no longer parent is reaped by someone else, maybe late). */
  async netnsIdentity(path: string): Promise<string | undefined> {
    try {
      const [st, fs] = await Promise.all([stat(path), statfs(path)]);
      return fs.type === NSFS_MAGIC ? `${st.dev}:${st.ino}` : undefined;
    } catch {
      return undefined;
    }
  }

  isAlive(pid: number): boolean {
    if (pid <= 0 || !this.signal(pid, 0)) return false;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }

  processStart(pid: number): string | undefined {
    return this.isAlive(pid) ? processStartTime(pid) : undefined;
  }

  bootId(): string {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return '';
    }
  }

  async findProcess(envEntry: string): Promise<number | undefined> {
    const want = Buffer.from(`\0${envEntry}\0`);
    for (const name of await this.listDir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const env = Buffer.concat([Buffer.from([0]), await readFile(`/proc/${name}/environ`)]);
        if (!env.includes(want)) continue;
        const stat = await readFile(`/proc/${name}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // fields: state, ppid, pgrp; the command is its group's leader (spawned detached)
        if (fields[2] === name && fields[0] !== 'Z') return Number(name);
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
    return undefined;
  }

  async bindInNamespace(path: string, ip: string, port: number): Promise<NamespaceSockets> {
    try {
      const got = await socketsFromNamespace(path, [ip, String(port)], ['udp', 'tcp']);
      return { udp: got.get('udp') as Socket, tcp: got.get('tcp') as Server };
    } catch (e) {
      if (!(e instanceof NamespaceSocketError)) throw e;
      throw new HostCommandError('nsenter', [`--net=${path}`, 'bind', `${ip}:${port}`], e.message, undefined);
    }
  }

  async forwardSocketsInNamespace(path: string): Promise<ForwardSockets> {
    const got = await socketsFromNamespace(path, ['--forwarder'], ['udp4']);
    return { udp4: got.get('udp4') as Socket, udp6: got.get('udp6') as Socket | undefined };
  }

  async connectInNamespace(path: string, ip: string, port: number): Promise<NetSocket> {
    if (!isIP(ip) || !Number.isInteger(port) || port < 1 || port > 65535) throw new HostCommandError('nsenter', [`--net=${path}`, 'connect'], `not an address and port: ${ip} ${port}`, undefined);
    const got = await socketsFromNamespace(path, ['--connect', ip, String(port)], ['tcp']);
    return got.get('tcp') as NetSocket;
  }

  startShim(spec: ShimSpec): Promise<ShimHandle> {
    return startShim(spec);
  }

  connectShim(socketPath: string, statusPath: string): Promise<ShimHandle | undefined> {
    return connectShim(socketPath, statusPath);
  }

  spawnChild(file: string, args: string[], opts: ChildOptions): Child {
    return spawnChild(file, args, opts);
  }

  async processesIn(path: string, kind: 'mnt' | 'net'): Promise<number[]> {
    const target = await stat(path).catch(() => undefined);
    if (!target) return [];
    const out: number[] = [];
    for (const name of await this.listDir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const link = await readlink(`/proc/${name}/ns/${kind}`).catch(() => '');
      if (link.endsWith(`[${target.ino}]`)) out.push(Number(name));
    }
    return out;
  }

  async findExecutable(name: string, dirs: string[]): Promise<string | undefined> {
    const candidates = name.includes('/') ? [name] : dirs.filter((d) => d.startsWith('/')).map((d) => `${d.replace(/\/$/, '')}/${name}`);
    for (const c of candidates) {
      const s = await stat(c).catch(() => undefined);
      if (s?.isFile() && (await access(c, fsConstants.X_OK).then(() => true, () => false))) return c;
    }
    return undefined;
  }

  async exists(path: string): Promise<boolean> {
    return stat(path).then(() => true, () => false);
  }

  async pathKind(path: string): Promise<'dir' | 'file' | undefined> {
    const s = await stat(path).catch(() => undefined);
    return s ? (s.isDirectory() ? 'dir' : 'file') : undefined;
  }

  async makeDirs(path: string): Promise<string[]> {
    const made: string[] = [];
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const dir = '/' + parts.slice(0, i).join('/');
      if (await this.exists(dir)) continue;
      await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      made.push(dir);
    }
    return made;
  }

  async removeEmptyDirs(paths: string[]): Promise<void> {
    for (const p of [...paths].sort((a, b) => b.length - a.length)) await rmdir(p).catch(() => undefined);
  }

  async makePrivateMount(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const line = ((await this.readFile('/proc/self/mountinfo')) ?? '').split('\n').filter((l) => l.split(' ')[4] === dir).pop();
    if (!line) await this.run('mount', ['--bind', dir, dir]);
    const tags = line ? line.slice(0, line.indexOf(' - ')).split(' ').slice(6) : [];
    if (!line || tags.some((t) => t.startsWith('shared:') || t.startsWith('master:'))) await this.run('mount', ['--make-private', dir]);
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    try {
      await writeFile(sysctlPath(key), value);
    } catch (e) {
      throw new HostCommandError('sysctl', ['-w', `${key}=${value}`], (e as Error).message, undefined);
    }
  }
}
