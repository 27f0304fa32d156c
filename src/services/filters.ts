/**
 * Docker's `filters` query parameter: JSON as map-of-bools ({"name":{"x":true}}, the docker CLI) or
 * map-of-lists ({"name":["x"]}, docker-py), and the matching rules of moby's filters package. Pure.
 */
import { invalid } from '../errors.js';
import { compilePattern, runPattern, type Pattern } from './pattern.js';

export type Filters = Map<string, string[]>;

export function parseFilters(text: string | undefined, allowed: readonly string[]): Filters {
  const out: Filters = new Map();
  if (text === undefined || text === '') return out;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(`invalid filters: ${(e as Error).message}`);
  }
  if (raw === null) return out;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('invalid filters: expected a JSON object');
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) values = v as string[];
    else if (v && typeof v === 'object' && !Array.isArray(v)) values = Object.entries(v).filter(([, on]) => on === true).map(([k]) => k);
    else throw invalid(`invalid filters: bad value for filter '${key}'`);
    out.set(key, values);
  }
  for (const key of out.keys()) if (!allowed.includes(key)) throw invalid(`Invalid filter '${key}'`);
  return out;
}

const compiled = new Map<string, Pattern>();

/**
 * moby filters.Match: exact, or an unanchored regular-expression match, in linear time
 * (./pattern.ts); a pattern cnmd does not take is a 400.
 */
export function fuzzyMatch(pattern: string, value: string): boolean {
  if (pattern === value) return true;
  let pat = compiled.get(pattern);
  if (!pat) {
    pat = compilePattern(pattern);
    if (compiled.size >= 256) compiled.clear();
    compiled.set(pattern, pat);
  }
  return runPattern(pat, value);
}

/** Every given label (key, or key=value) must be present. */
export function matchLabels(wanted: string[], labels: Record<string, string>): boolean {
  return wanted.every((w) => {
    const i = w.indexOf('=');
    if (i < 0) return w in labels;
    const k = w.slice(0, i);
    return k in labels && labels[k] === w.slice(i + 1);
  });
}

/** A filter with one boolean value, as 'dangling' takes it. */
export function boolFilter(filters: Filters, key: string): boolean | undefined {
  const values = filters.get(key);
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw invalid(`got more than one value for filter key "${key}"`);
  const v = values[0].toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalid(`invalid value for filter '${key}', must be "true" (or "1"), or "false" (or "0")`);
}

/** Go duration ("1h30m", "10s", "1.5h") in milliseconds, or undefined if it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (!m || text === '0') return text === '0' ? 0 : undefined;
  let total = 0;
  for (const part of text.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * units[part[2]];
  return m[1] === '-' ? -total : total;
}

/**
 * Docker's `until`/`since` values: unix seconds (with a fraction), an RFC3339 date or a date-time,
 * or a Go duration before now. Returns epoch milliseconds.
 */
export function parseTimestamp(value: string, now: number): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const d = parseGoDuration(value);
  if (d !== undefined) return now - d;
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(/T|\s/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value + 'Z' : value);
    if (!Number.isNaN(t)) return t;
  }
  throw invalid(`failed to parse value as time or duration: "${value}"`);
}
