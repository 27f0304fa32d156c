/**
 * The Python SDK from Debian (python3-docker, /usr/bin/python3) against cnmd, as an SDK user writes
 * it: images.pull/get, containers.run(remove=True) returning the output, exec_run, networks
 * create/connect/disconnect, and the test suites' teardown swarm.leave(force=True).
 */
import t from 'tap';
import { execa } from 'execa';
import { hostTestsReady, hostTestsUnavailable, makeNetns, startDaemonIn, uniqueName } from '../helpers/host.js';

async function sdkUnavailable(): Promise<string | undefined> {
  const r = await execa('/usr/bin/python3', ['-c', 'import docker'], { reject: false });
  return hostTestsUnavailable() ?? (r.exitCode === 0 ? undefined : 'python3-docker is not installed');
}

const SCRIPT = String.raw`
import json, sys, docker
sock, name, net_name = sys.argv[1:4]
client = docker.DockerClient(base_url='unix://' + sock, version='auto')
out = {}
img = client.images.pull('busybox', tag='latest')
out['pulled_tags'] = img.tags
out['get_same'] = client.images.get('busybox').id == img.id
out['run_output'] = client.containers.run('busybox', ['sh', '-c', 'echo hi from $HOSTNAME'], remove=True).decode()
out['left_after_run'] = len(client.containers.list(all=True))
net = client.networks.create(net_name, labels={'by': 'sdk'})
c = client.containers.run('busybox', ['sleep', '100'], detach=True, name=name)
net.connect(c, aliases=['pyalias'])
c.reload()
out['networks'] = sorted(c.attrs['NetworkSettings']['Networks'].keys())
out['aliases'] = c.attrs['NetworkSettings']['Networks'][net_name]['Aliases']
code, text = c.exec_run(['sh', '-c', 'hostname; ip -o -4 addr show eth1 | wc -l'])
out['exec'] = [code, text.decode()]
net.reload()
out['net_containers'] = [x.name for x in net.containers]
net.disconnect(c)
c.reload()
out['after_disconnect'] = sorted(c.attrs['NetworkSettings']['Networks'].keys())
try:
    client.networks.get('no-such-network')
except docker.errors.NotFound as e:
    out['not_found'] = str(e.explanation)
c.remove(force=True)
net.remove()
out['swarm_leave'] = client.swarm.leave(force=True)
out['info_name'] = bool(client.info()['Name'])
out['ping'] = client.ping()
print(json.dumps(out))
`;

if (await hostTestsReady(t, await sdkUnavailable())) {
  const host = await makeNetns(t, 'py');
  const daemon = await startDaemonIn(t, host);
  t.test('images, run with remove, exec_run, networks, swarm.leave', async (t) => {
    const name = uniqueName('py');
    const r = await execa('/usr/bin/python3', ['-c', SCRIPT, daemon.socket, name, `${name}-net`], { reject: false, timeout: 60_000 });
    t.equal(r.exitCode, 0, String(r.stderr).slice(-3000));
    const out = JSON.parse(String(r.stdout));
    t.same(out.pulled_tags, ['busybox:latest']);
    t.equal(out.get_same, true);
    t.match(out.run_output, /^hi from [0-9a-f]{12}\n$/, 'the output comes back; the container went');
    t.equal(out.left_after_run, 0);
    t.same(out.networks, ['bridge', `${name}-net`]);
    t.ok(out.aliases.includes('pyalias'));
    t.equal(out.exec[0], 0);
    t.match(out.exec[1], /^[0-9a-f]{12}\n1\n$/, 'exec_run: the container hostname, eth1 inside');
    t.same(out.net_containers, [name]);
    t.same(out.after_disconnect, ['bridge']);
    t.equal(out.not_found, 'network no-such-network not found');
    t.equal(out.swarm_leave, true, "503 'not part of a swarm' is what the SDK takes as done");
    t.equal(out.ping, true);
  });
}
