/**
 * The open-model arrival scheduler: runs a phase plan on a Clock and calls back once per planned
 * arrival with its intended time. One timer at a time, set for the next due moment; every
 * arrival already due is emitted at each wake-up, so a late timer loses nothing.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { WsloadError } from '../errors.js';
import { compilePlan, type ArrivalPlan, type CompiledPhase, type PhaseSpec } from './phases.js';
import { WHOLE_PLAN, checkSegment, firstLocalIndex, segmentArrivalCount, segmentMaxVusers, type ExecutionSegment } from './segment.js';

/** One arrival, emitted or skipped. */
export interface ArrivalInfo {
  readonly phaseIndex: number;
  readonly phaseName?: string;
  /** Clock time (ms) at which the plan wanted this arrival; measure latency from here. */
  readonly intendedTime: number;
  /** Index of the arrival in the whole (unsplit) plan. */
  readonly arrivalIndex: number;
}

export type PhaseEvent = 'start' | 'end';

export interface ArrivalSchedulerOptions {
  readonly clock: Clock;
  /** A new virtual user should start now. Must not throw (a throw stops the run and rejects `done`). */
  readonly onArrival: (info: ArrivalInfo) => void;
  /** Phase `index` starts or ends (an end always precedes the next start). */
  readonly onPhase?: (index: number, event: PhaseEvent, phase: PhaseSpec) => void;
  /** An arrival was skipped because `maxVusers` were already active. */
  readonly onSkipped?: (info: ArrivalInfo) => void;
  /** Virtual users active now; required when a phase has `maxVusers`. */
  readonly activeVusers?: () => number;
  /** This worker's share of the plan (default: all of it). */
  readonly segment?: ExecutionSegment;
  /** Most arrivals emitted in one turn before yielding to the event loop (default 10 000). */
  readonly maxBatch?: number;
}

export interface ArrivalCounters {
  /** Arrivals in this scheduler's plan (or segment of it). */
  readonly planned: number;
  readonly emitted: number;
  readonly skipped: number;
}

export type SchedulerOutcome = 'completed' | 'stopped';

/** Treat an arrival due within a nanosecond as due: a timer set for `due - now` may land a hair short. */
const DUE_EPSILON_MS = 1e-6;

/** Runs one arrival plan; create one per run. */
export class ArrivalScheduler {
  /** Resolves when the last phase ends ('completed') or on `stop()` ('stopped'); rejects if a callback throws. */
  readonly done: Promise<SchedulerOutcome>;

  private readonly plan: ArrivalPlan;
  private readonly opts: ArrivalSchedulerOptions;
  private readonly segment: ExecutionSegment;
  private readonly caps: readonly (number | undefined)[];
  private readonly maxBatch: number;
  private readonly planned: number;
  private resolveDone!: (outcome: SchedulerOutcome) => void;
  private rejectDone!: (err: unknown) => void;

  private state: 'idle' | 'running' | 'finished' = 'idle';
  private t0 = 0;
  private timer: TimerHandle | undefined;
  private phaseIdx = 0;
  private phaseStarted = false;
  private nextK = 0;
  private emitted = 0;
  private skipped = 0;

  /** Validates the phases (throws `WSLOAD_CONFIG` listing every problem). */
  constructor(phases: readonly PhaseSpec[], options: ArrivalSchedulerOptions) {
    this.plan = compilePlan(phases);
    this.opts = options;
    this.segment = checkSegment(options.segment ?? WHOLE_PLAN);
    this.caps = this.plan.phases.map((p) => segmentMaxVusers(p.maxVusers, this.segment));
    if (this.caps.some((c) => c !== undefined) && !options.activeVusers) {
      throw new WsloadError('WSLOAD_INTERNAL', 'a phase sets maxVusers, so the scheduler needs an activeVusers() getter');
    }
    this.maxBatch = options.maxBatch ?? 10_000;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) {
      throw new WsloadError('WSLOAD_INTERNAL', `maxBatch must be a whole number >= 1, got ${String(options.maxBatch)}`);
    }
    this.planned = segmentArrivalCount(this.plan, this.segment);
    this.done = new Promise<SchedulerOutcome>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  /** Length of the whole plan in ms. */
  get durationMs(): number {
    return this.plan.durationMs;
  }

  /** Index of the phase running now (phases.length once finished). */
  get currentPhase(): number {
    return this.phaseIdx;
  }

  get counters(): ArrivalCounters {
    return { planned: this.planned, emitted: this.emitted, skipped: this.skipped };
  }

  /**
   * Start the plan at clock time `at` (default: now; a later time lets several workers start
   * together). Phase 0 starts, and its first arrival is due, at `at`.
   */
  start(at: number = this.opts.clock.now()): void {
    if (this.state !== 'idle') throw new WsloadError('WSLOAD_INTERNAL', 'an ArrivalScheduler can be started only once');
    this.state = 'running';
    this.t0 = at;
    this.phaseIdx = 0;
    this.phaseStarted = false;
    this.nextK = this.firstK(0);
    this.wake();
  }

  /** Cancel everything: no arrival or phase event after this returns. Idempotent. */
  stop(): void {
    this.finish('stopped');
  }

  private firstK(phaseIdx: number): number {
    const phase = this.plan.phases[phaseIdx];
    return phase ? firstLocalIndex(phase, this.segment) : 0;
  }

  private finish(outcome: SchedulerOutcome, err?: unknown): void {
    if (this.state === 'finished') return;
    this.state = 'finished';
    this.timer?.cancel();
    this.timer = undefined;
    if (err === undefined) this.resolveDone(outcome);
    else this.rejectDone(err);
  }

  private wake = (): void => {
    this.timer = undefined;
    if (this.state !== 'running') return;
    try {
      this.advance();
    } catch (err) {
      this.finish('stopped', err);
    }
  };

  /** Emit everything due by now, then set one timer for the next due moment. */
  private advance(): void {
    const clock = this.opts.clock;
    const now = clock.now() + DUE_EPSILON_MS;
    const phases = this.plan.phases;
    let budget = this.maxBatch;
    let nextDue = Number.POSITIVE_INFINITY;
    while (this.phaseIdx < phases.length) {
      const phase = phases[this.phaseIdx];
      const base = this.t0 + phase.startMs;
      if (!this.phaseStarted) {
        if (base > now) {
          nextDue = base;
          break;
        }
        this.phaseStarted = true;
        this.opts.onPhase?.(phase.index, 'start', phase.spec);
        if (this.state !== 'running') return;
      }
      while (this.nextK < phase.arrivals) {
        const intendedTime = base + phase.offsetOf(this.nextK);
        if (intendedTime > now) break;
        if (budget-- === 0) {
          // Far behind: yield to the event loop, then carry on catching up.
          this.timer = clock.setTimeout(this.wake, 0);
          return;
        }
        const k = this.nextK;
        this.nextK += this.segment.count;
        this.fire(phase, k, intendedTime);
        if (this.state !== 'running') return;
      }
      if (this.nextK < phase.arrivals) {
        nextDue = base + phase.offsetOf(this.nextK);
        break;
      }
      const end = base + phase.durationMs;
      if (end > now) {
        nextDue = end;
        break;
      }
      this.opts.onPhase?.(phase.index, 'end', phase.spec);
      if (this.state !== 'running') return;
      this.phaseIdx++;
      this.phaseStarted = false;
      this.nextK = this.firstK(this.phaseIdx);
    }
    if (this.phaseIdx >= phases.length) {
      this.finish('completed');
      return;
    }
    this.timer = clock.setTimeout(this.wake, nextDue - clock.now());
  }

  private fire(phase: CompiledPhase, k: number, intendedTime: number): void {
    const info: ArrivalInfo = {
      phaseIndex: phase.index,
      ...(phase.name === undefined ? {} : { phaseName: phase.name }),
      intendedTime,
      arrivalIndex: phase.firstArrival + k,
    };
    const cap = this.caps[phase.index];
    if (cap !== undefined && (this.opts.activeVusers?.() ?? 0) >= cap) {
      this.skipped++;
      this.opts.onSkipped?.(info);
      return;
    }
    this.emitted++;
    this.opts.onArrival(info);
  }
}
