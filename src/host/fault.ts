/**
 * Test-only fault injection, off unless CNMD_FAULT_CRASH_AFTER is set (never in production use).
 *
 * The crash suite arms it with SIGUSR2 just before the operation under test; from then on every host
 * change (a mutating command, a sysctl or file write, a removal, a process start or a delivered signal) is a
 * numbered step written to stderr as `cnmd fault step N: …`, and the daemon SIGKILLs itself right
 * after step k completes (k = 0: right before the first step, i.e. after the store transaction).
 * Reads (`ip -json`, `iptables-save`, `nft list`, version checks) are not steps.
 */
import type { ChildOptions, Executor, RunOptions, ShimSpec, SpawnOptions } from './executor.js';

export function isHostRead(file: string, args: string[]): boolean {
  return file === 'iptables-save' || (file === 'nft' && args.includes('list')) || args.includes('-json') || args.includes('-V') || args.includes('--version');
}

export class CrashingExecutor implements Executor {
  private armed = false;
  private count = 0;

  constructor(
    private readonly inner: Executor,
    private readonly crashAfter: number,
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
    private readonly die: () => void = () => process.kill(process.pid, 'SIGKILL'),
  ) {}

  /** Starts counting host steps from zero. */
  arm(): void {
    this.armed = true;
    this.count = 0;
    this.write('cnmd fault armed\n');
  }

  private before(): void {
    if (this.armed && this.crashAfter === 0 && this.count === 0) this.die();
  }

  private after(what: string): void {
    if (!this.armed) return;
    this.count += 1;
    this.write(`cnmd fault step ${this.count}: ${what}\n`);
    if (this.count === this.crashAfter) this.die();
  }

  private async step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.before();
    const r = await fn();
    this.after(what);
    return r;
  }

  run(file: string, args: string[], opts?: RunOptions) {
    if (isHostRead(file, args)) return this.inner.run(file, args, opts);
    return this.step(`${file} ${args.join(' ')}`, () => this.inner.run(file, args, opts));
  }
  writeSysctl(key: string, value: string) {
    return this.step(`sysctl ${key}=${value}`, () => this.inner.writeSysctl(key, value));
  }
  writeFile(path: string, content: string) {
    return this.step(`write ${path}`, () => this.inner.writeFile(path, content));
  }
  removePath(path: string) {
    return this.step(`remove ${path}`, () => this.inner.removePath(path));
  }
  spawnProcess(file: string, args: string[], opts: SpawnOptions) {
    this.before();
    const p = this.inner.spawnProcess(file, args, opts);
    this.after(`spawn ${file} ${args.join(' ')}`);
    return p;
  }
  startShim(spec: ShimSpec) {
    return this.step(`shim ${spec.file} ${spec.args.join(' ')}`, () => this.inner.startShim(spec));
  }
  /** a read of the host, not a step */
  get watchRoutes() {
    return this.inner.watchRoutes?.bind(this.inner);
  }
  spawnChild(file: string, args: string[], opts: ChildOptions) {
    this.before();
    const c = this.inner.spawnChild(file, args, opts);
    this.after(`spawn ${file} ${args.join(' ')}`);
    return c;
  }
  makeDirs(path: string) {
    return this.step(`mkdir ${path}`, () => this.inner.makeDirs(path));
  }
  removeEmptyDirs(paths: string[]) {
    return this.step(`rmdir ${paths.join(' ')}`, () => this.inner.removeEmptyDirs(paths));
  }
  signal(pid: number, sig: NodeJS.Signals | number) {
    if (sig === 0) return this.inner.signal(pid, sig);
    this.before();
    const ok = this.inner.signal(pid, sig);
    // a signal that reached no process changed nothing: not a step (else the count hangs on timing)
    if (ok) this.after(`signal ${sig} to ${pid}`);
    return ok;
  }

  readSysctl(key: string) {
    return this.inner.readSysctl(key);
  }
  readSysctls(keys: string[]) {
    return this.inner.readSysctls(keys);
  }
  readFile(path: string) {
    return this.inner.readFile(path);
  }
  listDir(path: string) {
    return this.inner.listDir(path);
  }
  findProcess(envEntry: string) {
    return this.inner.findProcess(envEntry);
  }
  bindInNamespace(path: string, ip: string, port: number) {
    return this.inner.bindInNamespace(path, ip, port);
  }

  forwardSocketsInNamespace(path: string) {
    return this.inner.forwardSocketsInNamespace(path);
  }

  connectInNamespace(path: string, ip: string, port: number) {
    return this.inner.connectInNamespace(path, ip, port);
  }
  reservePort(proto: 'tcp' | 'udp', ip: string, port: number) {
    return this.inner.reservePort(proto, ip, port);
  }
  releasePort(proto: 'tcp' | 'udp', ip: string, port: number) {
    return this.inner.releasePort(proto, ip, port);
  }
  repairHeldPorts() {
    return this.inner.repairHeldPorts();
  }
  forwardPort(proto: 'tcp' | 'udp', ip: string, port: number, to: { ip: string; port: number }) {
    this.inner.forwardPort(proto, ip, port, to);
  }
  isAlive(pid: number) {
    return this.inner.isAlive(pid);
  }
  processStart(pid: number) {
    return this.inner.processStart(pid);
  }
  bootId() {
    return this.inner.bootId();
  }
  netnsIdentity(path: string) {
    return this.inner.netnsIdentity(path);
  }
  connectShim(socketPath: string, statusPath: string) {
    return this.inner.connectShim(socketPath, statusPath);
  }
  processesIn(path: string, kind: 'mnt' | 'net') {
    return this.inner.processesIn(path, kind);
  }
  findExecutable(name: string, dirs: string[]) {
    return this.inner.findExecutable(name, dirs);
  }
  exists(path: string) {
    return this.inner.exists(path);
  }
  pathKind(path: string) {
    return this.inner.pathKind(path);
  }
  makePrivateMount(dir: string) {
    return this.inner.makePrivateMount(dir);
  }
  statPath(path: string, mnt?: string) {
    return this.inner.statPath(path, mnt);
  }
  tarOut(dir: string, name: string, mnt?: string, as?: string) {
    return this.inner.tarOut(dir, name, mnt, as);
  }
  tarIn(dir: string, input: import('node:stream').Readable, mnt?: string) {
    return this.step(`tar-in ${dir}`, () => this.inner.tarIn(dir, input, mnt));
  }
}
