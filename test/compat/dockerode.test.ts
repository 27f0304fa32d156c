/** The dockerode npm client against cnmd's socket: the same flows through its JS API. */
import t from 'tap';
import Docker from 'dockerode';
import { hostTestsUnavailable, removeStaleNamespaces, makeNetns, startDaemonIn } from '../helpers/host.js';

const skip = hostTestsUnavailable();
if (skip) {
  t.plan(0, skip);
} else {
  await removeStaleNamespaces();
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
}
