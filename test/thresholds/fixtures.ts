/**
 * Snapshots for the threshold tests, made the way runs make them: a real recorder, values recorded,
 * then `snapshot()`.
 */
import { MetricsRecorder, type MetricsSnapshot } from '../../src/metrics/index.js';

export interface Run {
  counters?: Record<string, number>;
  gauges?: Record<string, number>;
  errors?: Record<string, number>;
  /** Round trips in ms, by request type (`ping` → ws.rtt.ping, and through it ws.rtt). */
  rtt?: Record<string, number[]>;
  durationMs?: number;
}

/** The snapshot of `run`, one second long unless it says. Histograms need `initHistograms()` first. */
export function snapshot(run: Run): MetricsSnapshot {
  const start = 1_700_000_000_000;
  const rec = new MetricsRecorder({ startTime: start });
  for (const [name, v] of Object.entries(run.counters ?? {})) rec.counter(name).value = v;
  for (const [name, v] of Object.entries(run.gauges ?? {})) rec.gauge(name).value = v;
  for (const [kind, n] of Object.entries(run.errors ?? {})) rec.error(kind, n);
  const all = rec.histogram('ws.rtt');
  for (const [type, values] of Object.entries(run.rtt ?? {})) {
    const h = rec.histogram(`ws.rtt.${type}`, all);
    for (const ms of values) h.record(ms * 1000);
  }
  const s = rec.snapshot(start + (run.durationMs ?? 1000));
  rec.destroy();
  return s;
}
