/**
 * The rows of issue 15's table, for cnmd and, side by side, a reference Docker engine when one runs
 * (../shared/tools/start-reference-dockerd.sh), measured by the same client in the same run:
 * RSS at rest and with 300 and 1000 networks (cnmd: the daemon and the helpers it keeps), network list
 * p50, list and inspect throughput with 16 requests in flight (from the bench's process, and from a
 * client process of its own), and container start, network connect and disconnect p50/p99.
 * Both engines get the same requests on API 1.41 and the same explicit subnets (10.120.0.0/14 in /24s), so
 * the reference engine needs no address-pool flag. A request's time is to its last byte: the client does
 * not parse the body. The reference engine gets 300 networks (its row in the issue); cnmd 300 and 1000.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { startBenchDaemon } from './daemon.js';
import { referenceDocker } from './containers.js';

interface Engine {
  label: string;
  socket: string;
  image: string;
  /** the processes whose RSS is the engine's */
  pids(): Promise<number[]>;
}

interface Figures {
  rssRest: number;
  rss: Record<number, number>;
  list: Record<number, number>;
  listRps: number;
  inspectRps: number;
  /** the same, from a client process of its own */
  listRpsApart: number;
  inspectRpsApart: number;
  start: number[];
  connect: number[];
  disconnect: number[];
}

const V = '/v1.41';
const PREFIX = `cnmdbench${process.pid}-`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One request; resolves with its status and time to the last byte, the body discarded unless asked for. */
function request(socket: string, method: string, path: string, body?: unknown, keep = false): Promise<{ status: number; ms: number; text: string }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: socket, method, path, agent, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => keep && chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function ok(socket: string, method: string, path: string, body?: unknown, want = [200, 201, 204]): Promise<number> {
  const r = await request(socket, method, path, body, true);
  if (!want.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.ms;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const rssOf = async (e: Engine) => (await e.pids()).reduce((a, p) => a + rssMiB(p), 0);

/** Requests per second with 16 in flight, over `total` requests. */
async function throughput(socket: string, path: string, total: number): Promise<number> {
  let sent = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (sent < total) {
      sent++;
      const r = await request(socket, 'GET', path);
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/**
 * The same, from a client process of its own (a plain node script): the bench's own process is one
 * thread that also parses every answer, and with a fast server it is the client that is measured.
 */
async function throughputApart(socket: string, path: string, total: number): Promise<number> {
  const script = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const [socket, path, total] = [process.argv[1], process.argv[2], Number(process.argv[3])];
    let sent = 0;
    const one = () => new Promise((resolve, reject) => {
      const req = http.request({ socketPath: socket, path, agent }, (res) => {
        if (res.statusCode !== 200) reject(new Error(path + ': ' + res.statusCode));
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const worker = async () => { while (sent < total) { sent++; await one(); } };
    const t0 = process.hrtime.bigint();
    Promise.all(Array.from({ length: 16 }, worker)).then(() => {
      console.log(total / (Number(process.hrtime.bigint() - t0) / 1e9));
      agent.destroy();
    });`;
  const r = await execa(process.execPath, ['-e', script, socket, path, String(total)]);
  return Number(r.stdout.trim());
}

const subnetOf = (k: number) => `10.${120 + (k >> 8)}.${k & 255}.0/24`;

async function measure(e: Engine, counts: number[], sandboxes: number): Promise<Figures> {
  const s = e.socket;
  const f: Figures = { rssRest: await rssOf(e), rss: {}, list: {}, listRps: 0, inspectRps: 0, listRpsApart: 0, inspectRpsApart: 0, start: [], connect: [], disconnect: [] };
  let made = 0;
  const grow = async (to: number) => {
    for (; made < to; made++) await ok(s, 'POST', `${V}/networks/create`, { Name: `${PREFIX}${made}`, CheckDuplicate: true, IPAM: { Config: [{ Subnet: subnetOf(made) }] } });
  };
  try {
    await grow(20);
    f.listRps = await throughput(s, `${V}/networks`, 4000);
    f.inspectRps = await throughput(s, `${V}/networks/${PREFIX}7`, 8000);
    f.listRpsApart = await throughputApart(s, `${V}/networks`, 8000);
    f.inspectRpsApart = await throughputApart(s, `${V}/networks/${PREFIX}7`, 16000);
    // containers on the first network, each connected to and disconnected from the second
    const names = Array.from({ length: sandboxes }, (_, i) => `${PREFIX}c${i}`);
    for (const name of names) {
      await ok(s, 'POST', `${V}/containers/create?name=${name}`, { Image: e.image, Cmd: ['sleep', '600'], HostConfig: { NetworkMode: `${PREFIX}0` } });
      f.start.push(await ok(s, 'POST', `${V}/containers/${name}/start`));
    }
    for (const name of names) f.connect.push(await ok(s, 'POST', `${V}/networks/${PREFIX}1/connect`, { Container: name }));
    for (const name of names) f.disconnect.push(await ok(s, 'POST', `${V}/networks/${PREFIX}1/disconnect`, { Container: name }));
    for (const name of names) await ok(s, 'DELETE', `${V}/containers/${name}?force=1`);
    for (const n of counts) {
      await grow(n);
      const times: number[] = [];
      for (let i = 0; i < 50; i++) times.push((await request(s, 'GET', `${V}/networks`)).ms);
      f.list[n] = pct(times, 50);
      await new Promise((r) => setTimeout(r, 1000));
      f.rss[n] = await rssOf(e);
    }
  } finally {
    const list = JSON.parse((await request(s, 'GET', `${V}/containers/json?all=1`, undefined, true)).text) as Array<{ Id: string; Names: string[] }>;
    for (const c of list) if (c.Names.some((n) => n.startsWith(`/${PREFIX}`))) await request(s, 'DELETE', `${V}/containers/${c.Id}?force=1`);
    for (let k = made - 1; k >= 0; k--) await request(s, 'DELETE', `${V}/networks/${PREFIX}${k}`);
  }
  return f;
}

/** Prints the table of issue 15 for cnmd and the reference engine, with ratios. */
export async function engineBench(sandboxes: number): Promise<void> {
  const counts = [300, 1000];
  const daemon = await startBenchDaemon();
  let ours: Figures;
  try {
    await new Promise((r) => setTimeout(r, 1500));
    // the daemon and the helpers it keeps: the spawn helper (src/host/spawn-helper.c) and its spare
    // `ip -batch -`, the route monitor (`ip monitor`) and, while it has work, the `nft -i` session
    const isHelper = (pid: string) => {
      try {
        return ['cnmd-spawn', 'ip', 'nft'].includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
      } catch {
        return false;
      }
    };
    const childrenOf = async (pid: string | number) => (await execa('pgrep', ['-P', String(pid)], { reject: false })).stdout.split('\n').filter(Boolean);
    const pids = async () => {
      const helpers = (await childrenOf(daemon.pid)).filter(isHelper);
      const spares = (await Promise.all(helpers.map(childrenOf))).flat().filter(isHelper);
      return [daemon.pid, ...helpers, ...spares].map(Number);
    };
    ours = await measure({ label: 'cnmd', socket: daemon.sock, image: 'busybox', pids }, counts, sandboxes);
  } finally {
    await daemon.stop();
  }
  const ref = await referenceDocker();
  let theirs: Figures | undefined;
  if (ref) {
    const pid = Number(readFileSync('/var/tmp/peer-dockerd/pid', 'utf8'));
    const containerd = (await execa('pgrep', ['-P', String(pid), 'containerd'], { reject: false })).stdout.split('\n').filter(Boolean).map(Number);
    theirs = await measure({ label: ref.label, socket: ref.host.replace(/^unix:\/\//, ''), image: ref.image, pids: async () => [pid, ...containerd] }, [300], sandboxes);
  }
  const label = ref?.label ?? 'reference Docker';
  console.log(`\nthe table of issue 15 (${sandboxes} containers; ${ref ? `${label} in the same run` : 'no reference Docker engine runs: ../shared/tools/start-reference-dockerd.sh starts one'}):`);
  const line = (what: string, a: number, b: number | undefined, unit: string, lowerIsBetter = true) => {
    const ratio = b === undefined ? '' : `  ${(a / b).toFixed(2)}x${lowerIsBetter ? '' : ' (higher is better)'}`;
    console.log(`  ${what.padEnd(44)} cnmd ${a.toFixed(unit === 'ms' ? 2 : 0).padStart(8)} ${unit.padEnd(6)}${b === undefined ? '' : `${label} ${b.toFixed(unit === 'ms' ? 2 : 0).padStart(8)} ${unit}`}${ratio}`);
  };
  line('RSS at rest, fresh start (Docker: as it runs)', ours.rssRest, theirs?.rssRest, 'MiB');
  line('RSS with 300 networks', ours.rss[300]!, theirs?.rss[300], 'MiB');
  line('RSS with 1000 networks', ours.rss[1000]!, undefined, 'MiB');
  line('network list p50, 300 networks', ours.list[300]!, theirs?.list[300], 'ms');
  line('network list p50, 1000 (Docker: 300)', ours.list[1000]!, theirs?.list[300], 'ms');
  line('list req/s, 16 in flight, 20 networks', ours.listRps, theirs?.listRps, 'req/s', false);
  line('network inspect req/s, 16 in flight', ours.inspectRps, theirs?.inspectRps, 'req/s', false);
  line('list req/s, client in its own process', ours.listRpsApart, theirs?.listRpsApart, 'req/s', false);
  line('inspect req/s, client in its own process', ours.inspectRpsApart, theirs?.inspectRpsApart, 'req/s', false);
  for (const [what, xs, ys] of [['container start', ours.start, theirs?.start], ['network connect', ours.connect, theirs?.connect], ['network disconnect', ours.disconnect, theirs?.disconnect]] as const) {
    line(`${what} p50`, pct(xs, 50), ys && pct(ys, 50), 'ms');
    line(`${what} p99`, pct(xs, 99), ys && pct(ys, 99), 'ms');
  }
}
