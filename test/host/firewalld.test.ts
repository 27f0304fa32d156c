/**
 * Beside a real firewalld, in the test host's namespace with a D-Bus of the test's own (nothing of the
 * machine's: firewalld's table lives in the test host, its configuration in a temporary directory).
 * firewalld rejects what it forwards for interfaces in no zone of its own, whatever cnmd's table
 * accepts; cnmd puts its bridges in firewalld's trusted zone at runtime.
 */
import t, { type Test } from 'tap';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostTestsReady, makeNetns, makeWorld, startDaemonIn, type Netns } from '../helpers/host.js';
import { pings, until, pause, world, traffic } from '../helpers/traffic.js';

const have = async (cmd: string) => (await execa('sh', ['-c', `command -v ${cmd}`], { reject: false })).exitCode === 0;
const missing = !(await have('firewalld')) || !(await have('dbus-daemon')) ? 'firewalld and dbus-daemon are not installed (.ci/run installs them)' : undefined;

if (await hostTestsReady(t, missing)) {
  await tests();
}

/** A system bus of the test's own and firewalld on it, in the host namespace; gone at the end. */
async function startFirewalld(t: Test, host: Netns): Promise<{ env: Record<string, string>; cmd: (...args: string[]) => Promise<string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cnmd-firewalld-'));
  const bus = join(dir, 'bus');
  writeFileSync(join(dir, 'bus.conf'), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${bus}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`);
  mkdirSync(join(dir, 'config'));
  const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${bus}` };
  const children: ResultPromise[] = [];
  t.teardown(async () => {
    for (const c of children.reverse()) {
      c.kill();
      await c.catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  children.push(execa('dbus-daemon', ['--config-file', join(dir, 'bus.conf'), '--nofork'], { reject: false }));
  for (let i = 0; i < 50 && !existsSync(bus); i++) await pause();
  children.push(execa('nsenter', [`--net=/run/netns/${host.name}`, 'firewalld', '--nofork', '--nopid', '--system-config', join(dir, 'config'), '--log-target', 'console'], { env, reject: false }));
  const cmd = async (...args: string[]) => (await execa('firewall-cmd', args, { env, reject: false })).stdout.trim();
  t.ok(await until(async () => (await cmd('--state')) === 'running' || (await pause(), false), 100), 'firewalld runs in the test host');
  return { env, cmd };
}

async function tests() {
  // both of cnmd's backends beside firewalld's own nftables table
  for (const backend of ['nftables', 'iptables']) t.test(`firewalld, cnmd on ${backend}: containers reach each other, the outside and their published ports; its reload and restarts are repaired`, async (t) => {
    const host = await makeNetns(t, 'h');
    const outside = await makeWorld(t, host);
    const fw = await startFirewalld(t, host);
    t.match((await host.run('nft', ['list', 'tables'])).stdout, 'table inet firewalld', 'its table is in the test host');
    // repairs at start only: what the test breaks stays broken until it restarts the daemon
    const d = await startDaemonIn(t, host, ['--reconcile-interval', '0', '--firewall-backend', backend], fw.env);
    const w = await world(t, d);
    const net = (await d.request('GET', '/v1.48/networks/fw')).body;
    const bridge = `cnmd-${net.Id.slice(0, 10)}`;
    const trusted = async () => (await fw.cmd('--zone=trusted', '--list-interfaces')).split(/\s+/);
    t.ok((await trusted()).includes(bridge), `the network's bridge is in the trusted zone (${await fw.cmd('--zone=trusted', '--list-interfaces')})`);
    t.ok((await trusted()).includes('cnmd0'), 'and the default bridge');
    await traffic(t, outside, w, 'beside firewalld');

    await fw.cmd('--zone=trusted', '--remove-interface', bridge);
    t.notOk(await pings(w.bns, '192.0.2.2'), 'out of the zone, firewalld rejects what the container sends out: why cnmd puts it there');
    await fw.cmd('--reload');
    t.notOk((await trusted()).includes('cnmd0'), 'a reload drops runtime interfaces');
    await d.stop();
    await d.start();
    t.ok(await until(async () => (await trusted()).includes(bridge) || (await pause(), false)), 'back in the zone after the daemon\'s repair');
    await traffic(t, outside, w, 'after a firewalld reload, repaired');

    t.equal((await d.request('POST', `/v1.48/containers/${w.web}/stop?t=0`)).status, 204);
    t.equal((await d.request('POST', `/v1.48/containers/${w.b}/stop?t=0`)).status, 204);
    t.equal((await d.request('DELETE', '/v1.48/networks/fw')).status, 204);
    t.ok(await until(async () => !(await trusted()).includes(bridge) || (await pause(), false)), 'a removed network\'s bridge leaves the zone');
  });
}
