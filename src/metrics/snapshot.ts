/**
 * The serialisable form of everything a run measured: totals plus a series of fixed intervals.
 * Snapshots travel between workers as JSON and merge exactly (counters add, HDR histograms add).
 * Reporters read snapshots only.
 */
import { decodeHistogram, encodeHistogram, type Histogram } from './histogram.js';

export const SNAPSHOT_VERSION = 1;

/** One interval of the series (default one second). Counter and error values are deltas. */
export interface IntervalSample {
  /** Interval number since the run's start: start = startTime + index × intervalMs. */
  index: number;
  /** Epoch ms at the interval's start. */
  start: number;
  durationMs: number;
  counters: Record<string, number>;
  /** Values at the interval's end (e.g. `connections.active`); summed when merging workers. */
  gauges: Record<string, number>;
  errors: Record<string, number>;
  /** Encoded HDR histograms (microseconds) of what was recorded in this interval; empty ones omitted. */
  histograms: Record<string, string>;
}

export interface MetricsSnapshot {
  version: typeof SNAPSHOT_VERSION;
  /** Epoch ms. */
  startTime: number;
  endTime: number;
  intervalMs: number;
  counters: Record<string, number>;
  gauges: Record<string, number>;
  /** Errors by kind (`reply_timeout`, `handshake_rejected_503`, …). */
  errors: Record<string, number>;
  /** Totals: encoded HDR histograms in microseconds. */
  histograms: Record<string, string>;
  intervals: IntervalSample[];
}

function addInto(target: Record<string, number>, source: Record<string, number>): void {
  for (const key in source) target[key] = (target[key] ?? 0) + source[key]!;
}

/** Add encoded histograms by name; returns the encoded sums. */
function mergeHistograms(lists: Array<Record<string, string>>): Record<string, string> {
  const acc = new Map<string, Histogram>();
  try {
    for (const list of lists) {
      for (const name in list) {
        const h = decodeHistogram(list[name]!);
        const existing = acc.get(name);
        if (existing) {
          existing.add(h);
          h.destroy();
        } else {
          acc.set(name, h);
        }
      }
    }
    const out: Record<string, string> = {};
    for (const [name, h] of acc) out[name] = encodeHistogram(h);
    return out;
  } finally {
    for (const h of acc.values()) h.destroy();
  }
}

export function mergeIntervals(a: IntervalSample[][]): IntervalSample[] {
  const byIndex = new Map<number, IntervalSample[]>();
  for (const series of a) {
    for (const s of series) {
      const list = byIndex.get(s.index);
      if (list) list.push(s);
      else byIndex.set(s.index, [s]);
    }
  }
  return [...byIndex.keys()].sort((x, y) => x - y).map((index) => {
    const parts = byIndex.get(index)!;
    if (parts.length === 1) return parts[0]!;
    const merged: IntervalSample = {
      index,
      start: Math.min(...parts.map((p) => p.start)),
      durationMs: Math.max(...parts.map((p) => p.durationMs)),
      counters: {},
      gauges: {},
      errors: {},
      histograms: mergeHistograms(parts.map((p) => p.histograms)),
    };
    for (const p of parts) {
      addInto(merged.counters, p.counters);
      addInto(merged.gauges, p.gauges);
      addInto(merged.errors, p.errors);
    }
    return merged;
  });
}

/**
 * Merge snapshots of parts of one run (workers). Parts must share `intervalMs` and a common run
 * start so that interval indexes line up; histograms merge exactly.
 */
export function mergeSnapshots(parts: MetricsSnapshot[]): MetricsSnapshot {
  if (parts.length === 0) throw new RangeError('mergeSnapshots needs at least one snapshot');
  if (parts.length === 1) return parts[0]!;
  const intervalMs = parts[0]!.intervalMs;
  for (const p of parts) {
    if (p.intervalMs !== intervalMs) throw new RangeError(`cannot merge snapshots with intervals of ${intervalMs} and ${p.intervalMs} ms`);
  }
  const merged: MetricsSnapshot = {
    version: SNAPSHOT_VERSION,
    startTime: Math.min(...parts.map((p) => p.startTime)),
    endTime: Math.max(...parts.map((p) => p.endTime)),
    intervalMs,
    counters: {},
    gauges: {},
    errors: {},
    histograms: mergeHistograms(parts.map((p) => p.histograms)),
    intervals: mergeIntervals(parts.map((p) => p.intervals)),
  };
  for (const p of parts) {
    addInto(merged.counters, p.counters);
    addInto(merged.gauges, p.gauges);
    addInto(merged.errors, p.errors);
  }
  return merged;
}
