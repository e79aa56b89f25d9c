/**
 * The latency figures every report shows for a histogram (`ws.rtt`, `ws.connect`, a message type…),
 * one shape for `stress`, `run` and the report document. Pure.
 */
import type { LatencySummary } from '../metrics/index.js';

/** Latency figures in milliseconds (microsecond resolution). All 0 when `count` is 0. */
export interface LatencyFigures {
  count: number;
  avg: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** The figures of a histogram summary; all 0 for a histogram that recorded nothing (undefined). */
export function latencyFigures(s: LatencySummary | undefined): LatencyFigures {
  if (s === undefined) return { count: 0, avg: 0, min: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return { count: s.count, avg: s.mean, min: s.min, p50: s.p50, p95: s.p95, p99: s.p99, p999: s.p999, max: s.max };
}
