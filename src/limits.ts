/**
 * The daemon's limits, each a `--limit NAME=N` flag (repeatable) or a key of daemon.json's "limits"
 * object. Defaults are what cnmd holds safely on a small host; each is enforced where it is named.
 */
export interface Limits {
  /** API requests in progress at once; past it 503 with Retry-After (src/api/limits.ts) */
  apiRequests: number;
  /** open API streams at once: events, logs --follow, attach, wait, exec sessions, stats */
  apiStreams: number;
  /** bytes an events follower may leave unread before it is disconnected (src/api/events.ts) */
  followerBuffer: number;
  /** DNS queries forwarded upstream at once, over all containers; past it REFUSED (Docker caps at 1024) */
  dnsForwards: number;
  /** ports one container may publish (each is a held socket and a firewall element) */
  publishedPorts: number;
  /** flows (UDP clients, TCP connections) at once per port relayed in user space */
  relayFlows: number;
}

interface LimitSpec {
  name: string;
  key: keyof Limits;
  default: number;
  min: number;
  max: number;
}

export const LIMITS: readonly LimitSpec[] = [
  { name: 'api-requests', key: 'apiRequests', default: 512, min: 1, max: 65_536 },
  { name: 'api-streams', key: 'apiStreams', default: 1024, min: 1, max: 65_536 },
  { name: 'follower-buffer', key: 'followerBuffer', default: 1 << 20, min: 64 * 1024, max: 1 << 30 },
  { name: 'dns-forwards', key: 'dnsForwards', default: 1024, min: 1, max: 65_536 },
  { name: 'published-ports', key: 'publishedPorts', default: 4096, min: 1, max: 65_535 * 4 },
  { name: 'relay-flows', key: 'relayFlows', default: 1024, min: 1, max: 65_536 },
];

export const DEFAULT_LIMITS: Limits = Object.freeze(Object.fromEntries(LIMITS.map((l) => [l.key, l.default])) as unknown as Limits);

export class LimitError extends Error {}

const names = () => LIMITS.map((l) => l.name).join(', ');

/** One limit by its name: a whole number within the limit's range. */
export function parseLimit(name: string, value: unknown): [keyof Limits, number] {
  const spec = LIMITS.find((l) => l.name === name);
  if (!spec) throw new LimitError(`unknown limit "${name}": one of ${names()}`);
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < spec.min || n > spec.max) {
    throw new LimitError(`invalid limit ${name}=${String(value)}: a whole number from ${spec.min} to ${spec.max}`);
  }
  return [spec.key, n];
}

/** `--limit NAME=N` */
export function parseLimitFlag(value: string): [keyof Limits, number] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new LimitError(`invalid --limit "${value}": use NAME=N, NAME one of ${names()}`);
  return parseLimit(value.slice(0, eq), value.slice(eq + 1));
}

/** The file's "limits" object, checked key by key. */
export function limitsFromObject(v: unknown): Partial<Limits> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new LimitError('"limits" must be an object of NAME: N');
  const out: Partial<Limits> = {};
  for (const [name, n] of Object.entries(v)) {
    if (typeof n !== 'number') throw new LimitError(`invalid limit ${name}=${JSON.stringify(n)}: a number`);
    const [key, value] = parseLimit(name, n);
    out[key] = value;
  }
  return out;
}
