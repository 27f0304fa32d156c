/**
 * A daemon restart with 50 networks and 100 running sandboxes: nothing is re-made, and every
 * endpoint still answers.
 */
import t from 'tap';
import { execa } from 'execa';
import { hostTestsReady, makeNetns, startDaemonIn, containerNames, netnsOf } from '../helpers/host.js';

if (await hostTestsReady(t)) {
  t.test('restart with 50 networks and 100 sandboxes', async (t) => {
    const name = containerNames(t);
    const host = await makeNetns(t, 'h');
    const d = await startDaemonIn(t, host, ['--default-address-pool', 'base=10.128.0.0/9,size=24']);
    const pairs: Array<[string, string, string]> = [];
    for (let n = 0; n < 50; n++) {
      const net = `scale-${n}`;
      const r = await d.request('POST', '/v1.48/networks/create', { Name: net });
      t.equal(r.status, 201, r.text);
      const a = name(`a${n}-`), b = name(`b${n}-`);
      for (const c of [a, b]) {
        await d.request('POST', `/v1.48/containers/create?name=${c}`, { Image: 'x', HostConfig: { NetworkMode: net } });
        const s = await d.request('POST', `/v1.48/containers/${c}/start`);
        if (s.status !== 204) t.fail(s.text);
      }
      const ipB = (await d.request('GET', `/v1.48/containers/${b}/json`)).body.NetworkSettings.Networks[net].IPAddress;
      pairs.push([await netnsOf(d, a), b, ipB]);
    }
    await d.stop();
    await d.start();
    const reports = d.output().split('\n').filter((l) => l.includes('start-up reconcile')).map((l) => JSON.parse(l));
    t.same(reports.at(-1).steps, [], 'the second start finds 50 bridges, 100 veths and their insides as they should be');
    const failed: string[] = [];
    await Promise.all(
      pairs.map(async ([a, , ipB]) => {
        const r = await execa('ip', ['netns', 'exec', a, 'ping', '-c', '1', '-W', '2', ipB], { reject: false });
        if (r.exitCode !== 0) failed.push(a);
      }),
    );
    t.same(failed, [], 'every endpoint still answers');
    const ps = (await d.request('GET', '/v1.48/containers/json')).body;
    t.equal(ps.length, 100, 'all 100 still running');
  });
}
