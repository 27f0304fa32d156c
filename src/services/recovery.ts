/**
 * After a daemon restart (the start-up reconcile has run): what a crash or the downtime left is
 * finished from the store's record. A removal in progress is completed; a start whose command was not
 * recorded adopts the command if it runs (found by its marker) or runs it; a running container whose
 * command still runs is watched again (through its shim when it has one), one whose command ended
 * meanwhile is torn down, and then its `--rm` or restart policy applies; containers that were
 * restarting, or that their policy starts with the daemon, are started.
 */
import type { Container } from '../model.js';
import { tx, type Db } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { Executor } from '../host/executor.js';
import { PROCESS_MARKER } from '../runtime/command.js';
import { isSameProcess, type Processes } from '../runtime/processes.js';
import { commandOf } from './container-spec.js';
import type { Sandboxes } from './sandboxes.js';
import type { KeyedLock } from './locks.js';
import { parseRestartPolicy, startsWithDaemon } from './restart-policy.js';
import { ZERO_TIME } from '../model.js';
import { formatRfc3339Nano, nowNs } from '../ids.js';
import { isUp, type Runs } from './container-runs.js';
import { warnOnFail } from './log.js';

export interface RecoveryDeps {
  db: Db;
  containers: ContainerRepo;
  exec: Executor;
  processes: Processes;
  runs: Runs;
  sandboxes: Sandboxes;
  lock: KeyedLock;
  sandboxChanged: (id: string) => Promise<void>;
  log: () => { warn(obj: unknown, msg: string): void };
}

/** The error of a container whose boot is over (Docker's containers after a reboot have exit code 255 too). */
export const REBOOTED = 'the host restarted: its processes and namespaces ended with the boot it started in';

/** The error of a container whose sandbox could not be converged. */
export const SANDBOX_FAILED = 'cnmd could not set up its network sandbox';

export class Recovery {
  constructor(private readonly d: RecoveryDeps) {}

  /**
   * Before the first reconcile: a container that started in another boot (its recorded boot id is not
   * this one's) is exited, its endpoints and ports released. Its processes ended with that boot, and
   * a pid recorded then names some other process now: nothing of it is attached or signalled.
   * Returns the ids of the containers so ended.
   */
  endPreviousBoot(): string[] {
    const boot = this.d.exec.bootId();
    const ended: string[] = [];
    if (!boot) return ended;
    for (const c of this.d.containers.list()) {
      if (!isUp(c) || c.bootId === '' || c.bootId === boot) continue;
      tx(this.d.db, () => {
        this.d.containers.deleteEndpointsOf(c.id);
        this.d.containers.deletePortBindingsOf(c.id);
        this.d.containers.update(c.id, {
          state: c.state === 'removing' ? 'removing' : 'exited', pid: 0, pidStart: '', monitorPid: 0, exitCode: 255, error: REBOOTED,
          finishedAt: formatRfc3339Nano(nowNs()), sandboxId: '', paused: false, hasInside: false,
        });
      });
      ended.push(c.id);
    }
    return ended;
  }

  async run(): Promise<void> {
    for (const c of this.d.containers.list()) {
      if (c.state === 'removing') await this.d.lock.run(c.id, () => this.finishRemoval(c));
      else if (c.state !== 'running' && c.netns) tx(this.d.db, () => this.d.containers.update(c.id, { netns: null }));
    }
    for (const c of this.d.containers.running()) await this.d.lock.run(c.id, () => this.resume(c));
    for (const c of this.d.containers.list()) {
      if (c.state === 'restarting') this.d.runs.schedule(c.id, 0);
      else if (c.state === 'exited' && c.hostConfig.AutoRemove) await this.d.lock.run(c.id, () => this.d.runs.destroy(c));
      else if (c.state === 'exited' && c.startedAt !== ZERO_TIME && startsWithDaemon(parseRestartPolicy(c.hostConfig.RestartPolicy), c.manuallyStopped)) {
        await this.d.lock.run(c.id, () => this.d.runs.start(c, c.restartCount).catch((e) => this.d.log().warn({ container: c.id, err: (e as Error).message }, 'restart policy: cannot start')));
      }
    }
  }

  private async resume(c: Container): Promise<void> {
    for (const p of this.d.containers.portBindingsOf(c.id)) {
      // held again so that no other program binds a published port; the DNAT rules work regardless
      await this.d.exec.reservePort(p.proto, p.hostIp, p.hostPort).catch(warnOnFail(this.d.log, `holding ${p.proto} port ${p.hostIp}:${p.hostPort} again (taken meanwhile; its DNAT rule still serves it)`));
    }
    this.d.runs.proxyIPv6Ports(c.id);
    await this.d.sandboxChanged(c.id);
    if (!commandOf(c).length) return;
    const paths = this.d.sandboxes.paths(c);
    if (c.pid <= 0) {
      // the daemon stopped between the start's transaction and recording the command's pid
      const pid = (await this.d.exec.findProcess(`${PROCESS_MARKER}=${c.id}`)) ?? 0;
      if (pid > 0) {
        const pidStart = this.d.exec.processStart(pid) ?? '';
        tx(this.d.db, () => this.d.containers.update(c.id, { pid, pidStart }, ['running']));
        await this.d.processes.reattach(c.id, pid, pidStart, 0, { socketPath: paths.shimSocket, statusPath: paths.shimStatus });
      } else await this.d.runs.relaunch(c).catch((e) => this.d.log().warn({ container: c.id, err: (e as Error).message }, 'cannot run the command again'));
      return;
    }
    if (await this.d.processes.reattach(c.id, c.pid, c.pidStart, c.monitorPid, { socketPath: paths.shimSocket, statusPath: paths.shimStatus })) {
      // a row from before identities were recorded gets them now
      if (!c.bootId) tx(this.d.db, () => this.d.containers.update(c.id, { pidStart: this.d.exec.processStart(c.pid) ?? '', bootId: this.d.exec.bootId() }, ['running']));
      return;
    }
    const status = await this.d.exec.readFile(paths.shimStatus);
    const recorded = status ? Number(JSON.parse(status).exitCode) : NaN;
    const code = Number.isInteger(recorded) ? recorded : 255;
    await this.d.runs.teardown(c, code, 'the process ended while cnmd was not running').catch(warnOnFail(this.d.log, 'tearing down a sandbox whose command ended meanwhile: the next reconcile finishes it'));
    await this.d.runs.afterStop(c.id, code, false);
  }

  /**
   * A running container whose sandbox the reconciler could not converge (set apart so that the rest
   * converged): it is exited with the error, its endpoints released; its restart policy is not applied
   * (the same sandbox would fail the same way). An event `die` says so.
   */
  async endFailedSandbox(id: string, error: string): Promise<void> {
    await this.d.lock.run(id, async () => {
      const c = this.d.containers.get(id);
      if (!c || c.state !== 'running') return;
      this.d.log().warn({ container: id, err: error }, 'its sandbox cannot be set up: the container is exited');
      await this.d.runs.teardown(c, 255, `${SANDBOX_FAILED}: ${error}`).catch(warnOnFail(this.d.log, 'ending a container whose sandbox failed: the next reconcile finishes it'));
    });
  }

  /** A `rm -f` that a crash cut short: its process is killed, its sandbox torn down, its row goes. */
  private async finishRemoval(c: Container): Promise<void> {
    const recorded = c.pid > 0 && isSameProcess(this.d.exec, c.pid, c.pidStart) ? c.pid : undefined;
    const pid = c.pid > 0 ? recorded : await this.d.exec.findProcess(`${PROCESS_MARKER}=${c.id}`);
    if (pid && this.d.exec.isAlive(pid)) this.d.exec.signal(-pid, 'SIGKILL') || this.d.exec.signal(pid, 'SIGKILL');
    if (this.d.containers.endpointsOf(c.id).length || this.d.containers.portBindingsOf(c.id).length || c.hasInside) {
      await this.d.runs.teardown(c, 137, '');
    }
    await this.d.runs.destroy(c);
  }
}
