/**
 * A plan's steps as text (the command log, reports) and as the host's batches (src/host/apply.ts).
 */
import type { HostSteps } from '../host/apply.js';
import { describeIptables } from '../host/iptables-text.js';
import { describeNft } from '../host/nft.js';
import { bridgeLine, ipLine } from '../host/ip-text.js';
import { describeWg } from '../host/wg-text.js';
import type { Step } from './plan.js';

export function describeStep(s: Step): string {
  switch (s.kind) {
    case 'sysctl': return `sysctl -w ${s.key}=${s.value}`;
    case 'ip': return `ip ${ipLine(s.op)}`;
    case 'ipns': return `nsenter --net=${s.path} ip ${ipLine(s.op)}`;
    case 'nssysctl': return `nsenter --net=${s.path} sysctl -w ${s.key}=${s.value}`;
    case 'bridge': return `bridge ${bridgeLine(s.op)}`;
    case 'wg': return describeWg(s.op);
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
  const out: Required<Omit<HostSteps, 'deferredIpLines'>> = {
    sysctls: [], ipLines: [], iptables: [], nft: [], inside: new Map(), insideSysctls: new Map(), bridgeLines: [], files: [], namespaces: [], umounts: [], removals: [], wireguard: [],
  };
  // In a run whose only host link changes are deletions (a disconnect, a network delete) and that
  // changes nothing inside a sandbox (whose batch could meet a link half gone), the deletions' end
  // need not be waited for (src/host/apply.ts). Elsewhere (a stop also deletes the namespace) they
  // stay in the one batch.
  const ipSteps = steps.filter((s) => s.kind === 'ip');
  const deferrable = ipSteps.length > 0 && ipSteps.every((s) => s.kind === 'ip' && s.op.op === 'link del') && !steps.some((s) => s.kind === 'ipns' || s.kind === 'nssysctl');
  const deferred: string[] = [];
  for (const s of steps) {
    if (s.kind === 'sysctl') out.sysctls.push({ key: s.key, value: s.value });
    else if (s.kind === 'ip' && deferrable) deferred.push(ipLine(s.op));
    else if (s.kind === 'ip') out.ipLines.push(ipLine(s.op));
    else if (s.kind === 'ipns') out.inside.set(s.path, [...(out.inside.get(s.path) ?? []), ipLine(s.op)]);
    else if (s.kind === 'nssysctl') out.insideSysctls.set(s.path, [...(out.insideSysctls.get(s.path) ?? []), `${s.key}=${s.value}`]);
    else if (s.kind === 'bridge') out.bridgeLines.push(bridgeLine(s.op));
    else if (s.kind === 'wg') out.wireguard.push(s.op);
    else if (s.kind === 'file') out.files.push({ path: s.path, content: s.content });
    else if (s.kind === 'mntns') out.namespaces.push({ kind: 'mnt', path: s.path, fstab: s.fstab, ...(s.holderPid ? { holderPid: s.holderPid } : {}) });
    else if (s.kind === 'utsns') out.namespaces.push({ kind: 'uts', path: s.path, hostname: s.hostname, domainname: s.domainname, ...(s.holderPid ? { holderPid: s.holderPid } : {}) });
    else if (s.kind === 'umount') out.umounts.push(s.path);
    else if (s.kind === 'rm') out.removals.push(s.path);
    else if (s.kind === 'nft') out.nft.push({ table: s.table, op: s.op });
    else out.iptables.push({ table: s.table, phase: s.phase, line: s.line, ...(s.family === 6 ? { family: 6 as const } : {}) });
  }
  return deferred.length ? { ...out, deferredIpLines: deferred } : out;
}
