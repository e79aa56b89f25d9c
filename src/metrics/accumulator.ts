/**
 * Running totals built from interval samples as they arrive (from this process's recorder or merged
 * from worker processes), for whatever must judge a run while it runs — live verdicts, abort-on-fail —
 * without touching the recorder. One sample per interval index is expected (the coordinator merges
 * the workers' samples of an index before passing them on).
 */
import { createHistogram, decodeHistogram, encodeHistogram, type Histogram } from './histogram.js';
import { SNAPSHOT_VERSION, type IntervalSample, type MetricsSnapshot } from './snapshot.js';

export class IntervalAccumulator {
  private readonly counters: Record<string, number> = {};
  private gauges: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};
  private readonly histograms = new Map<string, Histogram>();
  private readonly samples: IntervalSample[] = [];
  private startTime: number | undefined;
  private endTime = 0;

  constructor(readonly intervalMs: number = 1000) {}

  add(sample: IntervalSample): void {
    // The run's start, from the first sample: interval k starts at startTime + k × intervalMs.
    this.startTime ??= sample.start - sample.index * this.intervalMs;
    for (const k in sample.counters) this.counters[k] = (this.counters[k] ?? 0) + sample.counters[k]!;
    for (const k in sample.errors) this.errors[k] = (this.errors[k] ?? 0) + sample.errors[k]!;
    this.gauges = { ...sample.gauges };
    for (const name in sample.histograms) {
      const h = decodeHistogram(sample.histograms[name]!);
      const total = this.histograms.get(name);
      if (total) {
        total.add(h);
        h.destroy();
      } else {
        const fresh = createHistogram();
        fresh.add(h);
        h.destroy();
        this.histograms.set(name, fresh);
      }
    }
    this.samples.push(sample);
    this.endTime = Math.max(this.endTime, sample.start + sample.durationMs);
  }

  /** Everything so far as a snapshot (the samples are shared, not copied). */
  snapshot(): MetricsSnapshot {
    const histograms: Record<string, string> = {};
    for (const [name, h] of this.histograms) histograms[name] = encodeHistogram(h);
    const startTime = this.startTime ?? 0;
    return {
      version: SNAPSHOT_VERSION,
      startTime,
      endTime: Math.max(startTime, this.endTime),
      intervalMs: this.intervalMs,
      counters: { ...this.counters },
      gauges: { ...this.gauges },
      errors: { ...this.errors },
      histograms,
      intervals: this.samples,
    };
  }

  destroy(): void {
    for (const h of this.histograms.values()) h.destroy();
    this.histograms.clear();
  }
}
