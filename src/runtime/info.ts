/**
 * `docker top` and `docker stats` from what the kernel tells of a container's processes (those in its
 * mount namespace) and of its network namespace's interfaces: ps, /proc/PID/stat, statm, net/dev.
 * The parsers are pure; reads go through the executor.
 */
import { invalid } from '../errors.js';
import type { Executor } from '../host/executor.js';
import { formatRfc3339Nano, nowNs } from '../ids.js';
import { ZERO_TIME } from '../model.js';

/** ps arguments Docker passes on (split on spaces); only option-like words reach argv. */
export function parsePsArgs(text: string | undefined): string[] {
  const args = (text || '-ef').split(/\s+/).filter(Boolean);
  for (const a of args) if (!/^[-a-zA-Z0-9,=:_%+.]+$/.test(a)) throw invalid(`invalid ps_args: ${a}`);
  return args;
}

/** ps output -> Docker's {Titles, Processes} for these pids (the last column keeps its spaces). */
export function parsePs(output: string, pids: number[]): { Titles: string[]; Processes: string[][] } {
  const lines = output.split('\n').filter((l) => l.trim());
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalid(`Couldn't find PID field in ps output`);
  const want = new Set(pids.map(String));
  const rows: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    if (want.has(row[pidCol])) rows.push(row);
  }
  return { Titles: titles, Processes: rows };
}

export async function top(exec: Executor, pids: number[], psArgs: string | undefined): Promise<{ Titles: string[]; Processes: string[][] }> {
  const args = parsePsArgs(psArgs);
  let out: string;
  try {
    out = (await exec.run('ps', args)).stdout;
  } catch (e) {
    // Docker answers 500 with ps's complaint; it is the client's argument
    throw invalid(`Error running ps: ${(e as Error).message}`);
  }
  return parsePs(out, pids);
}

const CLK_TCK = 100;
const PAGE = 4096;
const nsPerTick = 1e9 / CLK_TCK;

/** utime and stime (clock ticks) of /proc/PID/stat */
export function parseStatTimes(text: string): { user: number; system: number } | undefined {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // after the command: state(0) ppid … utime is field 14 of the whole line, index 11 here
  const user = Number(f[11]);
  const system = Number(f[12]);
  return Number.isFinite(user) && Number.isFinite(system) ? { user, system } : undefined;
}

/** The "cpu" line of /proc/stat as nanoseconds, and the number of CPUs. */
export function parseProcStat(text: string): { total: number; cpus: number } {
  const lines = text.split('\n');
  const total = (lines.find((l) => l.startsWith('cpu ')) ?? '').split(/\s+/).slice(1, 9).reduce((a, b) => a + (Number(b) || 0), 0);
  return { total: total * nsPerTick, cpus: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

export interface InterfaceCounters {
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}

/** /proc/net/dev -> counters of each interface but lo. */
export function parseNetDev(text: string): Record<string, InterfaceCounters> {
  const out: Record<string, InterfaceCounters> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    out[m[1]] = { rx_bytes: v[0], rx_packets: v[1], rx_errors: v[2], rx_dropped: v[3], tx_bytes: v[8], tx_packets: v[9], tx_errors: v[10], tx_dropped: v[11] };
  }
  return out;
}

export interface StatsSource {
  id: string;
  name: string;
  pids: number[];
  /** the network namespace, for its interfaces' counters (through a process in it when there is one) */
  netns?: string;
}

/** One sample in Docker's stats shape (cgroup-less: CPU and memory are the sums over the container's processes). */
export async function sample(exec: Executor, s: StatsSource): Promise<Record<string, any>> {
  let user = 0, system = 0, rss = 0;
  for (const pid of s.pids) {
    const t = parseStatTimes((await exec.readFile(`/proc/${pid}/stat`)) ?? '');
    if (t) {
      user += t.user;
      system += t.system;
    }
    rss += (Number(((await exec.readFile(`/proc/${pid}/statm`)) ?? '').split(' ')[1]) || 0) * PAGE;
  }
  const proc = parseProcStat((await exec.readFile('/proc/stat')) ?? '');
  const memTotal = Number(/MemTotal:\s+(\d+)/.exec((await exec.readFile('/proc/meminfo')) ?? '')?.[1] ?? 0) * 1024;
  let netDev = s.pids.length ? await exec.readFile(`/proc/${s.pids[0]}/net/dev`) : undefined;
  if (netDev === undefined && s.netns) netDev = (await exec.run('nsenter', [`--net=${s.netns}`, 'cat', '/proc/net/dev']).catch(() => ({ stdout: '' }))).stdout;
  return {
    read: formatRfc3339Nano(nowNs()),
    preread: ZERO_TIME,
    pids_stats: { current: s.pids.length },
    blkio_stats: {
      io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
      io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: { total_usage: (user + system) * nsPerTick, usage_in_kernelmode: system * nsPerTick, usage_in_usermode: user * nsPerTick },
      system_cpu_usage: proc.total,
      online_cpus: proc.cpus,
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    },
    precpu_stats: { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    memory_stats: { usage: rss, stats: {}, limit: memTotal },
    name: `/${s.name}`,
    id: s.id,
    networks: parseNetDev(netDev ?? ''),
  };
}

/** A sample with the previous one as its "pre" part, as Docker's stream sends them. */
export function withPrevious(cur: Record<string, any>, prev: Record<string, any> | undefined): Record<string, any> {
  return prev ? { ...cur, preread: prev.read, precpu_stats: prev.cpu_stats } : cur;
}
