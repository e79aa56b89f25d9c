/**
 * The report's time series from real MetricsRecorder snapshots.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms, MetricsRecorder } from '../../src/metrics/index.js';
import { buildSeries } from '../../src/report/series.js';
import { START, syntheticSnapshot } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

/** HDR values are exact to 3 significant digits. */
const near = (actual: number, expected: number): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 0.001 + 0.001);
};

describe('buildSeries', () => {
  it('gives one point per interval: arrivals, gauges, rates each way, RTT percentiles and errors', () => {
    const series = buildSeries(syntheticSnapshot());
    expect(series).toHaveLength(3);
    const [a, b, c] = series;
    expect(a).toMatchObject({ t: 1, durationSec: 1, arrivals: 10, activeConnections: 10, sentPerSec: 100, receivedPerSec: 100, errors: 0 });
    near(a!.rtt!.p50, 50);
    near(a!.rtt!.p95, 95);
    near(a!.rtt!.p99, 99);
    near(a!.rtt!.max, 100);
    expect(b).toMatchObject({ t: 2, durationSec: 1, arrivals: 0, activeConnections: 8, sentPerSec: 53, receivedPerSec: 50, errors: 3 });
    near(b!.rtt!.p50, 20);
    // The last interval is half a second: its rates are per second, not per interval.
    expect(c).toMatchObject({ t: 2.5, durationSec: 0.5, activeConnections: 0, sentPerSec: 40, receivedPerSec: 40, errors: 0 });
    near(c!.rtt!.p99, 5);
    expect(a).not.toHaveProperty('activeVusers');
  });

  it('has rtt null for an interval without replies, and counts VUs arriving and active', () => {
    const rec = new MetricsRecorder({ startTime: 0, intervalMs: 500 });
    rec.counter('vusers.created').value = 4;
    rec.counter('connections.attempted').value = 9; // VUs are the arrivals when there are any
    rec.gauge('vusers.active').value = 3;
    rec.gauge('connections.active').value = 2;
    rec.counter('messages.sent').value = 1;
    rec.error('connect_refused', 2);
    rec.error('reply_timeout');
    const snap = rec.snapshot(500);
    rec.destroy();
    expect(buildSeries(snap)).toEqual([
      { t: 0.5, durationSec: 0.5, arrivals: 4, activeConnections: 2, activeVusers: 3, sentPerSec: 2, receivedPerSec: 0, rtt: null, errors: 3 },
    ]);
  });

  it('folds a sliver interval (a tick a few ms off its boundary) into its neighbour of the same index', () => {
    const rec = new MetricsRecorder({ startTime: 0, intervalMs: 1000 });
    const sent = rec.counter('messages.sent');
    const active = rec.gauge('connections.active');
    const rtt = rec.histogram('ws.rtt');
    sent.value = 10;
    active.value = 5;
    rtt.record(1000);
    rec.tick(999.9); // interval 0, a hair early
    sent.value += 1;
    rtt.record(9000);
    rec.tick(1004); // a 4 ms sliver, index 1
    sent.value += 99;
    active.value = 4;
    rtt.record(3000);
    rec.tick(1999.9); // the rest of interval 1
    const snap = rec.snapshot(1999.9);
    rec.destroy();
    // The recorder never repeats an index; the series folds same-index samples all the same
    // (merged or older snapshots): here the sliver is index 1 and the rest of the second index 2.
    expect(snap.intervals.map((i) => i.index)).toEqual([0, 1, 2]);
    const folded = { ...snap, intervals: snap.intervals.map((i, k) => (k === 2 ? { ...i, index: 1 } : i)) };
    const series = buildSeries(folded);
    expect(series.map((p) => p.t)).toEqual([1, 2]);
    expect(series[1]).toMatchObject({ durationSec: 1, sentPerSec: 100, activeConnections: 4 });
    near(series[1]!.rtt!.max, 9);
    near(series[1]!.rtt!.p50, 3);
  });

  it('is empty for a snapshot without intervals', () => {
    const rec = new MetricsRecorder({ startTime: START });
    const snap = rec.snapshot(START);
    rec.destroy();
    expect(buildSeries(snap)).toEqual([]);
  });
});
