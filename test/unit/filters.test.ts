import t from 'tap';
import { parseFilters, fuzzyMatch, matchLabels, boolFilter, parseTimestamp, parseGoDuration } from '../../src/services/filters.js';

const KEYS = ['name', 'label', 'dangling', 'until'];

t.test('both encodings of filters', async (t) => {
  t.same([...parseFilters('{"name":{"a":true,"b":true,"c":false}}', KEYS)], [['name', ['a', 'b']]]);
  t.same([...parseFilters('{"name":["a","b"]}', KEYS)], [['name', ['a', 'b']]]);
  t.same([...parseFilters('{}', KEYS)], []);
  t.same([...parseFilters(undefined, KEYS)], []);
  t.throws(() => parseFilters('{"foo":["x"]}', KEYS), { message: "Invalid filter 'foo'" });
  t.throws(() => parseFilters('{bad', KEYS), { message: /^invalid filters:/ });
  t.throws(() => parseFilters('{"name":3}', KEYS), { message: /bad value for filter 'name'/ });
});

t.test('name and id match exactly or by unanchored regexp', async (t) => {
  t.ok(fuzzyMatch('my', 'my-net'));
  t.ok(fuzzyMatch('net$', 'my-net'));
  t.notOk(fuzzyMatch('^net', 'my-net'));
  t.throws(() => fuzzyMatch('(', 'my-net'), { message: /invalid filter pattern "\(": cnmd matches filters without groups/ });
});

t.test('patterns: the regular expressions filters take, matched as Go would', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['^/?web$', '/web', true], ['^/?web$', 'web', true], ['^/?web$', 'web2', false],
    ['^proj_', 'proj_web_1', true], ['^proj_', 'xproj_', false],
    ['w.b', 'awxbz', true], ['w.b', 'wb', false],
    ['a*b', 'b', true], ['ca+t', 'ct', false], ['ca+t', 'caaat', true], ['colou?r$', 'my-color', true],
    ['[0-9a-f]+z', 'abc123z', true], ['[0-9a-f]+z', 'xyz', false], ['^[^_]+$', 'a_b', false], ['^[^_]+$', 'ab', true],
    ['\\.', 'a.b', true], ['\\.', 'ab', false], ['\\d\\d', 'x12', true], ['net$', 'net', true], ['', 'anything', true], ['^$', '', true],
  ];
  for (const [p, v, want] of cases) {
    t.equal(fuzzyMatch(p, v), want, `${p} ~ ${v}`);
    t.equal(fuzzyMatch(p, v), new RegExp(p).test(v), `${p} ~ ${v} as a JavaScript RegExp`);
  }
  for (const bad of ['(a)', 'a|b', 'a{2}', 'a**', '+a', 'a^b', '[a', '\\', '\\q']) t.throws(() => fuzzyMatch(bad, 'x'), /^invalid filter pattern/, bad);
  t.throws(() => fuzzyMatch('a'.repeat(257), 'x'), { message: /longer than 256 characters/ });
});

t.test('a pathological pattern takes linear time', async (t) => {
  const value = 'a'.repeat(100_000);
  const begun = performance.now();
  t.equal(fuzzyMatch('a*a*a*a*a*a*a*a*a*a*b', value), false);
  t.equal(fuzzyMatch('[0-9a-f]+[0-9a-f]+[0-9a-f]+z', 'f'.repeat(100_000)), false);
  // a backtracking engine takes minutes on these; a linear one well under a second even on a busy runner
  t.ok(performance.now() - begun < 5000, `took ${(performance.now() - begun).toFixed(0)} ms`);
});

t.test('labels: every key or key=value must hold', async (t) => {
  t.ok(matchLabels(['a', 'b=2'], { a: '1', b: '2' }));
  t.notOk(matchLabels(['b=3'], { b: '2' }));
  t.notOk(matchLabels(['c'], { a: '1' }));
  t.ok(matchLabels([], {}));
});

t.test('dangling takes one boolean', async (t) => {
  t.equal(boolFilter(new Map([['dangling', ['1']]]), 'dangling'), true);
  t.equal(boolFilter(new Map([['dangling', ['false']]]), 'dangling'), false);
  t.equal(boolFilter(new Map(), 'dangling'), undefined);
  t.throws(() => boolFilter(new Map([['dangling', ['maybe']]]), 'dangling'), {
    message: 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")',
  });
  t.throws(() => boolFilter(new Map([['dangling', ['true', 'false']]]), 'dangling'), { message: 'got more than one value for filter key "dangling"' });
});

t.test('until: unix time, dates, Go durations', async (t) => {
  const now = Date.parse('2026-01-02T03:04:05Z');
  t.equal(parseTimestamp('1700000000', now), 1700000000000);
  t.equal(parseTimestamp('1700000000.5', now), 1700000000500);
  t.equal(parseTimestamp('1h', now), now - 3_600_000);
  t.equal(parseTimestamp('1h30m', now), now - 5_400_000);
  t.equal(parseTimestamp('2026-01-01', now), Date.parse('2026-01-01T00:00:00Z'));
  t.equal(parseTimestamp('2026-01-01T10:00:00Z', now), Date.parse('2026-01-01T10:00:00Z'));
  t.throws(() => parseTimestamp('notatime', now), { message: 'failed to parse value as time or duration: "notatime"' });
  t.equal(parseGoDuration('1.5h'), 5_400_000);
  t.equal(parseGoDuration('h'), undefined);
});
