import t from 'tap';
import { afterProbe, parseHealthcheck, HealthMonitor, type HealthSpec } from '../../src/runtime/health.js';
import type { Container, ContainerHealth } from '../../src/model.js';

const ms = 1_000_000;

t.test("parseHealthcheck: Docker's defaults, forms and 400s", async (t) => {
  t.same(parseHealthcheck({ Test: ['CMD', 'curl', '-f', 'http://localhost/'] }), {
    intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5000, retries: 3, argv: ['curl', '-f', 'http://localhost/'],
  });
  t.same(parseHealthcheck({ Test: ['CMD-SHELL', 'exit 1'], Interval: 2000 * ms, Retries: 5 })?.argv, ['/bin/sh', '-c', 'exit 1']);
  t.equal(parseHealthcheck({ Test: ['CMD-SHELL', 'x'], Interval: 2000 * ms })?.intervalMs, 2000);
  t.equal(parseHealthcheck({ Test: ['NONE'] }), undefined, 'HEALTHCHECK NONE');
  t.equal(parseHealthcheck({ Test: [] }), undefined);
  t.equal(parseHealthcheck(undefined), undefined);
  t.throws(() => parseHealthcheck({ Test: ['CMD'], Interval: 1 }), { message: 'Interval in Healthcheck cannot be less than 1ms' });
  t.throws(() => parseHealthcheck({ Test: ['CMD', 'x'], Retries: -1 }), { message: 'Retries in Healthcheck cannot be negative' });
  t.throws(() => parseHealthcheck({ Test: ['WHAT', 'x'] }), { message: 'invalid Healthcheck: unknown type WHAT' });
  t.throws(() => parseHealthcheck({ Test: ['CMD'] }), { message: 'invalid Healthcheck: CMD needs a command' });
});

t.test('afterProbe: healthy at the first pass, unhealthy after retries failures, the start period forgives, five log entries', async (t) => {
  const spec = { intervalMs: 1000, timeoutMs: 1000, startPeriodMs: 10_000, startIntervalMs: 500, retries: 2, argv: ['x'] } as HealthSpec;
  const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000).toISOString();
  const started = at(0);
  let h: ContainerHealth = { Status: 'starting', FailingStreak: 0, Log: [] };
  h = afterProbe(h, { exitCode: 1, output: 'no', start: at(1), end: at(1) }, spec, started);
  t.same([h.Status, h.FailingStreak, h.Log.length], ['starting', 0, 1], 'a failure in the start period does not count');
  h = afterProbe(h, { exitCode: 1, output: 'no', start: at(11), end: at(11) }, spec, started);
  t.same([h.Status, h.FailingStreak], ['starting', 1]);
  h = afterProbe(h, { exitCode: 1, output: 'no', start: at(12), end: at(12) }, spec, started);
  t.same([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = afterProbe(h, { exitCode: 0, output: 'ok', start: at(13), end: at(13) }, spec, started);
  t.same([h.Status, h.FailingStreak], ['healthy', 0]);
  for (let i = 0; i < 4; i++) h = afterProbe(h, { exitCode: 0, output: 'x'.repeat(5000), start: at(14 + i), end: at(14 + i) }, spec, started);
  t.equal(h.Log.length, 5, 'the last five');
  t.equal(h.Log[4].Output.length, 4096, 'output cut at 4 KiB');
});

t.test('HealthMonitor: probes on the interval, records, emits a change once, stops with the container', async (t) => {
  const c = { id: 'c1', state: 'running', startedAt: new Date().toISOString(), config: { Healthcheck: { Test: ['CMD', 'probe'], Interval: 5 * ms, Retries: 2 } }, health: null } as unknown as Container;
  const results = [1, 1, 1, 0, 0];
  const emitted: string[] = [];
  let probes = 0;
  const m = new HealthMonitor({
    probe: async (_c, argv) => {
      t.same(argv, ['probe']);
      return { exitCode: results[Math.min(probes++, results.length - 1)], output: '' };
    },
    current: () => c,
    record: (_id, h) => {
      c.health = h;
      return true;
    },
    emit: (_c, status) => emitted.push(status),
  });
  m.start(c);
  t.equal(c.health?.Status, 'starting');
  for (let i = 0; i < 200 && probes < 5; i++) await new Promise((r) => setTimeout(r, 5));
  m.stop('c1');
  const seen = probes;
  t.ok(seen >= 5, `${seen} probes`);
  t.same(emitted.slice(0, 2), ['unhealthy', 'healthy'], 'one event per change');
  await new Promise((r) => setTimeout(r, 30));
  t.ok(probes <= seen + 1, 'no probe after stop (one may have been running)');
  m.close();
});
