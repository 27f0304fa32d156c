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
import { applySteps } from '../host/apply.js';
import { DeferredDeletions } from '../host/deferred-deletions.js';
import { describeStep, toHostSteps } from './steps.js';

export { describeStep, toHostSteps } from './steps.js';
import { desiredState, sandboxPath, type ContainerDirs } from './desired.js';
import type { SandboxSpec } from './model.js';
import { plan, adopt, NeedsFullReconcile, type Step, type PlanOptions } from './plan.js';
import { splitBySandbox, SetApart } from './apart.js';
import type { DesiredState } from './model.js';
import { type FirewallStep, chainChanges, chainsToRecord, fromRecordKey, keptChains } from '../firewall/index.js';

export interface ReconcileReport {
  /** RFC3339 time the run started */
  at: string;
  scope: 'all' | string[];
  durationMs: number;
  steps: string[];
  error?: string;
  /** containers set apart by this run: their sandbox failed (container id: why) */
  failed?: Record<string, string>;
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
  /** a link deletion left to finish in the background failed (the next full run deletes what is left) */
  onDeferredError?: (e: Error) => void;
  /**
   * A running container whose sandbox cannot be converged (its adopted namespace is gone, a step of
   * its own fails): it was set apart so that the rest converges; the callee ends it (marks it exited
   * with the error). Called after the run, outside the queue.
   */
  onSandboxFailed?: (containerId: string, error: string) => Promise<void>;
}

/** What a scoped reconcile covers: networks and containers (sandboxes), by full id. */
export interface Scope {
  networks?: string[];
  containers?: string[];
}

export class Reconciler {
  private state: HostState | undefined;
  private readonly apart: SetApart;
  private queue: Promise<unknown> = Promise.resolve();
  last: ReconcileReport | undefined;

  /** link deletions still finishing after the runs that asked for them (src/host/apply.ts) */
  private readonly deletions: DeferredDeletions;

  constructor(private readonly deps: ReconcilerDeps) {
    this.deletions = new DeferredDeletions((e) => deps.onDeferredError?.(e));
    this.apart = new SetApart(() => deps.listSandboxes?.() ?? [], deps.exec, deps.onSandboxFailed);
  }

  /** Converge everything cnmd owns, sandboxes read from the inside too (at start). */
  async reconcileAll(): Promise<ReconcileReport> {
    const report = await this.serialize(() => this.run('all', async () => this.full(true)));
    await this.apart.settle();
    return report;
  }

  /** Converge the objects of these networks (existing or just deleted) and the shared base. */
  reconcileNetworks(ids: string[]): Promise<ReconcileReport> {
    return this.reconcile({ networks: ids });
  }

  /** Converge the objects of these networks and containers (existing or just removed) and the shared base. */
  reconcile(scope: Scope): Promise<ReconcileReport> {
    this.lastRequestAt = Date.now();
    const ids = [...(scope.networks ?? []), ...(scope.containers ?? [])];
    return this.serialize(() => this.run(ids, async () => this.scoped(scope))).finally(() => void this.apart.settle());
  }

  /** resolves when the link deletions left running have ended (the daemon waits for them at close) */
  settled(): Promise<void> {
    return this.deletions.settled();
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
        this.state = state;
        return this.applyAll(desired, state, o, true);
      }, started),
    ).finally(() => void this.apart.settle());
  }

  /** started: when the run began, earlier than now for a repair that read the host first */
  private async run(scope: 'all' | string[], fn: () => Promise<Step[]>, started = Date.now()): Promise<ReconcileReport> {
    const report: ReconcileReport = { at: new Date(started).toISOString(), scope, durationMs: 0, steps: [], failed: {} };
    this.last = report;
    try {
      report.steps = (await fn()).map(describeStep);
      return report;
    } catch (e) {
      report.error = (e as Error).message;
      throw e;
    } finally {
      report.durationMs = Date.now() - started;
      if (!Object.keys(report.failed!).length) delete report.failed;
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
    return desiredState(this.deps.listNetworks(), this.deps.ctx, this.apart.live(), this.deps.ownedNetns?.() ?? [], this.deps.containerDirs?.());
  }

  private async readHost(sandboxes: SandboxSpec[], desired: ReturnType<typeof desiredState>): Promise<HostState> {
    // a read sees deletions finished, never a link half gone
    await this.deletions.settled();
    const sysctls = desired.sysctls.map((x) => x.key);
    const dirs = this.deps.containerDirs?.([]);
    const state = readHostState(this.deps.exec, {
      files: desired.files.map((f) => f.path),
      ...(dirs ? { roots: { dataRoot: dirs.dataRoot, runRoot: dirs.runRoot } } : {}),
      neighbors: desired.links.some((l) => l.kind === 'vxlan'),
      wireguard: desired.links.some((l) => l.kind === 'wireguard'),
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
    const sandboxes = this.apart.live();
    const desired = this.desiredAll();
    const state = await this.readHost(sandboxes, desired);
    return { desired, state, o: this.options(null) };
  }

  /** setApart: a failing sandbox is set apart (start-up, repairs), not when a request's own run fell back to a full one */
  private async full(setApart = false): Promise<Step[]> {
    if (setApart) await this.apart.checkAdopted(this.last);
    const { desired, state, o } = await this.readAll();
    this.state = state;
    const steps = await this.applyAll(desired, state, o, setApart);
    this.started = true;
    return steps;
  }

  /**
   * A full plan, applied. When it fails and sandboxes are in it, they are applied apart: the networks
   * and the shared base first (a failure there is not a sandbox's: it is thrown), then each sandbox
   * alone; one whose steps fail is set apart (the run goes on, onSandboxFailed ends it).
   */
  private async applyAll(desired: DesiredState, state: HostState, o: PlanOptions, setApart: boolean): Promise<Step[]> {
    const steps = plan(desired, state, o);
    try {
      await this.apply(steps, state, desired, o);
      // A full plan with nothing to do: the state just read already is what adopting desired would
      // make (test/unit/plan.test.ts), and adopting rebuilt every link, element and rule of every
      // network (9 MB of garbage, 10 ms, each periodic repair at 1000 networks).
      if (steps.length || o.owners !== null) adopt(state, desired, o);
      return steps;
    } catch (e) {
      if (!setApart || !this.apart.enabled || !desired.sandboxes.length) throw e;
      return this.applyApart(desired, o, e as Error);
    }
  }

  private async applyApart(desired: DesiredState, o: PlanOptions, first: Error): Promise<Step[]> {
    const specs = new Map(this.apart.live().map((sb) => [sb.container.id.slice(0, 12), sb]));
    // the failed run changed part of the host: plan again from a fresh read
    const state = await this.readHost([...specs.values()], desired);
    this.state = state;
    const steps = plan(desired, state, o);
    const { base, bySandbox } = splitBySandbox(steps, desired);
    try {
      await this.apply(base, state, desired, o);
    } catch {
      throw first;
    }
    const done = [...base];
    for (const [owner, mine] of bySandbox) {
      try {
        await this.apply(mine, state, desired, o);
        done.push(...mine);
      } catch (e) {
        const spec = specs.get(owner);
        if (!spec) throw e;
        this.apart.set(spec, (e as Error).message, this.last);
      }
    }
    // what the runs changed, and what a failed one left half-made, is read again
    this.state = await this.readHost(this.apart.live(), desired);
    return done;
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
      // A full plan with nothing to do: the state just read already is what adopting desired would
      // make (test/unit/plan.test.ts), and adopting rebuilt every link, element and rule of every
      // network (9 MB of garbage, 10 ms, each periodic repair at 1000 networks).
      if (steps.length || o.owners !== null) adopt(state, desired, o);
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
    if (steps.length) await applySteps(this.deps.exec, toHostSteps(steps), this.deletions);
    if (record && state.rules.made) {
      record.remove(changes.removed);
      for (const key of changes.removed) made(key).set?.delete(made(key).k);
    }
  }
}
