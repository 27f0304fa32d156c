/**
 * iptables rules as data, and their text in iptables-save's canonical form (the order of options
 * iptables-save prints), so that what cnmd writes compares equal to what it reads back. The only
 * place that writes iptables rule text.
 */

export type IptTarget =
  | 'ACCEPT'
  | 'DROP'
  | 'MASQUERADE'
  | 'REDIRECT'
  | { jump: string }
  | { snat: string }
  | { dnat: string };

export interface IptRule {
  src?: string;
  dst?: string;
  notDst?: boolean;
  in?: string;
  /** the packet did not come in on in (`! -i`; `wg+`: any link whose name starts with wg) */
  notIn?: boolean;
  out?: string;
  notOut?: boolean;
  proto?: 'tcp' | 'udp' | 'sctp';
  dport?: number;
  ctstate?: 'RELATED,ESTABLISHED' | 'DNAT';
  /** the connection is not in ctstate */
  notCtstate?: boolean;
  /** packets whose mark has these bits */
  mark?: number;
  srcType?: 'LOCAL';
  dstType?: 'LOCAL';
  /** the owner tag, "<instance>:<12 hex>" */
  comment?: string;
  target: IptTarget;
}

/** A host address as iptables-save prints it: with its prefix length, /32 (/128) for a single address. */
const cidr = (a: string) => (a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`);

export function ruleSpec(r: IptRule): string {
  const parts: string[] = [];
  if (r.src) parts.push(`-s ${cidr(r.src)}`);
  if (r.dst) parts.push(`${r.notDst ? '! ' : ''}-d ${cidr(r.dst)}`);
  if (r.in) parts.push(`${r.notIn ? '! ' : ''}-i ${r.in}`);
  if (r.out) parts.push(`${r.notOut ? '! ' : ''}-o ${r.out}`);
  if (r.proto) parts.push(`-p ${r.proto} -m ${r.proto}${r.dport !== undefined ? ` --dport ${r.dport}` : ''}`);
  if (r.ctstate) parts.push(`-m conntrack ${r.notCtstate ? '! ' : ''}--ctstate ${r.ctstate}`);
  if (r.mark !== undefined) parts.push(`-m mark --mark 0x${r.mark.toString(16)}/0x${r.mark.toString(16)}`);
  if (r.srcType) parts.push(`-m addrtype --src-type ${r.srcType}`);
  if (r.dstType) parts.push(`-m addrtype --dst-type ${r.dstType}`);
  if (r.comment) parts.push(`-m comment --comment "${r.comment}"`);
  parts.push(targetText(r.target));
  return parts.join(' ');
}

function targetText(t: IptTarget): string {
  if (typeof t === 'string') return `-j ${t}`;
  if ('jump' in t) return `-j ${t.jump}`;
  if ('snat' in t) return `-j SNAT --to-source ${t.snat}`;
  return `-j DNAT --to-destination ${t.dnat}`;
}

/** The iptables-restore lines of a change: a chain declared, a rule appended, inserted or deleted, a chain flushed or removed. */
export type IptLine =
  | { op: 'declare'; chain: string }
  | { op: 'append' | 'insert' | 'delete'; chain: string; spec: string }
  | { op: 'flush' | 'remove'; chain: string };

export function restoreLine(l: IptLine): string {
  switch (l.op) {
    case 'declare': return `:${l.chain} - [0:0]`;
    case 'append': return `-A ${l.chain} ${l.spec}`;
    case 'insert': return `-I ${l.chain} ${l.spec}`;
    case 'delete': return `-D ${l.chain} ${l.spec}`;
    case 'flush': return `-F ${l.chain}`;
    case 'remove': return `-X ${l.chain}`;
  }
}

/** The same change as a command a person would type (the reconcile report). */
export function describeIptables(table: string, l: IptLine, family: 4 | 6 = 4): string {
  const tool = family === 6 ? 'ip6tables' : 'iptables';
  return l.op === 'declare' ? `${tool} -t ${table} -N ${l.chain}` : `${tool} -t ${table} ${restoreLine(l)}`;
}

/** A DNAT target: address:port, with the IPv6 address in brackets. */
export const dnatTo = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
