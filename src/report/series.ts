/**
 * The report's time series: one point per interval of a metrics snapshot (default one second),
 * in the units charts want (per-second rates, milliseconds). Pure: reads a snapshot only.
 */
import { decodeHistogram, summarizeHistogram, type IntervalSample, type MetricsSnapshot } from '../metrics/index.js';

/** Round-trip percentiles of one interval, in ms. */
export interface SeriesRtt {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** One interval of the run. Counts are what happened within the interval; gauges its end value. */
export interface SeriesPoint {
  /** Seconds since the run's start at the interval's end (ms resolution): where a chart plots it. */
  t: number;
  /** The interval's length in seconds (the last one is usually shorter). */
  durationSec: number;
  /** Virtual users created (`run`) or connections attempted (`stress`) within the interval. */
  arrivals: number;
  /** Open connections at the interval's end (gauge `connections.active`). */
  activeConnections: number;
  /** Active virtual users at the interval's end (gauge `vusers.active`); only when the run has VUs. */
  activeVusers?: number;
  /** `messages.sent` within the interval, per second. */
  sentPerSec: number;
  /** `messages.received` within the interval, per second. */
  receivedPerSec: number;
  /** `ws.rtt` percentiles of the replies received within the interval; null when there were none. */
  rtt: SeriesRtt | null;
  /** Errors of every kind counted within the interval. */
  errors: number;
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** The `ws.rtt` percentiles of one or more encoded interval histograms (added together). */
function rttOf(encoded: string[]): SeriesRtt | null {
  if (encoded.length === 0) return null;
  const sum = decodeHistogram(encoded[0]!);
  try {
    for (const more of encoded.slice(1)) {
      const h = decodeHistogram(more);
      sum.add(h);
      h.destroy();
    }
    const s = summarizeHistogram(sum);
    return s.count > 0 ? { p50: s.p50, p95: s.p95, p99: s.p99, max: s.max } : null;
  } finally {
    sum.destroy();
  }
}

/**
 * One point per interval of `snapshot.intervals`, in index order. Samples that share an index
 * (a recorder that ticked a few ms off its boundary closes a sliver of an interval) are folded into
 * one point: counts add, gauges take the later value, histograms add. Intervals the recorder never
 * closed (a gap in the indexes) are not invented: charts connect the points they get.
 */
export function buildSeries(snapshot: MetricsSnapshot): SeriesPoint[] {
  const hasVusers = snapshot.intervals.some((i) => 'vusers.active' in i.gauges) || 'vusers.active' in snapshot.gauges;
  const byIndex = new Map<number, IntervalSample[]>();
  for (const sample of snapshot.intervals) {
    const list = byIndex.get(sample.index);
    if (list) list.push(sample);
    else byIndex.set(sample.index, [sample]);
  }
  return [...byIndex.keys()].sort((a, b) => a - b).map((index) => {
    const parts = byIndex.get(index)!.sort((a, b) => a.start - b.start);
    const last = parts[parts.length - 1]!;
    const counters: Record<string, number> = {};
    let errors = 0;
    let durationMs = 0;
    const rtt: string[] = [];
    for (const p of parts) {
      for (const name in p.counters) counters[name] = (counters[name] ?? 0) + p.counters[name]!;
      for (const kind in p.errors) errors += p.errors[kind]!;
      durationMs += p.durationMs;
      const h = p.histograms['ws.rtt'];
      if (h !== undefined) rtt.push(h);
    }
    // A zero-length interval (closed at the instant it opened) would divide by zero: rate it per nominal interval.
    const seconds = (durationMs > 0 ? durationMs : snapshot.intervalMs) / 1000;
    const point: SeriesPoint = {
      t: round((last.start - snapshot.startTime + last.durationMs) / 1000, 3),
      durationSec: round(durationMs / 1000, 3),
      arrivals: counters['vusers.created'] ?? counters['connections.attempted'] ?? 0,
      activeConnections: last.gauges['connections.active'] ?? 0,
      sentPerSec: round((counters['messages.sent'] ?? 0) / seconds, 2),
      receivedPerSec: round((counters['messages.received'] ?? 0) / seconds, 2),
      rtt: rttOf(rtt),
      errors,
    };
    if (hasVusers) point.activeVusers = last.gauges['vusers.active'] ?? 0;
    return point;
  });
}
