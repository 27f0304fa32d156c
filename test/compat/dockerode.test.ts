/** The dockerode npm client against cnmd's socket: the same flows through its JS API. */
import t from 'tap';
import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { hostTestsReady, makeNetns, startDaemonIn, containerNames } from '../helpers/host.js';

if (await hostTestsReady(t)) {
  const host = await makeNetns(t, 'dode');
  const daemon = await startDaemonIn(t, host);
  const docker = new Docker({ socketPath: daemon.socket });

  t.test('ping, version, info', async (t) => {
    t.equal(String(await docker.ping()), 'OK');
    t.equal((await docker.version()).ApiVersion, '1.49');
    t.equal((await docker.info()).OSType, 'linux');
  });

  t.test('networks: create, list with filters, inspect, remove, prune', async (t) => {
    const net = await docker.createNetwork({
      Name: 'dn1',
      Driver: 'bridge',
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.70.0.0/24', Gateway: '10.70.0.1' }] },
      Labels: { app: 'x' },
    });
    t.match(net.id, /^[0-9a-f]{64}$/);
    const info = await net.inspect();
    t.equal(info.Name, 'dn1');
    t.same(info.IPAM?.Config, [{ Subnet: '10.70.0.0/24', Gateway: '10.70.0.1' }]);
    const listed = await docker.listNetworks({ filters: { label: ['app=x'] } });
    t.same(listed.map((n) => n.Name), ['dn1']);
    const byName = await docker.listNetworks({ filters: JSON.stringify({ name: { dn: true } }) as never });
    t.same(byName.map((n) => n.Name), ['dn1']);
    const failure = async (p: Promise<unknown>) => p.then(() => undefined, (e: { statusCode?: number; json?: unknown }) => ({ statusCode: e.statusCode, json: e.json }));
    t.same(await failure(docker.createNetwork({ Name: 'dn1' })), { statusCode: 409, json: { message: 'network with name dn1 already exists' } });
    t.same(await failure(docker.getNetwork('nope').inspect()), { statusCode: 404, json: { message: 'network nope not found' } });
    await net.remove();
    t.equal((await failure(net.inspect()))?.statusCode, 404);
    await docker.createNetwork({ Name: 'dn2' });
    t.same(await docker.pruneNetworks(), { NetworksDeleted: ['dn2'] });
  });

  t.test('containers: create, start, connect, inspect, list, disconnect, stop, remove', async (t) => {
    const n1 = containerNames(t)('dode1');
    const net = await docker.createNetwork({ Name: 'dnet' });
    const other = await docker.createNetwork({ Name: 'dother' });
    const c = await docker.createContainer({ name: n1, Image: 'busybox', Cmd: ['sleep', '60'], HostConfig: { NetworkMode: 'dnet' } });
    await c.start();
    let info = await c.inspect();
    t.equal(info.State.Running, true);
    t.equal(info.NetworkSettings.Networks.dnet.IPAddress, '172.18.0.2');
    await other.connect({ Container: n1, EndpointConfig: { Aliases: ['x'] } });
    info = await c.inspect();
    t.same(Object.keys(info.NetworkSettings.Networks).sort(), ['dnet', 'dother']);
    const listed = await docker.listContainers({ filters: { network: ['dother'] } });
    t.same(listed.map((x) => x.Names[0]), [`/${n1}`]);
    await other.disconnect({ Container: n1 });
    t.same(Object.keys((await c.inspect()).NetworkSettings.Networks), ['dnet']);
    await c.stop({ t: 1 });
    t.equal((await c.inspect()).State.Status, 'exited');
    t.same(await c.wait(), { Error: null, StatusCode: 143 });
    await c.remove({ force: true });
    t.same(await docker.listContainers({ all: true }), []);
    await net.remove();
    await other.remove();
  });

  t.test('attach, exec with hijack, demuxStream, a terminal, resize, exec inspect', async (t) => {
    const name = containerNames(t);
    const collect = () => {
      const out = new PassThrough(), err = new PassThrough();
      const text = { out: '', err: '' };
      out.on('data', (d) => (text.out += d));
      err.on('data', (d) => (text.err += d));
      return { out, err, text };
    };
    // container.attach before start, as `docker run` does: the whole output, stdout and stderr apart
    const c = await docker.createContainer({ name: name('att'), Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 2'] });
    const stream = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
    const a = collect();
    docker.modem.demuxStream(stream, a.out, a.err);
    const ended = new Promise((r) => stream.on('end', r));
    await c.start();
    await ended;
    t.same(a.text, { out: 'out\n', err: 'err\n' }, 'container.attach + modem.demuxStream');
    t.same(await c.wait(), { Error: null, StatusCode: 2 });

    // stdin through attach (OpenStdin, StdinOnce), as `echo hi | docker run -i` does
    const cat = await docker.createContainer({ name: name('cat'), Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true });
    const io = await cat.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const b = collect();
    docker.modem.demuxStream(io, b.out, b.err);
    const catEnded = new Promise((r) => io.on('end', r));
    await cat.start();
    io.write('through stdin\n');
    io.end();
    await catEnded;
    t.equal(b.text.out, 'through stdin\n', 'stdin reaches the command; its end ends it (StdinOnce)');
    t.same(await cat.wait(), { Error: null, StatusCode: 0 });

    // exec.start({hijack: true}) with stdin and without a terminal
    const srv = await docker.createContainer({ name: name('srv'), Image: 'busybox', Cmd: ['sleep', '60'] });
    await srv.start();
    const exec = await srv.exec({ Cmd: ['sh', '-c', 'read line; echo "got $line"; echo warn >&2; exit 3'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const es = await exec.start({ hijack: true, stdin: true });
    const e = collect();
    docker.modem.demuxStream(es, e.out, e.err);
    const execEnded = new Promise((r) => es.on('end', r));
    es.write('hello\n');
    await execEnded;
    t.same(e.text, { out: 'got hello\n', err: 'warn\n' }, 'exec.start({hijack: true}) + demuxStream');
    const ei = await exec.inspect();
    t.match(ei, { Running: false, ExitCode: 3, ContainerID: (await srv.inspect()).Id, ProcessConfig: { entrypoint: 'sh', tty: false } });
    t.ok(ei.Pid > 0, 'its pid');
    t.same((await srv.inspect()).ExecIDs, [exec.id], 'the container lists it');

    // a terminal: raw output, and resize reaches it
    const tty = await srv.exec({ Cmd: ['sh', '-c', 'sleep 0.3; stty size'], Tty: true, AttachStdout: true, AttachStderr: true });
    const ts = await tty.start({ hijack: true, stdin: false, Tty: true });
    let raw = '';
    ts.on('data', (d: Buffer) => (raw += d));
    const ttyEnded = new Promise((r) => ts.on('end', r));
    await tty.resize({ h: 33, w: 101 });
    await ttyEnded;
    t.equal(raw.trim(), '33 101', 'a terminal of the size resize gave it; no stream headers');
    const failure = async (p: Promise<unknown>) => p.then(() => undefined, (x: { statusCode?: number; json?: { message?: string } }) => [x.statusCode, x.json?.message]);
    t.same(await failure(docker.getExec('nope').inspect()), [404, 'No such exec instance: nope']);
    t.same(await failure(srv.exec({ Cmd: [] })), [400, 'No exec command specified']);
    t.equal((await failure(docker.getContainer('no-such').attach({ stream: true, stdout: true, hijack: true })))?.[0], 404, 'attach to a missing container: 404');
    await srv.remove({ force: true });
    await c.remove();
    await cat.remove();
  });
  t.test('images (pull, get, list, tag, remove), run with its output, volumes, docker cp, swarm leave', async (t) => {
    const stream = await docker.pull('busybox:latest');
    const events: Array<{ status?: string }> = await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: Array<{ status?: string }>) => (err ? reject(err) : resolve(out))));
    t.match(events.map((e) => e.status).join('\n'), /Status: .*busybox:latest/);
    const image = await docker.getImage('busybox').inspect();
    t.match(image.Id, /^sha256:[0-9a-f]{64}$/);
    t.same(image.RepoTags, ['busybox:latest']);
    await docker.getImage('busybox').tag({ repo: 'mine/box', tag: 'v1' });
    t.same((await docker.listImages({ filters: { reference: ['mine/*'] } })).map((i) => i.RepoTags), [['busybox:latest', 'mine/box:v1']]);
    t.same(await docker.getImage('mine/box:v1').remove(), [{ Untagged: 'mine/box:v1' }]);
    const missing = await docker.getImage('nosuch:1').inspect().then(() => undefined, (e: { statusCode: number; json: { message: string } }) => [e.statusCode, e.json.message]);
    t.same(missing, [404, 'No such image: nosuch:1']);

    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const [result, ran] = await docker.run('busybox', ['sh', '-c', 'echo ran in $HOSTNAME'], out, { HostConfig: { AutoRemove: true } });
    t.equal(result.StatusCode, 0);
    t.match(text, /^ran in [0-9a-f]{12}\r?\n$/);
    let gone: number | string = 'still there';
    for (let i = 0; i < 50 && gone !== 404; i++) {
      gone = await ran.inspect().then(() => 'still there', (e: { statusCode: number }) => e.statusCode);
      if (gone !== 404) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(gone, 404, 'AutoRemove takes it once it exited');

    const vol = await docker.createVolume({ Name: 'dvol', Labels: { by: 'dockerode' } });
    t.equal((await docker.getVolume('dvol').inspect()).Labels.by, 'dockerode', String(vol));
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '100'], HostConfig: { Binds: ['dvol:/tmp/cnmd-dockerode-vol'] } });
    await c.start();
    const tar = await c.getArchive({ path: '/etc/hostname' });
    const chunks: Buffer[] = [];
    for await (const ch of tar as AsyncIterable<Buffer>) chunks.push(Buffer.from(ch));
    const bytes = Buffer.concat(chunks);
    t.equal(bytes.subarray(0, 8).toString().replace(/\0.*$/, ''), 'hostname', 'a tar whose entry is the base name');
    t.match(bytes.toString('latin1'), new RegExp(`\\n?${(await c.inspect()).Config.Hostname}\\n`), 'with the container hostname in it');
    await c.remove({ force: true, v: true });
    t.same((await docker.listVolumes()).Volumes.map((v) => v.Name), ['dvol'], 'a named volume stays after rm -v');
    await docker.getVolume('dvol').remove();
    const leave = await docker.swarmLeave({ force: true }).then(() => 'ok', (e: { statusCode: number; json: { message: string } }) => [e.statusCode, e.json.message]);
    t.same(leave, [503, 'This node is not part of a swarm'], 'as an engine outside a swarm');
  });
}
