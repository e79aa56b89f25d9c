/**
 * HDR histograms, built in one place. Values are recorded in integer microseconds and summarised
 * in milliseconds. WebAssembly mode is ~6× cheaper per record (../shared/PERF-NOTES.md); it needs
 * `initHistograms()` once and `destroy()` on every histogram, which the recorder does.
 */
// The three modules used, not the package's index: the index also loads the log reader/writer,
// whose module-level `Intl.NumberFormat` costs ~12 ms of every start-up (ICU), and the JS recorder.
import type { Histogram as HdrHistogram } from 'hdr-histogram-js';
import { build } from 'hdr-histogram-js/dist/HistogramBuilder.js';
import { decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js/dist/encoding.js';
import { initWebAssemblySync } from 'hdr-histogram-js/dist/wasm/index.js';

export type Histogram = HdrHistogram;

/** Highest trackable value: one hour in microseconds; autoResize covers anything beyond. */
const HIGHEST_US = 3_600_000_000;

let wasmReady = false;
let wasmInit: Promise<void> | undefined;

/**
 * Load the WebAssembly backend once per thread; safe to call many times. Synchronous underneath:
 * hdr-histogram-js's async path asks `source instanceof Response`, and reading the global `Response`
 * loads Node's whole fetch implementation (undici, ~12 ms) for nothing.
 */
export function initHistograms(): Promise<void> {
  wasmInit ??= new Promise<void>((resolve) => {
    initWebAssemblySync();
    wasmReady = true;
    resolve();
  });
  return wasmInit;
}

export function usingWebAssembly(): boolean {
  return wasmReady;
}

export function createHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: wasmReady,
  });
}

export function encodeHistogram(h: Histogram): string {
  return encodeIntoCompressedBase64(h);
}

/** Decode into a histogram of the current backend; the caller owns it and must `destroy()` it. */
export function decodeHistogram(encoded: string): Histogram {
  return decodeFromCompressedBase64(encoded, 32, wasmReady);
}

/** Latency figures in milliseconds, rounded to the microsecond. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  stddev: number;
  p50: number;
  p75: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

const ms = (us: number): number => Math.round(us) / 1000;

export function summarizeHistogram(h: Histogram): LatencySummary {
  const count = h.totalCount;
  if (count === 0) {
    return { count: 0, min: 0, mean: 0, stddev: 0, p50: 0, p75: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  }
  return {
    count,
    min: ms(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue),
    mean: ms(h.mean),
    stddev: ms(h.stdDeviation),
    p50: ms(h.getValueAtPercentile(50)),
    p75: ms(h.getValueAtPercentile(75)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** Summarise an encoded histogram without keeping it. */
export function summarizeEncoded(encoded: string): LatencySummary {
  const h = decodeHistogram(encoded);
  try {
    return summarizeHistogram(h);
  } finally {
    h.destroy();
  }
}
