export { initHistograms, usingWebAssembly, createHistogram, encodeHistogram, decodeHistogram, summarizeHistogram, summarizeEncoded } from './histogram.js';
export type { Histogram, LatencySummary } from './histogram.js';
export { MetricsRecorder, Counter, Gauge, HistogramHandle } from './recorder.js';
export type { RecorderOptions } from './recorder.js';
export { mergeSnapshots, mergeIntervals, SNAPSHOT_VERSION } from './snapshot.js';
export { IntervalAccumulator } from './accumulator.js';
export type { MetricsSnapshot, IntervalSample } from './snapshot.js';
export { summarizeSnapshot } from './summary.js';
export type { SnapshotSummary } from './summary.js';
