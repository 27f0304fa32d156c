/**
 * Applies a plan: containers' files first; sysctls as file writes, every link change in one
 * `ip -batch`, every rule change in one `iptables-restore --noflush` or one `nft -f -`, which run at the same time
 * (rules name interfaces, they do not need them to exist); then one `ip -batch` inside each sandbox
 * namespace that needs changes, beside the making of containers' mount and UTS namespaces; last,
 * namespace files and directories that go.
 */
import type { Executor } from './executor.js';
import type { Table } from './state.js';
import { batchLine, ruleLine, sysctlKey, hostPath } from './text-gate.js';
import { type IptLine, restoreLine } from './iptables-text.js';
import { type NftOp, nftScript } from './nft.js';
import { type WgOp, wgCommand } from './wg-text.js';
import type { DeferredDeletions } from './deferred-deletions.js';

export interface HostSteps {
  sysctls: Array<{ key: string; value: string }>;
  ipLines: string[];
  /**
   * `link del` lines that need not be waited for: the kernel takes the link out of its namespace at
   * once and then waits tens of milliseconds for its last references (an RCU grace period). Run by
   * one `ip -batch` of their own that the caller may leave running (see DeferredDeletions).
   */
  deferredIpLines?: string[];
  /** rule changes; family 6: ip6tables (one ip6tables-restore beside the iptables-restore) */
  iptables: Array<{ table: Table; phase: number; line: IptLine; family?: 4 | 6 }>;
  /** nftables changes, of one table: one `nft -f -` transaction */
  nft?: Array<{ table: string; op: NftOp }>;
  /** ip batch lines to run inside sandbox namespaces (by path), after the host's */
  inside: Map<string, string[]>;
  /** key=value sysctls to set inside new sandbox namespaces (by path) */
  insideSysctls: Map<string, string[]>;
  /** `bridge -batch` lines (FDB entries of VXLAN ports), after the host's ip batch */
  bridgeLines: string[];
  /** WireGuard: links wireguard-go makes, before the host's ip batch; keys and peers, after it */
  wireguard?: WgOp[];
  /** files written in place, beside the host's batch (the namespaces that bind them and WireGuard wait for them) */
  files?: Array<{ path: string; content: string }>;
  /** containers' namespaces to make (or bind again to a live process's) */
  namespaces?: Array<
    | { kind: 'mnt'; path: string; fstab: string; holderPid?: number }
    | { kind: 'uts'; path: string; hostname: string; domainname: string; holderPid?: number }
  >;
  /** namespace files to unmount, then directories to remove, after the rest */
  umounts?: string[];
  removals?: string[];
}

/**
 * A namespace persisted at path (a bind mount of its nsfs file, as `ip netns add` does): a live
 * process's again, or a new one made by unshare running its first command there.
 */
async function makeNamespace(exec: Executor, n: NonNullable<HostSteps['namespaces']>[number]): Promise<void> {
  await exec.writeFile(n.path, '');
  if (n.holderPid) {
    await exec.run('mount', ['--bind', `/proc/${n.holderPid}/ns/${n.kind}`, n.path]);
    return;
  }
  if (n.kind === 'mnt') {
    // slave: mounts the host makes later (namespaces, volumes of others) reach it; its own stay inside
    await exec.run('unshare', [`--mount=${n.path}`, '--propagation', 'slave', 'mount', '-a', '--fstab', n.fstab]);
    return;
  }
  await exec.run('unshare', [`--uts=${n.path}`, 'hostname', '--', n.hostname]);
  if (n.domainname) await exec.run('nsenter', [`--uts=${n.path}`, 'domainname', '--', n.domainname]);
}

/** The iptables-restore input for the rule steps: per table, declarations, deletions, additions, removals. */
export function restoreInput(steps: HostSteps['iptables']): string {
  const tables = [...new Set(steps.map((s) => s.table))];
  let out = '';
  for (const t of tables) {
    out += `*${t}\n`;
    const mine = steps.filter((s) => s.table === t);
    for (const phase of [0, 1, 2, 3]) for (const s of mine) if (s.phase === phase) out += restoreLine(s.line) + '\n';
    out += 'COMMIT\n';
  }
  return out;
}

/** The `nft -f -` input for the nftables steps: one transaction (the script renders through the gate). */
export function nftInput(steps: NonNullable<HostSteps['nft']>): string {
  return nftScript({ name: steps[0].table }, steps.map((s) => s.op));
}

/** Every line and key through the gate (./text-gate.ts), before anything runs: a refusal changes nothing. */
function gate(steps: HostSteps): void {
  for (const l of [...steps.ipLines, ...(steps.deferredIpLines ?? [])]) batchLine('ip', l);
  for (const l of steps.bridgeLines) batchLine('bridge', l);
  for (const [path, lines] of steps.inside) {
    hostPath(path);
    for (const l of lines) batchLine('ip', l);
  }
  for (const [path, kv] of steps.insideSysctls) {
    hostPath(path);
    for (const s of kv) sysctlKey(s.split('=')[0]);
  }
  for (const s of steps.sysctls) sysctlKey(s.key);
  for (const r of steps.iptables) ruleLine(restoreLine(r.line));
  for (const f of steps.files ?? []) hostPath(f.path);
  for (const n of steps.namespaces ?? []) hostPath(n.path);
  for (const p of [...(steps.umounts ?? []), ...(steps.removals ?? [])]) hostPath(p);
  for (const w of steps.wireguard ?? []) wgCommand(w);
}

/**
 * Whether the steps change links or namespaces (what a deletion still finishing could be in the way
 * of); rules name links and need none of them gone, and files (a container's hosts), sysctls and the
 * removal of namespace files have nothing to do with them.
 */
function touchesLinks(steps: HostSteps): boolean {
  return !!(steps.ipLines.length || steps.inside.size || steps.insideSysctls.size || steps.bridgeLines.length || steps.namespaces?.length || steps.wireguard?.length);
}

export async function applySteps(exec: Executor, steps: HostSteps, deferred?: DeferredDeletions): Promise<void> {
  gate(steps);
  // what earlier runs deleted in the background is gone before anything else changes
  if (deferred && touchesLinks(steps)) await deferred.settled();
  // deletions whose end is not waited for, only their links' leaving the namespace (beside the rest:
  // rules name links, they do not need them)
  const leaving = steps.deferredIpLines?.length
    ? deferred ? deferred.start(exec, steps.deferredIpLines) : exec.run('ip', ['-batch', '-'], { input: steps.deferredIpLines.join('\n') + '\n' })
    : undefined;
  const nft = steps.nft?.length ? nftInput(steps.nft) : undefined;
  // files (a container's hosts, resolv.conf, a WireGuard key) beside the links' batch: only the
  // namespaces (whose mounts bind them) and WireGuard wait for them
  const written = Promise.all((steps.files ?? []).map((f) => exec.writeFile(f.path, f.content)));
  const namespaces = written.then(() => Promise.all((steps.namespaces ?? []).map((n) => makeNamespace(exec, n))));
  const wg = (op: 'start' | 'set') => Promise.all((steps.wireguard ?? []).filter((w) => w.op === op).map((w) => {
    const c = wgCommand(w);
    return exec.run(c.file, c.args);
  }));
  // wireguard-go returns once its link exists (it goes on in the background, holding it); without
  // it the batch starts at once, beside the rule changes
  const batch = () => (steps.ipLines.length ? exec.run('ip', ['-batch', '-'], { input: steps.ipLines.join('\n') + '\n' }) : Promise.resolve(undefined));
  const linksMade = (steps.wireguard ?? []).some((w) => w.op === 'start') ? written.then(() => wg('start')).then(batch) : batch();
  const ipRun = linksMade.then(async () => {
    await written;
    await wg('set');
    // after the links: some keys belong to an interface the batch has just made
    for (const s of steps.sysctls) await exec.writeSysctl(s.key, s.value);
    if (steps.bridgeLines.length) await exec.run('bridge', ['-batch', '-'], { input: steps.bridgeLines.join('\n') + '\n' });
  });
  const runs: Array<Promise<unknown>> = [ipRun];
  for (const [tool, family] of [['iptables-restore', 4], ['ip6tables-restore', 6]] as const) {
    const mine = steps.iptables.filter((s) => (s.family ?? 4) === family);
    if (mine.length) runs.push(exec.run(tool, ['-w', '--noflush'], { input: restoreInput(mine) }));
  }
  if (nft) runs.push(exec.run('nft', ['-f', '-'], { input: nft }));
  // Inside a sandbox once the host batch made its namespace and interfaces: not after the files, the
  // host's sysctls, bridge ports and WireGuard keys, which nothing inside needs (a connect waited
  // 0.8-1.4 ms for its hosts file to be written before its addresses were set)
  const insideRuns = linksMade.then(() =>
    Promise.all([
      ...[...steps.inside].map(([path, lines]) => exec.run('nsenter', [`--net=${path}`, 'ip', '-batch', '-'], { input: lines.join('\n') + '\n' })),
      ...[...steps.insideSysctls].map(([path, kv]) => exec.run('nsenter', [`--net=${path}`, 'sysctl', '-q', '-w', ...kv])),
    ]),
  );
  const results = await Promise.allSettled([...runs, insideRuns, written, namespaces, ...(leaving ? [leaving] : [])]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  if (steps.umounts?.length) await exec.run('umount', steps.umounts);
  for (const p of steps.removals ?? []) await exec.removePath(p);
}
