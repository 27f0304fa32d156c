import t from 'tap';
import { parseCreate, parseNetworkMode } from '../../src/services/container-spec.js';
import { parseRestartPolicy, shouldRestart, nextDelay, startsWithDaemon, FIRST_DELAY_MS } from '../../src/services/restart-policy.js';

const create = (body: Record<string, unknown>, v = 1.48) => parseCreate(body, v, '2026-01-01T00:00:00Z');
const fails = (body: Record<string, unknown>) => {
  try {
    create(body);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
};

t.test('network modes as a union', async (t) => {
  t.same(parseNetworkMode('default'), { kind: 'network', name: 'bridge' });
  t.same(parseNetworkMode(''), { kind: 'network', name: 'bridge' });
  t.same(parseNetworkMode('my-net'), { kind: 'network', name: 'my-net' });
  t.same(parseNetworkMode('host'), { kind: 'host' });
  t.same(parseNetworkMode('none'), { kind: 'none' });
  t.same(parseNetworkMode('container:web'), { kind: 'container', target: 'web' });
});

t.test('what reaches argv, files and rules is checked at create', async (t) => {
  t.equal(fails({ Hostname: '-rf' }), 'invalid hostname format: -rf', 'a hostname is no option');
  t.equal(fails({ Hostname: 'a'.repeat(64) }), `invalid hostname format: ${'a'.repeat(64)}`);
  t.equal(fails({ Hostname: 'web-1.example' }), '');
  t.equal(fails({ Domainname: 'bad domain' }), 'invalid domainname format: bad domain');
  t.equal(fails({ User: 'root;id' }), 'invalid user: root;id');
  t.equal(fails({ User: 'nobody:nogroup' }), '');
  t.equal(fails({ WorkingDir: 'relative' }), "the working directory 'relative' is invalid, it needs to be an absolute path");
  t.equal(fails({ Env: ['A=1', 'B=two\u0000x'] }), 'invalid environment variable: B=two\u0000x');
  t.equal(fails({ Cmd: ['sh', 'a\u0000b'] }), 'Cmd and Entrypoint must be strings without NUL characters');
  t.equal(fails({ HostConfig: { Dns: ['not-an-ip'] } }), 'not-an-ip is not an ip address');
  t.equal(fails({ HostConfig: { DnsSearch: ['a b'] } }), 'invalid DNS search domain: a b');
  t.equal(fails({ HostConfig: { DnsOptions: ['ndots:2', 'rotate', 'x\ny'] } }), 'invalid DNS option: x\ny');
  t.equal(fails({ SandboxKey: '/run/netns/x\nnetns del y' }), 'SandboxKey /run/netns/x\nnetns del y: must be an absolute path, such as /run/netns/NAME or /proc/PID/ns/net', 'no newline into an ip batch');
  t.equal(fails({ SandboxKey: '/run/netns/../../proc/1/ns/net' }), 'SandboxKey /run/netns/../../proc/1/ns/net: must be an absolute path, such as /run/netns/NAME or /proc/PID/ns/net', 'no .. segments');
  t.equal(fails({ SandboxKey: '/run/netns/a"b' }), 'SandboxKey /run/netns/a"b: must be an absolute path, such as /run/netns/NAME or /proc/PID/ns/net');
  t.equal(fails({ SandboxKey: '/proc/4242/ns/net' }), '');
  t.equal(fails({ HostConfig: { GroupAdd: ['audio', '29'] } }), '');
  t.equal(fails({ HostConfig: { GroupAdd: ['a b'] } }), 'invalid group: a b');
  t.equal(fails({ HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }), "can't create 'AutoRemove' container with restart policy");
  t.equal(fails({ HostConfig: { RestartPolicy: { Name: 'sometimes' } } }), "invalid restart policy 'sometimes'");
});

t.test('what is stored: Config fields, the network mode as given and as meant', async (t) => {
  const p = create({ Image: 'busybox', Cmd: 'sleep 1', Tty: true, OpenStdin: true, StdinOnce: true, User: 'nobody', WorkingDir: '/tmp', HostConfig: {} });
  t.match(p.container.config, { Image: 'busybox', Cmd: ['sleep 1'], Tty: true, OpenStdin: true, StdinOnce: true, User: 'nobody', WorkingDir: '/tmp', Hostname: '' });
  t.equal(p.container.networkMode, 'bridge');
  t.equal(p.container.hostConfig.NetworkMode, 'default', 'kept as given, for the API versions that show it');
  t.same(p.container.endpointConfigs, [{ network: 'bridge', settings: {} }]);
  t.equal(create({ HostConfig: { NetworkMode: 'container:web' } }).shareTarget, 'web');
});

t.test('restart policies with Docker rules', async (t) => {
  t.same(parseRestartPolicy(undefined), { name: 'no', maximumRetryCount: 0 });
  t.same(parseRestartPolicy({ Name: '' }), { name: 'no', maximumRetryCount: 0 });
  t.same(parseRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 }), { name: 'on-failure', maximumRetryCount: 3 });
  t.throws(() => parseRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }), { message: "maximum retry count can only be used with 'on-failure'" });
  t.throws(() => parseRestartPolicy({ Name: 'on-failure', MaximumRetryCount: -1 }), { message: 'maximum retry count cannot be negative' });
  const p = (name: string, max = 0) => parseRestartPolicy({ Name: name, MaximumRetryCount: max });
  t.ok(shouldRestart(p('always'), 0, 5, false));
  t.notOk(shouldRestart(p('always'), 1, 0, true), 'not after docker stop');
  t.ok(shouldRestart(p('on-failure'), 1, 100, false));
  t.notOk(shouldRestart(p('on-failure'), 0, 0, false), 'on-failure: not after a clean exit');
  t.ok(shouldRestart(p('on-failure', 2), 3, 1, false));
  t.notOk(shouldRestart(p('on-failure', 2), 3, 2, false), 'on-failure:2 stops after two restarts');
  t.notOk(shouldRestart(p('no'), 1, 0, false));
  t.ok(startsWithDaemon(p('unless-stopped'), false));
  t.notOk(startsWithDaemon(p('unless-stopped'), true));
  t.notOk(startsWithDaemon(p('on-failure'), false));
  t.equal(nextDelay(0, 0), FIRST_DELAY_MS);
  t.equal(nextDelay(100, 50), 200, 'doubling');
  t.equal(nextDelay(40_000, 50), 60_000, 'up to a minute');
  t.equal(nextDelay(40_000, 10_000), FIRST_DELAY_MS, 'a run of 10 s starts the delays over');
});

t.test('options of an isolating runtime are refused by name, never dropped', async (t) => {
  t.equal(fails({ HostConfig: { Privileged: true } }), 'HostConfig.Privileged is not supported by cnmd: cnmd does not confine devices or capabilities, so it cannot lift their confinement');
  t.equal(fails({ HostConfig: { CapAdd: ['NET_ADMIN'] } }), 'HostConfig.CapAdd is not supported by cnmd: commands run with the capabilities of root on the host');
  t.equal(fails({ HostConfig: { CapDrop: ['ALL'] } }), 'HostConfig.CapDrop is not supported by cnmd: commands run with the capabilities of root on the host');
  t.equal(fails({ HostConfig: { ReadonlyRootfs: true } }), "HostConfig.ReadonlyRootfs is not supported by cnmd: a container's filesystem is the host's");
  t.equal(fails({ HostConfig: { Devices: [{ PathOnHost: '/dev/kvm', PathInContainer: '/dev/kvm', CgroupPermissions: 'rwm' }] } }), "HostConfig.Devices is not supported by cnmd: a container sees the host's devices");
  t.equal(fails({ HostConfig: { Sysctls: { 'net.ipv4.ip_forward': '1' } } }), 'HostConfig.Sysctls is not supported by cnmd: cnmd sets no sysctls of a container');
  // what the docker CLI, Compose and the SDKs send when none of them is asked for
  t.equal(fails({ HostConfig: { Privileged: false, CapAdd: null, CapDrop: null, ReadonlyRootfs: false, Devices: [], DeviceRequests: null, Sysctls: {} } }), '');
});
