/**
 * How a process is placed in a container: the namespaces it joins, its user and working directory,
 * rendered as an nsenter command line (argument arrays only).
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
  /** working directory, inside the mount namespace */
  cwd?: string;
}

export function inNamespaces(p: Placement, argv: string[]): { file: string; args: string[] } {
  const opts = [
    ...(p.net ? [`--net=${p.net}`] : []),
    ...(p.mnt ? [`--mount=${p.mnt}`] : []),
    ...(p.uts ? [`--uts=${p.uts}`] : []),
    ...(p.uid !== undefined ? ['-S', String(p.uid), '-G', String(p.gid ?? p.uid)] : []),
    ...(p.cwd ? [`--wd=${p.cwd}`] : []),
  ];
  if (!opts.length) return { file: argv[0], args: argv.slice(1) };
  return { file: 'nsenter', args: [...opts, '--', ...argv] };
}
