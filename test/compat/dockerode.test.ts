/** The dockerode npm client against cnmd's socket: the same flows through its JS API. */
import t from 'tap';
import Docker from 'dockerode';
import { hostTestsReady, makeNetns, startDaemonIn, containerNames } from '../helpers/host.js';

if (await hostTestsReady(t)) {
  const host = await makeNetns(t, 'dode');
  const daemon = await startDaemonIn(t, host);
  const docker = new Docker({ socketPath: daemon.socket });

  t.test('ping, version, info', async (t) => {
    t.equal(String(await docker.ping()), 'OK');
    t.equal((await docker.version()).ApiVersion, '1.48');
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
}

