/**
 * Containers: a sandbox (network namespace) plus its settings, and optionally one process.
 * Every state change is written to the store in one transaction, then the host is converged for that
 * container; when the host steps fail the store is put back and the host converged again.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Container, Endpoint, EndpointSettingsInput, Network } from '../model.js';
import { ZERO_TIME } from '../model.js';
import { DomainError, conflict, forbidden, invalid, notFound, systemError } from '../errors.js';
import { newId, nowNs, formatRfc3339Nano } from '../ids.js';
import { type Db, tx } from '../store/db.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Executor } from '../host/executor.js';
import { NETNS_DIR } from '../host/readers.js';
import type { GlobalScope } from './global-scope.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { SandboxSpec } from '../reconcile/model.js';
import { sandboxPath, publishTargetOf } from '../reconcile/desired.js';
import { getDriver, type DriverContext } from '../drivers/index.js';
import { parseAddr } from '../ipam/cidr.js';
import { findNetwork } from './lookup.js';
import type { EventBus } from './events.js';
import { type Filters, fuzzyMatch, matchLabels } from './filters.js';
import { randomName } from './names.js';
import { EndpointAllocator } from './endpoints.js';
import { HostJoins } from './host-joins.js';
import { normalizeSignal, signalNumber } from './signals.js';
import { portRequests, type PortBinding } from './ports.js';
import { sandboxFiles } from './dns.js';

export const CONTAINER_LIST_FILTERS = ['id', 'name', 'network', 'label', 'status', 'ancestor', 'before', 'since', 'exited', 'expose', 'health', 'is-task', 'isolation', 'publish', 'volume'] as const;

export interface CreateContainerRequest {
  Image?: string | null;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  Env?: string[] | null;
  Hostname?: string | null;
  Domainname?: string | null;
  ExposedPorts?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
  MacAddress?: string | null;
  /** cnmd extension: put the endpoints into this existing namespace (a path) instead of making one */
  SandboxKey?: string | null;
  HostConfig?: Record<string, any> | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettingsInput | null> | null } | null;
  [key: string]: unknown;
}

export interface ContainerServiceDeps {
  ctx: DriverContext;
  db: Db;
  containers: ContainerRepo;
  networks: NetworkRepo;
  config: Config;
  reconciler: Reconciler;
  exec: Executor;
  events: EventBus;
  /** the store of global (overlay) networks, when the daemon is in a cluster */
  global?: GlobalScope;
}

const NAME_RULE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const PREDEFINED_MODES = ['bridge', 'host', 'none', 'default'];

const asList = (v: string[] | string | null | undefined): string[] => (v == null ? [] : Array.isArray(v) ? v : [v]);
const isUserNetwork = (n: Network) => !n.predefined;

export class ContainerService {
  /** callbacks of wait requests, by container id */
  private readonly waiters = new Map<string, Array<{ condition: string; resolve: (code: number) => void }>>();
  private readonly watchers = new Map<string, NodeJS.Timeout>();
  private closed = false;
  /** Told when a container's sandbox was made, changed or torn down (the daemon serves DNS inside some). */
  sandboxChanged?: (id: string) => Promise<void>;
  /** exit codes to record for processes we signalled but cannot wait on (watched after a restart) */
  private readonly signalled = new Map<string, number>();

  private readonly endpoints: EndpointAllocator;
  private readonly joins: HostJoins;

  constructor(private readonly d: ContainerServiceDeps) {
    this.endpoints = new EndpointAllocator({ ...d, remoteAddresses: d.global && ((id) => d.global!.remoteAddresses(id)) });
    this.joins = new HostJoins({ ...d, endpoints: this.endpoints });
  }

  // ---- lookup ----------------------------------------------------------------------------------

  get(term: string): Container {
    if (!term) throw invalid('invalid name or ID supplied: ""');
    const c = this.d.containers;
    if (/^[0-9a-f]{64}$/.test(term)) {
      const byId = c.get(term);
      if (byId) return byId;
    }
    const byName = c.getByName(term.replace(/^\//, ''));
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(term)) {
      const matches = c.getByIdPrefix(term);
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalid(`multiple IDs found with provided prefix: ${term}`);
    }
    throw notFound(`No such container: ${term}`);
  }

  endpointsOf(id: string): Endpoint[] {
    return this.d.containers.endpointsOf(id);
  }

  list(all: boolean, filters: Filters): Container[] {
    const any = (key: string, pred: (v: string) => boolean) => {
      const values = filters.get(key);
      return !values || values.length === 0 || values.some(pred);
    };
    return this.d.containers.list().filter((c) => {
      if (!all && c.state !== 'running' && !filters.has('status')) return false;
      const eps = c.state === 'running' ? this.d.containers.endpointsOf(c.id) : [];
      return (
        any('id', (v) => c.id.startsWith(v)) &&
        any('name', (v) => fuzzyMatch(v.replace(/^\//, ''), c.name)) &&
        any('status', (v) => v === c.state) &&
        any('network', (v) =>
          eps.some((e) => {
            const n = this.d.networks.get(e.networkId);
            return n?.name === v || e.networkId.startsWith(v);
          }),
        ) &&
        matchLabels(filters.get('label') ?? [], c.config.Labels ?? {})
      );
    });
  }

  counts() {
    return this.d.containers.counts();
  }

  // ---- create / remove -------------------------------------------------------------------------

  async create(name: string | undefined, body: CreateContainerRequest, apiVersion: number): Promise<{ Id: string; Warnings: string[] }> {
    if (name !== undefined && name !== '' && !NAME_RULE.test(name)) {
      throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const hostConfig = { ...(body.HostConfig ?? {}) };
    const warnings: string[] = [];
    let mode = String(hostConfig.NetworkMode ?? '') || 'default';
    if (mode === 'default') mode = 'bridge';
    const endpointsConfig = { ...(body.NetworkingConfig?.EndpointsConfig ?? {}) };
    const configKeys = Object.keys(endpointsConfig);
    if (apiVersion < 1.44 && configKeys.length > 1) {
      throw invalid(`Container cannot be connected to network endpoints: ${configKeys.join(', ')}`);
    }
    if (body.SandboxKey != null && typeof body.SandboxKey !== 'string') throw invalid('SandboxKey must be a path');
    const sandboxKey = body.SandboxKey || null;
    if (sandboxKey && !sandboxKey.startsWith('/')) throw invalid(`SandboxKey ${sandboxKey}: must be an absolute path, such as /run/netns/NAME or /proc/PID/ns/net`);

    validateExtraHosts(hostConfig.ExtraHosts);
    portRequests(hostConfig, body.ExposedPorts);

    if (mode.startsWith('container:')) {
      const target = mode.slice('container:'.length);
      if (!target) throw invalid(`invalid network mode: invalid container format container:<name|id>`);
      if (body.Hostname) throw invalid('conflicting options: hostname and the network mode');
      if (asList(hostConfig.Dns).length) throw invalid('conflicting options: dns and the network mode');
      if (asList(hostConfig.ExtraHosts).length) throw invalid('conflicting options: custom host-to-IP mapping and the network mode');
      if (hostConfig.PortBindings && Object.keys(hostConfig.PortBindings).length) throw invalid('conflicting options: port publishing and the container type network mode');
      if (asList(hostConfig.Links).length) throw invalid('conflicting options: container type network can\'t be used with links. This would result in undefined behavior');
      if (sandboxKey) throw invalid('SandboxKey cannot be used with a container: network mode');
      try {
        mode = `container:${this.get(target).id}`;
      } catch (e) {
        if (!(e instanceof DomainError && e.kind === 'notFound')) throw e;
        // resolved again at start, where Docker reports a missing target
      }
    }
    if (mode === 'host') {
      if (hostConfig.PortBindings && Object.keys(hostConfig.PortBindings).length) warnings.push('Published ports are discarded when using host network mode');
      if (sandboxKey) throw invalid('SandboxKey cannot be used with the host network mode');
    }

    // The networks the container asks for: its NetworkMode, then any other EndpointsConfig entry.
    const requested: Array<{ network: string; settings: EndpointSettingsInput }> = [];
    if (!mode.startsWith('container:') && mode !== 'host') {
      const primary = endpointsConfig[mode] ?? endpointsConfig['default'] ?? {};
      const settings = { ...primary };
      if (body.MacAddress && !settings.MacAddress) settings.MacAddress = body.MacAddress;
      if (mode === 'none') {
        if (configKeys.some((k) => k !== 'none' && k !== 'default')) {
          throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
        }
      } else {
        requested.push({ network: mode, settings });
        for (const k of configKeys) {
          if (k === mode || k === 'default') continue;
          if (PREDEFINED_MODES.includes(k)) throw invalid('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
          requested.push({ network: k, settings: endpointsConfig[k] ?? {} });
        }
      }
    }
    for (const r of requested) this.validateEndpointSettings(r.network, r.settings, apiVersion);

    const id = newId();
    const container: Container = {
      id,
      name: '',
      created: formatRfc3339Nano(nowNs()),
      config: {
        Hostname: body.Hostname || id.slice(0, 12),
        Domainname: body.Domainname ?? '',
        Image: body.Image ?? '',
        Cmd: body.Cmd == null ? null : asList(body.Cmd),
        Entrypoint: body.Entrypoint == null ? null : asList(body.Entrypoint),
        Env: body.Env ?? null,
        ExposedPorts: body.ExposedPorts ?? null,
        Labels: body.Labels ?? {},
        Tty: !!body.Tty,
        OpenStdin: !!body.OpenStdin,
      },
      hostConfig: { ...hostConfig, NetworkMode: mode },
      networkMode: mode,
      sandboxKey,
      netns: null,
      state: 'created',
      pid: 0,
      exitCode: 0,
      error: '',
      startedAt: ZERO_TIME,
      finishedAt: ZERO_TIME,
      sandboxId: '',
      restartCount: 0,
      endpointConfigs: requested,
    };
    tx(this.d.db, () => {
      let chosen = name ? name.replace(/^\//, '') : '';
      if (!chosen) {
        do chosen = randomName();
        while (this.d.containers.getByName(chosen));
      }
      const taken = this.d.containers.getByName(chosen);
      if (taken) {
        throw conflict(
          `Conflict. The container name "/${chosen}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      container.name = chosen;
      this.d.containers.insert(container);
    });
    this.d.events.emit('container', 'create', id, { image: container.config.Image, name: container.name });
    return { Id: id, Warnings: warnings };
  }

  private validateEndpointSettings(network: string, s: EndpointSettingsInput, apiVersion: number): void {
    const known = this.tryNetwork(network);
    const predefined = PREDEFINED_MODES.includes(network) || (known !== undefined && !isUserNetwork(known));
    if (predefined && (s.IPAMConfig?.IPv4Address || s.IPAMConfig?.IPv6Address)) {
      throw invalid('user specified IP address is supported on user defined networks only');
    }
    if (predefined && apiVersion >= 1.44 && (s.Aliases ?? []).length) {
      throw invalid('network-scoped aliases are only supported for user-defined networks');
    }
    for (const a of [s.IPAMConfig?.IPv4Address, s.IPAMConfig?.IPv6Address]) {
      if (a && !parseAddr(a)) throw invalid(`invalid IP address: ${a}`);
    }
    if (s.MacAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(s.MacAddress)) throw invalid(`invalid MAC address: ${s.MacAddress}`);
  }

  private tryNetwork(term: string): Network | undefined {
    try {
      return findNetwork(this.d.networks, term);
    } catch {
      return undefined;
    }
  }

  async remove(term: string, force: boolean): Promise<void> {
    const c = this.get(term);
    if (c.state === 'removing') throw conflict(`removal of container ${c.id} is already in progress`);
    if (c.state === 'running') {
      if (!force) throw conflict(`You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
      // The intent first: a crash from here on is finished by the next start-up (finishRemovals).
      tx(this.d.db, () => this.d.containers.setState({ ...this.d.containers.get(c.id)!, state: 'removing' }));
      this.d.events.emit('container', 'kill', c.id, { image: c.config.Image, name: c.name, signal: '9' });
      await this.halt(c, 'KILL', 0);
    }
    this.destroy(c);
  }

  private destroy(c: Container): void {
    tx(this.d.db, () => this.d.containers.delete(c.id));
    this.d.events.emit('container', 'destroy', c.id, { image: c.config.Image, name: c.name });
    this.notify(c.id, 'removed', c.exitCode);
  }

  // ---- start / stop ----------------------------------------------------------------------------

  async start(term: string): Promise<void> {
    const c = this.get(term);
    if (c.state === 'running') throw new DomainError('notModified', 'container already started');
    const joins: Array<{ endpoint: Endpoint; network: Network }> = [];
    let sharedWith: Container | undefined;
    if (c.networkMode.startsWith('container:')) {
      sharedWith = this.get(c.networkMode.slice('container:'.length));
      if (sharedWith.state !== 'running') throw conflict(`cannot join network of a non running container: ${sharedWith.id}`);
    }
    let netns: string | null = null;
    if (!sharedWith && c.networkMode !== 'host' && !c.sandboxKey) {
      netns = c.name;
      const present = await this.d.exec.listDir(NETNS_DIR);
      if (present.includes(netns) && !this.d.containers.ownedNetns().includes(netns)) {
        throw conflict(`a network namespace named ${netns} already exists and is not managed by cnmd`);
      }
    }
    // Resolve networks first: a missing one fails the start with nothing changed, as in Docker.
    const targets = c.endpointConfigs.map((ec) => ({ ec, network: findNetwork(this.d.networks, ec.network) }));
    // Ports are published through networks that lead out through this host (Docker does not publish on internal ones).
    const publishes = !sharedWith && c.networkMode !== 'host' && targets.some((x) => !x.network.internal && getDriver(x.network.driver)?.localGateway);
    const ports = publishes ? await this.endpoints.reservePorts(portRequests(c.hostConfig, c.config.ExposedPorts)) : [];
    const started = formatRfc3339Nano(nowNs());
    try {
      tx(this.d.db, () => {
        for (const { ec, network } of targets) joins.push({ endpoint: this.endpoints.allocate(c, network, ec.network, ec.settings), network });
        this.d.containers.insertPortBindings(c.id, ports);
        this.d.containers.setState({ ...c, state: 'running', pid: 0, exitCode: 0, error: '', startedAt: started, sandboxId: sharedWith ? '' : newId(), netns });
      });
    } catch (e) {
      await this.endpoints.releasePorts(ports);
      throw e;
    }
    const scope = this.scopeOf(c.id, joins.map((j) => j.network));
    try {
      await this.joins.join(c, joins, scope);
    } catch (e) {
      // Undo: no endpoint, address or port stays; the namespace (still recorded) is removed by the next reconcile.
      await this.joins.release(joins.map((j) => j.endpoint));
      tx(this.d.db, () => {
        this.d.containers.deleteEndpointsOf(c.id);
        this.d.containers.deletePortBindingsOf(c.id);
        this.d.containers.setState({ ...c, netns });
      });
      await this.joins.withdraw(c, joins);
      await this.endpoints.releasePorts(ports);
      await this.d.reconciler.reconcile(scope).catch(() => undefined);
      tx(this.d.db, () => this.d.containers.setState({ ...c, netns: null, error: (e as Error).message }));
      throw e instanceof DomainError ? e : systemError(`failed to start container ${c.name}: ${(e as Error).message}`);
    }
    await this.writeFiles(c.id);
    await this.sandboxChanged?.(c.id);
    this.proxyIPv6Ports(c.id);
    for (const { network } of joins) this.d.events.emit('network', 'connect', network.id, { container: c.id, name: network.name, type: network.driver });
    const argv = [...asList(c.config.Entrypoint), ...asList(c.config.Cmd)];
    if (argv.length) this.runProcess(this.get(c.id), argv, sharedWith);
    this.d.events.emit('container', 'start', c.id, { image: c.config.Image, name: c.name });
  }

  /** Ports on IPv6 host addresses are relayed by the daemon to the container's IPv4 address, as docker-proxy does. */
  private proxyIPv6Ports(id: string): void {
    const c = this.d.containers.get(id);
    const spec = c && this.sandboxSpec(c);
    const target = spec && publishTargetOf(spec, this.d.ctx);
    if (!spec || !target) return;
    for (const p of spec.ports ?? []) {
      if (p.hostIp.includes(':')) this.d.exec.forwardPort(p.proto, p.hostIp, p.hostPort, { ip: target, port: p.containerPort });
    }
  }

  /** Stops the process (signal, then SIGKILL after t seconds) and tears the sandbox down. */
  async stop(term: string, t: number | undefined, signal?: string): Promise<void> {
    const c = this.get(term);
    if (c.state !== 'running') throw new DomainError('notModified', 'container already stopped');
    const sig = normalizeSignal(signal || 'TERM');
    this.d.events.emit('container', 'kill', c.id, { image: c.config.Image, name: c.name, signal: String(signalNumber(sig)) });
    await this.halt(c, sig, t ?? 10);
    this.d.events.emit('container', 'stop', c.id, { image: c.config.Image, name: c.name });
  }

  async kill(term: string, signal: string | undefined): Promise<void> {
    const c = this.get(term);
    if (c.state !== 'running') throw conflict(`Cannot kill container: ${term}: Container ${c.id} is not running`);
    const sig = normalizeSignal(signal || 'KILL');
    this.d.events.emit('container', 'kill', c.id, { image: c.config.Image, name: c.name, signal: String(signalNumber(sig)) });
    if (c.pid > 0 && this.d.exec.isAlive(c.pid)) {
      this.signalled.set(c.id, 128 + signalNumber(sig));
      this.d.exec.signal(-c.pid, sig) || this.d.exec.signal(c.pid, sig);
      return;
    }
    // No process: a sandbox-only container ends on a terminating signal.
    if (['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'].includes(sig)) await this.teardown(c, 128 + signalNumber(sig), '');
  }

  async restart(term: string, t: number | undefined): Promise<void> {
    const c = this.get(term);
    if (c.state === 'running') await this.stop(c.id, t);
    await this.start(c.id);
    this.d.events.emit('container', 'restart', c.id, { image: c.config.Image, name: c.name });
  }

  /** Resolves with the exit code once the condition holds. */
  wait(term: string, condition: string): Promise<number> {
    const c = this.get(term);
    if (!['not-running', 'next-exit', 'removed', ''].includes(condition)) {
      throw invalid(`invalid condition: "${condition}"`);
    }
    const cond = condition || 'not-running';
    if (cond === 'not-running' && c.state !== 'running') return Promise.resolve(c.exitCode);
    return new Promise((resolve) => {
      const list = this.waiters.get(c.id) ?? [];
      list.push({ condition: cond, resolve });
      this.waiters.set(c.id, list);
    });
  }

  private notify(id: string, what: 'exit' | 'removed', code: number): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const keep = list.filter((w) => {
      const fire = what === 'removed' || w.condition !== 'removed';
      if (fire) w.resolve(code);
      return !fire;
    });
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  private async halt(c: Container, signal: string, seconds: number): Promise<void> {
    const sig = normalizeSignal(signal);
    if (c.pid > 0 && this.d.exec.isAlive(c.pid)) {
      const gone = this.exited(c.id);
      this.signalled.set(c.id, 128 + signalNumber(sig));
      this.d.exec.signal(-c.pid, sig) || this.d.exec.signal(c.pid, sig);
      // SIGKILL needs no grace period and no second SIGKILL: one signal, then the wait for the exit
      const done = sig === 'SIGKILL' || (await Promise.race([gone.then(() => true), sleep(seconds * 1000).then(() => false)]));
      if (!done) {
        this.signalled.set(c.id, 137);
        this.d.exec.signal(-c.pid, 'SIGKILL') || this.d.exec.signal(c.pid, 'SIGKILL');
      }
      await Promise.race([gone, sleep(5000)]);
      const now = this.d.containers.get(c.id);
      // not torn down yet by processExited (which clears the pid)
      if (now && isUp(now) && now.pid === c.pid) await this.teardown(now, 137, '');
      return;
    }
    await this.teardown(c, sig === 'SIGKILL' ? 137 : 0, '');
  }

  /** Promise that settles when the container's teardown after its process ended is done. */
  private exited(id: string): Promise<void> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ condition: 'next-exit', resolve: () => resolve() });
      this.waiters.set(id, list);
    });
  }

  /** Endpoints and namespace go, dynamic addresses are released; the container is exited. */
  private async teardown(c: Container, exitCode: number, error: string): Promise<void> {
    const eps = this.d.containers.endpointsOf(c.id);
    const ports = this.d.containers.portBindingsOf(c.id);
    const finished = formatRfc3339Nano(nowNs());
    const current = this.d.containers.get(c.id) ?? c;
    tx(this.d.db, () => {
      this.d.containers.deleteEndpointsOf(c.id);
      this.d.containers.deletePortBindingsOf(c.id);
      const state = current.state === 'removing' ? 'removing' : 'exited';
      this.d.containers.setState({ ...current, state, pid: 0, exitCode, error, finishedAt: finished, sandboxId: '' });
    });
    const watcher = this.watchers.get(c.id);
    if (watcher) clearInterval(watcher);
    this.watchers.delete(c.id);
    try {
      await this.d.reconciler.reconcile(this.scopeOf(c.id, eps.map((e) => this.d.networks.get(e.networkId))));
      tx(this.d.db, () => {
        const now = this.d.containers.get(c.id);
        if (now && now.state !== 'running') this.d.containers.setState({ ...now, netns: null });
      });
    } finally {
      await this.endpoints.releasePorts(ports);
      await this.removeFiles(current);
      await this.sandboxChanged?.(c.id);
      for (const e of eps) {
        const n = this.d.networks.get(e.networkId);
        if (n) this.d.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
      }
      this.d.events.emit('container', 'die', c.id, { exitCode: String(exitCode), image: c.config.Image, name: c.name });
      this.notify(c.id, 'exit', exitCode);
    }
  }

  // ---- resolv.conf and hosts ---------------------------------------------------------------------

  /** Where inspect says they are, and (for a namespace cnmd made) where `ip netns exec` mounts them. */
  filePaths(c: Container): { resolvConf: string[]; hosts: string[] } {
    const dir = join(this.d.config.dataRoot, 'containers', c.id);
    const netnsDir = c.netns ? `/etc/netns/${c.netns}` : undefined;
    return {
      resolvConf: [join(dir, 'resolv.conf'), ...(netnsDir ? [`${netnsDir}/resolv.conf`] : [])],
      hosts: [join(dir, 'hosts'), ...(netnsDir ? [`${netnsDir}/hosts`] : [])],
    };
  }

  private async writeFiles(id: string): Promise<void> {
    const c = this.d.containers.get(id);
    if (!c || c.state !== 'running' || c.networkMode === 'host' || c.networkMode.startsWith('container:')) return;
    const eps = this.d.containers.endpointsOf(c.id).map((e) => ({ network: this.d.networks.get(e.networkId)!, ipv4: e.ipv4 })).filter((e) => e.network);
    const files = sandboxFiles(c, eps, this.d.config.dns, (await this.d.exec.readFile('/etc/resolv.conf')) ?? '');
    const paths = this.filePaths(c);
    for (const p of paths.resolvConf) await this.d.exec.writeFile(p, files.resolvConf);
    for (const p of paths.hosts) await this.d.exec.writeFile(p, files.hosts);
  }

  private async removeFiles(c: Container): Promise<void> {
    if (c.netns) await this.d.exec.removePath(`/etc/netns/${c.netns}`);
  }

  // ---- processes -------------------------------------------------------------------------------

  logPaths(id: string) {
    const dir = join(this.d.config.dataRoot, 'containers', id);
    return { stdoutPath: join(dir, 'stdout.log'), stderrPath: join(dir, 'stderr.log') };
  }

  /** Runs argv inside the sandbox (no filesystem or PID isolation: cnmd is not a container runtime). */
  private runProcess(c: Container, argv: string[], sharedWith?: Container): void {
    const path = sharedWith ? sandboxPath(sharedWith) : sandboxPath(c);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: c.config.Hostname };
    for (const kv of c.config.Env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    // how a start-up finds this process when a crash came before its pid was recorded
    env[PROCESS_MARKER] = c.id;
    const [file, args] = path ? ['nsenter', [`--net=${path}`, '--', ...argv]] : [argv[0], argv.slice(1)];
    const p = this.d.exec.spawnProcess(file, args, { env, ...this.logPaths(c.id) });
    this.recordProcess(c.id, p.pid);
    void p.exit.then((code) => this.processExited(c.id, p.pid, code));
  }

  private recordProcess(id: string, pid: number): void {
    tx(this.d.db, () => {
      const now = this.d.containers.get(id);
      if (now && now.state === 'running') this.d.containers.setState({ ...now, pid });
    });
  }

  private async processExited(id: string, pid: number, code: number): Promise<void> {
    if (this.closed) return;
    const c = this.d.containers.get(id);
    this.signalled.delete(id);
    if (!c || !isUp(c) || c.pid !== pid) return;
    await this.teardown(c, code, '').catch(() => undefined);
  }

  /**
   * After a daemon restart (the start-up reconcile has run): what a crash cut short is finished from
   * the store's record. A removal in progress is completed; a start whose command was not recorded
   * adopts the command if it runs (found by its marker) or runs it; a running container whose
   * process is still alive is watched again (its exit status is then unknown: 255), one whose process
   * is gone is marked exited; resolv.conf and hosts are written again; files of sandboxes that are
   * gone are removed.
   */
  async adoptProcesses(): Promise<void> {
    for (const c of this.d.containers.list()) {
      if (c.state === 'removing') await this.finishRemoval(c);
      else if (c.state !== 'running' && c.netns) {
        await this.removeFiles(c);
        tx(this.d.db, () => this.d.containers.setState({ ...c, netns: null }));
      }
    }
    for (const c of this.d.containers.running()) {
      for (const p of this.d.containers.portBindingsOf(c.id)) {
        // held again so that no other program binds a published port; the DNAT rules work regardless
        await this.d.exec.reservePort(p.proto, p.hostIp, p.hostPort).catch(() => undefined);
      }
      this.proxyIPv6Ports(c.id);
      await this.writeFiles(c.id);
      await this.sandboxChanged?.(c.id);
      const argv = [...asList(c.config.Entrypoint), ...asList(c.config.Cmd)];
      let pid = c.pid;
      if (argv.length && pid <= 0) {
        // the daemon stopped between the start's transaction and recording the command's pid
        pid = (await this.d.exec.findProcess(`${PROCESS_MARKER}=${c.id}`)) ?? 0;
        if (pid > 0) this.recordProcess(c.id, pid);
        else {
          const shared = c.networkMode.startsWith('container:') ? this.d.containers.get(c.networkMode.slice('container:'.length)) : undefined;
          this.runProcess(c, argv, shared);
          continue;
        }
      }
      if (pid <= 0) continue;
      if (!this.d.exec.isAlive(pid)) {
        await this.teardown(c, 255, 'the process ended while cnmd was not running').catch(() => undefined);
        continue;
      }
      const timer = setInterval(() => {
        if (!this.d.exec.isAlive(pid)) void this.processExited(c.id, pid, this.signalled.get(c.id) ?? 255);
      }, 250);
      timer.unref();
      this.watchers.set(c.id, timer);
    }
  }

  /** A `rm -f` that a crash cut short: its process is killed, its sandbox is gone (start-up reconcile), its row goes. */
  private async finishRemoval(c: Container): Promise<void> {
    const pid = c.pid > 0 ? c.pid : await this.d.exec.findProcess(`${PROCESS_MARKER}=${c.id}`);
    if (pid && this.d.exec.isAlive(pid)) this.d.exec.signal(-pid, 'SIGKILL') || this.d.exec.signal(pid, 'SIGKILL');
    if (this.d.containers.endpointsOf(c.id).length || this.d.containers.portBindingsOf(c.id).length) {
      await this.teardown(c, 137, '');
    }
    await this.removeFiles(c);
    this.destroy(c);
  }

  close(): void {
    this.closed = true;
    for (const t of this.watchers.values()) clearInterval(t);
  }

  // ---- connect / disconnect --------------------------------------------------------------------

  async connect(networkTerm: string, containerTerm: string, settings: EndpointSettingsInput | null, apiVersion: number): Promise<void> {
    const c = this.get(containerTerm);
    const s: EndpointSettingsInput = { ...(settings ?? {}) };
    if (apiVersion < 1.48) delete s.GwPriority;
    // Docker applies a MacAddress given to connect only from API 1.54, beyond what cnmd speaks.
    delete s.MacAddress;
    if (c.networkMode.startsWith('container:')) {
      throw forbidden('container sharing network namespace with another container or host cannot be connected to any other network');
    }
    if (c.networkMode === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
    if (c.networkMode === 'none') throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (c.state !== 'running') {
      const known = this.tryNetwork(networkTerm);
      if (known?.driver === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
      if (known?.driver === 'null') throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      this.validateEndpointSettings(networkTerm, s, apiVersion);
      const key = known ? known.name : networkTerm;
      if (c.endpointConfigs.some((e) => e.network === key || (known && this.tryNetwork(e.network)?.id === known.id))) {
        throw forbidden(`endpoint with name ${c.name} already exists in network ${key}`);
      }
      tx(this.d.db, () => this.d.containers.addEndpointConfig(c.id, key, s));
      return;
    }
    const network = findNetwork(this.d.networks, networkTerm);
    this.validateEndpointSettings(network.name, s, apiVersion);
    let endpoint: Endpoint | undefined;
    tx(this.d.db, () => {
      endpoint = this.endpoints.allocate(c, network, network.name, s);
      this.d.containers.removeEndpointConfig(c.id, network.name);
      this.d.containers.addEndpointConfig(c.id, network.name, s);
    });
    const joined = [{ endpoint: endpoint!, network }];
    try {
      await this.joins.join(c, joined, this.scopeOf(c.id, [network]));
    } catch (e) {
      await this.joins.release(joined.map((j) => j.endpoint));
      tx(this.d.db, () => {
        this.d.containers.deleteEndpoint(joined[0].endpoint.id);
        this.d.containers.removeEndpointConfig(c.id, network.name);
      });
      await this.joins.withdraw(c, joined);
      await this.d.reconciler.reconcile(this.scopeOf(c.id, [network])).catch(() => undefined);
      throw e instanceof DomainError ? e : systemError(`failed to connect ${c.name} to ${network.name}: ${(e as Error).message}`);
    }
    await this.writeFiles(c.id);
    await this.sandboxChanged?.(c.id);
    this.d.events.emit('network', 'connect', network.id, { container: c.id, name: network.name, type: network.driver });
  }

  async disconnect(networkTerm: string, containerTerm: string, force: boolean): Promise<void> {
    const c = this.get(containerTerm);
    if (c.networkMode === 'host' && (networkTerm === 'host' || this.tryNetwork(networkTerm)?.driver === 'host')) {
      throw invalid('container cannot be disconnected from host network or connected to host network');
    }
    if (c.state !== 'running') {
      const known = this.tryNetwork(networkTerm);
      const key = c.endpointConfigs.find((e) => e.network === networkTerm || (known && this.tryNetwork(e.network)?.id === known.id))?.network;
      if (!key) throw systemError(`container ${c.id} is not connected to the network ${networkTerm}`);
      tx(this.d.db, () => this.d.containers.removeEndpointConfig(c.id, key));
      return;
    }
    let network: Network | undefined;
    try {
      network = findNetwork(this.d.networks, networkTerm);
    } catch (e) {
      if (!force) throw e;
    }
    const eps = this.d.containers.endpointsOf(c.id);
    const ep = network ? eps.find((e) => e.networkId === network!.id) : eps.find((e) => e.configKey === networkTerm);
    if (!ep) throw systemError(`container ${c.id} is not connected to network ${network?.name ?? networkTerm}`);
    tx(this.d.db, () => {
      this.d.containers.deleteEndpoint(ep.id);
      this.d.containers.removeEndpointConfig(c.id, ep.configKey);
    });
    await this.d.reconciler.reconcile(this.scopeOf(c.id, [this.d.networks.get(ep.networkId)]));
    await this.writeFiles(c.id);
    await this.sandboxChanged?.(c.id);
    const n = this.d.networks.get(ep.networkId);
    if (n) this.d.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
  }

  // ---- global (overlay) networks -----------------------------------------------------------------

  /** What a change to this container's sandbox touches: the sandbox, and the data plane of its global networks. */
  private scopeOf(id: string, networks: Array<Network | undefined>): { containers: string[]; networks: string[] } {
    return { containers: [id], networks: networks.filter((n): n is Network => n?.scope === 'global').map((n) => n.id) };
  }

  /**
   * An endpoint whose address another host claimed while this host was away from the cluster store:
   * it moves to a free address (a new interface in the sandbox), so that no two hosts use one address.
   * A requested address (--ip) cannot move: that fails, and the caller says so.
   */
  async readdress(ep: Endpoint): Promise<void> {
    const c = this.d.containers.get(ep.containerId);
    const network = this.d.networks.get(ep.networkId);
    if (!c || !network || c.state !== 'running') return;
    const joins = [{ endpoint: ep, network }];
    await this.joins.join(c, joins, this.scopeOf(c.id, [network]));
    await this.writeFiles(c.id);
    await this.sandboxChanged?.(c.id);
    const to = joins[0].endpoint.ipv4 ?? '';
    this.d.events.emit('cnmd', 'readdress', c.id, { name: c.name, network: network.name, from: ep.ipv4 ?? '', to });
  }

  // ---- for the reconciler ----------------------------------------------------------------------

  sandboxSpec(c: Container): SandboxSpec | undefined {
    if (c.state !== 'running') return undefined;
    const endpoints = this.d.containers
      .endpointsOf(c.id)
      .map((endpoint) => ({ endpoint, network: this.d.networks.get(endpoint.networkId)! }))
      .filter((e) => e.network);
    const pid = c.pid > 0 && this.d.exec.isAlive(c.pid) ? c.pid : undefined;
    return { container: c, endpoints, ports: this.d.containers.portBindingsOf(c.id), ...(pid ? { pid } : {}) };
  }

  portBindingsOf(id: string): PortBinding[] {
    return this.d.containers.portBindingsOf(id);
  }
}

/** The environment entry that names a container's process (CNMD_CONTAINER_ID=<id>). */
export const PROCESS_MARKER = 'CNMD_CONTAINER_ID';

/** Running, or being removed with its sandbox still up. */
const isUp = (c: Container) => c.state === 'running' || c.state === 'removing';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function validateExtraHosts(v: unknown): void {
  for (const h of asList(v as string[] | null)) {
    const m = /^([^:=\s]+)[:=](.+)$/.exec(h);
    if (!m || (m[2] !== 'host-gateway' && !parseAddr(m[2].replace(/^\[|\]$/g, '')))) throw invalid(`bad format for add-host: "${h}"`);
  }
}

