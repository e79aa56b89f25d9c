/**
 * A parent histogram (`ws.rtt` over `ws.rtt.ping`, …) gets its children's values folded in when an
 * interval closes, instead of a second record per value: what it reports must be exactly what
 * recording every value into it would have given.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createHistogram, encodeHistogram, initHistograms, MetricsRecorder, summarizeEncoded } from '../../src/metrics/index.js';

beforeAll(async () => {
  await initHistograms();
});

/** The encoding of a histogram holding exactly `values` (µs). */
function encodedOf(values: number[]): string {
  const h = createHistogram();
  try {
    for (const v of values) h.recordValue(v > 0 ? Math.round(v) : 0);
    return encodeHistogram(h);
  } finally {
    h.destroy();
  }
}

describe('parent histograms', () => {
  it('hold exactly the union of their children, interval by interval and in total', () => {
    const rec = new MetricsRecorder({ startTime: 0, intervalMs: 1000 });
    const all = rec.histogram('ws.rtt');
    const ping = rec.histogram('ws.rtt.ping', all);
    const agent = rec.histogram('ws.rtt.agent_message', all);
    const first: number[] = [];
    const second: number[] = [];
    for (let i = 0; i < 500; i++) {
      const a = 100 + i * 37.3;
      const b = 5000 + ((i * 7919) % 100_000);
      ping.record(a);
      agent.record(b);
      first.push(a, b);
    }
    all.record(-5); // a value recorded into the parent itself counts as well (as 0)
    first.push(0);
    expect(all.count, 'the parent counts its children before the interval closes').toBe(1001);
    expect(ping.count).toBe(500);
    const s1 = rec.tick(1000);
    expect(s1.histograms['ws.rtt']).toBe(encodedOf(first));
    expect(summarizeEncoded(s1.histograms['ws.rtt']!).count).toBe(1001);
    expect(all.count).toBe(1001);

    // Only one child in the next interval; the other stays out of it.
    for (let i = 0; i < 300; i++) {
      ping.record(3_000_000 + i);
      second.push(3_000_000 + i);
    }
    const s2 = rec.tick(2000);
    expect(s2.histograms['ws.rtt']).toBe(encodedOf(second));
    expect(s2.histograms['ws.rtt.agent_message']).toBeUndefined();
    expect(all.count).toBe(1301);

    const snap = rec.snapshot(2000);
    expect(snap.histograms['ws.rtt']).toBe(encodedOf([...first, ...second]));
    expect(snap.histograms['ws.rtt.ping']).toBe(encodedOf([...first.filter((_, i) => i % 2 === 0 && i < 1000), ...second]));
    rec.destroy();
  });

  it('fold grandchildren through their parent, and a quiet interval stays empty', () => {
    const rec = new MetricsRecorder({ startTime: 0, intervalMs: 1000 });
    const top = rec.histogram('top');
    const mid = rec.histogram('top.mid', top);
    const leaf = rec.histogram('top.mid.leaf', mid);
    leaf.record(1000);
    leaf.record(2000);
    mid.record(3000);
    expect(top.count).toBe(3);
    const s = rec.tick(1000);
    expect(s.histograms['top']).toBe(encodedOf([1000, 2000, 3000]));
    expect(s.histograms['top.mid']).toBe(encodedOf([1000, 2000, 3000]));
    expect(s.histograms['top.mid.leaf']).toBe(encodedOf([1000, 2000]));
    expect(Object.keys(rec.tick(2000).histograms)).toEqual([]);
    // Asking again for an existing name returns it, whatever parent is passed.
    expect(rec.histogram('top.mid.leaf', top)).toBe(leaf);
    leaf.record(5);
    expect(rec.snapshot(2500).intervals.at(-1)!.histograms['top']).toBe(encodedOf([5]));
    rec.destroy();
  });
});
