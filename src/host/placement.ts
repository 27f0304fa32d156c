/**
 * How a process is placed in a container: the namespaces it joins, its user and working directory,
 * rendered as an nsenter command line, with setpriv for the user (argument arrays only).
 */
export interface Placement {
  /** network namespace (a /run/netns path or an adopted path); absent: the daemon's (host mode) */
  net?: string;
  /** the container's mount namespace (a bind-mounted ns file) */
  mnt?: string;
  /** the container's UTS namespace */
  uts?: string;
  uid?: number;
  gid?: number;
  /** supplementary groups (with uid): exactly these, none inherited from the daemon */
  groups?: number[];
  /** working directory, inside the mount namespace */
  cwd?: string;
}

export function inNamespaces(p: Placement, argv: string[]): { file: string; args: string[] } {
  const opts = [
    ...(p.net ? [`--net=${p.net}`] : []),
    ...(p.mnt ? [`--mount=${p.mnt}`] : []),
    ...(p.uts ? [`--uts=${p.uts}`] : []),
    ...(p.cwd ? [`--wd=${p.cwd}`] : []),
  ];
  // the user last, once inside: setpriv sets uid, gid and the supplementary groups (nsenter -S/-G would clear them)
  const run = p.uid === undefined ? argv : [
    'setpriv', `--reuid=${p.uid}`, `--regid=${p.gid ?? p.uid}`, ...(p.groups?.length ? [`--groups=${p.groups.join(',')}`] : ['--clear-groups']), '--', ...argv,
  ];
  if (!opts.length) return { file: run[0], args: run.slice(1) };
  return { file: 'nsenter', args: [...opts, '--', ...run] };
}
