/** The order of one run's host work (src/host/apply.ts): what waits for what. */
import t from 'tap';
import { applySteps, type HostSteps } from '../../src/host/apply.js';
import type { Executor } from '../../src/host/executor.js';

t.test('a sandbox\'s inside batch waits for the host\'s link batch, not for the run\'s files or host sysctls', async (t) => {
  const events: string[] = [];
  let writeDone!: () => void;
  let sysctlDone!: () => void;
  const exec = {
    run: async (file: string, args: string[]) => {
      events.push(`start ${file} ${args[0]}`);
      await new Promise((r) => setTimeout(r, 5));
      events.push(`end ${file}`);
      return { stdout: '', stderr: '' };
    },
    writeFile: (path: string) => new Promise<void>((r) => (writeDone = () => (events.push(`wrote ${path}`), r()))),
    writeSysctl: (key: string) => new Promise<void>((r) => (sysctlDone = () => (events.push(`set ${key}`), r()))),
  } as unknown as Executor;
  const steps: HostSteps = {
    sysctls: [{ key: 'net.ipv4.conf.cnmd-aaaaaaaaaa.route_localnet', value: '1' }],
    ipLines: ['link set dev vethaaaaaaa up'],
    iptables: [],
    inside: new Map([['/run/netns/cnmd-aaaaaaaaaaaa', ['link set dev eth1 up']]]),
    insideSysctls: new Map(),
    bridgeLines: [],
    files: [{ path: '/var/lib/cnmd/containers/aaaaaaaaaaaa/hosts', content: '127.0.0.1\tlocalhost\n' }],
  };
  let finished = false;
  const run = applySteps(exec, steps).then(() => (finished = true));
  for (let i = 0; i < 100 && !events.includes('end nsenter'); i++) await new Promise((r) => setTimeout(r, 5));
  t.same(events, ['start ip -batch', 'end ip', 'start nsenter --net=/run/netns/cnmd-aaaaaaaaaaaa', 'end nsenter'], 'the inside batch ran while the file and the sysctl were still pending');
  t.notOk(finished, 'the run is not over before its file is written');
  writeDone();
  await new Promise((r) => setTimeout(r, 5));
  sysctlDone();
  await run;
  t.same(events.slice(4), ['wrote /var/lib/cnmd/containers/aaaaaaaaaaaa/hosts', 'set net.ipv4.conf.cnmd-aaaaaaaaaa.route_localnet'], 'then the rest, the sysctl after the file');
});
