/**
 * The one source of live data while a run runs: fed the engine's interval samples, it keeps the
 * series (one `SeriesPoint` per interval, made by the reports' own `buildSeries`), the cumulative
 * snapshot (an `IntervalAccumulator`) and the live threshold verdicts judged on it, and tells its
 * subscribers. The terminal view and the dashboard only read from here: nothing is computed twice.
 */
import { IntervalAccumulator, SNAPSHOT_VERSION, type IntervalSample, type MetricsSnapshot } from '../metrics/index.js';
import type { WsloadReport } from '../report/document.js';
import { totalErrors, verdictHeadline } from '../report/figures.js';
import { buildSeries, type SeriesPoint } from '../report/series.js';
import { createMetricView, evaluate, type ThresholdSet, type Verdict, type ViewContext } from '../thresholds/index.js';

/** A phase on the run's time axis (seconds since the start), as the reports' charts mark them. */
export interface LivePhase {
  name: string;
  startSec: number;
  endSec: number;
}

/**
 * What the run intends to do, for the progress bar and the current phase: `run`'s arrival phases
 * (a known length), or `stress`'s work (connections × messages, length unknown in advance).
 */
export type LivePlan =
  | { kind: 'phases'; durationMs: number; phases: LivePhase[] }
  | { kind: 'work'; connections: number; messages: number };

/** The run's description: shown by the dashboard and the terminal header. */
export interface LiveMeta {
  command: string;
  target: string;
  /** `run`'s script. */
  script?: string;
  plan: LivePlan;
  /** Label/value pairs for the dashboard's parameter table. */
  parameters: Array<[string, string]>;
  /** The run has virtual users (`run`): charts show them beside connections. */
  vusers: boolean;
  /** Nominal interval length (default 1000 ms). */
  intervalMs?: number;
}

export type LiveStatus = 'running' | 'stopping' | 'ended';

/** Everything a frame of the terminal view shows, at the last interval closed. */
export interface LiveState {
  command: string;
  target: string;
  status: LiveStatus;
  /** Run time at the end of the last interval. */
  elapsedMs: number;
  /** Planned length (`run`'s phases); undefined when only the work is known (`stress`). */
  plannedMs: number | undefined;
  /** 0..1: time through the plan (`run`) or work done (`stress`). */
  progress: number | undefined;
  /** Time left: exact for a plan, estimated from the last interval's pace for work. */
  remainingMs: number | undefined;
  remainingEstimated: boolean;
  /** The phase running now (`run`), or the stage of the work (`stress`: connecting, messaging, closing). */
  phase: string | undefined;
  /** 1-based number of the phase and the count, for `run`. */
  phaseNumber: number | undefined;
  phaseCount: number | undefined;
  /** Arrivals (VUs created, or connections attempted) per second in the last interval. */
  arrivalsPerSec: number;
  activeConnections: number;
  activeVusers: number | undefined;
  sentPerSec: number;
  receivedPerSec: number;
  /** Round-trip percentiles of the last interval (ms); undefined when nothing was answered in it. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Errors in the last interval, and since the start. */
  errors: number;
  errorsTotal: number;
  messagesSent: number;
  messagesReceived: number;
  /** The live verdict of each threshold, judged on everything so far (the final ones once ended). */
  verdicts: readonly Verdict[];
}

/** How the run ended, from the final report document. */
export interface LiveEnd {
  /** The overall verdict: `none` when no threshold was judged. */
  status: 'passed' | 'warning' | 'failed' | 'none';
  /** `passed — thresholds: 4 met, 0 warnings, 0 critical`, or what happened when nothing was judged. */
  text: string;
  exitCode: number | undefined;
  aborted: boolean;
  partial: boolean;
}

export type FeedEvent =
  | { type: 'point'; point: SeriesPoint }
  | { type: 'status'; status: LiveStatus }
  | { type: 'end'; end: LiveEnd };

export interface FeedOptions {
  /** Thresholds judged live; none: no live verdicts. */
  thresholds?: ThresholdSet;
  /** What a snapshot cannot know, as the command passes it to its final verdicts. */
  view?: ViewContext;
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** `stress`'s stage, read from its counters: still opening connections, sending, or closing. */
export function workStage(c: Record<string, number>, connections: number, messages: number): string {
  const attempted = c['connections.attempted'] ?? 0;
  const successful = c['connections.successful'] ?? 0;
  const failed = c['connections.failed'] ?? 0;
  if (attempted < connections || successful + failed < attempted) return 'connecting';
  if (messages > 0 && (c['messages.sent'] ?? 0) < successful * messages) return 'messaging';
  return 'closing';
}

/** What a frame is made from: the last interval's point and the totals so far. */
interface StateInput {
  point: SeriesPoint | undefined;
  /** Counters and errors since the start. */
  counters: Record<string, number>;
  errors: Record<string, number>;
  /** `stress`'s stage at the last interval. */
  stage: string | undefined;
  status: LiveStatus;
  ending: LiveEnd | undefined;
  verdicts: readonly Verdict[];
}

/** A frame of the terminal view (`LiveFeed.state()`, `LiveTracker.state()`). */
function liveState(meta: LiveMeta, s: StateInput): LiveState {
  const { point, counters: c } = s;
  const elapsedMs = point === undefined ? 0 : Math.round(point.t * 1000);
  const plan = meta.plan;
  let plannedMs: number | undefined;
  let progress: number | undefined;
  let remainingMs: number | undefined;
  let remainingEstimated = false;
  let phase: string | undefined;
  let phaseNumber: number | undefined;
  let phaseCount: number | undefined;
  if (plan.kind === 'phases') {
    plannedMs = plan.durationMs;
    progress = plannedMs > 0 ? Math.min(1, elapsedMs / plannedMs) : 1;
    remainingMs = Math.max(0, plannedMs - elapsedMs);
    phaseCount = plan.phases.length;
    const sec = elapsedMs / 1000;
    const i = plan.phases.findIndex((p) => sec >= p.startSec && sec < p.endSec);
    if (i >= 0) {
      phase = plan.phases[i]!.name;
      phaseNumber = i + 1;
    } else if (point !== undefined && elapsedMs >= plannedMs) {
      phase = 'draining';
    }
  } else if (point !== undefined) {
    phase = s.stage;
    const failed = c['connections.failed'] ?? 0;
    if (plan.messages === 0) {
      progress = plan.connections > 0 ? ((c['connections.successful'] ?? 0) + failed) / plan.connections : 1;
    } else {
      const total = Math.max(0, plan.connections - failed) * plan.messages;
      const sent = c['messages.sent'] ?? 0;
      progress = total > 0 ? Math.min(1, sent / total) : 1;
      if (phase === 'messaging' && point.sentPerSec > 0) {
        remainingMs = Math.round(((total - sent) / point.sentPerSec) * 1000);
        remainingEstimated = true;
      }
    }
  }
  if (s.ending !== undefined) {
    phase = s.ending.aborted ? 'stopped' : 'finished';
    phaseNumber = undefined;
    remainingMs = undefined;
  }
  return {
    command: meta.command,
    target: meta.target,
    status: s.status,
    elapsedMs,
    plannedMs,
    progress,
    remainingMs,
    remainingEstimated,
    phase,
    phaseNumber,
    phaseCount,
    arrivalsPerSec: point === undefined ? 0 : round(point.durationSec > 0 ? point.arrivals / point.durationSec : point.arrivals, 2),
    activeConnections: point?.activeConnections ?? 0,
    activeVusers: meta.vusers ? (point?.activeVusers ?? 0) : undefined,
    sentPerSec: point?.sentPerSec ?? 0,
    receivedPerSec: point?.receivedPerSec ?? 0,
    p50Ms: point?.rtt?.p50,
    p99Ms: point?.rtt?.p99,
    errors: point?.errors ?? 0,
    errorsTotal: totalErrors(s.errors),
    messagesSent: c['messages.sent'] ?? 0,
    messagesReceived: c['messages.received'] ?? 0,
    verdicts: s.verdicts,
  };
}

export class LiveFeed {
  readonly meta: LiveMeta;
  private readonly acc: IntervalAccumulator;
  private readonly points: SeriesPoint[] = [];
  /** Samples of the last point's index (more than one only when a recorder closed a sliver). */
  private lastSamples: IntervalSample[] = [];
  /** `stress`'s stages as they happened, drawn like phases. */
  private readonly stages: LivePhase[] = [];
  private verdictList: readonly Verdict[] = [];
  private snap: MetricsSnapshot | undefined;
  private statusNow: LiveStatus = 'running';
  private ending: LiveEnd | undefined;
  private readonly listeners = new Set<(e: FeedEvent) => void>();
  private closed = false;

  constructor(meta: LiveMeta, private readonly opts: FeedOptions = {}) {
    this.meta = meta;
    this.acc = new IntervalAccumulator(meta.intervalMs ?? 1000);
  }

  /** Add an interval as it closes (the engines' `onInterval`). */
  add(sample: IntervalSample): void {
    if (this.closed || this.ending !== undefined) return;
    this.acc.add(sample);
    const snap = this.acc.snapshot();
    this.snap = snap;
    // The reports' own series code, on this interval's samples only: one point per index.
    const last = this.lastSamples[0];
    this.lastSamples = last !== undefined && last.index === sample.index ? [...this.lastSamples, sample] : [sample];
    const [point] = buildSeries({ ...snap, intervals: this.lastSamples });
    if (point === undefined) return;
    if (this.lastSamples.length > 1) this.points[this.points.length - 1] = point;
    else this.points.push(point);
    if (this.meta.plan.kind === 'work') this.trackStage(point, snap);
    const set = this.opts.thresholds;
    if (set !== undefined && set.thresholds.length > 0) this.verdictList = evaluate(set, createMetricView(snap, this.opts.view ?? {}));
    this.emit({ type: 'point', point });
  }

  /** The run is being stopped (Ctrl-C, the dashboard's Stop button). */
  stopping(): void {
    if (this.statusNow !== 'running') return;
    this.statusNow = 'stopping';
    this.emit({ type: 'status', status: 'stopping' });
  }

  /**
   * The run is over: the final report replaces the live figures (its series covers the last,
   * partial interval too; its verdicts are the final ones).
   */
  end(report: WsloadReport): LiveEnd {
    if (this.ending !== undefined) return this.ending;
    const headline = verdictHeadline(report);
    const unjudged = report.aborted ? 'interrupted: no thresholds judged' : report.partial ? 'run failed: nothing to judge' : 'completed: no thresholds judged';
    this.ending = {
      status: headline.status,
      text: headline.status === 'none' ? unjudged : headline.text,
      exitCode: report.verdict?.exitCode,
      aborted: report.aborted,
      partial: report.partial,
    };
    this.points.splice(0, this.points.length, ...report.series);
    // The final snapshot has what the last, partial interval added.
    this.snap = report.metrics;
    const band = this.stages[this.stages.length - 1];
    const last = report.series[report.series.length - 1];
    if (band !== undefined && last !== undefined) band.endSec = Math.max(band.endSec, last.t);
    this.verdictList = report.thresholds;
    this.statusNow = 'ended';
    this.emit({ type: 'end', end: this.ending });
    return this.ending;
  }

  get status(): LiveStatus {
    return this.statusNow;
  }

  get ended(): LiveEnd | undefined {
    return this.ending;
  }

  /** The series so far, one point per interval. */
  series(): readonly SeriesPoint[] {
    return this.points;
  }

  /** Phases to mark on charts: `run`'s planned phases, or `stress`'s stages as they happened. */
  phases(): readonly LivePhase[] {
    return this.meta.plan.kind === 'phases' ? this.meta.plan.phases : this.stages;
  }

  verdicts(): readonly Verdict[] {
    return this.verdictList;
  }

  /** Errors by kind since the start. */
  errors(): Record<string, number> {
    return { ...(this.snap?.errors ?? {}) };
  }

  /** Totals since the start (counters). */
  totals(): Record<string, number> {
    return { ...(this.snap?.counters ?? {}) };
  }

  /** The run so far, for a frame of the terminal view. */
  state(): LiveState {
    return liveState(this.meta, {
      point: this.points[this.points.length - 1],
      counters: this.snap?.counters ?? {},
      errors: this.snap?.errors ?? {},
      stage: this.stages[this.stages.length - 1]?.name,
      status: this.statusNow,
      ending: this.ending,
      verdicts: this.verdictList,
    });
  }

  /** Called with every event until the returned function is called. */
  subscribe(listener: (e: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Free the running totals' histograms; no more events. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.acc.destroy();
  }

  private trackStage(point: SeriesPoint, snap: MetricsSnapshot): void {
    const plan = this.meta.plan as Extract<LivePlan, { kind: 'work' }>;
    const stage = this.statusNow === 'stopping' ? 'stopping' : workStage(snap.counters, plan.connections, plan.messages);
    const current = this.stages[this.stages.length - 1];
    if (current !== undefined && current.name === stage) {
      current.endSec = point.t;
      return;
    }
    const startSec = current?.endSec ?? 0;
    this.stages.push({ name: stage, startSec, endSec: Math.max(startSec, point.t) });
  }

  private emit(e: FeedEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(e);
      } catch {
        // A broken view must not break the run: it misses this event.
      }
    }
  }
}

/**
 * The terminal's figures when there is no dashboard: what `LiveFeed.state()` would show, for a few
 * additions per interval. Counters, errors and the last interval's samples are kept as they come;
 * the histogram work — the interval's percentiles and, when thresholds are declared, the running
 * totals they are judged on — is done only when a frame is asked for: every interval on a TTY,
 * every 10 s off one (`LiveView.due`), never for a run shorter than that. No series is kept.
 */
export class LiveTracker {
  readonly meta: LiveMeta;
  private readonly intervalMs: number;
  private startTime: number | undefined;
  private readonly counters: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};
  private gauges: Record<string, number> = {};
  /** Samples of the last interval index (more than one only when a recorder closed a sliver). */
  private lastSamples: IntervalSample[] = [];
  private stage: string | undefined;
  private statusNow: LiveStatus = 'running';
  /** Running histograms for live verdicts: only when thresholds are declared. */
  private readonly acc: IntervalAccumulator | undefined;
  /** Samples not yet added to `acc`. */
  private pending: IntervalSample[] = [];
  private verdictList: readonly Verdict[] = [];
  private elapsed = 0;
  private cached: LiveState | undefined;
  private closed = false;

  constructor(meta: LiveMeta, private readonly opts: FeedOptions = {}) {
    this.meta = meta;
    this.intervalMs = meta.intervalMs ?? 1000;
    const set = opts.thresholds;
    if (set !== undefined && set.thresholds.length > 0) this.acc = new IntervalAccumulator(this.intervalMs);
  }

  /** Add an interval as it closes (the engines' `onInterval`). */
  add(sample: IntervalSample): void {
    if (this.closed) return;
    // As `IntervalAccumulator` and `buildSeries` reckon them, so that frames match `LiveFeed`'s.
    this.startTime ??= sample.start - sample.index * this.intervalMs;
    for (const k in sample.counters) this.counters[k] = (this.counters[k] ?? 0) + sample.counters[k]!;
    for (const k in sample.errors) this.errors[k] = (this.errors[k] ?? 0) + sample.errors[k]!;
    this.gauges = sample.gauges;
    const first = this.lastSamples[0];
    this.lastSamples = first !== undefined && first.index === sample.index ? [...this.lastSamples, sample] : [sample];
    let last = this.lastSamples[0]!;
    for (const p of this.lastSamples) if (p.start >= last.start) last = p;
    this.elapsed = Math.round(round((last.start - this.startTime + last.durationMs) / 1000, 3) * 1000);
    if (this.acc !== undefined) this.pending.push(sample);
    const plan = this.meta.plan;
    if (plan.kind === 'work') this.stage = this.statusNow === 'stopping' ? 'stopping' : workStage(this.counters, plan.connections, plan.messages);
    this.cached = undefined;
  }

  /** Run time at the end of the last interval, as `state().elapsedMs` (cheap: for `LiveView.due`). */
  get elapsedMs(): number {
    return this.elapsed;
  }

  /** The run is being stopped (Ctrl-C). */
  stopping(): void {
    if (this.statusNow !== 'running') return;
    this.statusNow = 'stopping';
    this.cached = undefined;
  }

  get status(): LiveStatus {
    return this.statusNow;
  }

  /** The run so far, for a frame of the terminal view. */
  state(): LiveState {
    if (this.cached !== undefined) return this.cached;
    let point: SeriesPoint | undefined;
    if (this.lastSamples.length > 0) {
      // The reports' own series code, on the last interval's samples only.
      [point] = buildSeries({
        version: SNAPSHOT_VERSION,
        startTime: this.startTime ?? 0,
        endTime: 0,
        intervalMs: this.intervalMs,
        counters: this.counters,
        gauges: this.gauges,
        errors: this.errors,
        histograms: {},
        intervals: this.lastSamples,
      });
    }
    if (this.acc !== undefined && this.pending.length > 0 && !this.closed) {
      for (const sample of this.pending) this.acc.add(sample);
      this.pending = [];
      this.verdictList = evaluate(this.opts.thresholds!, createMetricView(this.acc.snapshot(), this.opts.view ?? {}));
    }
    this.cached = liveState(this.meta, {
      point,
      counters: this.counters,
      errors: this.errors,
      stage: this.stage,
      status: this.statusNow,
      ending: undefined,
      verdicts: this.verdictList,
    });
    return this.cached;
  }

  /** Free the running totals' histograms. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.acc?.destroy();
  }
}
