import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms, type MetricsSnapshot } from '../../src/metrics/index.js';
import { createAbortWatcher } from '../../src/thresholds/abort.js';
import { parseThresholdArg } from '../../src/thresholds/cli.js';
import { evaluate, overall } from '../../src/thresholds/evaluate.js';
import { buildThresholdSet } from '../../src/thresholds/set.js';
import { parseSlo } from '../../src/thresholds/slo.js';
import { createMetricView, type MetricView } from '../../src/thresholds/view.js';
import { snapshot as runSnapshot } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

const snapshot = (pingMs: number[], counters: Record<string, number> = {}): MetricsSnapshot => runSnapshot({ counters, rtt: { ping: pingMs } });

/** Cumulative views as a run would feed them: p99 of 600 ms (crossed) or 10 ms (fine). */
let bad: MetricView;
let good: MetricView;
let silent: MetricView;
let warm: MetricView;
beforeAll(() => {
  bad = createMetricView(snapshot([...Array<number>(900).fill(10), ...Array<number>(100).fill(600)]));
  good = createMetricView(snapshot(Array<number>(1000).fill(10)));
  silent = createMetricView(snapshot([]));
  // Crosses the warning level (p99 > 100) but not the critical one.
  warm = createMetricView(snapshot([...Array<number>(900).fill(10), ...Array<number>(100).fill(200)]));
});

const sloSet = (entry: unknown): ReturnType<typeof buildThresholdSet> => {
  const { thresholds, issues } = parseSlo({ 'ws.rtt.ping': [entry] });
  expect(issues).toEqual([]);
  return buildThresholdSet({ script: thresholds });
};

/** Feed `views` at 1 s, 2 s, …; the first second a decision is returned, or undefined. */
function feedAll(watcher: ReturnType<typeof createAbortWatcher>, views: MetricView[], startMs = 1000): number | undefined {
  let decidedAt: number | undefined;
  views.forEach((v, i) => {
    const d = watcher.feed(v, startMs + i * 1000);
    if (d !== undefined && decidedAt === undefined) decidedAt = startMs + i * 1000;
  });
  return decidedAt;
}

describe('createAbortWatcher', () => {
  it('aborts when a critical level stays crossed for 3 evaluations in a row', () => {
    const w = createAbortWatcher(sloSet({ threshold: 'p(99)<500', abortOnFail: true }));
    expect(w.watching).toBe(1);
    expect(w.feed(bad, 1000)).toBeUndefined();
    expect(w.feed(bad, 2000)).toBeUndefined();
    const d = w.feed(bad, 3000);
    expect(d).toMatchObject({
      elapsedMs: 3000,
      crossedForMs: 3000,
      message: 'aborted: ws.rtt.ping.p99 crossed critical >= 500 ms for 3 s',
      verdict: { id: 'slo["ws.rtt.ping"][0]', status: 'critical' },
    });
    expect(d!.threshold.id).toBe('slo["ws.rtt.ping"][0]');
    // The decision stands.
    expect(w.feed(good, 4000)).toBe(d);
    expect(w.decision).toBe(d);
  });

  it('starts counting again when the crossing stops', () => {
    const w = createAbortWatcher(sloSet({ threshold: 'p(99)<=500', abortOnFail: true }));
    expect(feedAll(w, [bad, bad, good, bad, bad])).toBeUndefined();
    const d = w.feed(bad, 6000);
    expect(d).toMatchObject({ elapsedMs: 6000, crossedForMs: 3000, message: 'aborted: ws.rtt.ping.p99 crossed critical > 500 ms for 3 s' });
  });

  it('does not count crossings before delayAbortEval', () => {
    const w = createAbortWatcher(sloSet({ threshold: 'p(99)<500', abortOnFail: true, delayAbortEval: '10s' }));
    expect(feedAll(w, Array<MetricView>(9).fill(bad))).toBeUndefined(); // 1 … 9 s
    expect(w.feed(bad, 10_000)).toBeUndefined();
    expect(w.feed(bad, 11_000)).toBeUndefined();
    expect(w.feed(bad, 12_000)).toMatchObject({ elapsedMs: 12_000, crossedForMs: 3000 });
  });

  it('counts evaluations, so the span follows the feeding interval', () => {
    const w = createAbortWatcher(sloSet({ threshold: 'p(99)<500', abortOnFail: true }));
    w.feed(good, 500);
    w.feed(bad, 1000);
    w.feed(bad, 1500);
    expect(w.feed(bad, 2000)).toMatchObject({ crossedForMs: 1500, message: 'aborted: ws.rtt.ping.p99 crossed critical >= 500 ms for 1.5 s' });
  });

  it('takes the number of evaluations as an option', () => {
    const w = createAbortWatcher(sloSet({ threshold: 'p(99)<500', abortOnFail: true }), { consecutive: 1 });
    expect(w.feed(bad, 1000)).toMatchObject({ message: 'aborted: ws.rtt.ping.p99 crossed critical >= 500 ms for 1 s' });
    expect(() => createAbortWatcher(buildThresholdSet(), { consecutive: 0 })).toThrow('consecutive must be an integer >= 1, got 0');
  });

  it('is not moved by warnings, by what cannot be judged, or by thresholds without abortOnFail', () => {
    const levels = createAbortWatcher(sloSet({ warning: 'p(99)<100', critical: 'p(99)<500', abortOnFail: true }));
    expect(feedAll(levels, [warm, warm, warm, warm])).toBeUndefined();
    expect(feedAll(levels, [silent, silent, silent, silent], 5000)).toBeUndefined();
    const plain = createAbortWatcher(sloSet({ threshold: 'p(99)<500' }));
    expect(plain.watching).toBe(0);
    expect(feedAll(plain, [bad, bad, bad, bad])).toBeUndefined();
    expect(createAbortWatcher(buildThresholdSet()).watching).toBe(0);
  });

  it('aborts on an abort: threshold from the command line, and names a compound expression', () => {
    const views = [0, 1, 2].map(() => createMetricView(snapshot([1], { 'connections.attempted': 10, 'messages.sent': 90, 'messages.received': 80 })));
    const cli = createAbortWatcher(buildThresholdSet({ cli: [parseThresholdArg('abort:errors.rate<5%'), parseThresholdArg('abort:messages.answered_rate>95%', 1)] }));
    // No error was recorded, but only 80 of 90 requests were answered.
    expect(feedAll(cli, views)).toBe(3000);
    expect(cli.decision!.message).toBe('aborted: messages.answered_rate crossed critical <= 95% for 3 s');

    const compound = createAbortWatcher(sloSet({ threshold: 'p(99)<500 and avg<100', abortOnFail: true }));
    expect(feedAll(compound, [bad, bad, bad])).toBe(3000);
    expect(compound.decision!.message).toBe("aborted: 'p(99)<500 and avg<100' failed (critical) for 3 s");
  });

  it('makes the run fail with exit 3 even if the final verdicts recovered', () => {
    const set = sloSet({ threshold: 'p(99)<500', abortOnFail: true });
    const w = createAbortWatcher(set);
    feedAll(w, [bad, bad, bad]);
    const final = evaluate(set, good);
    expect(final[0]!.status).toBe('met');
    expect(overall(final, { aborted: w.decision !== undefined })).toMatchObject({ status: 'failed', exitCode: 3 });
  });
});
