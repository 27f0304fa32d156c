/**
 * Filter patterns as Docker matches them (moby's filters.Match: the exact value, or an unanchored
 * regular expression), in time linear in the value: a pattern compiles to a list of atoms that a
 * set of positions walks once over the value (no backtracking, as Go's RE2). Taken: literals,
 * `\` escapes, `.`, `[...]` classes (ranges, `^` negation), `*`, `+`, `?`, a leading `^` and a
 * trailing `$`. Groups, alternation and counted repetition are refused with a 400. Pure.
 */
import { invalid } from '../errors.js';

export const MAX_PATTERN_LENGTH = 256;

interface Atom {
  test: (ch: string) => boolean;
  /** '1': exactly once; '?': zero or once; '*': any number of times */
  times: '1' | '?' | '*';
}

export interface Pattern {
  atoms: Atom[];
  start: boolean;
  end: boolean;
}

const refuse = (pattern: string, why: string) =>
  invalid(`invalid filter pattern "${pattern.length > 64 ? pattern.slice(0, 64) + '…' : pattern}": ${why}`);

/** A class body from just after '[' to its ']': returns the test and the index after ']'. */
function parseClass(p: string, i: number, pattern: string): [(ch: string) => boolean, number] {
  const negate = p[i] === '^';
  if (negate) i++;
  const ranges: Array<[string, string]> = [];
  let first = true;
  while (i < p.length && (p[i] !== ']' || first)) {
    first = false;
    let lo = p[i];
    if (lo === '\\') lo = p[++i] ?? '';
    i++;
    let hi = lo;
    if (p[i] === '-' && p[i + 1] !== undefined && p[i + 1] !== ']') {
      hi = p[i + 1] === '\\' ? p[i + 2] ?? '' : p[i + 1];
      i += p[i + 1] === '\\' ? 3 : 2;
    }
    if (!lo || !hi || hi < lo) throw refuse(pattern, 'a bad character class');
    ranges.push([lo, hi]);
  }
  if (p[i] !== ']') throw refuse(pattern, 'missing closing ]');
  const inside = (ch: string) => ranges.some(([lo, hi]) => ch >= lo && ch <= hi);
  return [negate ? (ch) => !inside(ch) : inside, i + 1];
}

export function compilePattern(pattern: string): Pattern {
  if (pattern.length > MAX_PATTERN_LENGTH) throw refuse(pattern, `longer than ${MAX_PATTERN_LENGTH} characters`);
  let p = pattern;
  const start = p.startsWith('^');
  if (start) p = p.slice(1);
  const end = p.endsWith('$') && !p.endsWith('\\$');
  if (end) p = p.slice(0, -1);
  const atoms: Atom[] = [];
  for (let i = 0; i < p.length; ) {
    const c = p[i];
    if ('()|{}'.includes(c)) throw refuse(pattern, 'cnmd matches filters without groups, alternation or counted repetition');
    if (c === '^' || c === '$') throw refuse(pattern, `${c} is taken only at the ${c === '^' ? 'start' : 'end'}`);
    if ('*+?'.includes(c)) {
      const last = atoms[atoms.length - 1];
      if (!last || last.times !== '1') throw refuse(pattern, `missing argument to repetition operator: ${c}`);
      if (c === '+') atoms.push({ test: last.test, times: '*' });
      else last.times = c as '*' | '?';
      i++;
      continue;
    }
    let test: (ch: string) => boolean;
    if (c === '.') {
      test = (ch) => ch !== '\n';
      i++;
    } else if (c === '[') {
      [test, i] = parseClass(p, i + 1, pattern);
    } else if (c === '\\') {
      const e = p[i + 1];
      if (e === undefined) throw refuse(pattern, 'trailing backslash');
      if (/[A-Za-z0-9]/.test(e)) {
        const cls: Record<string, (ch: string) => boolean> = { d: (ch) => ch >= '0' && ch <= '9', w: (ch) => /\w/.test(ch), s: (ch) => /\s/.test(ch) };
        if (!cls[e]) throw refuse(pattern, `escape \\${e} is not taken`);
        test = cls[e];
      } else test = (ch) => ch === e;
      i += 2;
    } else {
      test = (ch) => ch === c;
      i++;
    }
    atoms.push({ test, times: '1' });
  }
  return { atoms, start, end };
}

/** Whether the compiled pattern matches somewhere in value (at its start with ^, through its end with $). */
export function runPattern(pat: Pattern, value: string): boolean {
  const n = pat.atoms.length;
  let now = new Uint8Array(n + 1);
  const close = (set: Uint8Array) => {
    for (let i = 0; i < n; i++) if (set[i] && pat.atoms[i].times !== '1') set[i + 1] = 1;
  };
  now[0] = 1;
  close(now);
  const accepted = (set: Uint8Array) => set[n] === 1;
  if (accepted(now) && !pat.end) return true;
  for (const ch of value) {
    const next = new Uint8Array(n + 1);
    for (let i = 0; i < n; i++) {
      if (!now[i] || !pat.atoms[i].test(ch)) continue;
      if (pat.atoms[i].times === '*') next[i] = 1;
      next[i + 1] = 1;
    }
    if (!pat.start) next[0] = 1;
    close(next);
    now = next;
    if (accepted(now) && !pat.end) return true;
  }
  return accepted(now);
}
