/**
 * Containers a user can enter, with the real docker CLI: the seed walkthrough typed into two
 * terminals (tmux), `docker run` in the foreground, `docker start -a`, exec in every form, detach
 * keys and `docker attach`, and from inside each container its own hostname, resolv.conf and
 * names. Then what the CLI shows of a container's life: top, stats, pause, rename, update, restart
 * policies.
 */
import t, { type Test } from 'tap';
import { hostTestsReady, containerNames } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';
import { openTerminal, terminalAvailable } from '../helpers/terminal.js';

const why = (await compatUnavailable()) ?? ((await terminalAvailable()) ? undefined : 'tmux is not installed (apt-get install tmux)');
if (await hostTestsReady(t, why)) {
  const { docker, env } = await cliAgainstDaemon(t, 'itv');
  const name = containerNames(t);
  const ok = async (t: Test, ...args: string[]) => {
    const r = await docker(...args);
    t.equal(r.exitCode, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const prompt = /^# ?$/m;
  await docker('network', 'create', '-d', 'bridge', 'my-net');

  t.test('the walkthrough: docker run -it --rm in two terminals, ping by name both ways, hostname, resolv.conf, exit', async (t) => {
    const b1 = name('busybox1'), b2 = name('busybox2');
    const s1 = await openTerminal(t, ['docker', 'run', '-it', '--rm', '--name', b1, '--network', 'my-net', 'busybox', 'sh'], env);
    const s2 = await openTerminal(t, ['docker', 'run', '-it', '--rm', '--name', b2, '--network', 'my-net', 'busybox', 'sh'], env);
    t.match(await s1.waitFor(prompt), prompt, 'shell 1 has a prompt');
    t.match(await s2.waitFor(prompt), prompt, 'shell 2 has a prompt');
    await s1.type(`ping -c 3 ${b2}`);
    t.match(await s1.waitFor('3 received'), /3 packets transmitted, 3 received/, 'shell 1: ping -c 3 busybox2');
    await s2.type(`ping -c 3 ${b1}`);
    t.match(await s2.waitFor('3 received'), /3 packets transmitted, 3 received/, 'shell 2: ping -c 3 busybox1');
    const id1 = await ok(t, 'inspect', '-f', '{{.Id}}', b1);
    await s1.type('hostname; cat /etc/resolv.conf; ip -4 -o addr show eth0; ip route');
    const screen = await s1.waitFor('default via');
    t.match(screen, new RegExp(`^${id1.slice(0, 12)}$`, 'm'), 'hostname: the first 12 hex of its id');
    t.match(screen, /^nameserver 127\.0\.0\.11$/m, 'resolv.conf: 127.0.0.11, as in Docker');
    t.match(screen, /eth0 +inet 172\.18\.0\.\d+\/16/, 'eth0 on my-net');
    t.match(screen, /^default via 172\.18\.0\.1 dev eth0/m, 'the default route via the gateway');
    await s1.type('stty size');
    t.match(await s1.waitFor(/^40 120$/m), /^40 120$/m, 'the terminal has the size of the client\'s');
    await s1.type('exit');
    await s2.type('exit 4');
    for (const [s, c] of [[s1, b1], [s2, b2]] as const) {
      const deadline = Date.now() + 10_000;
      while (!(await s.ended()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      t.ok(await s.ended(), 'docker run returns when the shell exits');
      let left = '?';
      for (let i = 0; i < 50 && left !== ''; i++) {
        left = (await docker('ps', '-aq', '--filter', `name=${c}`)).stdout;
        if (left) await new Promise((r) => setTimeout(r, 100));
      }
      t.equal(left, '', '--rm: the container is gone');
    }
  });

  t.test('docker run in the foreground: output, exit code, --rm; docker start -a', async (t) => {
    const b2 = name('busybox2');
    await ok(t, 'run', '-d', '--name', b2, '--network', 'my-net', 'busybox', 'sleep', '1d');
    const fg = await docker('run', '--rm', '--network', 'my-net', 'busybox', 'sh', '-c', `ping -c 1 ${b2}; echo to-stderr >&2; exit 3`);
    t.equal(fg.exitCode, 3, 'the command\'s exit code is docker run\'s');
    t.match(fg.stdout, '1 packets transmitted, 1 received', 'its output, as it comes');
    t.equal(fg.stderr, 'to-stderr', 'stderr apart');
    const sa = name('sa');
    await ok(t, 'create', '--name', sa, '--network', 'my-net', 'busybox', 'sh', '-c', 'echo started; exit 4');
    const started = await docker('start', '-a', sa);
    t.same([started.exitCode, started.stdout], [4, 'started'], 'docker start -a: attached, with the exit code');
    const missing = await docker('run', '--rm', 'busybox', 'no-such-command');
    t.equal(missing.exitCode, 127, 'a command that is not there: 127, as Docker');
    t.match(missing.stderr, 'exec: "no-such-command": executable file not found in $PATH');
    const user = await docker('run', '--rm', '--user', 'nobody', 'busybox', 'id', '-u');
    t.same([user.exitCode, user.stdout], [0, '65534'], '--user');
    const badUser = await docker('run', '--rm', '--user', 'nobody-such', 'busybox', 'true');
    t.not(badUser.exitCode, 0);
    t.match(badUser.stderr, 'unable to find user nobody-such: no matching entries in passwd file');
    const wd = await docker('run', '--rm', '-w', '/tmp', '-e', 'GREETING=hi there', '--hostname', 'box1', 'busybox', 'sh', '-c', 'pwd; echo "$GREETING"; hostname; cat /etc/hostname');
    t.equal(wd.stdout, '/tmp\nhi there\nbox1\nbox1', '-w, -e, --hostname');
    await ok(t, 'rm', '-f', b2, sa);
  });

  t.test('exec: by name both ways, exit codes, -e, -w, -it in a terminal, into a sandbox without a command', async (t) => {
    const a = name('a'), b = name('b'), n = name('none');
    await ok(t, 'run', '-d', '--name', a, '--network', 'my-net', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', b, '--network', 'my-net', 'busybox');
    t.match(await ok(t, 'exec', a, 'ping', '-c', '1', b), '1 received', 'a pings b by name');
    t.match(await ok(t, 'exec', b, 'ping', '-c', '1', a), '1 received', 'b (no command of its own) pings a');
    t.match(await ok(t, 'exec', b, 'nslookup', a, '127.0.0.11'), new RegExp(`Name:\\s+${a}`), 'nslookup at 127.0.0.11 inside the sandbox');
    t.equal((await docker('exec', a, 'sh', '-c', 'exit 7')).exitCode, 7, 'the exec\'s exit code');
    t.equal(await ok(t, 'exec', '-e', 'FOO=bar', '-w', '/tmp', a, 'sh', '-c', 'echo "$FOO $(pwd)"'), 'bar /tmp');
    t.equal(await ok(t, 'exec', '-u', 'nobody', a, 'id', '-u'), '65534');
    t.equal(await ok(t, 'exec', a, 'cat', '/etc/hostname'), (await ok(t, 'inspect', '-f', '{{.Config.Hostname}}', a)));
    const term = await openTerminal(t, ['docker', 'exec', '-it', a, 'sh'], env);
    await term.waitFor(prompt);
    await term.type('echo "tty: $(tty)"; exit 5');
    t.match(await term.waitFor('tty: /dev/pts/'), /tty: \/dev\/pts\/\d+/, 'exec -it: a terminal');
    await ok(t, 'run', '-d', '--name', n, '--network', 'none', 'busybox');
    t.equal(await ok(t, 'exec', n, 'sh', '-c', "ip -o link | awk -F': ' '{print $2}'"), 'lo', 'exec into a none sandbox: lo only');
    const stopped = name('stopped');
    await ok(t, 'create', '--name', stopped, 'busybox', 'sleep', '1');
    const refused = await docker('exec', stopped, 'true');
    t.match(refused.stderr, /Container [0-9a-f]{64} is not running/, 'exec in a stopped container: Docker\'s 409');
    await ok(t, 'rm', '-f', a, b, n, stopped);
  });

  t.test('detach keys, docker attach, and the container runs on', async (t) => {
    const c = name('det');
    const s = await openTerminal(t, ['docker', 'run', '-it', '--name', c, 'busybox', 'sh'], env);
    await s.waitFor(prompt);
    await s.keys('C-p', 'C-q');
    const deadline = Date.now() + 10_000;
    while (!(await s.ended()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    t.ok(await s.ended(), 'ctrl-p ctrl-q: the client leaves');
    t.match(await ok(t, 'ps', '--filter', `name=${c}`, '--format', '{{.Status}}'), /^Up /, 'the container runs on');
    const again = await openTerminal(t, ['docker', 'attach', c], env);
    await new Promise((r) => setTimeout(r, 500));
    await again.type('echo "back $((40+2))"');
    t.match(await again.waitFor('back 42'), 'back 42', 'docker attach: the same shell');
    await again.type('exit');
    const code = await ok(t, 'wait', c);
    t.equal(code, '0');
    await ok(t, 'rm', c);
  });

  t.test('top, stats, pause, rename, update, restart policies', async (t) => {
    const c = name('life'), peer = name('peer');
    await ok(t, 'run', '-d', '--name', c, '--network', 'my-net', 'busybox', 'sleep', '1d');
    await ok(t, 'run', '-d', '--name', peer, '--network', 'my-net', 'busybox', 'sleep', '1d');
    const top = await ok(t, 'top', c);
    t.match(top, /^UID +PID +PPID/m, 'docker top: ps -ef columns');
    t.match(top, /sleep 1d/, 'with the container\'s process');
    t.notMatch(top, /dockerd|node /, 'and no other');
    await ok(t, 'exec', c, 'ping', '-c', '2', peer);
    const stats = await ok(t, 'stats', '--no-stream', '--format', '{{.Name}}|{{.NetIO}}|{{.PIDs}}', c);
    const [sname, netio, pids] = stats.split('|');
    t.equal(sname, c);
    t.match(netio, /^[1-9][\d.]*k?B \/ [1-9][\d.]*k?B$/, `network I/O from its interfaces (${netio})`);
    t.equal(pids, '1');
    await ok(t, 'pause', c);
    t.match(await ok(t, 'ps', '--filter', `name=${c}`, '--format', '{{.Status}}'), /\(Paused\)$/);
    t.match((await docker('exec', c, 'true')).stderr, 'is paused, unpause the container before exec');
    await ok(t, 'unpause', c);
    const renamed = name('renamed');
    await ok(t, 'rename', c, renamed);
    t.match(await ok(t, 'exec', peer, 'ping', '-c', '1', renamed), '1 received', 'the new name resolves at once');
    t.not((await docker('exec', peer, 'ping', '-c', '1', '-W', '1', c)).exitCode, 0, 'the old one no longer');
    await ok(t, 'update', '--restart', 'unless-stopped', renamed);
    t.equal(await ok(t, 'inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', renamed), 'unless-stopped');
    const flaky = name('flaky');
    await ok(t, 'run', '-d', '--name', flaky, '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 1');
    let seen = '';
    for (let i = 0; i < 100 && seen !== '2 exited 1'; i++) {
      seen = await ok(t, 'inspect', '-f', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}', flaky);
      if (seen !== '2 exited 1') await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(seen, '2 exited 1', 'on-failure:2: two restarts, then it stays exited');
    const always = name('always');
    await ok(t, 'run', '-d', '--name', always, '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2');
    let count = 0;
    for (let i = 0; i < 100 && count < 2; i++) {
      count = Number(await ok(t, 'inspect', '-f', '{{.RestartCount}}', always));
      if (count < 2) await new Promise((r) => setTimeout(r, 100));
    }
    t.ok(count >= 2, `always: restarted (${count} times)`);
    await ok(t, 'stop', '-t', '1', always);
    await new Promise((r) => setTimeout(r, 500));
    t.match(await ok(t, 'inspect', '-f', '{{.State.Status}}', always), /^exited$/, 'stopped by the user: not restarted');
    await ok(t, 'rm', '-f', renamed, peer, flaky, always);
  });
}
