/**
 * Every command of the docker CLI's --help that talks to the engine, run against cnmd: none may end
 * in 404 "page not found" (a route cnmd lacks). Commands get arguments from their usage line
 * (CONTAINER, IMAGE, NETWORK, VOLUME name fixtures that exist; other words a name that does not),
 * a few get their own. Left out: what the CLI does against registries or notary itself (manifest,
 * trust) and CLI plugins; both never reach the engine.
 */
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostTestsReady } from '../helpers/host.js';
import { cliAgainstDaemon, compatUnavailable } from '../helpers/docker.js';

const SECTIONS = /^(Common Commands|Management Commands|Swarm Commands|Commands):$/;
/** the CLI talks to a registry or notary itself, or runs a plugin: never the engine */
const CLIENT_SIDE = new Set(['manifest', 'trust', 'buildx', 'compose', 'scout', 'context', 'help', 'completion']);

/** The command names listed in a help text's command sections. */
export function commandsIn(help: string): string[] {
  const out: string[] = [];
  let inSection = false;
  for (const line of help.split('\n')) {
    if (SECTIONS.test(line.trim())) inSection = true;
    else if (!line.trim() || /^\S/.test(line)) inSection = SECTIONS.test(line.trim());
    else if (inSection) {
      const m = /^ {2}([a-z][a-z0-9-]*)\*?\s{2,}/.exec(line);
      if (m) out.push(m[1]);
    }
  }
  return out;
}

/** The required positional words of a usage line: `docker network connect [OPTIONS] NETWORK CONTAINER` -> [NETWORK, CONTAINER]. */
export function requiredWords(help: string, path: string[]): string[] {
  const usage = /Usage:\s+docker (.*)/.exec(help)?.[1] ?? '';
  const words = usage.split(/\s+/).slice(path.length);
  const out: string[] = [];
  let depth = 0;
  for (const w of words) {
    if (depth === 0 && !w.startsWith('[') && /^[A-Z]/.test(w)) out.push(w.replace(/[[|].*$/, ''));
    depth += (w.match(/\[/g) ?? []).length - (w.match(/]/g) ?? []).length;
  }
  return out;
}

if (await hostTestsReady(t, await compatUnavailable())) {
  const { docker, env } = await cliAgainstDaemon(t, 'walk');
  const dir = mkdtempSync('/tmp/cnmd-walk-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(`${dir}/Dockerfile`, 'FROM busybox\n');
  await execa('tar', ['-cf', `${dir}/image.tar`, '-C', dir, 'Dockerfile']);
  const fixtures = async () => {
    const has = async (...args: string[]) => (await docker(...args)).exitCode === 0;
    if (!(await has('image', 'inspect', 'busybox'))) await docker('pull', 'busybox');
    if (!(await has('network', 'inspect', 'walknet'))) await docker('network', 'create', 'walknet');
    if (!(await has('volume', 'inspect', 'walkvol'))) await docker('volume', 'create', 'walkvol');
    const state = await docker('inspect', '-f', '{{.State.Status}}', 'walker');
    if (state.exitCode !== 0) await docker('run', '-d', '--name', 'walker', 'busybox', 'sleep', '1d');
    else if (state.stdout !== 'running') await docker('start', 'walker');
  };
  const valueFor = (word: string): string => {
    if (/CONTAINER/.test(word)) return 'walker';
    if (/IMAGE|REPOSITORY/.test(word)) return 'busybox';
    if (/NETWORK/.test(word)) return 'walknet';
    if (/VOLUME/.test(word)) return 'walkvol';
    return 'cnmd-none';
  };
  /** Arguments of their own: what would wait on a terminal or stdin, build contexts, files */
  const own: Record<string, string[]> = {
    run: ['--rm', 'busybox', 'sh', '-c', ':'],
    'container run': ['--rm', 'busybox', 'sh', '-c', ':'],
    exec: ['walker', 'sh', '-c', ':'],
    'container exec': ['walker', 'sh', '-c', ':'],
    cp: ['walker:/etc/hostname', `${dir}/copied`],
    // a container's files are the host's: copy into the test's own directory, never the host's /tmp
    'container cp': [`${dir}/Dockerfile`, `walker:${dir}/copied`],
    login: ['-u', 'someone', '--password-stdin', 'localhost:5999'],
    build: [dir],
    'image build': [dir],
    'builder build': [dir],
    load: ['-i', `${dir}/image.tar`],
    'image load': ['-i', `${dir}/image.tar`],
    import: [`${dir}/image.tar`],
    'image import': [`${dir}/image.tar`],
    save: ['-o', `${dir}/saved.tar`, 'busybox'],
    'image save': ['-o', `${dir}/saved.tar`, 'busybox'],
    'network connect': ['walknet', 'walker'],
    'network disconnect': ['walknet', 'walker'],
    'stack deploy': ['-c', `${dir}/none.yml`, 'cnmd-none'],
  };

  const leaves: string[][] = [];
  const top = await docker('--help');
  for (const cmd of commandsIn(top.stdout)) {
    if (CLIENT_SIDE.has(cmd)) continue;
    const help = await docker(cmd, '--help');
    const subs = commandsIn(help.stdout);
    if (subs.length) for (const s of subs) leaves.push([cmd, s]);
    else leaves.push([cmd]);
  }

  t.test('the CLI lists its commands', async (t) => {
    t.ok(leaves.length > 100, `${leaves.length} commands`);
    for (const must of [['network', 'connect'], ['volume', 'prune'], ['system', 'df'], ['swarm', 'init'], ['cp'], ['images']]) {
      t.ok(leaves.some((l) => l.join(' ') === must.join(' ')), must.join(' '));
    }
  });

  t.test('no command ends in "page not found"', async (t) => {
    const failures: string[] = [];
    const refused: string[] = [];
    let reached = 0;
    for (const path of leaves) {
      await fixtures();
      const key = path.join(' ');
      const help = (await docker(...path, '--help')).stdout;
      const args = own[key] ?? requiredWords(help, path).map(valueFor);
      const r = await execa('docker', [...path, ...args], {
        reject: false, env: { ...env, DOCKER_BUILDKIT: '0' }, extendEnv: false, timeout: 3_000, input: path[0] === 'login' ? 'secret\n' : '',
      });
      const text = `${r.stdout}\n${r.stderr}`;
      if (/page not found/i.test(text)) failures.push(`docker ${key} ${args.join(' ')}: ${text.trim().slice(0, 300)}`);
      if (r.exitCode === 0 || /Error response from daemon/.test(text)) reached++;
      if (/Error response from daemon/.test(text)) refused.push(`${key}: ${/Error response from daemon: (.*)/.exec(text)?.[1]?.slice(0, 120)}`);
    }
    t.same(failures, [], `${leaves.length} commands walked`);
    t.ok(reached > 80, `${reached} of them reached the engine (succeeded, or the engine refused)`);
    t.comment(`refused by the engine:\n${refused.join('\n')}`);
  });
}
