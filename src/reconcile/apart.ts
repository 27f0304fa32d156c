/**
 * The steps of a plan grouped by the sandbox they belong to, so that one sandbox that cannot be
 * converged (its adopted namespace gone, a value the kernel refuses) is applied apart from the rest.
 * Pure. A step belongs to a sandbox when it names one of its objects: its namespace (path or
 * /run/netns name), the host end of one of its veths, a link made inside it, its mount or UTS
 * namespace file. Everything else (networks, the firewall, the shared base) is the base.
 */
import type { DesiredState, SandboxSpec } from './model.js';
import type { Step } from './plan.js';
import type { Executor } from '../host/executor.js';

export interface SplitPlan {
  base: Step[];
  /** container owner (12 hex) -> its steps, in plan order */
  bySandbox: Map<string, Step[]>;
}

/** Every string in a step (the op's fields, nested): what it names. */
function namesIn(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) namesIn(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) namesIn(x, out);
  return out;
}

export function splitBySandbox(steps: Step[], desired: DesiredState): SplitPlan {
  const ownerOf = new Map<string, string>();
  for (const sb of desired.sandboxes) {
    for (const name of [sb.path, sb.netns, ...sb.interfaces.flatMap((i) => [i.veth, i.make?.link.name])]) {
      if (name) ownerOf.set(name, sb.owner);
    }
  }
  const sandboxOwners = new Set(desired.sandboxes.map((s) => s.owner));
  for (const i of desired.insides) {
    if (!sandboxOwners.has(i.owner)) continue;
    ownerOf.set(i.mnt, i.owner);
    if (i.uts) ownerOf.set(i.uts, i.owner);
  }
  const split: SplitPlan = { base: [], bySandbox: new Map() };
  for (const step of steps) {
    const owner = namesIn(step).map((n) => ownerOf.get(n)).find((o) => o !== undefined);
    if (owner === undefined) split.base.push(step);
    else split.bySandbox.set(owner, [...(split.bySandbox.get(owner) ?? []), step]);
  }
  return split;
}

/**
 * The sandboxes set apart, by container id and start (a new start is tried again): until the
 * container is ended, the reconciler leaves them out. onFailed hears of each once, after the run.
 */
export class SetApart {
  private readonly apart = new Map<string, string>();
  /** set apart and not yet handed to onFailed */
  private pending: Array<{ id: string; error: string }> = [];

  constructor(
    private readonly list: () => SandboxSpec[],
    private readonly exec: Pick<Executor, 'netnsIdentity'>,
    private readonly onFailed?: (containerId: string, error: string) => Promise<void>,
  ) {}

  get enabled(): boolean {
    return !!this.onFailed;
  }

  private static key = (s: SandboxSpec) => `${s.container.id}@${s.container.startedAt}`;

  set(s: SandboxSpec, error: string, report?: { failed?: Record<string, string> }): void {
    this.apart.set(SetApart.key(s), error);
    this.pending.push({ id: s.container.id, error });
    if (report?.failed) report.failed[s.container.id] = error;
  }

  /** The running containers' sandboxes, without those set apart. */
  live(): SandboxSpec[] {
    const all = this.list();
    if (this.apart.size === 0) return all;
    const now = new Set(all.map(SetApart.key));
    for (const k of this.apart.keys()) if (!now.has(k)) this.apart.delete(k);
    return all.filter((s) => !this.apart.has(SetApart.key(s)));
  }

  /** Before a full run: an adopted namespace that is gone (deleted while cnmd was down) is set apart at once. */
  async checkAdopted(report?: { failed?: Record<string, string> }): Promise<void> {
    if (!this.onFailed) return;
    for (const s of this.live()) {
      const key = s.container.sandboxKey;
      if (key && !(await this.exec.netnsIdentity(key))) this.set(s, `its network namespace ${key} is gone`, report);
    }
  }

  /** Hands what was set apart to onFailed (outside the reconcile queue: it reconciles itself). */
  async settle(): Promise<void> {
    const failed = this.pending;
    this.pending = [];
    for (const f of failed) await this.onFailed?.(f.id, f.error).catch(() => undefined);
  }
}
