/** Beside firewalld (src/services/firewalld-zone.ts), with the recording executor answering for it. */
import t from 'tap';
import { RecordingExecutor } from '../../src/host/recording.js';
import { replyStrings, isAlreadyDone } from '../../src/host/firewalld.js';
import { buildTestDaemon, call } from '../helpers/app.js';

const reply = (names: string[]) => `method return time=1 sender=:1.1 -> destination=:1.4 serial=9 reply_serial=2\n   array [\n${names.map((n) => `      string "${n}"\n`).join('')}   ]\n`;
const zoneCalls = (exec: RecordingExecutor) =>
  exec.calls.filter((c) => c.file === 'dbus-send' && !c.args.some((a) => a.endsWith('.getInterfaces'))).map((c) => `${c.args.at(-3)!.replace('org.fedoraproject.FirewallD1.', '')} ${c.args.slice(-2).join(' ')}`);

t.test('dbus-send replies and names', async (t) => {
  t.same(replyStrings(reply(['cnmd0', 'eth1'])), ['cnmd0', 'eth1']);
  t.same(replyStrings('method return time=1\n   string "trusted"\n'), ['trusted']);
  t.same(replyStrings(reply([])), []);
  t.ok(isAlreadyDone('Error org.fedoraproject.FirewallD1.Exception: ZONE_ALREADY_SET: trusted'));
  t.notOk(isAlreadyDone('Error org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable'));
});

t.test('firewalld runs: every bridge of ours goes into its trusted zone, leaves it with its network, comes back after a reload', async (t) => {
  const exec = new RecordingExecutor().respond('.zone.getInterfaces string:trusted', reply([]));
  const d = await buildTestDaemon(t, [], exec);
  t.same(zoneCalls(exec), ['zone.addInterface string:trusted string:cnmd0'], 'at start: the default bridge');
  exec.clear();
  const created = await call(d, 'POST', '/networks/create', { Name: 'fw' });
  const bridge = `cnmd-${created.body.Id.slice(0, 10)}`;
  await new Promise((r) => setTimeout(r, 20));
  t.same(zoneCalls(exec), [`zone.addInterface string:trusted string:${bridge}`], 'a new network: its bridge');
  // firewalld reloaded: runtime interfaces gone
  exec.clear();
  exec.respond('.zone.getInterfaces string:trusted', reply(['cnmd0']));
  const repairs: string[] = [];
  d.events.subscribe((e) => e.Type === 'cnmd' && e.Action === 'repair' && repairs.push(e.Actor.Attributes.steps ?? ''));
  await d.repair.once();
  t.same(zoneCalls(exec), [`zone.addInterface string:trusted string:${bridge}`], 'the repair puts back what is missing, nothing else');
  t.equal(repairs.length, 1, 'reported as a repair (with whatever else the recording host lacks)');
  exec.clear();
  t.equal((await call(d, 'DELETE', '/networks/fw')).status, 204);
  await new Promise((r) => setTimeout(r, 20));
  t.same(zoneCalls(exec), [`zone.removeInterface string:trusted string:${bridge}`], 'a removed network: its bridge leaves the zone');
});

t.test('no firewalld (dbus-send answers nothing): no zone call at all', async (t) => {
  const exec = new RecordingExecutor();
  const d = await buildTestDaemon(t, [], exec);
  await call(d, 'POST', '/networks/create', { Name: 'nofw' });
  await d.repair.once();
  t.same(zoneCalls(exec), []);
  t.ok(exec.calls.some((c) => c.file === 'dbus-send'), 'it was asked');
});

t.test('--iptables=false: firewalld is not asked', async (t) => {
  const exec = new RecordingExecutor().respond('.zone.getInterfaces string:trusted', reply([]));
  await buildTestDaemon(t, ['--iptables=false'], exec);
  t.notOk(exec.calls.some((c) => c.file === 'dbus-send'));
});
