/**
 * Applies a plan: sysctls as file writes, every link change in one `ip -batch`, every rule change in
 * one `iptables-restore --noflush`, which run at the same time (rules name interfaces, they do not
 * need them to exist); then one `ip -batch` inside each sandbox namespace that needs changes.
 */
import type { Executor } from './executor.js';
import type { Table } from './state.js';

export interface HostSteps {
  sysctls: Array<{ key: string; value: string }>;
  ipLines: string[];
  iptables: Array<{ table: Table; phase: number; line: string }>;
  /** ip batch lines to run inside sandbox namespaces (by path), after the host's */
  inside: Map<string, string[]>;
  /** key=value sysctls to set inside new sandbox namespaces (by path) */
  insideSysctls: Map<string, string[]>;
  /** `bridge -batch` lines (FDB entries of VXLAN ports), after the host's ip batch */
  bridgeLines: string[];
}

/** The iptables-restore input for the rule steps: per table, declarations, deletions, additions, removals. */
export function restoreInput(steps: HostSteps['iptables']): string {
  const tables = [...new Set(steps.map((s) => s.table))];
  let out = '';
  for (const t of tables) {
    out += `*${t}\n`;
    const mine = steps.filter((s) => s.table === t);
    for (const phase of [0, 1, 2, 3]) for (const s of mine) if (s.phase === phase) out += s.line + '\n';
    out += 'COMMIT\n';
  }
  return out;
}

export async function applySteps(exec: Executor, steps: HostSteps): Promise<void> {
  const ipRun = (steps.ipLines.length ? exec.run('ip', ['-batch', '-'], { input: steps.ipLines.join('\n') + '\n' }) : Promise.resolve()).then(async () => {
    // after the links: some keys belong to an interface the batch has just made
    for (const s of steps.sysctls) await exec.writeSysctl(s.key, s.value);
    if (steps.bridgeLines.length) await exec.run('bridge', ['-batch', '-'], { input: steps.bridgeLines.join('\n') + '\n' });
  });
  const runs: Array<Promise<unknown>> = [ipRun];
  if (steps.iptables.length) runs.push(exec.run('iptables-restore', ['-w', '--noflush'], { input: restoreInput(steps.iptables) }));
  // Inside a sandbox only after the host batch made its namespace and interfaces.
  const insideRuns = ipRun.then(() =>
    Promise.all([
      ...[...steps.inside].map(([path, lines]) => exec.run('nsenter', [`--net=${path}`, 'ip', '-batch', '-'], { input: lines.join('\n') + '\n' })),
      ...[...steps.insideSysctls].map(([path, kv]) => exec.run('nsenter', [`--net=${path}`, 'sysctl', '-q', '-w', ...kv])),
    ]),
  );
  const results = await Promise.allSettled([...runs, insideRuns]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
