/**
 * `--user` as runc resolves it, against the host's passwd and group files (a cnmd container sees the
 * host's filesystem): name or uid, optionally :group or :gid. Pure.
 */
import { invalid } from '../errors.js';

export interface ExecUser {
  uid: number;
  gid: number;
  home: string;
  /** supplementary groups: those that list the user as a member, then HostConfig.GroupAdd */
  groups: number[];
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }

function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').flatMap((l) => {
    const f = l.split(':');
    return f.length >= 7 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]) ? [{ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }] : [];
  });
}

function parseGroup(text: string): Array<{ name: string; gid: number; members: string[] }> {
  return text.split('\n').flatMap((l) => {
    const f = l.split(':');
    return f.length >= 3 && /^\d+$/.test(f[2]) ? [{ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }] : [];
  });
}

/** Resolves a user spec (and HostConfig.GroupAdd); throws a 400 with runc's text when a name is unknown. */
export function resolveUser(spec: string, passwd: string, group: string, groupAdd: string[] = []): ExecUser {
  const [user = '', grp] = spec.split(':');
  const users = parsePasswd(passwd);
  let found: PasswdEntry | undefined;
  let uid = 0;
  if (user === '' || /^\d+$/.test(user)) {
    uid = user === '' ? 0 : Number(user);
    found = users.find((u) => u.uid === uid);
  } else {
    found = users.find((u) => u.name === user);
    if (!found) throw invalid(`unable to find user ${user}: no matching entries in passwd file`);
    uid = found.uid;
  }
  let gid = found?.gid ?? 0;
  if (grp !== undefined && grp !== '') {
    if (/^\d+$/.test(grp)) gid = Number(grp);
    else {
      const g = parseGroup(group).find((x) => x.name === grp);
      if (!g) throw invalid(`unable to find group ${grp}: no matching entries in group file`);
      gid = g.gid;
    }
  }
  const groups = parseGroup(group);
  const extra = groupAdd.map((g) => {
    if (/^\d+$/.test(g)) return Number(g);
    const hit = groups.find((x) => x.name === g);
    if (!hit) throw invalid(`Unable to find group ${g}: no matching entries in group file`);
    return hit.gid;
  });
  const member = found ? groups.filter((g) => g.members.includes(found!.name)).map((g) => g.gid) : [];
  return { uid, gid, home: found?.home || '/', groups: [...new Set([...member, ...extra])] };
}

/** A user spec resolved against the host's /etc/passwd and /etc/group (a container's users are the host's). */
export async function hostUser(files: { readFile(path: string): Promise<string | undefined> }, spec: string, groupAdd: string[] = []): Promise<ExecUser> {
  return resolveUser(spec, (await files.readFile('/etc/passwd')) ?? '', (await files.readFile('/etc/group')) ?? '', groupAdd);
}
