/**
 * abortOnFail: stop a run early when a threshold's critical level is crossed and stays crossed.
 * Fed the cumulative snapshot's view once per interval. A threshold aborts the run after it was
 * critical at `consecutive` evaluations in a row (default 3, i.e. 3 s with 1-s intervals), counting
 * only evaluations made once `delayAbortEval` of the run has passed. One bad interval early in a run
 * moves cumulative percentiles a lot; requiring the crossing to persist keeps a blip from ending it.
 */
import { evaluateThreshold } from './evaluate.js';
import { formatSpan } from './format.js';
import type { Threshold, ThresholdSet, Verdict } from './types.js';
import type { MetricView } from './view.js';

/** Evaluations in a row a critical crossing must last before the run is aborted. */
export const DEFAULT_ABORT_CONSECUTIVE = 3;

export interface AbortWatcherOptions {
  /** Default `DEFAULT_ABORT_CONSECUTIVE`. */
  consecutive?: number;
}

export interface AbortDecision {
  readonly threshold: Threshold;
  /** The verdict at the evaluation that decided. */
  readonly verdict: Verdict;
  /** Run time at that evaluation. */
  readonly elapsedMs: number;
  /** How long the crossing lasted: from the evaluation before the first crossed one to this one. */
  readonly crossedForMs: number;
  /** `aborted: ws.rtt.p99 crossed critical > 500 ms for 3 s`. */
  readonly message: string;
}

export interface AbortWatcher {
  /** Evaluate at `elapsedMs` of the run; returns the decision once one is made (and every call after). */
  feed(view: MetricView, elapsedMs: number): AbortDecision | undefined;
  readonly decision: AbortDecision | undefined;
  /** Thresholds with abortOnFail: 0 means the watcher never aborts and need not be fed. */
  readonly watching: number;
}

interface Streak {
  count: number;
  sinceMs: number;
}

export function createAbortWatcher(set: ThresholdSet, options: AbortWatcherOptions = {}): AbortWatcher {
  const consecutive = options.consecutive ?? DEFAULT_ABORT_CONSECUTIVE;
  if (!Number.isInteger(consecutive) || consecutive < 1) throw new RangeError(`consecutive must be an integer >= 1, got ${consecutive}`);
  const watched = set.thresholds.filter((t) => t.abortOnFail);
  const streaks = new Map<Threshold, Streak>(watched.map((t) => [t, { count: 0, sinceMs: 0 }]));
  let lastMs = 0;
  let decision: AbortDecision | undefined;

  return {
    get decision() {
      return decision;
    },
    watching: watched.length,
    feed(view, elapsedMs) {
      if (decision !== undefined) return decision;
      for (const t of watched) {
        const s = streaks.get(t)!;
        if (elapsedMs < t.delayAbortEvalMs) {
          s.count = 0;
          continue;
        }
        const verdict = evaluateThreshold(t, view);
        if (verdict.status !== 'critical') {
          s.count = 0;
          continue;
        }
        // Each evaluation vouches for the interval before it.
        if (s.count === 0) s.sinceMs = lastMs;
        s.count++;
        if (s.count >= consecutive && decision === undefined) {
          const crossedForMs = elapsedMs - s.sinceMs;
          decision = { threshold: t, verdict, elapsedMs, crossedForMs, message: `aborted: ${crossing(verdict)} for ${formatSpan(crossedForMs)}` };
        }
      }
      lastMs = elapsedMs;
      return decision;
    },
  };
}

/** `ws.rtt.p99 crossed critical > 500 ms`, or `'a and b' failed (critical)` for a compound expression. */
function crossing(v: Verdict): string {
  const crit = v.checks.find((c) => c.level === 'critical');
  if (v.subject !== undefined && crit?.crossedWhen !== undefined) return `${v.subject} crossed critical ${crit.crossedWhen}`;
  return `'${crit?.expression ?? v.name}' failed (critical)`;
}
