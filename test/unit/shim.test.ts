/**
 * The shim of a command that ends before the daemon first connects (an `echo`): it waits for the
 * daemon, which learns the exit code from it; then it goes. Runs dist/host/shim.js as the daemon does.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { connectShim } from '../../src/host/shim-client.js';

const SHIM = new URL('../../dist/host/shim.js', import.meta.url).pathname;

t.test('a command that ended before the daemon came: the late connection still gets its exit code', async (t) => {
  const dir = mkdtempSync('/tmp/cnmd-shim-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spec = {
    file: '/bin/sh', args: ['-c', 'echo early; exit 7'], env: { PATH: '/usr/bin:/bin' },
    stdoutPath: `${dir}/out`, stderrPath: `${dir}/err`, socketPath: `${dir}/shim.sock`, statusPath: `${dir}/status`,
  };
  writeFileSync(`${dir}/spec.json`, JSON.stringify(spec));
  const shim = spawn(process.execPath, [SHIM, `${dir}/spec.json`], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => shim.once('exit', (code) => r(code)));
  for (let i = 0; i < 100 && !existsSync(spec.statusPath); i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(existsSync(spec.statusPath), 'the command ended before anyone connected');
  const h = await connectShim(spec.socketPath, spec.statusPath);
  t.ok(h, 'the shim still listens');
  t.equal(await h!.exit, 7, 'and says how the command ended');
  t.equal(readFileSync(spec.stdoutPath, 'utf8'), 'early\n');
  t.equal(await exited, 0, 'then it goes');
  t.notOk(existsSync(spec.socketPath), 'its socket with it');
});
