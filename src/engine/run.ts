/**
 * A script run (`wsload run`): the open-model scheduler starts a virtual user per planned arrival,
 * each picks a scenario by weight and runs it (./vu.ts); the run ends when the last phase is over and
 * every user has finished — bounded: users still running `drainTimeoutMs` later are stopped. An abort
 * (Ctrl-C) stops arrivals, gives users in flight a short grace, then stops them. Library code: never
 * prints, never exits; every timer is cleared and every socket closed before it resolves.
 */
import { EventEmitter } from 'node:events';
import { realClock, type Clock, type TimerHandle } from '../clock.js';
import { initHistograms, MetricsRecorder, summarizeEncoded, type HistogramHandle, type IntervalSample, type MetricsSnapshot } from '../metrics/index.js';
import { createVuVars } from '../scenario/index.js';
import type { PhaseSpec, ScriptPlan } from '../scenario/types.js';
import { ArrivalScheduler, type ArrivalInfo } from '../schedule/arrivals.js';
import { compilePlan } from '../schedule/phases.js';
import type { ExecutionSegment } from '../schedule/segment.js';
import { TargetWatch } from './target-watch.js';
import { prepareScenario, RunMetric, VirtualUser, VuErrorKind, type PreparedScenario, type VuHost, type VuMetrics, type VuSettings } from './vu.js';

export interface RunOptions {
  /** After the last phase, how long users may still run before they are stopped (default 30 000 ms). */
  drainTimeoutMs?: number;
  /** After an abort, how long users in flight may finish before they are stopped (default 2000 ms). */
  interruptGraceMs?: number;
  /** End-of-flow grace for awaited replies (default: `config.wsload.graceMs`, else 1000 ms). */
  graceMs?: number;
  /** Messages kept per user for `wait` steps (default 1000). */
  bufferLimit?: number;
  /** Bound on each opening handshake (default: the script's timeout, `config.timeout`, 10 s). */
  connectTimeoutMs?: number;
  /** Bound on each closing handshake (default 1000 ms). */
  closeTimeoutMs?: number;
  /** Metrics interval (default 1000 ms). */
  intervalMs?: number;
  /** `$env` / `$processEnvironment` of the users' variables (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Scenario choice (default Math.random). */
  random?: () => number;
  /** Distinct message types with their own `ws.rtt.<type>` histogram; more go to `ws.rtt.other` (default 100). */
  maxMessageTypes?: number;
  /**
   * Source addresses: each new user binds the next one, round-robin, unless its ws options (the
   * script's `config.ws`, its connect step, or a connect function) set `localAddress` themselves.
   * Default [] (the OS picks). One address has ~28k ephemeral ports towards one server address (docs/workers.md).
   */
  localAddresses?: readonly string[];
}

/** Sent to `onProgress` once per metrics interval. */
export interface RunProgress {
  elapsedMs: number;
  /** Length of the phase plan. */
  totalMs: number;
  /** The phase running now (undefined once the plan is over: draining). */
  phaseIndex: number | undefined;
  phaseName: string | undefined;
  vusers: { created: number; active: number; completed: number; failed: number; skipped: number };
  /** Messages received per second in the interval just closed. */
  messagesPerSec: number;
  /** Round trip of the interval just closed (ms); undefined when nothing was timed. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errors: number;
}

export interface RunDeps {
  /** Abort: stop arrivals, give users `interruptGraceMs`, then stop them. */
  signal?: AbortSignal;
  clock?: Clock;
  onProgress?: (p: RunProgress) => void;
  /** Where `log` steps write (default: nowhere). */
  log?: (line: string) => void;
  /**
   * Epoch ms the run starts at (default: now). Worker processes share one so their interval indexes
   * and arrival plans line up (src/workers); the run waits until then when it is in the future.
   */
  startTime?: number;
  /** Called with each interval as it closes (the last, partial one is only in the snapshot). */
  onInterval?: (sample: IntervalSample) => void;
  /** This process's share of the arrival plan (default: all of it); `maxVusers` is split with it. */
  segment?: ExecutionSegment;
}

/** One phase as it ran. Times are ms from the start of the run. */
export interface PhaseResult {
  index: number;
  name: string | null;
  kind: PhaseSpec['kind'];
  durationMs: number;
  plannedArrivals: number;
  startedAtMs: number | null;
  endedAtMs: number | null;
  vusersCreated: number;
  vusersSkipped: number;
}

export interface ErrorSample {
  /** `file:line:col` of the step. */
  location: string;
  message: string;
}

export interface RunResult {
  snapshot: MetricsSnapshot;
  /** Cut short by the signal. */
  aborted: boolean;
  /** Users stopped by the drain timeout. */
  drained: number;
  /** The target users connected to (the plan's, or the first one a user rendered). */
  target: string | undefined;
  /** Errors by the step they happened at (`file:line:col`), then by kind. */
  errorsByStep: Record<string, Record<string, number>>;
  /** The first occurrence of each error kind, for the report. */
  errorSamples: Record<string, ErrorSample>;
  phases: PhaseResult[];
  firstConnectError: { kind: string; message: string } | undefined;
  settings: { graceMs: number; correlationField: string | null; drainTimeoutMs: number; bufferLimit: number };
}

const DEFAULTS = {
  drainTimeoutMs: 30_000,
  interruptGraceMs: 2_000,
  graceMs: 1_000,
  bufferLimit: 1_000,
  closeTimeoutMs: 1_000,
  intervalMs: 1_000,
  maxMessageTypes: 100,
  yieldEvery: 256,
} as const;

/** Max length of a processor-emitted error name used as an error kind. */
const MAX_KIND_LENGTH = 100;

/**
 * Artillery's `events` argument: `emit('counter', name, n)`, `emit('histogram', name, ms)` (recorded
 * in µs like every histogram, reported in ms), `emit('rate', name)` (a counter), `emit('error', name)`
 * (an error of that kind). Listeners added with `on` still run.
 */
class ProcessorEvents extends EventEmitter {
  constructor(
    private readonly recorder: MetricsRecorder,
    private readonly onError: (kind: string) => void,
  ) {
    super();
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const name = args[0];
    if (typeof name === 'string' && name !== '') {
      switch (event) {
        case 'counter': {
          const n = typeof args[1] === 'number' && Number.isFinite(args[1]) ? args[1] : 1;
          this.recorder.counter(name).value += n;
          break;
        }
        case 'histogram':
        case 'summary': {
          const v = Number(args[1]);
          if (Number.isFinite(v)) this.recorder.histogram(name).record(v * 1000);
          break;
        }
        case 'rate':
          this.recorder.counter(name).value++;
          break;
        default:
          break;
      }
    }
    if (event === 'error') {
      const e = args[0] as { message?: unknown; code?: unknown } | string | undefined;
      const kind = typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : typeof e?.code === 'string' ? e.code : 'processor_error';
      this.onError(kind.slice(0, MAX_KIND_LENGTH));
      return this.listenerCount('error') > 0 ? super.emit(event, ...args) : true;
    }
    return super.emit(event, ...args);
  }
}

/** Picks a scenario index by weight (Artillery: weight 0 never runs, unless every weight is 0). */
function scenarioPicker(scenarios: readonly PreparedScenario[], random: () => number): () => number {
  const n = scenarios.length;
  if (n === 1) return () => 0;
  const cumulative: number[] = [];
  let total = 0;
  for (const s of scenarios) cumulative.push((total += s.plan.weight));
  if (total <= 0) return () => Math.min(n - 1, Math.floor(random() * n));
  return () => {
    const r = random() * total;
    for (let i = 0; i < n; i++) if (r < cumulative[i]!) return i;
    return n - 1;
  };
}

type Settled = 'empty' | 'timeout' | 'aborted';

/**
 * Run a script plan. Resolves when the run is over (see the module comment); rejects only on an
 * internal error. Throws a WsloadError before anything is sent when the plan cannot be run.
 */
export async function runScript(plan: ScriptPlan, options: RunOptions = {}, deps: RunDeps = {}): Promise<RunResult> {
  const clock = deps.clock ?? realClock;
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs;
  const interruptGraceMs = options.interruptGraceMs ?? DEFAULTS.interruptGraceMs;
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs;
  const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs;
  const maxTypes = options.maxMessageTypes ?? DEFAULTS.maxMessageTypes;
  const random = options.random ?? Math.random;
  const correlation = plan.wsload.correlation;
  const settings: VuSettings = {
    correlationField: correlation === false ? undefined : correlation?.field ?? 'id',
    graceMs: options.graceMs ?? plan.wsload.graceMs ?? DEFAULTS.graceMs,
    bufferLimit: options.bufferLimit ?? DEFAULTS.bufferLimit,
    connectTimeoutMs: options.connectTimeoutMs ?? plan.timeoutMs,
    closeTimeoutMs,
    yieldEvery: DEFAULTS.yieldEvery,
  };

  await initHistograms();
  if (deps.startTime !== undefined && deps.startTime > clock.wallNow() && deps.signal?.aborted !== true) {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, deps.startTime! - clock.wallNow()));
  }
  const startMono = clock.now();
  const startWall = clock.wallNow();
  const epochNow = (): number => startWall + (clock.now() - startMono);
  const recorder = new MetricsRecorder({ startTime: deps.startTime ?? startWall, intervalMs });
  const r = recorder;
  const rtt = r.histogram(RunMetric.rtt);
  const metrics: VuMetrics = {
    inbox: {
      received: r.counter(RunMetric.messagesReceived),
      bytesReceived: r.counter(RunMetric.bytesReceived),
      correlated: r.counter(RunMetric.messagesCorrelated),
      replied: r.counter(RunMetric.messagesReplied),
      timedOut: r.counter(RunMetric.messagesTimedOut),
      unanswered: r.counter(RunMetric.messagesUnanswered),
      lost: r.counter(RunMetric.messagesLost),
      unsolicited: r.counter(RunMetric.messagesUnsolicited),
      dropped: r.counter(RunMetric.messagesDropped),
      late: r.counter(RunMetric.messagesLate),
    },
    created: r.counter(RunMetric.vusersCreated),
    completed: r.counter(RunMetric.vusersCompleted),
    failed: r.counter(RunMetric.vusersFailed),
    interrupted: r.counter(RunMetric.vusersInterrupted),
    vusersActive: r.gauge(RunMetric.vusersActive),
    sessionLength: r.histogram(RunMetric.sessionLength),
    attempted: r.counter(RunMetric.connectionsAttempted),
    successful: r.counter(RunMetric.connectionsSuccessful),
    connectFailed: r.counter(RunMetric.connectionsFailed),
    closed: r.counter(RunMetric.connectionsClosed),
    connectionsActive: r.gauge(RunMetric.connectionsActive),
    sent: r.counter(RunMetric.messagesSent),
    bytesSent: r.counter(RunMetric.bytesSent),
    connect: r.histogram(RunMetric.connect),
  };
  const skipped = r.counter(RunMetric.vusersSkipped);

  const rttByType = new Map<string, HistogramHandle>();
  const rttHistogram = (type: string): HistogramHandle => {
    let h = rttByType.get(type);
    if (h === undefined) {
      const name = rttByType.size < maxTypes ? type : 'other';
      h = rttByType.get(name) ?? r.histogram(`${RunMetric.rtt}.${name}`, rtt);
      rttByType.set(type, h);
    }
    return h;
  };

  const errorsByStep = new Map<string, Map<string, number>>();
  const errorSamples: Record<string, ErrorSample> = {};
  let errorsTotal = 0;
  const error = (kind: string, location: string, message: string): void => {
    recorder.error(kind);
    errorsTotal++;
    if (location !== '') {
      let byKind = errorsByStep.get(location);
      if (byKind === undefined) errorsByStep.set(location, (byKind = new Map()));
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    if (!Object.hasOwn(errorSamples, kind)) errorSamples[kind] = { location, message: message.length > 300 ? `${message.slice(0, 300)}…` : message };
  };

  let target = plan.target;
  let firstConnectError: RunResult['firstConnectError'];
  const sources = options.localAddresses ?? [];
  let nextSource = 0;
  const host: VuHost = {
    clock,
    settings,
    metrics,
    events: new ProcessorEvents(recorder, (kind) => error(kind, '', `emitted by a processor function`)),
    error,
    log: deps.log ?? (() => {}),
    rttHistogram,
    connecting: (url) => { target ??= url; },
    connectFailed: (kind, message) => { firstConnectError ??= { kind, message }; },
    target: new TargetWatch(),
    ...(sources.length > 0
      ? {
          nextLocalAddress: () => {
            const address = sources[nextSource];
            nextSource = (nextSource + 1) % sources.length;
            return address;
          },
        }
      : {}),
  };

  // Everything that can be refused is refused here, before the first arrival.
  let prepared: PreparedScenario[];
  try {
    prepared = plan.scenarios.map((s) =>
      prepareScenario(s, {
        functions: plan.processor?.functions ?? {},
        correlationField: settings.correlationField,
        rttHistogram,
        thinkJitter: plan.thinkJitter,
      }),
    );
  } catch (err) {
    recorder.destroy();
    throw err;
  }
  const pick = scenarioPicker(prepared, random);
  const makeVars = createVuVars(plan, { ...(options.env ? { env: options.env } : {}) });

  const compiled = compilePlan(plan.phases);
  const phases: PhaseResult[] = plan.phases.map((p, i) => ({
    index: i,
    name: p.name ?? null,
    kind: p.kind,
    durationMs: p.durationMs,
    plannedArrivals: compiled.phases[i]?.arrivals ?? 0,
    startedAtMs: null,
    endedAtMs: null,
    vusersCreated: 0,
    vusersSkipped: 0,
  }));
  let currentPhase: number | undefined;

  // ---- users ----
  const active = new Set<VirtualUser>();
  let onEmpty: (() => void) | undefined;
  const userEnded = (vu: VirtualUser): void => {
    active.delete(vu);
    metrics.vusersActive.value--;
    if (active.size === 0 && onEmpty !== undefined) {
      const f = onEmpty;
      onEmpty = undefined;
      f();
    }
  };
  let internalError: unknown;
  const onArrival = (info: ArrivalInfo): void => {
    const vu = new VirtualUser(host, prepared[pick()]!, makeVars());
    active.add(vu);
    metrics.created.value++;
    metrics.vusersActive.value++;
    const phase = phases[info.phaseIndex];
    if (phase) phase.vusersCreated++;
    vu.run().then(
      () => userEnded(vu),
      (err: unknown) => {
        internalError ??= err;
        userEnded(vu);
      },
    );
  };
  const stopAll = (kind: string, message: string): number => {
    let n = 0;
    for (const vu of active) {
      vu.stop(kind, message);
      n++;
    }
    return n;
  };

  // ---- timers: reply timeouts (one sweep for all users), metric intervals ----
  const minTimeout = Math.min(...prepared.map((p) => p.minTimeoutMs));
  const sweepMs = Math.max(5, Math.min(100, Number.isFinite(minTimeout) ? minTimeout / 10 : 100));
  let sweeper: TimerHandle | undefined;
  const sweep = (): void => {
    const now = clock.now();
    for (const vu of active) vu.sweep(now);
    sweeper = clock.setTimeout(sweep, sweepMs);
  };
  sweeper = clock.setTimeout(sweep, sweepMs);

  let ticker: TimerHandle | undefined;
  const scheduleTick = (): void => {
    ticker = clock.setTimeout(onTick, Math.max(1, recorder.nextBoundary() - epochNow()));
  };
  const onTick = (): void => {
    const sample = recorder.tick(epochNow());
    deps.onInterval?.(sample);
    if (deps.onProgress !== undefined) {
      const h = sample.histograms[RunMetric.rtt];
      const s = h === undefined ? undefined : summarizeEncoded(h);
      const phase = currentPhase === undefined ? undefined : phases[currentPhase];
      deps.onProgress({
        elapsedMs: clock.now() - startMono,
        totalMs: plan.totalDurationMs,
        phaseIndex: phase?.index,
        phaseName: phase?.name ?? undefined,
        vusers: {
          created: metrics.created.value,
          active: active.size,
          completed: metrics.completed.value,
          failed: metrics.failed.value,
          skipped: skipped.value,
        },
        messagesPerSec: sample.durationMs > 0 ? ((sample.counters[RunMetric.messagesReceived] ?? 0) * 1000) / sample.durationMs : 0,
        p50Ms: s?.p50,
        p99Ms: s?.p99,
        errors: errorsTotal,
      });
    }
    scheduleTick();
  };
  scheduleTick();

  // ---- waiting, bounded ----
  let abortNow: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    abortNow = () => resolve('aborted');
  });
  let isAborted = false;
  const onAbort = (): void => {
    isAborted = true;
    abortNow?.();
  };
  const signal = deps.signal;
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  /** Until no user is active, `ms` pass, or (with `abortable`) the signal fires. */
  const settle = (ms: number, abortable: boolean): Promise<Settled> => {
    if (active.size === 0) return Promise.resolve('empty');
    if (abortable && isAborted) return Promise.resolve('aborted');
    let timer: TimerHandle | undefined;
    const empty = new Promise<Settled>((resolve) => { onEmpty = () => resolve('empty'); });
    const timeout = new Promise<Settled>((resolve) => { timer = clock.setTimeout(() => resolve('timeout'), ms); });
    const racers: Promise<Settled>[] = [empty, timeout];
    if (abortable) racers.push(aborted);
    return Promise.race(racers).finally(() => {
      timer?.cancel();
      onEmpty = undefined;
    });
  };
  const closeBoundMs = closeTimeoutMs + 1_000;

  const scheduler = new ArrivalScheduler(plan.phases, {
    clock,
    onArrival,
    onSkipped: (info) => {
      skipped.value++;
      const phase = phases[info.phaseIndex];
      if (phase) phase.vusersSkipped++;
    },
    onPhase: (index, event) => {
      const phase = phases[index];
      if (!phase) return;
      if (event === 'start') {
        phase.startedAtMs = clock.now() - startMono;
        currentPhase = index;
      } else {
        phase.endedAtMs = clock.now() - startMono;
        currentPhase = undefined;
      }
    },
    activeVusers: () => active.size,
    ...(deps.segment !== undefined ? { segment: deps.segment } : {}),
  });

  let drained = 0;
  try {
    // A worker that started late begins at the shared start (catching up), so the workers' arrivals interleave as planned.
    scheduler.start(startMono - Math.max(0, startWall - recorder.startTime));
    const first = await Promise.race([scheduler.done, aborted]);
    if (first !== 'aborted') {
      const s = await settle(drainTimeoutMs, true);
      if (s === 'timeout') {
        drained = stopAll(VuErrorKind.drainTimeout, `still running ${drainTimeoutMs} ms after the last phase (--drain-timeout)`);
        await settle(closeBoundMs, false);
      }
    }
    if (isAborted) {
      scheduler.stop();
      const s = await settle(interruptGraceMs, false);
      if (s === 'timeout') {
        stopAll(VuErrorKind.interrupted, 'the run was interrupted');
        await settle(closeBoundMs, false);
      }
    }
  } finally {
    scheduler.stop();
    sweeper?.cancel();
    ticker?.cancel();
    signal?.removeEventListener('abort', onAbort);
  }
  if (internalError !== undefined) throw internalError;

  // The target went away and stayed away: the CLI marks the run partial and fails it (docs/exit-codes.md).
  if (!isAborted && host.target?.lost === true) recorder.counter(RunMetric.targetLost).value = 1;
  const snapshot = recorder.snapshot(epochNow());
  recorder.destroy();
  const byStep: Record<string, Record<string, number>> = {};
  for (const [loc, kinds] of errorsByStep) byStep[loc] = Object.fromEntries(kinds);
  return {
    snapshot,
    aborted: isAborted,
    drained,
    target,
    errorsByStep: byStep,
    errorSamples,
    phases,
    firstConnectError,
    settings: {
      graceMs: settings.graceMs,
      correlationField: settings.correlationField ?? null,
      drainTimeoutMs,
      bufferLimit: settings.bufferLimit,
    },
  };
}
