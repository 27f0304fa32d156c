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
  t.notOk(fuzzyMatch('(', 'my-net'), 'an invalid pattern matches nothing');
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
