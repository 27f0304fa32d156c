/**
 * The docker CLI driving containers (sandboxes) on cnmd: create, start, run -d, ps, inspect, port,
 * network connect/disconnect, logs, events, stop, rm -f. Real namespaces; ping between them.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { hostTestsReady, containerNames } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';

if (await hostTestsReady(t, await compatUnavailable())) {
  const { docker, env } = await cliAgainstDaemon(t, 'clic');
  const name = containerNames(t);
  const ok = async (t: Test, ...args: string[]) => {
    const r = await docker(...args);
    t.equal(r.exitCode, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  t.test('the issue walkthrough: create, start, run -d, ping, connect, disconnect, inspect, ps, stop, rm -f', async (t) => {
    const b1 = name('busybox1'), b2 = name('busybox2');
    await ok(t, 'network', 'create', 'my-net');
    await ok(t, 'network', 'create', 'other-net');
    const id1 = await ok(t, 'create', '--name', b1, '--network', 'my-net', 'busybox');
    t.match(id1, /^[0-9a-f]{64}$/);
    t.equal(await ok(t, 'start', b1), b1);
    const id2 = await ok(t, 'run', '-d', '--name', b2, '--network', 'my-net', 'busybox', 'sleep', '1d');
    t.match(id2, /^[0-9a-f]{64}$/);
    const ip = await ok(t, 'inspect', '-f', '{{(index .NetworkSettings.Networks "my-net").IPAddress}}', b2);
    t.equal(ip, '172.18.0.3');
    const sandbox = await ok(t, 'inspect', '-f', '{{.NetworkSettings.SandboxKey}}', b1);
    t.equal(sandbox, `/run/netns/cnmd-${id1.slice(0, 12)}`, 'the namespace is named after the id: `ip netns exec cnmd-<12 hex>` works');
    const ping = await execa('ip', ['netns', 'exec', sandbox.slice('/run/netns/'.length), 'ping', '-c', '3', '-i', '0.2', '-W', '1', ip], { reject: false });
    t.equal(ping.exitCode, 0, 'ip netns exec <busybox1\'s namespace> ping busybox2\'s address');
    t.match(ping.stdout, '0% packet loss');
    const byName = await docker('exec', b1, 'ping', '-c', '1', '-W', '1', b2);
    t.equal(byName.exitCode, 0, `docker exec busybox1 ping busybox2 (a sandbox without a command of its own): ${byName.stderr}`);

    t.equal(await ok(t, 'network', 'connect', '--alias', 'db', 'other-net', b1), '');
    const eth1 = await docker('exec', b1, 'ip', '-o', '-4', 'addr', 'show', 'eth1');
    t.match(eth1.stdout, 'inet 172.19.0.2/16', 'eth1 appears at once');
    const nets = JSON.parse(await ok(t, 'inspect', '-f', '{{json .NetworkSettings.Networks}}', b1));
    t.same(Object.keys(nets).sort(), ['my-net', 'other-net']);
    t.same(nets['other-net'].Aliases, ['db']);
    const netInspect = JSON.parse(await ok(t, 'network', 'inspect', 'my-net'))[0];
    t.same(Object.values(netInspect.Containers).map((c: any) => c.Name).sort(), [b1, b2].sort());
    t.match(Object.values(netInspect.Containers)[0], { EndpointID: /^[0-9a-f]{64}$/, MacAddress: /^02:42:ac:12:00:0[23]$/, IPv4Address: /^172\.18\.0\.[23]\/16$/ });
    t.equal(await ok(t, 'network', 'disconnect', 'other-net', b1), '');
    t.equal((await docker('exec', b1, 'ip', 'link', 'show', 'eth1')).exitCode, 1, 'eth1 is gone');

    const ps = await ok(t, 'ps', '--filter', 'network=my-net', '--format', '{{.Names}}|{{.Command}}|{{.Status}}');
    t.same(ps.split('\n').map((l) => l.replace(/\|Up .*$/, '|Up')).sort(), [`${b1}|""|Up`, `${b2}|"sleep 1d"|Up`].sort());
    t.equal(await ok(t, 'port', b2), '', 'no published ports');
    t.equal(await ok(t, 'stop', '-t', '1', b2), b2);
    t.match(await ok(t, 'ps', '-a', '--filter', `name=${b2}`, '--format', '{{.Status}}'), /^Exited \(143\)/);
    t.equal(await ok(t, 'rm', '-f', b1, b2), `${b1}\n${b2}`);
    t.equal(await ok(t, 'ps', '-a', '-q'), '');
    const left = (await execa('ip', ['netns', 'list'])).stdout;
    t.notOk(left.includes(id1.slice(0, 12)) || left.includes(id2.slice(0, 12)), 'the namespaces are gone');
    t.equal(await ok(t, 'network', 'rm', 'my-net', 'other-net'), 'my-net\nother-net', 'and the networks are free');
  });

  t.test('logs and events', async (t) => {
    const c = name('logs');
    await ok(t, 'run', '-d', '--name', c, 'busybox', 'sh', '-c', 'echo hello; echo oops >&2');
    const wait = await docker('wait', c);
    t.equal(wait.stdout, '0');
    const logs = await docker('logs', c);
    t.equal(logs.stdout, 'hello');
    t.equal(logs.stderr, 'oops');
    const events = await ok(t, 'events', '--since', '30s', '--until', '0s', '--filter', `container=${c}`, '--format', '{{.Type}} {{.Action}}');
    t.same(events.split('\n'), ['container create', 'container start', 'container die'], 'container= matches the actor, as in Docker');
    const netEvents = await ok(t, 'events', '--since', '30s', '--until', '0s', '--filter', 'type=network', '--filter', 'network=bridge', '--format', '{{.Action}} {{index .Actor.Attributes "container"}}');
    t.match(netEvents, /^connect [0-9a-f]{64}\ndisconnect [0-9a-f]{64}$/);
    await ok(t, 'rm', c);
  });

  t.test('input piped into run -i and exec -i reaches the command, even when it ends before the command starts', async (t) => {
    const r = await execa('docker', ['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; exit 3'], { input: 'hello\n', reject: false, env, extendEnv: false, timeout: 30_000 });
    t.same([String(r.stdout), r.exitCode], ['hello', 3], `echo hello | docker run -i --rm busybox sh -c 'cat; exit 3': ${r.stderr}`);
    const c = name('piped');
    await ok(t, 'run', '-d', '--name', c, 'busybox', 'sleep', '1d');
    const e = await execa('docker', ['exec', '-i', c, 'wc', '-c'], { input: 'abcd', reject: false, env, extendEnv: false, timeout: 30_000 });
    t.same([String(e.stdout).trim(), e.exitCode], ['4', 0], `docker exec -i: ${e.stderr}`);
    await ok(t, 'rm', '-f', c);
  });

  t.test('errors the CLI prints as Docker\'s', async (t) => {
    const c = name('err');
    await ok(t, 'create', '--name', c, 'busybox');
    const dup = await docker('create', '--name', c, 'busybox');
    t.not(dup.exitCode, 0);
    t.match(dup.stderr, `Conflict. The container name "/${c}" is already in use by container`);
    const start = await docker('start', 'nosuchcontainer');
    t.match(start.stderr, 'No such container: nosuchcontainer');
    const kill = await docker('kill', c);
    t.match(kill.stderr, `Cannot kill container: ${c}: Container`);
    t.match(kill.stderr, 'is not running');
    const noNet = await docker('network', 'connect', 'nonexistnet', c);
    t.equal(noNet.exitCode, 0, 'a stopped container records an unknown network, as Docker does');
    const start2 = await docker('start', c);
    t.match(start2.stderr, 'network nonexistnet not found');
    await ok(t, 'rm', '-f', c);
  });
}
