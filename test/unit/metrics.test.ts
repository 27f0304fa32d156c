import t from 'tap';
import { Metrics, EVENT_LOOP_SAMPLE_MS } from '../../src/metrics.js';

t.test('the event loop\'s delay is sampled once a second, not every 10 ms (which woke an idle daemon 100 times a second)', async (t) => {
  const m = new Metrics();
  await new Promise((r) => setTimeout(r, 2 * EVENT_LOOP_SAMPLE_MS + 200));
  const text = await m.registry.metrics();
  const min = Number(/^cnmd_nodejs_eventloop_lag_min_seconds (\S+)$/m.exec(text)?.[1]);
  // each sample is the time since the one before: the period plus the delay
  t.ok(min >= 0.9 * (EVENT_LOOP_SAMPLE_MS / 1000), `the shortest sample is about the period (${min} s)`);
  t.ok(min < 5, 'and a sample was taken');
});
