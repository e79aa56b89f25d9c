import { beforeAll, describe, expect, it } from 'vitest';
import {
  initHistograms,
  MetricsRecorder,
  mergeSnapshots,
  summarizeEncoded,
  summarizeSnapshot,
  usingWebAssembly,
} from '../../src/metrics/index.js';

beforeAll(async () => {
  await initHistograms();
});

describe('metrics recorder', () => {
  it('uses the WebAssembly histograms once initialised', () => {
    expect(usingWebAssembly()).toBe(true);
  });

  it('records counters, gauges, errors and histograms into totals and intervals', () => {
    const rec = new MetricsRecorder({ startTime: 1_000_000, intervalMs: 1000 });
    const sent = rec.counter('messages.sent');
    const active = rec.gauge('connections.active');
    const all = rec.histogram('ws.rtt');
    const ping = rec.histogram('ws.rtt.ping', all);
    for (let i = 1; i <= 100; i++) {
      sent.value++;
      ping.record(i * 1000); // 1..100 ms
    }
    active.value = 7;
    rec.error('reply_timeout');
    const first = rec.tick(1_001_000);
    expect(first.index).toBe(0);
    expect(first.counters['messages.sent']).toBe(100);
    expect(first.gauges['connections.active']).toBe(7);
    expect(first.errors).toEqual({ reply_timeout: 1 });
    expect(Object.keys(first.histograms).sort()).toEqual(['ws.rtt', 'ws.rtt.ping']);

    sent.value += 5;
    ping.record(500_000);
    rec.error('reply_timeout', 2);
    const snap = rec.snapshot(1_001_500);
    expect(snap.intervals).toHaveLength(2);
    expect(snap.intervals[1]!.index).toBe(1);
    expect(snap.intervals[1]!.counters['messages.sent']).toBe(5);
    expect(snap.intervals[1]!.errors).toEqual({ reply_timeout: 2 });
    expect(snap.counters['messages.sent']).toBe(105);
    expect(snap.errors).toEqual({ reply_timeout: 3 });

    const sum = summarizeSnapshot(snap);
    expect(sum.durationSec).toBe(1.5);
    expect(sum.latency['ws.rtt.ping']!.count).toBe(101);
    expect(sum.latency['ws.rtt']!.count).toBe(101);
    // HDR with 3 significant digits: the median of 1..100 ms (+ one 500 ms) is 51 ms ± 0.1 %.
    expect(sum.latency['ws.rtt']!.p50).toBeCloseTo(51, 1);
    expect(sum.latency['ws.rtt']!.max).toBeCloseTo(500, 0);
    rec.destroy();
  });

  it('merges worker snapshots exactly: counts add, percentiles come from the combined histogram', () => {
    const a = new MetricsRecorder({ startTime: 0, intervalMs: 1000 });
    const b = new MetricsRecorder({ startTime: 0, intervalMs: 1000 });
    const ha = a.histogram('ws.rtt');
    const hb = b.histogram('ws.rtt');
    for (let i = 0; i < 900; i++) ha.record(1000); // 1 ms
    for (let i = 0; i < 100; i++) hb.record(100_000); // 100 ms
    a.counter('messages.sent').value = 900;
    b.counter('messages.sent').value = 100;
    a.gauge('connections.active').value = 3;
    b.gauge('connections.active').value = 4;
    b.error('connect_refused', 2);
    const merged = mergeSnapshots([a.snapshot(1000), b.snapshot(1000)]);
    expect(merged.counters['messages.sent']).toBe(1000);
    expect(merged.gauges['connections.active']).toBe(7);
    expect(merged.errors).toEqual({ connect_refused: 2 });
    const s = summarizeEncoded(merged.histograms['ws.rtt']!);
    expect(s.count).toBe(1000);
    expect(s.p50).toBeCloseTo(1, 2);
    expect(s.p95).toBeCloseTo(100, 0);
    expect(merged.intervals).toHaveLength(1);
    expect(merged.intervals[0]!.counters['messages.sent']).toBe(1000);
    expect(summarizeEncoded(merged.intervals[0]!.histograms['ws.rtt']!).count).toBe(1000);
    a.destroy();
    b.destroy();
  });

  it('gives each interval its own index even when the timer fires a little early or late', () => {
    const rec = new MetricsRecorder({ startTime: 0, intervalMs: 1000 });
    const c = rec.counter('messages.sent');
    const indexes: number[] = [];
    for (const now of [998, 2003, 2999, 4001]) {
      c.value++;
      indexes.push(rec.tick(now).index);
    }
    expect(indexes).toEqual([0, 1, 2, 3]);
    expect(rec.nextBoundary()).toBe(5000);
    // The final partial interval follows on.
    c.value++;
    expect(rec.snapshot(4400).intervals.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    rec.destroy();
  });

  it('refuses to merge snapshots with different interval lengths', () => {
    const a = new MetricsRecorder({ startTime: 0, intervalMs: 1000 });
    const b = new MetricsRecorder({ startTime: 0, intervalMs: 500 });
    expect(() => mergeSnapshots([a.snapshot(10), b.snapshot(10)])).toThrow('cannot merge snapshots with intervals of 1000 and 500 ms');
    a.destroy();
    b.destroy();
  });

  it('survives a JSON round trip (workers ship snapshots as JSON)', () => {
    const a = new MetricsRecorder({ startTime: 0 });
    a.histogram('ws.connect').record(2500);
    const snap = JSON.parse(JSON.stringify(a.snapshot(2000)));
    expect(summarizeEncoded(snap.histograms['ws.connect']).p50).toBeCloseTo(2.5, 2);
    a.destroy();
  });
});
