/**
 * npm run bench: cnmd's network operations through the API, on a real kernel inside a throwaway
 * namespace. Prints p50/p90/p99 per operation and how the k-th create's latency grows with k.
 *   BENCH_NETWORKS=1000 (default) networks are created, inspected, listed and deleted;
 *   BENCH_SANDBOXES=50 (default) containers are created and started, connected to and disconnected from a
 *   second network, and removed;
 *   BENCH_OVERLAY_ROUNDS=20 (default) overlay networks across two hosts (bench/overlay.ts);
 *   BENCH_RUN_ROUNDS=20 (default) `docker run --rm busybox true` and `docker exec C true` with the docker CLI, against
 *   cnmd and a reference Docker engine when one runs (bench/containers.ts);
 *   BENCH_COMPOSE_ROUNDS=5 (default) docker-compose up -d and down of 10 services on 3 networks, the same way (bench/compose.ts);
 *   BENCH_FIREWALL_NETWORKS=1000 (default) networks on each firewall backend, beside a reference Docker (bench/firewall.ts).
 *   the table of issue 15 (RSS at rest, with 300 and 1000 networks; list and inspect throughput; container start,
 *   connect, disconnect), beside a reference Docker (bench/engine.ts), BENCH_ENGINE_SANDBOXES=30 (default) containers.
 * BENCH_ONLY=firewall or BENCH_ONLY=engine runs that part alone.
 * Traffic stays on a unix socket; nothing outside the namespace is touched. Needs root.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { overlayBench } from './overlay.js';
import { containerBench, referenceDocker } from './containers.js';
import { composeAvailable, composeBench } from './compose.js';
import { firewallBench } from './firewall.js';
import { startBenchDaemon } from './daemon.js';
import { engineBench } from './engine.js';

const N = Number(process.env.BENCH_NETWORKS ?? 1000);
const M = Number(process.env.BENCH_SANDBOXES ?? 50);
const ROOT = new URL('../', import.meta.url).pathname;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const ms = (x: number) => x.toFixed(2).padStart(8);

function row(name: string, xs: number[]): string {
  return `${name.padEnd(22)} n=${String(xs.length).padStart(5)}  p50 ${ms(pct(xs, 50))} ms  p90 ${ms(pct(xs, 90))} ms  p99 ${ms(pct(xs, 99))} ms`;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}

/**
 * Flushes the filter and nat tables of the test host and waits for the periodic repair (every 5 s by
 * default): the repair run's own duration and steps, and the wall time from the flush.
 */
async function measureRepair(ns: string, req: (m: string, p: string) => Promise<{ body: any }>): Promise<string> {
  const flushed = Date.now();
  // the daemon below runs on the default backend (nftables here): deleting its table is the flush
  await execa('nsenter', [`--net=/run/netns/${ns}`, 'nft', 'delete', 'table', 'inet', 'cnmd']);
  for (;;) {
    const s = (await req('GET', '/cnmd/v1/state')).body;
    const r = s.LastRepair;
    if (r && Date.parse(r.at) >= flushed - 1) {
      const left = (await req('GET', '/cnmd/v1/state?plan=1')).body.Plan.length;
      if (left) throw new Error(`the repair left ${left} steps`);
      return `the repair run ${r.durationMs} ms, reading the host included (${r.steps.length} rules and chains restored), ${Date.now() - flushed} ms after the flush with the default 5 s interval`;
    }
    if (Date.now() - flushed > 30_000) throw new Error('no repair within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root: it runs cnmd in a throwaway network namespace');
  if (!existsSync(`${ROOT}dist/cnmd.js`)) throw new Error('run `npm run build` first');
  const firewallNetworks = Number(process.env.BENCH_FIREWALL_NETWORKS ?? 1000);
  if (process.env.BENCH_ONLY === 'firewall') return firewallBench(firewallNetworks, row);
  const engineSandboxes = Number(process.env.BENCH_ENGINE_SANDBOXES ?? 30);
  if (process.env.BENCH_ONLY === 'engine') return engineBench(engineSandboxes);
  const daemon = await startBenchDaemon();
  const { ns, sock, req } = daemon;
  const cleanup = daemon.stop;
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const create: number[] = [], inspect: number[] = [], list: number[] = [], del: number[] = [];
    const reconcileCost: string[] = [];
    let repairCost = '';
    console.log(`cnmd benchmark: ${N} bridge networks, one client, unix socket\n`);
    for (let k = 1; k <= N; k++) {
      const [t, r] = await timed(() => req('POST', '/v1.48/networks/create', { Name: `bench-${k}` }));
      if (r.status !== 201) throw new Error(`create ${k}: ${r.status} ${r.text}`);
      create.push(t);
      if (k % 10 === 0) {
        inspect.push((await timed(() => req('GET', `/v1.48/networks/bench-${k}`)))[0]);
        list.push((await timed(() => req('GET', '/v1.48/networks')))[0]);
      }
      if (k === 100 || k === N) {
        // a full reconcile with nothing to repair: read the host, plan, find nothing (what the periodic run does)
        const runs: number[] = [];
        for (let i = 0; i < 5; i++) {
          const [t, r] = await timed(() => req('GET', '/cnmd/v1/state?plan=1'));
          if (r.body.Plan.length) throw new Error(`unexpected drift: ${r.text}`);
          runs.push(t);
        }
        reconcileCost.push(`${k} networks: ${runs.sort((a, b) => a - b)[2].toFixed(1)} ms`);
      }
      if (k === 100) repairCost = await measureRepair(ns, req);
    }
    for (let k = 1; k <= N; k++) {
      const [t, r] = await timed(() => req('DELETE', `/v1.48/networks/bench-${k}`));
      if (r.status !== 204) throw new Error(`delete ${k}: ${r.status} ${r.text}`);
      del.push(t);
    }
    console.log(row('create', create));
    console.log(row('inspect', inspect));
    console.log(row('list (all networks)', list));
    console.log(row('delete', del));
    console.log('\nk-th create (mean of the 10 creates ending at k) and delete with k networks left:');
    for (const k of [10, 100, 250, 500, 750, 1000].filter((k) => k <= N)) {
      const win = create.slice(k - 10, k);
      const dwin = del.slice(N - k, N - k + 10);
      console.log(`  k=${String(k).padStart(5)}  create ${ms(win.reduce((a, b) => a + b, 0) / win.length)} ms   delete ${ms(dwin.reduce((a, b) => a + b, 0) / dwin.length)} ms`);
    }
    console.log('\nDocker 20.10 on this kind of machine (issue 2): create 84 ms, delete 202 ms, 232 ms at the 500th create.');
    console.log(`full reconcile with nothing to repair (median of 5): ${reconcileCost.join(', ')}`);
    console.log(`repair of \`nft delete table inet cnmd\` at 100 networks: ${repairCost}`);

    // Sandboxes: M containers on one network, each connected to and disconnected from a second one.
    await req('POST', '/v1.48/networks/create', { Name: 'bench-a' });
    await req('POST', '/v1.48/networks/create', { Name: 'bench-b' });
    const start: number[] = [], connect: number[] = [], disconnect: number[] = [], remove: number[] = [];
    const names = Array.from({ length: M }, (_, i) => `${ns}-c${i}`);
    for (const name of names) {
      const [t] = await timed(async () => {
        const c = await req('POST', `/v1.48/containers/create?name=${name}`, { Image: 'none', HostConfig: { NetworkMode: 'bench-a' } });
        if (c.status !== 201) throw new Error(c.text);
        const s = await req('POST', `/v1.48/containers/${name}/start`);
        if (s.status !== 204) throw new Error(s.text);
      });
      start.push(t);
    }
    for (const name of names) connect.push((await timed(() => req('POST', '/v1.48/networks/bench-b/connect', { Container: name })))[0]);
    for (const name of names) disconnect.push((await timed(() => req('POST', '/v1.48/networks/bench-b/disconnect', { Container: name })))[0]);
    for (const name of names) remove.push((await timed(() => req('DELETE', `/v1.48/containers/${name}?force=1`)))[0]);
    console.log(`\n${M} sandboxes:`);
    console.log(row('container create+start', start));
    console.log(row('network connect', connect));
    console.log(row('network disconnect', disconnect));
    console.log(row('container rm -f', remove));
    console.log('\nDocker 20.10 here (issue 3): create+start 192 ms, connect 102 ms, disconnect 76 ms.');

    // Published ports: create+start with two of them, against the same without.
    const withPorts: number[] = [];
    const portNames = Array.from({ length: 20 }, (_, i) => `${ns}-p${i}`);
    for (const [i, name] of portNames.entries()) {
      const [t] = await timed(async () => {
        const c = await req('POST', `/v1.48/containers/create?name=${name}`, {
          Image: 'none',
          HostConfig: { NetworkMode: 'bench-a', PortBindings: { '80/tcp': [{ HostPort: String(20000 + 2 * i) }], '53/udp': [{ HostPort: String(20001 + 2 * i) }] } },
        });
        if (c.status !== 201) throw new Error(c.text);
        const s = await req('POST', `/v1.48/containers/${name}/start`);
        if (s.status !== 204) throw new Error(s.text);
      });
      withPorts.push(t);
    }
    console.log(row('create+start, 2 ports', withPorts));
    for (const name of portNames) await req('DELETE', `/v1.48/containers/${name}?force=1`);

    // DNS: a container asks the embedded server for another container's name, 16 queries in flight.
    const target = `${ns}-dns-target`;
    const asker = `${ns}-dns-asker`;
    for (const name of [target, asker]) {
      await req('POST', `/v1.48/containers/create?name=${name}`, { Image: 'none', HostConfig: { NetworkMode: 'bench-a' } });
      await req('POST', `/v1.48/containers/${name}/start`);
    }
    const queries = Number(process.env.BENCH_DNS_QUERIES ?? 20000);
    const script = `const d=require('dgram'),p=require(${JSON.stringify(createRequire(import.meta.url).resolve('dns-packet'))});
const srv=/nameserver (\\S+)/.exec(require('fs').readFileSync('/etc/resolv.conf','utf8'))[1];
const s=d.createSocket('udp4');const pending=new Map();const lat=[];let sent=0,done=0,id=0;const N=${queries},C=16;const t0=process.hrtime.bigint();
function send(){if(sent>=N)return;sent++;const i=(id=(id+1)%65536);pending.set(i,process.hrtime.bigint());s.send(p.encode({type:'query',id:i,flags:p.RECURSION_DESIRED,questions:[{type:'A',name:'${target}'}]}),53,srv)}
s.on('message',m=>{const r=p.decode(m);const st=pending.get(r.id);pending.delete(r.id);lat.push(Number(process.hrtime.bigint()-st)/1e6);done++;
if(done===N){const sec=Number(process.hrtime.bigint()-t0)/1e9;lat.sort((a,b)=>a-b);console.log(JSON.stringify({qps:N/sec,p50:lat[Math.floor(N*0.5)],p99:lat[Math.floor(N*0.99)],answers:r.answers.length}));process.exit(0)}else send()});
s.bind(0,()=>{for(let k=0;k<C;k++)send()});setTimeout(()=>process.exit(1),60000).unref()`;
    const askerNs = String((await req('GET', `/v1.48/containers/${asker}/json`)).body.NetworkSettings.SandboxKey).replace('/run/netns/', '');
    const out = await execa('ip', ['netns', 'exec', askerNs, process.execPath, '-e', script]);
    const r = JSON.parse(out.stdout) as { qps: number; p50: number; p99: number; answers: number };
    console.log(`\nDNS, a container name, ${queries} queries, 16 in flight: ${Math.round(r.qps)} queries/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (${r.answers} answer)`);
    for (const name of [target, asker]) await req('DELETE', `/v1.48/containers/${name}?force=1`);

    // The docker CLI end to end, beside a reference Docker engine when one runs.
    const rounds = Number(process.env.BENCH_RUN_ROUNDS ?? 20);
    const ours = await containerBench({ label: 'cnmd', host: `unix://${sock}`, image: 'busybox' }, rounds, 'bench-a');
    const ref = await referenceDocker();
    const theirs = ref ? await containerBench(ref, rounds) : undefined;
    console.log(`\nthe docker CLI, ${rounds} rounds (p50 / p90; ${ref ? `beside ${ref.label} in the same run` : 'no reference Docker engine runs: ../shared/tools/start-reference-dockerd.sh starts one'}):`);
    for (const [k, xs] of Object.entries(ours)) {
      const other = theirs?.[k];
      const them = other ? `   ${ref!.label}: ${pct(other, 50).toFixed(1)} / ${pct(other, 90).toFixed(1)} ms (${(pct(xs, 50) / pct(other, 50)).toFixed(2)}x)` : '';
      console.log(`  ${k.padEnd(32)} cnmd: ${pct(xs, 50).toFixed(1)} / ${pct(xs, 90).toFixed(1)} ms${them}`);
    }
    if (await composeAvailable()) {
      const composeRounds = Number(process.env.BENCH_COMPOSE_ROUNDS ?? 5);
      const ourCompose = await composeBench({ label: 'cnmd', host: `unix://${sock}`, image: 'busybox' }, composeRounds);
      const theirCompose = ref ? await composeBench(ref, composeRounds) : undefined;
      console.log(`\ndocker-compose (v1), ${composeRounds} rounds (p50 / p90${ref ? `, beside ${ref.label}` : ''}):`);
      for (const [k, xs] of Object.entries(ourCompose)) {
        const other = theirCompose?.[k];
        const them = other ? `   ${ref!.label}: ${pct(other, 50).toFixed(0)} / ${pct(other, 90).toFixed(0)} ms (${(pct(xs, 50) / pct(other, 50)).toFixed(2)}x)` : '';
        console.log(`  ${k.padEnd(48)} cnmd: ${pct(xs, 50).toFixed(0)} / ${pct(xs, 90).toFixed(0)} ms${them}`);
      }
    } else console.log('\ndocker-compose is not installed: no compose rounds');
  } finally {
    await cleanup();
  }
  await overlayBench(Number(process.env.BENCH_OVERLAY_ROUNDS ?? 20), row);
  await firewallBench(firewallNetworks, row);
  await engineBench(engineSandboxes);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
