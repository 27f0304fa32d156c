/**
 * A container's run: its sandbox brought up (endpoints, ports, files, namespaces: written to the
 * store in one transaction, then converged by the reconciler), its command launched, and all of it
 * torn down when the command ends or is stopped; then its restart policy or `--rm` applies. Callers
 * hold the container's lock (KeyedLock); an exit that comes by itself takes it.
 */
import type { Container, Endpoint, Network } from '../model.js';
import { DomainError, conflict, systemError } from '../errors.js';
import { newId, nowNs, formatRfc3339Nano } from '../ids.js';
import { type Db, tx } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Executor } from '../host/executor.js';
import { NETNS_DIR } from '../host/readers.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import { publishTargetOf } from '../reconcile/desired.js';
import { getDriver, type DriverContext } from '../drivers/index.js';
import { isSameProcess, type Processes } from '../runtime/processes.js';
import { prepareCommand, launchSpec, type PreparedCommand } from './container-command.js';
import { findNetwork } from './lookup.js';
import type { EventBus } from './events.js';
import type { EndpointAllocator } from './endpoints.js';
import type { HostJoins } from './host-joins.js';
import { portRequests } from './ports.js';
import { commandOf, modeOf, ownsNetworkStack } from './container-spec.js';
import { netnsName } from './paths.js';
import { sandboxPath, checkAdoptable, type Sandboxes } from './sandboxes.js';
import type { Waiters } from './waiters.js';
import type { KeyedLock } from './locks.js';
import { parseRestartPolicy, shouldRestart } from './restart-policy.js';
import { RestartTimers } from './restart-timers.js';
import { signalNumber } from './signals.js';
import { warnOnFail, type Log } from './log.js';
import type { VolumeService } from './volumes.js';
import type { VolumeRepo } from '../store/volumes.js';
import type { LegacyLinks } from './links.js';
import type { MountPoints } from './mount-points.js';
import type { Limits } from '../limits.js';

export interface RunDeps {
  ctx: DriverContext;
  db: Db;
  containers: ContainerRepo;
  networks: NetworkRepo;
  reconciler: Reconciler;
  exec: Executor;
  events: EventBus;
  sandboxes: Sandboxes;
  processes: Processes;
  waiters: Waiters;
  lock: KeyedLock;
  endpoints: EndpointAllocator;
  joins: HostJoins;
  /** a container by id, name or prefix (Docker's lookup) */
  find: (term: string) => Container;
  /** told when a sandbox was made, changed or torn down (DNS listeners inside some, the cluster) */
  sandboxChanged: (id: string) => Promise<void>;
  log: () => Log;
  volumes: VolumeService;
  volumeRepo: VolumeRepo;
  links: LegacyLinks;
  /** the daemon's limits (ports one container may publish); default: DEFAULT_LIMITS */
  config?: { limits: Pick<Limits, 'publishedPorts'> };
  mountPoints: MountPoints;
}

/** Running, or being removed with its sandbox still up. */
export const isUp = (c: Container) => c.state === 'running' || c.state === 'removing';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class Runs {
  private readonly restarts = new RestartTimers();

  constructor(private readonly d: RunDeps) {}

  /** What a change to this container's sandbox touches: the sandbox, those linked to it (their hosts files), and the data plane of its global networks. */
  scopeOf(id: string, networks: Array<Network | undefined>): { containers: string[]; networks: string[] } {
    return { containers: [id, ...this.d.links.parentsOf(id)], networks: networks.filter((n): n is Network => n?.scope === 'global').map((n) => n.id) };
  }

  /** Brings the sandbox up and runs the command; nothing is left when it fails. restartCount: 0 for a start by the user. */
  async start(c: Container, restartCount: number): Promise<void> {
    this.cancelRestart(c.id);
    const mode = modeOf(c);
    let shared: Container | undefined;
    if (mode.kind === 'container') {
      shared = this.d.find(mode.target);
      if (shared.state !== 'running') throw conflict(`cannot join network of a non running container: ${shared.id}`);
    }
    this.d.links.check(c);
    let netns: string | null = null;
    // an adopted namespace may have gone, or its /proc path may name another process's now
    if (c.sandboxKey) await checkAdoptable(this.d.exec, c.sandboxKey);
    if (ownsNetworkStack(c) && !c.sandboxKey) {
      netns = netnsName(this.d.ctx.instance, c.id);
      const present = await this.d.exec.listDir(NETNS_DIR);
      if (present.includes(netns) && !this.d.containers.ownedNetns().some((o) => o.name === netns)) {
        throw conflict(`a network namespace named ${netns} already exists and is not managed by cnmd`);
      }
    }
    // Networks first: a missing one fails the start with nothing changed, as in Docker; then the command.
    const targets = c.endpointConfigs.map((ec) => ({ ec, network: findNetwork(this.d.networks, ec.network) }));
    const argv = commandOf(c);
    const launch = argv.length ? await this.prepare(c, argv, shared).catch(async (e) => {
      // as Docker: a --rm container that cannot start is removed
      if (c.hostConfig.AutoRemove) await this.destroy(c, true);
      throw e;
    }) : undefined;
    await this.d.mountPoints.prepare(c);
    const publishes = ownsNetworkStack(c) && targets.some((x) => !x.network.internal && getDriver(x.network.driver)?.localGateway);
    const ports = publishes ? await this.d.endpoints.reservePorts(portRequests(c.hostConfig, c.config.ExposedPorts, this.d.config?.limits.publishedPorts)) : [];
    const joins: Array<{ endpoint: Endpoint; network: Network }> = [];
    const started = formatRfc3339Nano(nowNs());
    try {
      tx(this.d.db, () => {
        for (const { ec, network } of targets) joins.push({ endpoint: this.d.endpoints.allocate(c, network, ec.network, ec.settings), network });
        this.d.containers.insertPortBindings(c.id, ports);
        const ok = this.d.containers.update(c.id, {
          state: 'running', pid: 0, pidStart: '', bootId: this.d.exec.bootId(), monitorPid: 0, exitCode: 0, error: '', startedAt: started, sandboxId: shared ? '' : newId(), netns,
          restartCount, paused: false, manuallyStopped: false, hasInside: !!launch,
        }, ['created', 'exited', 'restarting']);
        if (!ok) throw conflict(`container ${c.id} changed while it was being started`);
      });
    } catch (e) {
      await this.d.endpoints.releasePorts(ports);
      throw e;
    }
    const scope = this.scopeOf(c.id, joins.map((j) => j.network));
    try {
      await this.d.joins.join(c, joins, scope);
    } catch (e) {
      // Undo: no endpoint, address or port stays; the namespace (still recorded) is removed by the next reconcile.
      await this.d.joins.release(joins.map((j) => j.endpoint));
      tx(this.d.db, () => {
        this.d.containers.deleteEndpointsOf(c.id);
        this.d.containers.deletePortBindingsOf(c.id);
        this.d.containers.update(c.id, { state: c.state, netns, hasInside: false, startedAt: c.startedAt, restartCount: c.restartCount });
      });
      await this.d.joins.withdraw(c, joins);
      await this.d.endpoints.releasePorts(ports);
      await this.d.reconciler.reconcile(scope).catch(warnOnFail(this.d.log, 'undoing a failed start: the next reconcile finishes it'));
      tx(this.d.db, () => this.d.containers.update(c.id, { netns: null, error: (e as Error).message }));
      throw e instanceof DomainError ? e : systemError(`failed to start container ${c.name}: ${(e as Error).message}`);
    }
    await this.d.sandboxChanged(c.id);
    this.proxyIPv6Ports(c.id);
    for (const { network } of joins) this.d.events.emit('network', 'connect', network.id, { container: c.id, name: network.name, type: network.driver });
    if (launch) await this.launch(c, launch);
    this.d.events.emit('container', 'start', c.id, { image: c.config.Image, name: c.name });
  }

  /** Runs the command of a running container whose command a crash kept from starting. */
  async relaunch(c: Container): Promise<void> {
    const mode = modeOf(c);
    const shared = mode.kind === 'container' ? this.d.containers.get(mode.target) : undefined;
    await this.launch(c, await this.prepare(c, commandOf(c), shared));
  }

  /** The command's argv, environment and placement (container-command.ts); a failure is recorded on the container. */
  private async prepare(c: Container, argv: string[], shared: Container | undefined): Promise<PreparedCommand> {
    return prepareCommand(this.d.exec, c, argv, shared, this.d.links.env(c), (message, code) =>
      tx(this.d.db, () => this.d.containers.update(c.id, { exitCode: code, error: message })),
    );
  }

  /** Runs the prepared command in the container's namespaces, as they are now that its sandbox is up. */
  private async launch(c: Container, l: PreparedCommand): Promise<void> {
    const now = this.d.containers.get(c.id) ?? c;
    try {
      const run = await this.d.processes.launch(c.id, launchSpec(c, l, this.d.sandboxes.paths(c), sandboxPath(l.shared ?? now)));
      tx(this.d.db, () => this.d.containers.update(c.id, { pid: run.pid, pidStart: run.pidStart, monitorPid: run.monitorPid }, ['running']));
    } catch (e) {
      const gone = this.d.containers.get(c.id);
      if (gone) await this.teardown(gone, 127, (e as Error).message);
      throw systemError(`failed to start the command of ${c.name}: ${(e as Error).message}`);
    }
  }

  /** Ports on IPv6 host addresses are relayed by the daemon to the container's IPv4 address, as docker-proxy does. */
  proxyIPv6Ports(id: string): void {
    const c = this.d.containers.get(id);
    const spec = c && this.d.sandboxes.spec(c);
    const target = spec && publishTargetOf(spec, this.d.ctx);
    if (!spec || !target) return;
    for (const p of spec.ports ?? []) {
      if (p.hostIp.includes(':')) this.d.exec.forwardPort(p.proto, p.hostIp, p.hostPort, { ip: target, port: p.containerPort });
    }
  }

  /** Ends the command (signal, then SIGKILL after seconds) and tears the sandbox down; resolves with the exit code. */
  async halt(c: Container, sig: NodeJS.Signals, seconds: number): Promise<number> {
    const gone = this.d.processes.nextExit(c.id);
    if (this.d.processes.signal(c.id, sig, 128 + signalNumber(sig))) {
      if (c.paused) await this.resume(c);
      const done = sig === 'SIGKILL' || (await Promise.race([gone.then(() => true), sleep(seconds * 1000).then(() => false)]));
      if (!done) this.d.processes.signal(c.id, 'SIGKILL', 137);
      const code = (await Promise.race([gone, sleep(5000).then(() => 137)])) ?? 137;
      const now = this.d.containers.get(c.id);
      if (now && isUp(now) && now.pid === c.pid) await this.teardown(now, code, '');
      return code;
    }
    const code = sig === 'SIGKILL' ? 137 : 0;
    await this.teardown(c, code, '');
    return code;
  }

  /** A signal to the container's command (its process group); false when none runs. */
  signal(c: Container, sig: NodeJS.Signals): boolean {
    return this.d.processes.signal(c.id, sig, 128 + signalNumber(sig));
  }

  signalPid(pid: number, sig: NodeJS.Signals): void {
    this.d.exec.signal(pid, sig);
  }

  /** SIGCONT to every process of a paused container. */
  async resume(c: Container): Promise<void> {
    for (const pid of await this.processesOf(c)) this.d.exec.signal(pid, 'SIGCONT');
  }

  /** The processes in the container's mount namespace: its command and everything exec started. */
  async processesOf(c: Container): Promise<number[]> {
    const inside = c.hasInside ? await this.d.exec.processesIn(this.d.sandboxes.paths(c).mnt, 'mnt') : [];
    return inside.length || !isSameProcess(this.d.exec, c.pid, c.pidStart) ? inside : [c.pid];
  }

  /** Endpoints, namespaces and files go, dynamic addresses are released, what still runs in it is killed; the container is exited. */
  async teardown(c: Container, exitCode: number, error: string): Promise<void> {
    const eps = this.d.containers.endpointsOf(c.id);
    const ports = this.d.containers.portBindingsOf(c.id);
    const current = this.d.containers.get(c.id) ?? c;
    const leftovers = current.hasInside ? await this.d.exec.processesIn(this.d.sandboxes.paths(c).mnt, 'mnt') : [];
    tx(this.d.db, () => {
      this.d.containers.deleteEndpointsOf(c.id);
      this.d.containers.deletePortBindingsOf(c.id);
      this.d.containers.update(c.id, {
        state: current.state === 'removing' ? 'removing' : 'exited', pid: 0, pidStart: '', monitorPid: 0, exitCode, error,
        finishedAt: formatRfc3339Nano(nowNs()), sandboxId: '', paused: false, hasInside: false,
      });
    });
    // Docker ends a container's every process with it (its cgroup); here, those in its mount namespace
    for (const pid of leftovers) this.d.exec.signal(pid, 'SIGKILL');
    try {
      await this.d.reconciler.reconcile(this.scopeOf(c.id, eps.map((e) => this.d.networks.get(e.networkId))));
      tx(this.d.db, () => this.d.containers.update(c.id, { netns: null }, ['exited', 'removing']));
    } finally {
      await this.d.endpoints.releasePorts(ports);
      await this.d.sandboxChanged(c.id);
      for (const e of eps) {
        const n = this.d.networks.get(e.networkId);
        if (n) this.d.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
      }
      this.d.events.emit('container', 'die', c.id, { exitCode: String(exitCode), image: c.config.Image, name: c.name });
      this.d.waiters.notify(c.id, 'exit', exitCode);
    }
  }

  /**
   * The row goes (the reconciler removes its directories), with the mount points cnmd made for it and,
   * with removeVolumes (`rm -v`, `--rm`), its anonymous volumes; wait?condition=removed returns.
   */
  async destroy(c: Container, removeVolumes = false): Promise<void> {
    this.cancelRestart(c.id);
    await this.d.mountPoints.release(c);
    tx(this.d.db, () => {
      this.d.volumeRepo.forgetMade(c.id);
      this.d.containers.delete(c.id);
    });
    if (removeVolumes || c.hostConfig.AutoRemove) await this.d.volumes.removeAnonymousOf(c.id).catch(warnOnFail(this.d.log, 'removing a container\'s anonymous volumes'));
    await this.d.reconciler.reconcile({ containers: [c.id] }).catch(warnOnFail(this.d.log, 'removing a container\'s directories: the next reconcile finishes it'));
    this.d.events.emit('container', 'destroy', c.id, { image: c.config.Image, name: c.name });
    this.d.waiters.notify(c.id, 'removed', c.exitCode);
  }

  /** A command ended by itself: the sandbox goes, then `--rm` or the restart policy applies. */
  async exited(id: string, pid: number, code: number): Promise<void> {
    await this.d.lock.run(id, async () => {
      const c = this.d.containers.get(id);
      if (!c || !isUp(c) || c.pid !== pid) return;
      await this.teardown(c, code, '').catch(warnOnFail(this.d.log, 'tearing down a sandbox whose command ended: the next reconcile finishes it'));
      await this.afterStop(id, code, false);
    });
  }

  /**
   * After the command ended: an AutoRemove container goes; one whose restart policy says so comes
   * back after Docker's delay (state 'restarting' meanwhile). byUser: stop, kill or rm (no restart).
   */
  async afterStop(id: string, code: number, byUser: boolean): Promise<void> {
    const c = this.d.containers.get(id);
    if (!c || c.state !== 'exited') return;
    if (c.hostConfig.AutoRemove) return this.destroy(c);
    const policy = parseRestartPolicy(c.hostConfig.RestartPolicy);
    if (byUser || !shouldRestart(policy, code, c.restartCount, c.manuallyStopped)) return;
    const delay = this.restarts.nextDelay(id, c.startedAt);
    tx(this.d.db, () => this.d.containers.update(id, { state: 'restarting' }, ['exited']));
    this.schedule(id, delay);
  }

  /** A restarting container is started after delay ms (at once after a daemon restart). */
  schedule(id: string, delay: number): void {
    this.restarts.schedule(id, delay, () => {
      void this.d.lock.run(id, async () => {
        const now = this.d.containers.get(id);
        if (now?.state !== 'restarting') return;
        try {
          await this.start(now, now.restartCount + 1);
          this.d.events.emit('container', 'restart', id, { image: now.config.Image, name: now.name });
        } catch (e) {
          tx(this.d.db, () => this.d.containers.update(id, { state: 'exited', error: (e as Error).message }, ['restarting']));
        }
      });
    });
  }

  cancelRestart(id: string): void {
    this.restarts.cancel(id);
  }

  close(): void {
    this.restarts.close();
  }
}
