/**
 * A pure view of a snapshot for reporters: durations, rates and latency summaries in ms.
 */
import { summarizeEncoded, type LatencySummary } from './histogram.js';
import type { MetricsSnapshot } from './snapshot.js';

export interface SnapshotSummary {
  durationSec: number;
  counters: Record<string, number>;
  errors: Record<string, number>;
  latency: Record<string, LatencySummary>;
}

export function summarizeSnapshot(s: MetricsSnapshot): SnapshotSummary {
  const latency: Record<string, LatencySummary> = {};
  for (const name of Object.keys(s.histograms).sort()) latency[name] = summarizeEncoded(s.histograms[name]!);
  return {
    durationSec: Math.max(0, s.endTime - s.startTime) / 1000,
    counters: { ...s.counters },
    errors: { ...s.errors },
    latency,
  };
}
