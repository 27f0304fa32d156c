/**
 * What a process of a container is: its argv, environment, user, working directory and namespaces,
 * as Docker's runtime sets them up. Pure.
 */
import type { Container } from '../model.js';
import type { Placement } from '../host/placement.js';
import type { ExecUser } from './users.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The environment entry that names a container's main process (CNMD_CONTAINER_ID=<id>). */
export const PROCESS_MARKER = 'CNMD_CONTAINER_ID';

/** HostConfig.GroupAdd, as names or gids. */
export const groupAddOf = (c: Pick<Container, 'hostConfig'>): string[] => (Array.isArray(c.hostConfig.GroupAdd) ? c.hostConfig.GroupAdd.map(String) : []);

/** Docker's environment: PATH, HOSTNAME, HOME and TERM (with a terminal) unless set, then its links', the container's and the exec's entries. */
export function processEnv(c: Container, user: ExecUser, tty: boolean, extra: string[] = [], linked: string[] = []): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOSTNAME: String(c.config.Hostname ?? '') };
  if (tty) env.TERM = 'xterm';
  env.HOME = user.home;
  for (const kv of [...linked, ...((c.config.Env as string[] | null) ?? []), ...extra]) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export interface Namespaces {
  /** network namespace path; absent in host mode */
  net?: string;
  mnt: string;
  /** absent in host mode (the host's hostname) */
  uts?: string;
}

export function placement(ns: Namespaces, user: ExecUser, cwd: string): Placement {
  const asRoot = user.uid === 0 && user.gid === 0 && !user.groups.length;
  return { ...ns, ...(asRoot ? {} : { uid: user.uid, gid: user.gid, groups: user.groups }), cwd: cwd || '/' };
}

/** The directories a command is looked up in: the process's PATH. */
export const searchPath = (env: Record<string, string>) => (env.PATH ?? DEFAULT_PATH).split(':').filter(Boolean);

/** runc's text for a command that is not there (the CLI maps it to exit status 127). */
export const notFoundText = (name: string) =>
  `failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${name}": executable file not found in $PATH: unknown`;
