/**
 * Containers' processes on a real kernel, with the docker CLI: what is isolated (network, mount
 * table with its own resolv.conf, hosts and hostname, UTS), the loopback guard that keeps
 * neighbours from a container's 127.0.0.1, and processes across a daemon killed mid-session:
 * an interactive shell and an exec live on, their clients' streams end, a --rm container that
 * exited meanwhile is removed and a restart policy applies at start-up.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { hostTestsReady, containerNames, netnsOf } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';
import { openTerminal, terminalAvailable } from '../helpers/terminal.js';

const why = (await compatUnavailable()) ?? ((await terminalAvailable()) ? undefined : 'tmux is not installed (apt-get install tmux)');
if (await hostTestsReady(t, why)) {
  const { docker, daemon, env } = await cliAgainstDaemon(t, 'proc');
  const name = containerNames(t);
  const ok = async (t: Test, ...args: string[]) => {
    const r = await docker(...args);
    t.equal(r.exitCode, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const until = async (f: () => Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms;
    while (!(await f())) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  };
  await docker('network', 'create', 'pnet');

  t.test('what a container sees of its own, and the host keeps', async (t) => {
    const hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    const hostName = os.hostname();
    const c = name('iso');
    await ok(t, 'run', '-d', '--name', c, '--network', 'pnet', '--hostname', 'inside', '--add-host', 'extra.test:10.9.8.7', 'busybox', 'sleep', '1d');
    t.equal(await ok(t, 'exec', c, 'hostname'), 'inside');
    t.match(await ok(t, 'exec', c, 'cat', '/etc/hosts'), /^10\.9\.8\.7\textra\.test$/m, 'its hosts file, with --add-host');
    t.match(await ok(t, 'exec', c, 'cat', '/etc/resolv.conf'), /^nameserver 127\.0\.0\.11$/m);
    t.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv, 'the host\'s resolv.conf is untouched');
    t.equal(os.hostname(), hostName, 'and so is its hostname');
    const ns = await netnsOf(daemon, c);
    t.equal((await execa('ip', ['netns', 'exec', ns, 'cat', '/etc/resolv.conf'])).stdout, await ok(t, 'exec', c, 'cat', '/etc/resolv.conf'), '`ip netns exec` sees the same resolv.conf');
    const pid = await ok(t, 'inspect', '-f', '{{.State.Pid}}', c);
    const link = async (p: string, kind: string) => (await execa('readlink', [`/proc/${p}/ns/${kind}`])).stdout;
    for (const kind of ['net', 'mnt', 'uts']) t.not(await link(pid, kind), await link('self', kind), `its own ${kind} namespace`);
    t.equal(await link(pid, 'pid'), await link('self', 'pid'), 'the host\'s process space (not isolated, as the README says)');
    await ok(t, 'rm', '-f', c);
  });

  t.test('the loopback guard: a neighbour on the network cannot reach a container\'s 127.0.0.1', async (t) => {
    const victim = name('victim'), neighbour = name('neighbour');
    const listen = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>console.log('got',r.address));s.bind(9999,'127.0.0.1',()=>console.log('ready'))`;
    await ok(t, 'run', '-d', '--name', victim, '--network', 'pnet', 'busybox', process.execPath, '-e', listen);
    await ok(t, 'run', '-d', '--name', neighbour, '--network', 'pnet', 'busybox', 'sleep', '1d');
    t.ok(await until(async () => (await docker('logs', victim)).stdout.includes('ready'), 5000), 'a UDP service on the victim\'s 127.0.0.1');
    const vip = await ok(t, 'inspect', '-f', '{{(index .NetworkSettings.Networks "pnet").IPAddress}}', victim);
    const vmac = await ok(t, 'inspect', '-f', '{{(index .NetworkSettings.Networks "pnet").MacAddress}}', victim);
    t.match(await ok(t, 'exec', neighbour, 'ping', '-c', '1', victim), '1 received', 'ordinary traffic between them flows');
    // the neighbour (root in its own namespace) routes 127.0.0.1 to the victim's MAC, as an attacker would
    const nns = await netnsOf(daemon, neighbour);
    const inN = (...a: string[]) => execa('ip', ['netns', 'exec', nns, ...a], { reject: false });
    await inN('sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1');
    await execa('ip', ['-n', nns, 'rule', 'add', 'pref', '5', 'lookup', 'main']);
    await execa('ip', ['-n', nns, 'route', 'add', '127.0.0.1/32', 'via', vip, 'dev', 'eth0']);
    await execa('ip', ['-n', nns, 'neigh', 'replace', vip, 'lladdr', vmac, 'dev', 'eth0']);
    const send = `require('dgram').createSocket('udp4').send('x',9999,'127.0.0.1',()=>process.exit(0))`;
    const sent = await inN(process.execPath, '-e', send);
    t.equal(sent.exitCode, 0, `the neighbour sends to 127.0.0.1 through the victim's MAC: ${sent.stderr}`);
    for (let i = 0; i < 2; i++) await inN(process.execPath, '-e', send);
    await new Promise((r) => setTimeout(r, 500));
    t.notMatch((await docker('logs', victim)).stdout, /got/, 'nothing reached the victim\'s 127.0.0.1 service');
    await ok(t, 'rm', '-f', victim, neighbour);
  });

  t.test('a daemon killed during an interactive session and an exec: both live on, the clients\' streams end, nothing stale after the restart', async (t) => {
    const shell = name('shell'), rmd = name('rmd'), pol = name('pol');
    const term = await openTerminal(t, ['docker', 'run', '-it', '--name', shell, '--network', 'pnet', 'busybox', 'sh'], env);
    await term.waitFor(/^# ?$/m);
    await term.type('echo first > /tmp/cnmd-proc-test-$$; echo "pid $$"');
    const pid = /pid (\d+)/.exec(await term.waitFor(/pid \d+/))![1];
    const exec = execa('docker', ['exec', shell, 'sh', '-c', 'echo started; sleep 30; echo never'], { env, extendEnv: false, reject: false });
    await until(async () => (await docker('inspect', '-f', '{{.ExecIDs}}', shell)).stdout.length > 4, 5000);
    await ok(t, 'run', '-d', '--rm', '--name', rmd, 'busybox', 'sleep', '2');
    await ok(t, 'run', '-d', '--restart', 'always', '--name', pol, 'busybox', 'sleep', '1d');
    const polPid = Number(await ok(t, 'inspect', '-f', '{{.State.Pid}}', pol));
    daemon.signal('SIGKILL');
    await daemon.exited();
    t.ok(await until(() => term.ended(), 10_000), 'the interactive client\'s stream ends');
    const execDone = await Promise.race([exec, new Promise((r) => setTimeout(() => r(undefined), 10_000))]);
    t.ok(execDone, 'and the exec\'s');
    t.ok(existsPid(Number(pid)), 'the shell lives on without the daemon');
    process.kill(polPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 2500));
    await daemon.start();
    t.equal(await ok(t, 'inspect', '-f', '{{.State.Status}}', shell), 'running', 'the shell\'s container still runs after the restart');
    const again = await openTerminal(t, ['docker', 'attach', shell], env);
    await new Promise((r) => setTimeout(r, 500));
    await again.type('cat /tmp/cnmd-proc-test-$$; echo "still $$"');
    t.match(await again.waitFor(`still ${pid}`), new RegExp(`first\\n(?:.*\\n)*still ${pid}`), 'docker attach finds the same shell (its terminal held by the shim)');
    t.ok(await until(async () => (await docker('ps', '-aq', '--filter', `name=${rmd}`)).stdout === '', 5000), 'a --rm container that exited while the daemon was down is removed');
    t.ok(await until(async () => (await ok(t, 'inspect', '-f', '{{.State.Status}} {{.RestartCount}}', pol)) === 'running 1', 5000), 'one whose command died meanwhile is restarted by its policy');
    t.same((await daemon.request('GET', '/cnmd/v1/state?plan=1')).body.Plan, [], 'nothing stale: the host matches the store');
    await again.type('rm -f /tmp/cnmd-proc-test-$$; exit');
    t.equal(await ok(t, 'wait', shell), '0');
    await ok(t, 'rm', '-f', shell, pol);
  });
}

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
