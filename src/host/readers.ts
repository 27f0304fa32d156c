import type { Executor } from './executor.js';
import { type HostState, type RuleState, parseIpAddrJson, parseIptablesSave } from './state.js';
import { type Prefix, parsePrefix } from '../ipam/cidr.js';

export interface ReadOptions {
  chainPrefix: string;
  iptables: boolean;
  sysctls: string[];
}

/** Reads links, our iptables rules and the given sysctls: two process starts, whatever the count of networks. */
export async function readHostState(exec: Executor, opts: ReadOptions): Promise<HostState> {
  const [links, rules, sysctls] = await Promise.all([
    exec.run('ip', ['-json', '-details', 'addr', 'show']).then((r) => parseIpAddrJson(r.stdout)),
    opts.iptables
      ? exec.run('iptables-save', []).then((r) => parseIptablesSave(r.stdout, opts.chainPrefix))
      : Promise.resolve<RuleState>({ chains: new Map(), hooks: new Map() }),
    Promise.all(opts.sysctls.map(async (k) => [k, await exec.readSysctl(k)] as const)),
  ]);
  return { links, rules, sysctls: new Map(sysctls.filter((e): e is [string, string] => e[1] !== undefined)) };
}

/** On-link (scope link) IPv4/IPv6 routes of the host, which automatic subnets must not shadow. */
export async function readOnLinkRoutes(exec: Executor, family: 4 | 6): Promise<Prefix[]> {
  const out: Prefix[] = [];
  const r = await exec.run('ip', ['-json', `-${family}`, 'route', 'show', 'scope', 'link']);
  for (const route of JSON.parse(r.stdout.trim() || '[]') as Array<{ dst: string }>) {
    if (!route.dst || route.dst === 'default') continue;
    const p = parsePrefix(route.dst.includes('/') ? route.dst : `${route.dst}/${family === 4 ? 32 : 128}`);
    if (p) out.push(p);
  }
  return out;
}

/** Fails with the Debian package to install when a tool is missing. */
export async function checkTools(exec: Executor, iptables: boolean): Promise<void> {
  const tools: Array<[string, string[], string]> = [['ip', ['-V'], 'iproute2']];
  if (iptables) tools.push(['iptables-restore', ['--version'], 'iptables'], ['iptables-save', ['--version'], 'iptables']);
  for (const [file, args, pkg] of tools) {
    try {
      await exec.run(file, args);
    } catch {
      throw new Error(`${file} is not installed or does not run: install the Debian package ${pkg} (apt-get install ${pkg})`);
    }
  }
}
