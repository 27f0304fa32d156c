/**
 * Where a container's things are. Under the data root (kept while the container exists): its files
 * (resolv.conf, hosts, hostname) and logs. Under the exec root (while it runs): its namespace files,
 * its fstab and its shim's socket. Its network namespace is /run/netns/<instance>-<12 hex>.
 */
import { join } from 'node:path';
import { NETNS_DIR, NETNS_ETC_DIR } from '../host/readers.js';

export interface Roots {
  dataRoot: string;
  /** the exec root (dockerd's --exec-root): a private mount, so namespace files can be bound in it */
  runRoot: string;
  instance: string;
}

export interface ContainerPaths {
  dir: string;
  resolvConf: string;
  hosts: string;
  hostname: string;
  stdoutPath: string;
  stderrPath: string;
  run: string;
  mnt: string;
  uts: string;
  fstab: string;
  shimSocket: string;
  shimStatus: string;
}

export function containerPaths(r: Roots, id: string): ContainerPaths {
  const dir = join(r.dataRoot, 'containers', id);
  const run = join(r.runRoot, id.slice(0, 12));
  return {
    dir,
    resolvConf: join(dir, 'resolv.conf'),
    hosts: join(dir, 'hosts'),
    hostname: join(dir, 'hostname'),
    stdoutPath: join(dir, 'stdout.log'),
    stderrPath: join(dir, 'stderr.log'),
    run,
    mnt: join(run, 'mnt'),
    uts: join(run, 'uts'),
    fstab: join(run, 'fstab'),
    shimSocket: join(run, 'shim.sock'),
    shimStatus: join(run, 'exit.json'),
  };
}

/**
 * The /run/netns name of a container's namespace: the instance and 12 hex of its id, so that any
 * container name Docker accepts works, a rename changes nothing, and two daemons never collide.
 */
export const netnsName = (instance: string, id: string) => `${instance}-${id.slice(0, 12)}`;
export const netnsPath = (name: string) => `${NETNS_DIR}/${name}`;
/** Where `ip netns exec NAME` finds the namespace's own resolv.conf and hosts. */
export const netnsEtc = (name: string) => `${NETNS_ETC_DIR}/${name}`;

/** The directory of a local volume. */
export const volumePath = (dataRoot: string, name: string) => join(dataRoot, 'volumes', name, '_data');

/** A path as fstab spells it: space, tab, newline and backslash as octal escapes. */
export const fstabPath = (p: string) => p.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
