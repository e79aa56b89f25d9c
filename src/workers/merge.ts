/**
 * Pure merging of worker results into the result of the whole run — the same types the in-process
 * engines return (`StressResult`, `RunResult`), so reporters and thresholds cannot tell the
 * difference. Counters and errors add, HDR histograms add exactly (`mergeSnapshots`), the rest is
 * merged field by field below.
 */
import type { PhaseResult, RunProgress, RunResult } from '../engine/run.js';
import { offeredRate, type ResolvedStressOptions, type StressProgress, type StressResult } from '../engine/stress.js';
import { mergeIntervals, mergeSnapshots, MetricsRecorder, summarizeEncoded, type IntervalSample, type MetricsSnapshot } from '../metrics/index.js';

/** Error kind of a worker process that ended without a result (docs/stress.md, error kinds). */
export const WORKER_CRASHED = 'worker_crashed';

/** Merge the snapshots of the workers that returned one; `crashed` workers add a `worker_crashed` error each. */
export function mergeWorkerSnapshots(parts: MetricsSnapshot[], crashed: number, fallback: { startTime: number; intervalMs: number }): MetricsSnapshot {
  let merged: MetricsSnapshot;
  if (parts.length === 0) {
    const empty = new MetricsRecorder(fallback);
    merged = empty.snapshot(fallback.startTime);
    empty.destroy();
  } else {
    // mergeSnapshots returns a single part as is: copy what is about to change.
    merged = parts.length === 1 ? { ...parts[0]!, errors: { ...parts[0]!.errors } } : mergeSnapshots(parts);
  }
  if (crashed > 0) merged.errors[WORKER_CRASHED] = (merged.errors[WORKER_CRASHED] ?? 0) + crashed;
  return merged;
}

/** The first defined value, in worker order. */
function first<T>(values: Array<T | undefined>): T | undefined {
  for (const v of values) if (v !== undefined) return v;
  return undefined;
}

/** Errors by step, then by kind: counts add. */
export function mergeErrorsByStep(parts: Array<Record<string, Record<string, number>>>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const part of parts) {
    for (const [loc, kinds] of Object.entries(part)) {
      const target = (out[loc] ??= {});
      for (const [kind, n] of Object.entries(kinds)) target[kind] = (target[kind] ?? 0) + n;
    }
  }
  return out;
}

/**
 * Phases as the whole run ran them: users created and skipped add; a phase started when the first
 * worker started it and ended when the last one ended it. `plannedArrivals` is the whole plan's
 * (each worker reports the whole plan's figure, not its segment's).
 */
export function mergePhases(parts: PhaseResult[][]): PhaseResult[] {
  const base = parts[0];
  if (base === undefined) return [];
  return base.map((phase, i) => {
    const all = parts.map((p) => p[i]).filter((p): p is PhaseResult => p !== undefined);
    const started = all.map((p) => p.startedAtMs).filter((t): t is number => t !== null);
    const ended = all.map((p) => p.endedAtMs);
    return {
      ...phase,
      startedAtMs: started.length > 0 ? Math.min(...started) : null,
      endedAtMs: ended.some((t) => t === null) ? null : Math.max(...(ended as number[])),
      vusersCreated: all.reduce((n, p) => n + p.vusersCreated, 0),
      vusersSkipped: all.reduce((n, p) => n + p.vusersSkipped, 0),
    };
  });
}

/** Merge stress results of workers (in worker order; at least one); `options` are the whole run's. */
export function mergeStressResults(parts: StressResult[], crashed: number, options: ResolvedStressOptions): StressResult {
  if (parts.length === 0) throw new RangeError('mergeStressResults needs at least one result');
  const s = parts[0]!.snapshot;
  const rate = offeredRate(options);
  return {
    snapshot: mergeWorkerSnapshots(parts.map((p) => p.snapshot), crashed, { startTime: s.startTime, intervalMs: s.intervalMs }),
    aborted: parts.some((p) => p.aborted),
    options,
    firstConnectError: first(parts.map((p) => p.firstConnectError)),
    ...(rate !== undefined ? { offeredRatePerSec: rate } : {}),
  };
}

/** Merge run results of workers (in worker order; at least one). */
export function mergeRunResults(parts: RunResult[], crashed: number): RunResult {
  if (parts.length === 0) throw new RangeError('mergeRunResults needs at least one result');
  const errorSamples: RunResult['errorSamples'] = {};
  for (const p of parts) for (const [kind, sample] of Object.entries(p.errorSamples)) if (!Object.hasOwn(errorSamples, kind)) errorSamples[kind] = sample;
  if (crashed > 0 && !Object.hasOwn(errorSamples, WORKER_CRASHED)) {
    errorSamples[WORKER_CRASHED] = { location: '', message: `${crashed} worker process${crashed === 1 ? '' : 'es'} ended without a result; their share of the run is missing` };
  }
  const s = parts[0]!.snapshot;
  return {
    snapshot: mergeWorkerSnapshots(parts.map((p) => p.snapshot), crashed, { startTime: s.startTime, intervalMs: s.intervalMs }),
    aborted: parts.some((p) => p.aborted),
    drained: parts.reduce((n, p) => n + p.drained, 0),
    target: first(parts.map((p) => p.target)),
    errorsByStep: mergeErrorsByStep(parts.map((p) => p.errorsByStep)),
    errorSamples,
    phases: mergePhases(parts.map((p) => p.phases)),
    firstConnectError: first(parts.map((p) => p.firstConnectError)),
    settings: parts[0]!.settings,
  };
}

/** Live figures: the latest progress of every worker and the interval samples of one index. */
export function mergeStressProgress(latest: StressProgress[], samples: IntervalSample[], connectionsTarget: number): StressProgress {
  const sum = (k: 'connectionsAttempted' | 'connectionsOpen' | 'messagesSent' | 'messagesReceived' | 'errors'): number => latest.reduce((n, p) => n + p[k], 0);
  const rtt = mergedHistogram(samples, 'ws.rtt');
  return {
    elapsedMs: Math.max(0, ...latest.map((p) => p.elapsedMs)),
    connectionsTarget,
    connectionsAttempted: sum('connectionsAttempted'),
    connectionsOpen: sum('connectionsOpen'),
    messagesSent: sum('messagesSent'),
    messagesReceived: sum('messagesReceived'),
    errors: sum('errors'),
    p50Ms: rtt === undefined ? undefined : summarizeEncoded(rtt).p50,
  };
}

export function mergeRunProgress(latest: RunProgress[], samples: IntervalSample[]): RunProgress {
  const rtt = mergedHistogram(samples, 'ws.rtt');
  const s = rtt === undefined ? undefined : summarizeEncoded(rtt);
  // The phase the furthest worker is in (a worker that finished its phases reports undefined).
  const inPhase = latest.filter((p) => p.phaseIndex !== undefined);
  const lead = inPhase.sort((a, b) => b.phaseIndex! - a.phaseIndex!)[0];
  const v = (k: keyof RunProgress['vusers']): number => latest.reduce((n, p) => n + p.vusers[k], 0);
  return {
    elapsedMs: Math.max(0, ...latest.map((p) => p.elapsedMs)),
    totalMs: latest[0]?.totalMs ?? 0,
    phaseIndex: lead?.phaseIndex,
    phaseName: lead?.phaseName,
    vusers: { created: v('created'), active: v('active'), completed: v('completed'), failed: v('failed'), skipped: v('skipped') },
    messagesPerSec: latest.reduce((n, p) => n + p.messagesPerSec, 0),
    p50Ms: s?.p50,
    p99Ms: s?.p99,
    errors: latest.reduce((n, p) => n + p.errors, 0),
  };
}

/** The named histogram of the samples, merged; undefined when none has it. */
function mergedHistogram(samples: IntervalSample[], name: string): string | undefined {
  const withIt = samples.filter((s) => s.histograms[name] !== undefined);
  if (withIt.length === 0) return undefined;
  if (withIt.length === 1) return withIt[0]!.histograms[name];
  // Give them one index so mergeIntervals merges them into one sample.
  const merged = mergeIntervals(withIt.map((s) => [{ ...s, index: 0, counters: {}, gauges: {}, errors: {}, histograms: { [name]: s.histograms[name]! } }]));
  return merged[0]?.histograms[name];
}
