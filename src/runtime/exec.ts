/**
 * `docker exec`: processes started in a running container's namespaces (network, mount, UTS) as its
 * user, in its working directory, with its environment. Exec instances live in memory, as in Docker
 * (they are gone after a daemon restart); their processes are the daemon's children, their output
 * goes straight to the client.
 */
import type { Container } from '../model.js';
import { conflict, invalid, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Child, Executor } from '../host/executor.js';
import { inNamespaces, type Placement } from '../host/placement.js';
import type { EventBus } from '../services/events.js';
import { processEnv, placement, searchPath, groupAddOf } from './command.js';
import { hostUser } from './users.js';
import { DetachScanner, DEFAULT_DETACH_KEYS, frame, parseDetachKeys } from './streams.js';
import type { ClientIO } from './attach.js';
import { validSize } from '../host/child.js';

export interface ExecCreateRequest {
  Cmd?: string[] | string | null;
  Env?: string[] | null;
  User?: string | null;
  WorkingDir?: string | null;
  Tty?: boolean | null;
  AttachStdin?: boolean | null;
  AttachStdout?: boolean | null;
  AttachStderr?: boolean | null;
  DetachKeys?: string | null;
  Privileged?: boolean | null;
  ConsoleSize?: [number, number] | null;
  [key: string]: unknown;
}

interface Instance {
  id: string;
  containerId: string;
  argv: string[];
  env: string[];
  user: string;
  workingDir: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys: string;
  privileged: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
  child?: Child;
  size?: { cols: number; rows: number };
}

export interface ExecDeps {
  exec: Executor;
  events: EventBus;
  find: (term: string) => Container;
  /** the container's namespaces, its mount and UTS ones made first when it had none (a sandbox without a command) */
  namespacesOf: (c: Container) => Promise<{ net?: string; mnt: string; uts?: string }>;
  /** what the container's legacy links add to a process's environment */
  linkedEnv?: (c: Container) => string[];
}

const USER_RULE = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]*(:[a-zA-Z0-9_][a-zA-Z0-9_.-]*)?$/;

export class Execs {
  private readonly instances = new Map<string, Instance>();

  constructor(private readonly d: ExecDeps) {}

  /** Docker's checks of a running container that can take an exec. */
  private runnable(c: Container): void {
    if (c.state === 'restarting') throw conflict(`Container ${c.id} is restarting, wait until the container is running`);
    if (c.state !== 'running') throw conflict(`Container ${c.id} is not running`);
    if (c.paused) throw conflict(`Container ${c.name} is paused, unpause the container before exec`);
  }

  create(containerTerm: string, body: ExecCreateRequest): { Id: string } {
    const c = this.d.find(containerTerm);
    const argv = body.Cmd == null ? [] : Array.isArray(body.Cmd) ? body.Cmd : [body.Cmd];
    if (!argv.length) throw invalid('No exec command specified');
    if (argv.some((a) => typeof a !== 'string' || a.includes('\0'))) throw invalid('Cmd must be a list of strings');
    this.runnable(c);
    if (body.Privileged) throw invalid('Privileged is not supported by cnmd: cnmd does not confine devices or capabilities, so it cannot lift their confinement');
    if (body.User && !USER_RULE.test(body.User)) throw invalid(`invalid user: ${body.User}`);
    if (body.WorkingDir && !body.WorkingDir.startsWith('/')) throw invalid(`the working directory '${body.WorkingDir}' is invalid, it needs to be an absolute path`);
    for (const e of body.Env ?? []) if (typeof e !== 'string' || e.includes('\0')) throw invalid(`invalid environment variable: ${String(e)}`);
    const keys = body.DetachKeys ?? '';
    if (keys) parseDetachKeys(keys);
    const size = body.ConsoleSize;
    const inst: Instance = {
      id: newId(),
      containerId: c.id,
      argv,
      env: body.Env ?? [],
      user: body.User ?? '',
      workingDir: body.WorkingDir ?? '',
      tty: !!body.Tty,
      stdin: !!body.AttachStdin,
      stdout: !!body.AttachStdout,
      stderr: !!body.AttachStderr,
      detachKeys: keys,
      privileged: !!body.Privileged,
      running: false,
      exitCode: null,
      pid: 0,
      ...(size && validSize(size[1]) && validSize(size[0]) ? { size: { cols: size[1], rows: size[0] } } : {}),
    };
    this.instances.set(inst.id, inst);
    this.d.events.emit('container', `exec_create: ${argv.join(' ')}`, c.id, { image: c.config.Image, name: c.name, execID: inst.id });
    return { Id: inst.id };
  }

  private get(id: string): Instance {
    const inst = this.instances.get(id);
    if (!inst) throw notFound(`No such exec instance: ${id}`);
    return inst;
  }

  inspect(id: string): Record<string, unknown> {
    const i = this.get(id);
    return {
      ID: i.id,
      Running: i.running,
      ExitCode: i.exitCode,
      ProcessConfig: { tty: i.tty, entrypoint: i.argv[0], arguments: i.argv.slice(1), privileged: i.privileged, ...(i.user ? { user: i.user } : {}) },
      OpenStdin: i.stdin,
      OpenStderr: i.stderr,
      OpenStdout: i.stdout,
      CanRemove: false,
      ContainerID: i.containerId,
      DetachKeys: i.detachKeys,
      Pid: i.pid,
    };
  }

  /** The exec ids of a container (ExecIDs in its inspect), null when none. */
  of(containerId: string): string[] | null {
    const ids = [...this.instances.values()].filter((i) => i.containerId === containerId).map((i) => i.id);
    return ids.length ? ids : null;
  }

  /** A removed container's exec instances go with it. */
  forget(containerId: string): void {
    for (const [id, i] of this.instances) if (i.containerId === containerId) this.instances.delete(id);
  }

  /**
   * Checks and prepares a start: the process is resolved before the client's connection is taken
   * over, so a mistake is still an ordinary 4xx. Returns what run() needs.
   */
  async prepare(id: string, tty?: boolean): Promise<{ inst: Instance; file: string; args: string[]; env: Record<string, string> }> {
    const inst = this.get(id);
    if (inst.running) throw conflict(`Error: Exec command ${id} is already running`);
    if (inst.exitCode !== null) throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.d.find(inst.containerId);
    this.runnable(c);
    if (tty !== undefined) inst.tty = tty;
    try {
      return { inst, ...(await this.resolve(c, inst.argv, inst.user, inst.workingDir, inst.env, inst.tty)) };
    } catch (e) {
      if (/executable file not found/.test((e as Error).message)) inst.exitCode = 127;
      throw e;
    }
  }

  /** A process of the container: its user, environment, working directory and namespaces, as nsenter argv. */
  private async resolve(c: Container, argv: string[], userSpec: string, workingDir: string, extraEnv: string[], tty: boolean) {
    const user = await hostUser(this.d.exec, userSpec || String(c.config.User ?? ''), groupAddOf(c));
    const env = processEnv(c, user, tty, extraEnv, this.d.linkedEnv?.(c) ?? []);
    if (!(await this.d.exec.findExecutable(argv[0], searchPath(env)))) {
      throw invalid(`OCI runtime exec failed: exec failed: unable to start container process: exec: "${argv[0]}": executable file not found in $PATH: unknown`);
    }
    const cwd = workingDir || String(c.config.WorkingDir || '/');
    const where: Placement = placement(await this.d.namespacesOf(c), user, cwd);
    return { ...inNamespaces(where, argv), env };
  }

  /** A health check's test: its exit code and the first 4 KiB of its output; after timeoutMs it is killed (-1). */
  async probe(c: Container, argv: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    let p;
    try {
      p = await this.resolve(c, argv, '', '', [], false);
    } catch (e) {
      return { exitCode: 127, output: (e as Error).message };
    }
    const child = this.d.exec.spawnChild(p.file, p.args, { env: p.env, stdin: false });
    let output = '';
    child.onOutput((_s, data) => {
      if (output.length < 4096) output += data.toString('utf8');
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.d.exec.signal(-child.pid, 'SIGKILL') || this.d.exec.signal(child.pid, 'SIGKILL');
    }, timeoutMs);
    const code = await child.exit;
    clearTimeout(timer);
    if (timedOut) return { exitCode: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)${output ? `: ${output}` : ''}` };
    return { exitCode: code, output };
  }

  /** Runs a prepared exec; with io, joined to the client until it ends (or the client detaches). */
  async run(p: Awaited<ReturnType<Execs['prepare']>>, io?: ClientIO): Promise<void> {
    const { inst } = p;
    const c = this.d.find(inst.containerId);
    const child = this.d.exec.spawnChild(p.file, p.args, { env: p.env, stdin: inst.stdin && !!io?.input, ...(inst.tty ? { tty: inst.size ?? { cols: 80, rows: 24 } } : {}) });
    inst.child = child;
    inst.running = true;
    inst.pid = child.pid;
    this.d.events.emit('container', `exec_start: ${inst.argv.join(' ')}`, c.id, { image: c.config.Image, name: c.name, execID: inst.id });
    const exited = child.exit.then((code) => {
      inst.running = false;
      inst.exitCode = code;
      inst.child = undefined;
      this.d.events.emit('container', 'exec_die', c.id, { image: c.config.Image, name: c.name, execID: inst.id, exitCode: String(code) });
    });
    if (!io) return;
    const out = io.output;
    child.onOutput((stream, data) => {
      if (out.destroyed || out.writableEnded) return;
      if ((stream === 1 && inst.stdout) || (stream === 2 && inst.stderr) || inst.tty) out.write(inst.tty ? data : frame(stream, data));
    });
    let detached = false;
    if (inst.stdin && io.input) {
      const scanner = new DetachScanner(parseDetachKeys(inst.detachKeys || DEFAULT_DETACH_KEYS));
      io.input.on('data', (chunk: Buffer) => {
        const { pass, detach } = scanner.feed(chunk);
        if (pass.length) child.write(pass);
        if (detach && !detached) {
          detached = true;
          out.end();
        }
      });
      io.input.on('end', () => child.closeStdin());
    }
    // read from here on (what came with the request is waiting); without stdin, to see the client go
    io.input?.resume();
    await Promise.race([exited, new Promise((r) => out.once('close', r))]);
    if (!out.destroyed && !out.writableEnded) out.end();
  }

  resize(id: string, h: number, w: number): void {
    const inst = this.get(id);
    inst.size = { cols: w, rows: h };
    inst.child?.resize(w, h);
  }
}
