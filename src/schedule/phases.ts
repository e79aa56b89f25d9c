/**
 * Pure arrival-phase maths for the open model: how many virtual users each phase plans and at
 * which offsets, with Artillery's phase semantics (docs/phases.md). Nothing here touches a timer.
 */
import { WsloadError } from '../errors.js';

/**
 * One load phase, as the script loader hands it over (durations already in milliseconds).
 * The loader's normalised phases (src/scenario/types.ts) carry `kind`, which then decides;
 * without it, exactly one of `pause`, `arrivalCount`, `arrivalRate`/`rampTo` says what the
 * phase does. Structurally compatible with the loader's `PhaseSpec`, so it is passed as is.
 */
export interface PhaseSpec {
  /** What the phase does; inferred from the fields below with Artillery's precedence when absent. */
  readonly kind?: PhaseKind;
  readonly name?: string;
  /** How long the phase lasts; for a pause, the length of the pause. */
  readonly durationMs: number;
  /** New virtual users per second; with `rampTo`, the rate of the first second. */
  readonly arrivalRate?: number;
  /** Ramp the per-second rate linearly from `arrivalRate` (default 0) to this, one step a second. */
  readonly rampTo?: number;
  /** A fixed number of arrivals spread evenly over the phase. */
  readonly arrivalCount?: number;
  /** A phase with no arrivals (Artillery's `pause: <seconds>`). */
  readonly pause?: boolean;
  /** Skip (and count) an arrival while this many virtual users are already active. */
  readonly maxVusers?: number;
  /** Artillery's arrival process for a constant rate; only 'uniform' is supported. */
  readonly mode?: 'uniform' | 'poisson';
}

/** What a phase does: nothing, a constant rate, a per-second ramp, or a fixed count. */
export type PhaseKind = 'pause' | 'constant' | 'ramp' | 'count';

/** One thing wrong with one phase; the loader maps `index`/`field` back to a file position. */
export interface PhaseProblem {
  readonly index: number;
  readonly field: keyof PhaseSpec | undefined;
  readonly message: string;
}

/** A phase with its place in the plan and random access to its planned arrivals. */
export interface CompiledPhase {
  readonly index: number;
  readonly spec: PhaseSpec;
  readonly kind: PhaseKind;
  readonly name: string | undefined;
  /** Offset of the phase from the start of the plan. */
  readonly startMs: number;
  readonly durationMs: number;
  /** Planned arrivals in this phase. */
  readonly arrivals: number;
  /** Index, in the whole plan, of this phase's first arrival. */
  readonly firstArrival: number;
  readonly maxVusers: number | undefined;
  /** Offset from the phase start of arrival `k` (0 <= k < arrivals); increasing in k. */
  offsetOf(k: number): number;
  /** Number of this phase's arrivals whose offset is < `offsetMs`. */
  countBefore(offsetMs: number): number;
}

/** A validated, immutable arrival plan. */
export interface ArrivalPlan {
  readonly phases: readonly CompiledPhase[];
  readonly durationMs: number;
  readonly arrivals: number;
}

const MS_PER_S = 1000;
/** Slack for floating-point rate × duration products such as 0.1 × 30 s. */
const COUNT_EPSILON = 1e-9;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Every problem in `phases`, in order, so a user sees them all at once. */
export function phaseProblems(phases: readonly PhaseSpec[]): PhaseProblem[] {
  const problems: PhaseProblem[] = [];
  phases.forEach((p, index) => {
    const add = (field: keyof PhaseSpec | undefined, message: string) => problems.push({ index, field, message });
    if (typeof p !== 'object' || p === null) {
      add(undefined, 'must be an object');
      return;
    }
    if (p.name !== undefined && typeof p.name !== 'string') add('name', 'must be a string');
    if (!isNum(p.durationMs) || p.durationMs < 0) add('durationMs', `must be a finite number of milliseconds >= 0, got ${String(p.durationMs)}`);
    for (const field of ['arrivalRate', 'rampTo', 'arrivalCount', 'maxVusers'] as const) {
      const v = p[field];
      if (v === undefined) continue;
      if (!isNum(v) || v < 0) add(field, `must be a finite number >= 0, got ${String(v)}`);
      else if ((field === 'arrivalCount' || field === 'maxVusers') && !Number.isInteger(v)) add(field, `must be a whole number, got ${v}`);
    }
    if (p.pause !== undefined && typeof p.pause !== 'boolean') add('pause', 'must be true or false');
    if (p.mode !== undefined && p.mode !== 'uniform') {
      add('mode', `only mode: uniform is supported (evenly spaced arrivals), got ${String(p.mode)}`);
    }
    if (p.kind !== undefined) {
      kindedProblems(p, add);
      return;
    }

    const hasRate = p.arrivalRate !== undefined || p.rampTo !== undefined;
    const hasCount = p.arrivalCount !== undefined;
    if (p.pause === true) {
      if (hasRate || hasCount) add('pause', 'a pause phase takes no arrivalRate, rampTo or arrivalCount');
      return;
    }
    if (hasRate && hasCount) {
      add('arrivalCount', 'give either arrivalCount or arrivalRate/rampTo, not both');
      return;
    }
    if (!hasRate && !hasCount) {
      add(undefined, 'needs one of arrivalRate, rampTo, arrivalCount or pause');
      return;
    }
    if (!isNum(p.durationMs) || p.durationMs < 0) return;
    const kind = phaseKind(p);
    if (kind !== 'pause' && p.durationMs <= 0) add('durationMs', 'a phase with arrivals must last more than 0 ms');
    if (kind === 'ramp' && p.durationMs % MS_PER_S !== 0) {
      add('durationMs', rampWholeSeconds(p.durationMs));
    }
  });
  return problems;
}

/** Problems of a phase whose `kind` is given: the fields that kind needs. */
function kindedProblems(p: PhaseSpec, add: (field: keyof PhaseSpec | undefined, message: string) => void): void {
  const need = (field: 'arrivalRate' | 'rampTo' | 'arrivalCount') => {
    if (p[field] === undefined) add(field, `a ${String(p.kind)} phase needs ${field}`);
  };
  switch (p.kind) {
    case 'pause':
      break;
    case 'constant':
      need('arrivalRate');
      break;
    case 'ramp':
      need('rampTo');
      break;
    case 'count':
      need('arrivalCount');
      break;
    default:
      add('kind', `must be one of constant, ramp, count, pause, got ${String(p.kind)}`);
      return;
  }
  if (!isNum(p.durationMs) || p.durationMs < 0) return;
  if (p.kind !== 'pause' && p.durationMs <= 0) add('durationMs', 'a phase with arrivals must last more than 0 ms');
  if (p.kind === 'ramp' && p.durationMs % MS_PER_S !== 0) add('durationMs', rampWholeSeconds(p.durationMs));
}

const rampWholeSeconds = (ms: number): string =>
  `a ramp (rampTo) steps once a second, so it must last a whole number of seconds, got ${ms} ms`;

/** Throws one `WSLOAD_CONFIG` error listing every problem, or returns quietly. */
export function validatePhases(phases: readonly PhaseSpec[]): void {
  const problems = phaseProblems(phases);
  if (problems.length === 0) return;
  const lines = problems.map((p) => `  phases[${p.index}]${p.field ? `.${p.field}` : ''}: ${p.message}`);
  throw new WsloadError('WSLOAD_CONFIG', `invalid phases:\n${lines.join('\n')}`);
}

/**
 * The kind of a valid phase: its `kind` if given, else Artillery's precedence: pause, then
 * arrivalCount, then rampTo, then arrivalRate; `arrivalRate: 0` without `rampTo` is a pause.
 */
export function phaseKind(phase: PhaseSpec): PhaseKind {
  if (phase.kind !== undefined) return phase.kind;
  if (phase.pause === true) return 'pause';
  if (phase.arrivalCount !== undefined) return 'count';
  if (phase.rampTo !== undefined) return 'ramp';
  if (phase.arrivalRate !== undefined && phase.arrivalRate > 0) return 'constant';
  return 'pause';
}

/**
 * Artillery's arrivals in second `second` (0-based) of a `seconds`-long ramp from `from` to `to`
 * per second: the line through (0, from) and (seconds - 1, to), rounded half up — what
 * `createRamp` plus `adjustArrivalsByWorker` give summed over workers. A 1-second ramp plans
 * the mean of the two rates.
 */
export function rampSecondCount(from: number, to: number, seconds: number, second: number): number {
  const raw = seconds === 1 ? (to + from) / 2 : ((to - from) / (seconds - 1)) * second + from;
  // Same expression as Artillery (floor, then bump when the fraction rounds up) so float edge
  // cases land the same way.
  return Math.max(0, Math.floor(raw) + (Math.round(raw % 1) >= 1 ? 1 : 0));
}

/** Planned arrivals of a constant-rate phase: whole arrivals that fit, as Artillery's uniform process. */
function rateCount(rate: number, durationMs: number): number {
  return Math.floor((rate * durationMs) / MS_PER_S + COUNT_EPSILON);
}

/** Planned number of arrivals in one valid phase. O(seconds) for a ramp, O(1) otherwise. */
export function phaseArrivalCount(phase: PhaseSpec): number {
  switch (phaseKind(phase)) {
    case 'pause':
      return 0;
    case 'count':
      return phase.arrivalCount ?? 0;
    case 'constant':
      return rateCount(phase.arrivalRate ?? 0, phase.durationMs);
    case 'ramp': {
      const seconds = phase.durationMs / MS_PER_S;
      let total = 0;
      for (let i = 0; i < seconds; i++) total += rampSecondCount(phase.arrivalRate ?? 0, phase.rampTo ?? 0, seconds, i);
      return total;
    }
  }
}

/** Offset of ramp arrival `j` of `n` in second `second`: spread evenly, the first on the second. */
const rampOffset = (second: number, j: number, n: number): number => second * MS_PER_S + (j * MS_PER_S) / n;

/**
 * The planned arrival offsets of one phase, in ms from the phase start, lazily (a 44-minute
 * phase at 2000/s is never held in memory). Throws at once on an invalid phase.
 */
export function arrivalTimes(phase: PhaseSpec): Iterable<number> {
  validatePhases([phase]);
  return phaseKind(phase) === 'ramp' ? rampTimes(phase) : indexedTimes(compilePhase(phase, 0, 0, 0));
}

function* rampTimes(phase: PhaseSpec): Generator<number, void, undefined> {
  const seconds = phase.durationMs / MS_PER_S;
  for (let i = 0; i < seconds; i++) {
    const n = rampSecondCount(phase.arrivalRate ?? 0, phase.rampTo ?? 0, seconds, i);
    for (let j = 0; j < n; j++) yield rampOffset(i, j, n);
  }
}

function* indexedTimes(phase: CompiledPhase): Generator<number, void, undefined> {
  for (let k = 0; k < phase.arrivals; k++) yield phase.offsetOf(k);
}

/** The length of the whole plan. */
export function totalDurationMs(phases: readonly PhaseSpec[]): number {
  return phases.reduce((sum, p) => sum + p.durationMs, 0);
}

/** Number of arrivals `k` in [0, count) with offsetOf(k) < t, by binary search on the increasing offsets. */
function searchCountBefore(count: number, offsetOf: (k: number) => number, t: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsetOf(mid) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function compilePhase(spec: PhaseSpec, index: number, startMs: number, firstArrival: number): CompiledPhase {
  const kind = phaseKind(spec);
  let arrivals: number;
  let offsetOf: (k: number) => number;
  switch (kind) {
    case 'pause':
      arrivals = 0;
      offsetOf = () => Number.POSITIVE_INFINITY;
      break;
    case 'constant': {
      const rate = spec.arrivalRate ?? 0;
      arrivals = rateCount(rate, spec.durationMs);
      offsetOf = (k) => (k * MS_PER_S) / rate;
      break;
    }
    case 'count': {
      const count = spec.arrivalCount ?? 0;
      arrivals = count;
      offsetOf = (k) => (k * spec.durationMs) / count;
      break;
    }
    case 'ramp': {
      const seconds = spec.durationMs / MS_PER_S;
      // Arrivals before each second: an array of seconds, not of arrivals.
      const before = new Float64Array(seconds + 1);
      for (let i = 0; i < seconds; i++) {
        before[i + 1] = before[i] + rampSecondCount(spec.arrivalRate ?? 0, spec.rampTo ?? 0, seconds, i);
      }
      arrivals = before[seconds];
      offsetOf = (k) => {
        // The second holding arrival k: the last i with before[i] <= k.
        let lo = 0;
        let hi = seconds - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >>> 1;
          if (before[mid] <= k) lo = mid;
          else hi = mid - 1;
        }
        return rampOffset(lo, k - before[lo], before[lo + 1] - before[lo]);
      };
      break;
    }
  }
  const n = arrivals;
  const offset = offsetOf;
  return Object.freeze({
    index,
    spec,
    kind,
    name: spec.name,
    startMs,
    durationMs: spec.durationMs,
    arrivals: n,
    firstArrival,
    maxVusers: spec.maxVusers,
    offsetOf: offset,
    countBefore: (t: number) => (t <= 0 ? 0 : searchCountBefore(n, offset, t)),
  });
}

/** Validate `phases` once into an immutable plan with random access to every arrival. */
export function compilePlan(phases: readonly PhaseSpec[]): ArrivalPlan {
  validatePhases(phases);
  const compiled: CompiledPhase[] = [];
  let startMs = 0;
  let firstArrival = 0;
  phases.forEach((spec, index) => {
    const phase = compilePhase(spec, index, startMs, firstArrival);
    compiled.push(phase);
    startMs += phase.durationMs;
    firstArrival += phase.arrivals;
  });
  return Object.freeze({ phases: Object.freeze(compiled), durationMs: startMs, arrivals: firstArrival });
}

/**
 * Per-bucket totals of a plan: `count(phase, from, to)` is how many of the phase's arrivals with
 * local index in [from, to) to count. Buckets are [b·bucketMs, (b+1)·bucketMs) of plan time.
 */
export function bucketize(
  plan: ArrivalPlan,
  bucketMs: number,
  count: (phase: CompiledPhase, from: number, to: number) => number,
): number[] {
  if (!isNum(bucketMs) || bucketMs <= 0) throw new WsloadError('WSLOAD_INTERNAL', `bucketMs must be > 0, got ${String(bucketMs)}`);
  const buckets = new Array<number>(Math.ceil(plan.durationMs / bucketMs)).fill(0);
  for (const phase of plan.phases) {
    if (phase.arrivals === 0) continue;
    const first = Math.floor(phase.startMs / bucketMs);
    const last = Math.min(buckets.length - 1, Math.floor((phase.startMs + phase.durationMs) / bucketMs));
    let before = 0;
    for (let b = first; b <= last; b++) {
      const upTo = phase.countBefore((b + 1) * bucketMs - phase.startMs);
      buckets[b] += count(phase, before, upTo);
      before = upTo;
    }
  }
  return buckets;
}

/**
 * Planned arrivals per bucket (default: per second) over the whole plan, computed in closed
 * form per bucket — no arrival is enumerated.
 */
export function plannedCounts(phases: readonly PhaseSpec[], bucketMs = 1000): number[] {
  return bucketize(compilePlan(phases), bucketMs, (_phase, from, to) => to - from);
}
