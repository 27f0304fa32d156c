/**
 * firewalld over D-Bus, with `dbus-send` (dbus-bin, which firewalld's dbus needs): the argument arrays
 * of the calls cnmd makes and the reading of their replies. Runtime calls only: cnmd changes no
 * permanent firewalld configuration.
 */
const DEST = 'org.fedoraproject.FirewallD1';
const PATH = '/org/fedoraproject/FirewallD1';

/** Zone and interface names as firewalld takes them, and nothing that dbus-send would read as a type. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

function call(method: string, ...strings: string[]): string[] {
  for (const s of strings) if (!NAME.test(s)) throw new Error(`not a firewalld name: ${JSON.stringify(s)}`);
  return ['--system', '--print-reply', '--reply-timeout=5000', `--dest=${DEST}`, PATH, `${DEST}.${method}`, ...strings.map((s) => `string:${s}`)];
}

export const firewalld = {
  interfacesOf: (zone: string) => call('zone.getInterfaces', zone),
  addInterface: (zone: string, iface: string) => call('zone.addInterface', zone, iface),
  removeInterface: (zone: string, iface: string) => call('zone.removeInterface', zone, iface),
};

/** The strings of a `dbus-send --print-reply` answer: `string "x"` lines, alone or in an array. */
export function replyStrings(out: string): string[] {
  return [...out.matchAll(/^\s*string "((?:[^"\\]|\\.)*)"\s*$/gm)].map((m) => m[1]!);
}

/** firewalld's error for an interface already in that zone, or not in it: nothing to do. */
export function isAlreadyDone(stderr: string): boolean {
  return /ZONE_ALREADY_SET|ALREADY_ENABLED|UNKNOWN_INTERFACE|NOT_ENABLED/.test(stderr);
}
