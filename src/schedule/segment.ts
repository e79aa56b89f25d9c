/**
 * Splitting one arrival plan between K worker processes (k6's execution segments): worker i
 * of K takes the plan's arrivals whose global index is ≡ i (mod K), at their planned times, so
 * the union of the K workers' arrivals is exactly the single plan.
 */
import { WsloadError } from '../errors.js';
import { bucketize, compilePlan, type ArrivalPlan, type CompiledPhase, type PhaseSpec } from './phases.js';

/** Worker `index` of `count` (0 <= index < count). */
export interface ExecutionSegment {
  readonly index: number;
  readonly count: number;
}

/** One arrival of a segment. */
export interface SegmentArrival {
  readonly phaseIndex: number;
  /** Index of the arrival in the whole (unsplit) plan. */
  readonly arrivalIndex: number;
  /** Offset from the start of the plan. */
  readonly offsetMs: number;
}

/** The whole plan, as one segment. */
export const WHOLE_PLAN: ExecutionSegment = Object.freeze({ index: 0, count: 1 });

/** Check a segment, throwing `WSLOAD_INTERNAL` (segments come from the coordinator, not users). */
export function checkSegment(segment: ExecutionSegment): ExecutionSegment {
  const { index, count } = segment;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new WsloadError('WSLOAD_INTERNAL', `invalid execution segment ${String(index)}/${String(count)}: need integers 0 <= index < count`);
  }
  return segment;
}

/** The K segments of a plan split between `count` workers. */
export function splitPlan(count: number): ExecutionSegment[] {
  checkSegment({ index: 0, count });
  return Array.from({ length: count }, (_, index) => Object.freeze({ index, count }));
}

/** The first local index of `phase` that belongs to `segment`; the segment then takes every count-th. */
export function firstLocalIndex(phase: CompiledPhase, segment: ExecutionSegment): number {
  return (((segment.index - phase.firstArrival) % segment.count) + segment.count) % segment.count;
}

/** How many of `phase`'s local indices in [from, to) belong to `segment`. */
export function segmentCountInRange(phase: CompiledPhase, segment: ExecutionSegment, from: number, to: number): number {
  const k0 = firstLocalIndex(phase, segment);
  const upTo = (x: number) => (x <= k0 ? 0 : Math.floor((x - 1 - k0) / segment.count) + 1);
  return upTo(to) - upTo(from);
}

/** Planned arrivals of `segment` in the whole plan. */
export function segmentArrivalCount(plan: ArrivalPlan, segment: ExecutionSegment): number {
  checkSegment(segment);
  return plan.phases.reduce((sum, p) => sum + segmentCountInRange(p, segment, 0, p.arrivals), 0);
}

/**
 * A phase's `maxVusers` cap shared between workers as Artillery's `distribute()` does: the
 * floor of the even share, plus one for the first `max % count` workers. Sums to `max`.
 */
export function segmentMaxVusers(maxVusers: number | undefined, segment: ExecutionSegment): number | undefined {
  if (maxVusers === undefined) return undefined;
  const { index, count } = checkSegment(segment);
  return Math.floor(maxVusers / count) + (index < maxVusers % count ? 1 : 0);
}

/** The arrivals of one segment, in time order, lazily. Throws at once on a bad plan or segment. */
export function segmentArrivals(phases: readonly PhaseSpec[], segment: ExecutionSegment): Iterable<SegmentArrival> {
  return walkSegment(compilePlan(phases), checkSegment(segment));
}

function* walkSegment(plan: ArrivalPlan, segment: ExecutionSegment): Generator<SegmentArrival, void, undefined> {
  for (const phase of plan.phases) {
    for (let k = firstLocalIndex(phase, segment); k < phase.arrivals; k += segment.count) {
      yield { phaseIndex: phase.index, arrivalIndex: phase.firstArrival + k, offsetMs: phase.startMs + phase.offsetOf(k) };
    }
  }
}

/** Planned arrivals per bucket of one segment; summed over all K segments it equals `plannedCounts`. */
export function segmentPlannedCounts(phases: readonly PhaseSpec[], segment: ExecutionSegment, bucketMs = 1000): number[] {
  checkSegment(segment);
  return bucketize(compilePlan(phases), bucketMs, (phase, from, to) => segmentCountInRange(phase, segment, from, to));
}
