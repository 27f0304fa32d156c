/**
 * The last gate before text reaches a tool's batch input: every value was validated at the API edge,
 * and here a line that carries what cnmd never writes itself (a line break, a quote, a `#` that
 * would start a comment, a backslash, a NUL) is refused before anything runs. The one quote cnmd
 * writes is its rule comment, `--comment "<instance>:<12 hex>"`, and in nft text interface names
 * and comments of plain characters. Sysctl keys are dotted or
 * slashed names of plain segments. Pure.
 */
export class HostTextError extends Error {
  override name = 'HostTextError';
}

const FORBIDDEN = /["'#\\\r\n\0]/;
const OWNER_COMMENT = /--comment "[a-z][a-z0-9]{0,7}:[0-9a-f]{12}"/g;

export function refuse(kind: string, line: string): never {
  throw new HostTextError(`refusing ${kind} text that cnmd did not write: ${JSON.stringify(line.length > 200 ? line.slice(0, 200) + '…' : line)}`);
}

/** An `ip -batch` or `bridge -batch` line. */
export function batchLine(tool: 'ip' | 'bridge', line: string): string {
  if (FORBIDDEN.test(line)) refuse(`${tool} -batch`, line);
  return line;
}

/** An iptables-restore line: the owner comment is the only quoted text. */
export function ruleLine(line: string): string {
  if (FORBIDDEN.test(line.replace(OWNER_COMMENT, ''))) refuse('iptables-restore', line);
  return line;
}

/** A line of an `nft -f` script: interface names and comments are the only quoted text, made of plain characters. */
export function nftLine(line: string): string {
  if (FORBIDDEN.test(line.replace(/"[A-Za-z0-9_.@+:-]{1,64}\*?"/g, ''))) refuse('nft', line);
  return line;
}

/** A sysctl key: net.ipv4.conf.eth0.forwarding, or with slashes where a segment holds dots (net/ipv4/conf/eth0.10/forwarding). */
export function sysctlKey(key: string): string {
  const segments = key.includes('/') ? key.split('/') : key.split('.');
  if (!segments.every((s) => /^[A-Za-z0-9_.@-]{1,64}$/.test(s) && s !== '.' && s !== '..')) refuse('sysctl', key);
  return key;
}

/** A path given to nsenter, mount or a file write: absolute, no line breaks, no NUL. */
export function hostPath(path: string): string {
  if (!path.startsWith('/') || /[\r\n\0]/.test(path)) refuse('path', path);
  return path;
}
