/**
 * The spawn helper starts `nsenter --net=PATH FILE …` inside PATH's namespace without nsenter
 * (src/host/spawn-helper.c), and goes back to its own: checked against a throwaway namespace.
 */
import t from 'tap';
import { readlinkSync, mkdtempSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostTestsReady, makeNetns } from '../helpers/host.js';
import { Spawner } from '../../src/host/spawner.js';

if (await hostTestsReady(t)) {
  const ns = await makeNetns(t, 'spn');
  await ns.run('ip', ['link', 'add', 'spn0', 'type', 'bridge']);
  const s = new Spawner();
  t.teardown(() => s.close());
  const names = (out: string) => out.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim());

  t.test('a command runs in the namespace, and the next one in the helper\'s own again', async (t) => {
    const inside = await s.run('nsenter', [`--net=/run/netns/${ns.name}`, 'ip', '-o', 'link', 'show'], '', 5000);
    t.equal(inside?.exitCode, 0, inside?.stderr ?? '');
    t.same(names(inside!.stdout).sort(), ['lo', 'spn0'], 'the links of that namespace');
    const own = await s.run('readlink', ['/proc/self/ns/net'], '', 5000);
    t.equal(own?.stdout.trim(), readlinkSync('/proc/self/ns/net'), 'back in its own namespace (the test\'s)');
    const input = await s.run('nsenter', [`--net=/run/netns/${ns.name}`, 'ip', '-batch', '-'], 'link add spn1 type bridge\n', 5000);
    t.equal(input?.exitCode, 0, 'input reaches it');
    t.match((await ns.run('ip', ['-o', 'link', 'show', 'spn1'])).stdout, 'spn1');
  });

  t.test('what the helper cannot enter is left to nsenter, which says why', async (t) => {
    const r = await s.run('nsenter', ['--net=/run/netns/cnmd-no-such-namespace', 'ip', 'link'], '', 5000);
    t.not(r?.exitCode, 0);
    t.match(r?.stderr, /nsenter: .*cnmd-no-such-namespace/);
    const other = await s.run('nsenter', [`--net=/run/netns/${ns.name}`, '--uts=/proc/self/ns/uts', 'true'], '', 5000);
    t.equal(other?.exitCode, 0, 'other options: nsenter itself runs');
  });

  t.test('nsenter itself does not run for --net alone (an nsenter first in PATH tells when it does)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cnmd-spn-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const log = join(dir, 'used');
    const real = ['/usr/bin/nsenter', '/bin/nsenter', '/usr/sbin/nsenter'].find((p) => existsSync(p));
    writeFileSync(join(dir, 'nsenter'), `#!/bin/sh\necho "$@" >> ${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
    // the helper looks commands up in the PATH it started with
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    const watched = new Spawner();
    t.teardown(() => watched.close());
    const r = await watched.run('nsenter', [`--net=/run/netns/${ns.name}`, 'ip', '-o', 'link', 'show', 'spn0'], '', 5000);
    process.env.PATH = path;
    t.equal(r?.exitCode, 0, r?.stderr ?? '');
    t.match(r?.stdout, 'spn0', 'it ran in the namespace');
    t.notOk(existsSync(log), 'without nsenter');
    const other = await watched.run('nsenter', [`--net=/run/netns/${ns.name}`, '--uts=/proc/self/ns/uts', 'true'], '', 5000);
    t.equal(other?.exitCode, 0);
    t.match(readFileSync(log, 'utf8'), '--uts=/proc/self/ns/uts', 'with another option the nsenter in PATH runs');
  });
}
