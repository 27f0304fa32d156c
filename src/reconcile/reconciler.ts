/**
 * Converges the host to the store. One run at a time. A full run reads the host (two process
 * starts) and plans everything; a run scoped to the networks a request touched plans against the
 * host state remembered from the last run, and falls back to a fresh read when applying fails
 * (someone changed the host behind our back) or when shared state needs rebuilding.
 */
import type { Network } from '../model.js';
import type { DriverContext } from '../drivers/index.js';
import type { Executor } from '../host/executor.js';
import type { HostState } from '../host/state.js';
import { readHostState } from '../host/readers.js';
import { applySteps, type HostSteps } from '../host/apply.js';
import { describeIptables } from '../host/iptables-text.js';
import { describeNft } from '../host/nft.js';
import { bridgeLine, ipLine } from '../host/ip-text.js';
import { desiredState, sandboxPath, type ContainerDirs } from './desired.js';
import type { SandboxSpec } from './model.js';
import { plan, adopt, NeedsFullReconcile, type Step, type PlanOptions } from './plan.js';
import type { DesiredState } from './model.js';
import { type FirewallStep, chainChanges, chainsToRecord, fromRecordKey, keptChains } from '../firewall/index.js';

export interface ReconcileReport {
  /** RFC3339 time the run started */
  at: string;
  scope: 'all' | string[];
  durationMs: number;
  steps: string[];
  error?: string;
}

export interface ReconcilerDeps {
  exec: Executor;
  ctx: DriverContext;
  listNetworks: () => Network[];
  getNetwork: (id: string) => Network | undefined;
  /** running containers with their endpoints */
  listSandboxes?: () => SandboxSpec[];
  getSandbox?: (containerId: string) => SandboxSpec | undefined;
  /** namespaces the store says cnmd made: name and owning container id */
  ownedNetns?: () => Array<{ name: string; owner: string }>;
  /** the containers whose directories stay (all, or those of these ids that exist), and where they are */
  containerDirs?: (ids?: string[]) => ContainerDirs;
  /** the iptables chains cnmd made (its record in the store): only these are ever removed */
  firewallRecord?: { list(): Set<string>; add(keys: Iterable<string>): void; remove(keys: Iterable<string>): void };
  onReport?: (r: ReconcileReport) => void;
}

/** What a scoped reconcile covers: networks and containers (sandboxes), by full id. */
export interface Scope {
  networks?: string[];
  containers?: string[];
}

export function describeStep(s: Step): string {
  switch (s.kind) {
    case 'sysctl': return `sysctl -w ${s.key}=${s.value}`;
    case 'ip': return `ip ${ipLine(s.op)}`;
    case 'ipns': return `nsenter --net=${s.path} ip ${ipLine(s.op)}`;
    case 'nssysctl': return `nsenter --net=${s.path} sysctl -w ${s.key}=${s.value}`;
    case 'bridge': return `bridge ${bridgeLine(s.op)}`;
    case 'iptables': return describeIptables(s.table, s.line, s.family);
    case 'nft': return describeNft({ name: s.table }, s.op);
    case 'file': return `write ${s.path}`;
    case 'mntns': return s.holderPid ? `mount --bind /proc/${s.holderPid}/ns/mnt ${s.path}` : `unshare --mount=${s.path} mount -a --fstab ${s.fstab}`;
    case 'utsns': return s.holderPid ? `mount --bind /proc/${s.holderPid}/ns/uts ${s.path}` : `unshare --uts=${s.path} hostname ${s.hostname}`;
    case 'umount': return `umount ${s.path}`;
    case 'rm': return `rm -r ${s.path}`;
  }
}

export function toHostSteps(steps: Step[]): HostSteps {
  const out: Required<HostSteps> = {
    sysctls: [], ipLines: [], iptables: [], nft: [], inside: new Map(), insideSysctls: new Map(), bridgeLines: [], files: [], namespaces: [], umounts: [], removals: [],
  };
  for (const s of steps) {
    if (s.kind === 'sysctl') out.sysctls.push({ key: s.key, value: s.value });
    else if (s.kind === 'ip') out.ipLines.push(ipLine(s.op));
    else if (s.kind === 'ipns') out.inside.set(s.path, [...(out.inside.get(s.path) ?? []), ipLine(s.op)]);
    else if (s.kind === 'nssysctl') out.insideSysctls.set(s.path, [...(out.insideSysctls.get(s.path) ?? []), `${s.key}=${s.value}`]);
    else if (s.kind === 'bridge') out.bridgeLines.push(bridgeLine(s.op));
    else if (s.kind === 'file') out.files.push({ path: s.path, content: s.content });
    else if (s.kind === 'mntns') out.namespaces.push({ kind: 'mnt', path: s.path, fstab: s.fstab, ...(s.holderPid ? { holderPid: s.holderPid } : {}) });
    else if (s.kind === 'utsns') out.namespaces.push({ kind: 'uts', path: s.path, hostname: s.hostname, domainname: s.domainname, ...(s.holderPid ? { holderPid: s.holderPid } : {}) });
    else if (s.kind === 'umount') out.umounts.push(s.path);
    else if (s.kind === 'rm') out.removals.push(s.path);
    else if (s.kind === 'nft') out.nft.push({ table: s.table, op: s.op });
    else out.iptables.push({ table: s.table, phase: s.phase, line: s.line, ...(s.family === 6 ? { family: 6 as const } : {}) });
  }
  return out;
}

export class Reconciler {
  private state: HostState | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  last: ReconcileReport | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Converge everything cnmd owns, sandboxes read from the inside too (at start). */
  reconcileAll(): Promise<ReconcileReport> {
    return this.serialize(() => this.run('all', async () => this.full()));
  }

  /** Converge the objects of these networks (existing or just deleted) and the shared base. */
  reconcileNetworks(ids: string[]): Promise<ReconcileReport> {
    return this.reconcile({ networks: ids });
  }

  /** Converge the objects of these networks and containers (existing or just removed) and the shared base. */
  reconcile(scope: Scope): Promise<ReconcileReport> {
    this.lastRequestAt = Date.now();
    const ids = [...(scope.networks ?? []), ...(scope.containers ?? [])];
    return this.serialize(() => this.run(ids, async () => this.scoped(scope)));
  }

  /** The steps a full run would apply now, without applying them. */
  planAll(): Promise<string[]> {
    return this.serialize(async () => {
      const { desired, state, o } = await this.readAll();
      return plan(desired, state, o).map(describeStep);
    });
  }

  /** runs queued or running, and runs started so far: a periodic run gives way to both */
  private pending = 0;
  private generation = 0;
  private lastRequestAt = 0;
  private deferred = 0;

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = () => {
      this.generation++;
      return fn();
    };
    const next = this.queue.then(run, run).finally(() => this.pending--);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * The periodic repair. It reads the host outside the queue and gives way to requests: when one is
   * waiting or ran while it read, it does nothing this time (the next interval comes soon), so a
   * request never waits behind a full read of the host.
   */
  async repair(): Promise<ReconcileReport | undefined> {
    // A busy daemon (requests in the last second) repairs at most every tenth time it is asked.
    const busy = Date.now() - this.lastRequestAt < 1000;
    if (busy && ++this.deferred < 10) return undefined;
    if (this.pending > 0 || !this.state) return undefined;
    this.deferred = 0;
    const gen = this.generation;
    const started = Date.now();
    const before = this.desiredAll();
    const state = await this.readHost([], before);
    if (this.pending > 0 || gen !== this.generation) return undefined;
    return this.serialize(() =>
      this.run('all', async () => {
        if (gen + 1 !== this.generation || !this.state) return [];
        state.sandboxes = this.state.sandboxes;
        const desired = this.desiredAll();
        const o = this.options(null);
        const steps = plan(desired, state, o);
        this.state = state;
        await this.apply(steps, state, desired, o);
        adopt(state, desired, o);
        return steps;
      }, started),
    );
  }

  /** started: when the run began, earlier than now for a repair that read the host first */
  private async run(scope: 'all' | string[], fn: () => Promise<Step[]>, started = Date.now()): Promise<ReconcileReport> {
    const report: ReconcileReport = { at: new Date(started).toISOString(), scope, durationMs: 0, steps: [] };
    try {
      report.steps = (await fn()).map(describeStep);
      return report;
    } catch (e) {
      report.error = (e as Error).message;
      throw e;
    } finally {
      report.durationMs = Date.now() - started;
      this.last = report;
      this.deps.onReport?.(report);
    }
  }

  private options(owners: Set<string> | null): PlanOptions {
    const { instance, chainPrefix, firewall, firewallTools } = this.deps.ctx;
    return { instance, chainPrefix, firewall, owners, ...(firewall === 'nftables' && firewallTools?.iptables ? { besideIptables: true } : {}) };
  }

  /** started: whether a full run has happened (the iptables backend looks for an nftables table of ours only at start) */
  private started = false;

  /** What of the firewall a read looks at: the backend's own state, and the other backend's where it matters. */
  private firewallReads(): { iptables: boolean; nft: boolean } {
    const { firewall, firewallTools } = this.deps.ctx;
    return {
      iptables: firewall === 'iptables' || (firewall === 'nftables' && !!firewallTools?.iptables),
      nft: firewall === 'nftables' || (firewall === 'iptables' && !!firewallTools?.nft && !this.started),
    };
  }

  private desiredAll() {
    return desiredState(this.deps.listNetworks(), this.deps.ctx, this.deps.listSandboxes?.() ?? [], this.deps.ownedNetns?.() ?? [], this.deps.containerDirs?.());
  }

  private readHost(sandboxes: SandboxSpec[], desired: ReturnType<typeof desiredState>): Promise<HostState> {
    const sysctls = desired.sysctls.map((x) => x.key);
    const dirs = this.deps.containerDirs?.([]);
    const state = readHostState(this.deps.exec, {
      files: desired.files.map((f) => f.path),
      ...(dirs ? { roots: { dataRoot: dirs.dataRoot, runRoot: dirs.runRoot } } : {}),
      neighbors: desired.links.some((l) => l.kind === 'vxlan'),
      chainPrefix: this.deps.ctx.chainPrefix,
      instance: this.deps.ctx.instance,
      ...this.firewallReads(),
      sysctls: [...new Set(sysctls)],
      sandboxes: sandboxes.map((s) => sandboxPath(s.container)).filter((p): p is string => !!p),
    });
    return state.then((st) => this.withRecord(st));
  }

  /** The record of the chains cnmd made, on a state just read; a host with chains of ours and no record yet starts it from their names. */
  private withRecord(state: HostState): HostState {
    const record = this.deps.firewallRecord;
    if (!record) return state;
    let made = record.list();
    if (made.size === 0 && state.rules.chains.size + state.rules6.chains.size > 0) {
      record.add(chainsToRecord(state, this.deps.ctx.chainPrefix));
      made = record.list();
    }
    state.rules.made = new Set();
    state.rules6.made = new Set();
    for (const key of made) {
      const [family, k] = fromRecordKey(key);
      (family === 6 ? state.rules6 : state.rules).made!.add(k);
    }
    return state;
  }

  private async readAll() {
    const sandboxes = this.deps.listSandboxes?.() ?? [];
    const desired = this.desiredAll();
    const state = await this.readHost(sandboxes, desired);
    return { desired, state, o: this.options(null) };
  }

  private async full(): Promise<Step[]> {
    const { desired, state, o } = await this.readAll();
    this.state = state;
    const steps = plan(desired, state, o);
    await this.apply(steps, state, desired, o);
    adopt(state, desired, o);
    this.started = true;
    return steps;
  }

  private async scoped(scope: Scope): Promise<Step[]> {
    if (!this.state) return this.full();
    const networks = (scope.networks ?? []).map((id) => this.deps.getNetwork(id)).filter((n): n is Network => !!n);
    const sandboxes = (scope.containers ?? []).map((id) => this.deps.getSandbox?.(id)).filter((s): s is SandboxSpec => !!s);
    const containerOwners = new Set((scope.containers ?? []).map((id) => id.slice(0, 12)));
    const owned = (this.deps.ownedNetns?.() ?? []).filter((n) => containerOwners.has(n.owner));
    const desired = desiredState(networks, this.deps.ctx, sandboxes, owned, this.deps.containerDirs?.(scope.containers ?? []));
    const ids = [...(scope.networks ?? []), ...(scope.containers ?? [])];
    const o = this.options(new Set(ids.map((id) => id.slice(0, 12))));
    const attempt = async (state: HostState) => {
      const steps = plan(desired, state, o);
      await this.apply(steps, state, desired, o);
      adopt(state, desired, o);
      return steps;
    };
    try {
      return await attempt(this.state);
    } catch (e) {
      if (e instanceof NeedsFullReconcile) return this.full();
      // What we remembered was out of date: read the host again and retry once.
      this.state = undefined;
      const fresh = await this.readHost(this.deps.listSandboxes?.() ?? [], desired);
      try {
        const steps = await attempt(fresh);
        this.state = fresh;
        return steps;
      } catch (e2) {
        if (e2 instanceof NeedsFullReconcile) return this.full();
        throw e2;
      }
    }
  }

  /**
   * Runs the steps. The chains of ours the plan keeps or makes are recorded first (a crash in between
   * leaves a record of a chain that may not exist, never a chain without its record); those it
   * removed leave the record after.
   */
  private async apply(steps: Step[], state: HostState, desired: DesiredState, o: PlanOptions): Promise<void> {
    const record = this.deps.firewallRecord;
    // the in-memory record of each family, by "table chain"
    const made = (key: string) => {
      const [family, k] = fromRecordKey(key);
      return { set: (family === 6 ? state.rules6 : state.rules).made, k };
    };
    const changes = chainChanges(steps.filter((s): s is FirewallStep => s.kind === 'iptables'));
    if (record && state.rules.made) {
      const keep = [...changes.made, ...keptChains(desired.firewall, o)].filter((key) => {
        const m = made(key);
        return !m.set?.has(m.k);
      });
      record.add(keep);
      for (const key of keep) made(key).set?.add(made(key).k);
    }
    if (steps.length) await applySteps(this.deps.exec, toHostSteps(steps));
    if (record && state.rules.made) {
      record.remove(changes.removed);
      for (const key of changes.removed) made(key).set?.delete(made(key).k);
    }
  }
}
