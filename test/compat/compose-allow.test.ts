/**
 * Allow-lists set the way a Compose user sets them: `labels:` on a service and `driver_opts:` on a
 * network, with Debian's docker-compose (v1). Another machine with two addresses: the one the label
 * allows reaches the published port, the other does not.
 */
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostTestsReady, hostTestsUnavailable, makeNetns, makeWorld, startDaemonIn, uniqueName } from '../helpers/host.js';

async function composeUnavailable(): Promise<string | undefined> {
  const r = await execa('docker-compose', ['version', '--short'], { reject: false });
  return hostTestsUnavailable() ?? (r.exitCode === 0 ? undefined : 'docker-compose (Debian) is not installed');
}

if (await hostTestsReady(t, await composeUnavailable())) {
  t.test('cnmd.ports.allow from a compose file: labels and driver_opts', async (t) => {
    const host = await makeNetns(t, 'cal');
    const outside = await makeWorld(t, host);
    await outside.run('ip', ['addr', 'add', '192.0.2.3/24', 'dev', 'eth0']);
    const daemon = await startDaemonIn(t, host);
    const dir = mkdtempSync('/tmp/cnmd-compose-');
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const project = uniqueName('allow').replace(/[^a-z0-9]/g, '');
    writeFileSync(`${dir}/docker-compose.yml`, `version: "2.4"
services:
  web:
    image: busybox
    command: ["python3", "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", "/"]
    ports: ["8090:80"]
    labels: { cnmd.ports.allow: "192.0.2.2" }
    networks: [lab]
networks:
  lab:
    driver_opts: { cnmd.ports.allow: "192.0.2.0/24" }
`);
    const compose = (...args: string[]) =>
      execa('docker-compose', ['-p', project, '-f', `${dir}/docker-compose.yml`, ...args], { env: { DOCKER_HOST: `unix://${daemon.socket}` }, reject: false });
    t.teardown(async () => void (await compose('down')));
    const up = await compose('up', '-d');
    t.equal(up.exitCode, 0, up.stderr);
    const from = async (src: string) =>
      (await outside.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', '--interface', src, 'http://192.0.2.1:8090/'], { reject: false })).stdout;
    let code = '';
    for (let i = 0; i < 50 && (code = await from('192.0.2.2')) !== '200'; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal(code, '200', 'the address the label allows reaches the published port');
    t.not(await from('192.0.2.3'), '200', 'another address of the network option\'s range does not: both lists must allow it');
    const net = JSON.parse((await execa('curl', ['-s', '--unix-socket', daemon.socket, `http://x/v1.41/networks/${project}_lab`])).stdout);
    t.equal(net.Options['cnmd.ports.allow'], '192.0.2.0/24', 'the network keeps its option, as inspect shows');
    const down = await compose('down');
    t.equal(down.exitCode, 0, down.stderr);
  });
}
