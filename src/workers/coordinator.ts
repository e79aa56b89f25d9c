/**
 * The coordinator: splits a run between worker processes (`child_process.fork`, processes rather
 * than threads because the open-file limit is per process), starts them on one shared startTime,
 * merges their live intervals and their final results, and returns the same result types as the
 * in-process engines. It opens no socket itself. Small runs stay in-process (./plan.ts).
 * Library code: never prints, never exits (docs/workers.md).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunOptions, RunProgress, RunResult } from '../engine/run.js';
import { resolveEngineOptions, runStress, type StressOptions, type StressProgress, type StressResult } from '../engine/stress.js';
import { WsloadError, type WsloadErrorCode } from '../errors.js';
import { mergeIntervals, type IntervalSample } from '../metrics/index.js';
import type { LoadOptions, ScriptPlan } from '../scenario/types.js';
import { compilePlan, plannedCounts } from '../schedule/phases.js';
import { readEphemeralPorts, readOpenFileLimit } from './limits.js';
import { mergeRunProgress, mergeRunResults, mergeStressProgress, mergeStressResults } from './merge.js';
import { addressSlice, planRun, planStress, usersOpenAtOnce } from './plan.js';
import { isFromWorker, type ErrorMessage, type FromWorker, type ResultMessage, type ToWorker, type WorkerJob, type WorkerUsage } from './protocol.js';

export interface DistributeOptions {
  /** `--workers N`: exactly N processes (1 = in-process). Undefined: decide (docs/workers.md). */
  workers?: number;
  /** Abort: every worker is sent `stop` and still returns its result. */
  signal?: AbortSignal;
  /** Cores to count on (default `os.availableParallelism()`). */
  cores?: number;
  /** Bound on a worker process starting up (default 10 s). */
  startTimeoutMs?: number;
  /** @internal Extra environment for the worker processes (tests). */
  workerEnv?: NodeJS.ProcessEnv;
}

export interface StressDistributeOptions extends DistributeOptions {
  /** Merged figures of every worker, once per interval. */
  onProgress?: (p: StressProgress) => void;
  /** The merged interval, once every running worker has closed it. */
  onInterval?: (sample: IntervalSample) => void;
  /** `--local-address`: source addresses, split between workers. Default: automatic for loopback targets. */
  localAddresses?: readonly string[];
  /** Several targets (e.g. separate server processes): worker i connects to `targets[i % n]`. Default `[options.url]`. */
  targets?: readonly string[];
}

export interface RunDistributeOptions extends DistributeOptions {
  onProgress?: (p: RunProgress) => void;
  onInterval?: (sample: IntervalSample) => void;
  /** Where `log` steps write (every worker's). */
  log?: (line: string) => void;
  /** The plan when the caller has loaded it already (it is then not loaded again here). */
  plan?: ScriptPlan;
  /**
   * `--local-address`: source addresses, split between workers (`addressSlice`); each new user binds
   * the next of its worker's. Default: `runOptions.localAddresses`, else automatic for a loopback target.
   */
  localAddresses?: readonly string[];
}

/** How one worker process ended. */
export interface WorkerReport {
  index: number;
  pid: number | undefined;
  /** ok: result received; failed: it reported an error; crashed: it exited without either; killed: it did not stop in time. */
  outcome: 'ok' | 'failed' | 'crashed' | 'killed';
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Its share of a stress run's connections. */
  connections?: number;
  /** What it did (from its snapshot): `connections.attempted`, and for a script `vusers.created`. */
  connectionsAttempted?: number;
  vusersCreated?: number;
  usage?: WorkerUsage;
  error?: string;
}

/** How the run was spread (absent from in-process engine results). */
export interface Distribution {
  /** Worker processes (1: the run ran in-process). */
  workers: number;
  inProcess: boolean;
  /** Why this many (`--workers`, `one per core`, `small run: in-process`, `open-file limit …`). */
  reason: string;
  /** Source addresses used ([]: the OS's choice). */
  localAddresses: string[];
  /** Some worker's share is missing (crashed, failed or killed): `worker_crashed` is counted. */
  partial: boolean;
  reports: WorkerReport[];
}

export interface DistributedStressResult extends StressResult {
  distribution: Distribution;
}

export interface DistributedRunResult extends RunResult {
  distribution: Distribution;
}

/** Head start for workers to receive `start` before the shared startTime. */
const STRESS_LEAD_MS = 30;
const DEFAULT_START_TIMEOUT_MS = 10_000;
/** Beyond the engines' own bounds after a stop, before stragglers are killed. */
const STOP_MARGIN_MS = 5_000;

/** dist/workers/worker.js, next to this module once built (tests run the .ts sources: use dist/). */
export function workerEntryPath(): string {
  const here = fileURLToPath(import.meta.url);
  const entry = here.endsWith('.ts') ? resolve(dirname(here), '..', '..', 'dist', 'workers', 'worker.js') : join(dirname(here), 'worker.js');
  if (!existsSync(entry)) {
    throw new WsloadError('WSLOAD_INTERNAL', `the worker entry ${entry} is missing: run \`npm run build\` (worker processes run the compiled JavaScript in dist/)`);
  }
  return entry;
}

/** What a run reports of its distribution: the plan's decisions and how each worker ended. */
function distributionOf(plan: { workers: number; reason: string; localAddresses: string[] }, reports: WorkerReport[]): Distribution {
  return {
    workers: plan.workers,
    inProcess: plan.workers === 1,
    reason: plan.reason,
    localAddresses: plan.localAddresses,
    partial: reports.some((r) => r.outcome !== 'ok'),
    reports,
  };
}

/** Run a stress test, split between worker processes when it is worth it. */
export async function runStressDistributed(options: StressOptions, d: StressDistributeOptions = {}): Promise<DistributedStressResult> {
  const whole = resolveEngineOptions(options);
  const fd = readOpenFileLimit();
  const plan = planStress({
    connections: whole.connections,
    messages: whole.messages,
    batch: whole.batch,
    targets: d.targets !== undefined && d.targets.length > 0 ? d.targets : [whole.url],
    workers: d.workers,
    cores: d.cores ?? availableParallelism(),
    fdLimit: fd?.soft,
    ports: readEphemeralPorts(),
    localAddresses: d.localAddresses ?? whole.localAddresses,
    autoLocalAddresses: process.platform === 'linux',
  });
  const wholeOptions = { ...whole, localAddresses: plan.localAddresses };

  if (plan.workers === 1) {
    const share = plan.shares[0]!;
    const result = await runStress({ ...options, url: share.url, localAddresses: share.localAddresses }, {
      ...(d.signal ? { signal: d.signal } : {}),
      ...(d.onProgress ? { onProgress: d.onProgress } : {}),
      ...(d.onInterval ? { onInterval: d.onInterval } : {}),
    });
    return { ...result, distribution: distributionOf(plan, []) };
  }

  const jobs: WorkerJob[] = plan.shares.map((share, i) => ({
    kind: 'stress',
    worker: i,
    workers: plan.workers,
    options: {
      ...options,
      url: share.url,
      connections: share.connections,
      batch: share.batch,
      localAddresses: share.localAddresses,
      // Rate mode for the whole run: each worker sends its connections' share of it.
      ...(whole.rate > 0 && whole.ratePer === 'run' ? { rate: (whole.rate * share.connections) / whole.connections } : {}),
    },
  }));
  const live = new LiveMerger<StressProgress>(plan.workers, (latest, samples) => mergeStressProgress(latest, samples, whole.connections), d);
  const outcome = await runWorkers(jobs, {
    ...d,
    intervalMs: whole.intervalMs,
    leadMs: STRESS_LEAD_MS,
    stopBoundMs: whole.graceMs + whole.connectTimeoutMs + whole.disconnectTimeoutMs + whole.closeTimeoutMs + STOP_MARGIN_MS,
    live,
  });
  outcome.reports.forEach((r, i) => { r.connections = plan.shares[i]!.connections; });
  const parts = outcome.results.map((m) => m.result as StressResult);
  const merged = mergeStressResults(parts, outcome.reports.filter((r) => r.outcome !== 'ok').length, wholeOptions);
  if (d.signal?.aborted) merged.aborted = true;
  return { ...merged, distribution: distributionOf(plan, outcome.reports) };
}

/**
 * Run a script, its arrival plan split into execution segments between worker processes when it is
 * worth it. Each worker loads the script itself from `scriptPath` (a plan holds functions).
 */
export async function runScriptDistributed(scriptPath: string, loadOptions: LoadOptions, runOpts: RunOptions, d: RunDistributeOptions = {}): Promise<DistributedRunResult> {
  // Loaded here, not at the top: a stress run should not pay for the script runner's modules.
  const [{ runScript }, { loadScript }] = await Promise.all([import('../engine/run.js'), import('../scenario/load.js')]);
  const t0 = Date.now();
  const plan = d.plan ?? (await loadScript(scriptPath, loadOptions));
  const loadMs = d.plan === undefined ? Date.now() - t0 : 150;
  const counts = plannedCounts(plan.phases);
  const compiled = compilePlan(plan.phases);
  const decided = planRun({
    peakArrivalsPerSec: counts.reduce((m, n) => Math.max(m, n), 0),
    arrivals: compiled.arrivals,
    workers: d.workers,
    cores: d.cores ?? availableParallelism(),
    openAtOnce: usersOpenAtOnce(compiled.phases),
    target: plan.target,
    localAddresses: d.localAddresses ?? runOpts.localAddresses,
    autoLocalAddresses: process.platform === 'linux',
  });

  if (decided.workers === 1) {
    const result = await runScript(plan, { ...runOpts, localAddresses: decided.localAddresses }, {
      ...(d.signal ? { signal: d.signal } : {}),
      ...(d.onProgress ? { onProgress: d.onProgress } : {}),
      ...(d.onInterval ? { onInterval: d.onInterval } : {}),
      ...(d.log ? { log: d.log } : {}),
    });
    return { ...result, distribution: distributionOf(decided, []) };
  }

  const { random: _random, ...sendable } = runOpts;
  const options = { ...sendable, ...(sendable.env !== undefined ? { env: { ...sendable.env } } : {}) };
  const load = {
    ...(loadOptions.environment !== undefined ? { environment: loadOptions.environment } : {}),
    ...(loadOptions.target !== undefined ? { target: loadOptions.target } : {}),
    ...(loadOptions.env !== undefined ? { env: { ...loadOptions.env } } : {}),
  };
  const jobs: WorkerJob[] = Array.from({ length: decided.workers }, (_, i) => ({
    kind: 'run',
    worker: i,
    workers: decided.workers,
    scriptPath: resolve(scriptPath),
    load,
    options: { ...options, localAddresses: addressSlice(decided.localAddresses, i, decided.workers) },
    segment: { index: i, count: decided.workers },
  }));
  const intervalMs = runOpts.intervalMs ?? 1000;
  const live = new LiveMerger<RunProgress>(decided.workers, mergeRunProgress, d);
  const outcome = await runWorkers(jobs, {
    ...d,
    intervalMs,
    // Each worker loads the script again before the shared start: give it about twice our time.
    leadMs: Math.min(3000, 50 + 2 * loadMs),
    stopBoundMs: (runOpts.interruptGraceMs ?? 2000) + (runOpts.closeTimeoutMs ?? 1000) + 1000 + STOP_MARGIN_MS,
    live,
    ...(d.log ? { log: d.log } : {}),
  });
  const parts = outcome.results.map((m) => m.result as RunResult);
  const merged = mergeRunResults(parts, outcome.reports.filter((r) => r.outcome !== 'ok').length);
  if (d.signal?.aborted) merged.aborted = true;
  return { ...merged, distribution: distributionOf(decided, outcome.reports) };
}

// ---- live progress ----

/**
 * Merges the workers' intervals by index: interval k is emitted once every worker still running
 * has closed interval k or a later one (a finished worker is not waited for).
 */
class LiveMerger<P extends StressProgress | RunProgress> {
  private readonly samples = new Map<number, IntervalSample[]>();
  private readonly progressAt = new Map<number, Map<number, P>>();
  private readonly latest: Array<P | undefined>;
  private readonly lastIndex: number[];
  private readonly running: boolean[];
  private next = 0;

  constructor(
    workers: number,
    private readonly merge: (latest: P[], samples: IntervalSample[]) => P,
    private readonly sink: { onProgress?: (p: P) => void; onInterval?: (s: IntervalSample) => void },
  ) {
    this.latest = new Array<P | undefined>(workers).fill(undefined);
    this.lastIndex = new Array<number>(workers).fill(-1);
    this.running = new Array<boolean>(workers).fill(true);
  }

  get wanted(): boolean {
    return this.sink.onProgress !== undefined || this.sink.onInterval !== undefined;
  }

  interval(worker: number, sample: IntervalSample): void {
    const list = this.samples.get(sample.index);
    if (list) list.push(sample);
    else this.samples.set(sample.index, [sample]);
    this.lastIndex[worker] = Math.max(this.lastIndex[worker]!, sample.index);
  }

  progress(worker: number, index: number, p: P): void {
    this.latest[worker] = p;
    let at = this.progressAt.get(index);
    if (!at) this.progressAt.set(index, (at = new Map()));
    at.set(worker, p);
    this.flush();
  }

  /** A worker ended: stop waiting for it. */
  done(worker: number): void {
    this.running[worker] = false;
    this.flush();
  }

  private flush(): void {
    for (;;) {
      let upTo = Number.POSITIVE_INFINITY;
      let any = false;
      for (let w = 0; w < this.running.length; w++) {
        if (!this.running[w]) continue;
        any = true;
        upTo = Math.min(upTo, this.lastIndex[w]!);
      }
      if (!any) upTo = Math.max(-1, ...this.lastIndex);
      // The next index anyone reported at or after `next`.
      const pending = [...this.samples.keys()].filter((k) => k >= this.next && k <= upTo).sort((a, b) => a - b);
      const k = pending[0];
      if (k === undefined) return;
      this.emit(k);
      this.next = k + 1;
    }
  }

  private emit(k: number): void {
    const samples = this.samples.get(k) ?? [];
    const at = this.progressAt.get(k);
    this.samples.delete(k);
    this.progressAt.delete(k);
    if (this.sink.onInterval !== undefined && samples.length > 0) this.sink.onInterval(mergeIntervals(samples.map((s) => [s]))[0]!);
    if (this.sink.onProgress === undefined) return;
    const latest: P[] = [];
    for (let w = 0; w < this.latest.length; w++) {
      const p = at?.get(w) ?? this.latest[w];
      if (p === undefined) continue;
      // A worker that closed no interval k contributes its figures so far, but no rate.
      latest.push(at?.has(w) ? p : ({ ...p, messagesPerSec: 0 } as P));
    }
    if (latest.length > 0) this.sink.onProgress(this.merge(latest, samples));
  }
}

// ---- worker processes ----

interface PoolOptions extends DistributeOptions {
  intervalMs: number;
  /** startTime = when every worker is ready + leadMs. */
  leadMs: number;
  /** After `stop`, how long workers may take to send their results before they are killed. */
  stopBoundMs: number;
  live: LiveMerger<StressProgress> | LiveMerger<RunProgress>;
  log?: (line: string) => void;
}

interface PoolOutcome {
  /** Results of the workers that returned one, in worker order. */
  results: ResultMessage[];
  reports: WorkerReport[];
}

class WorkerProcess {
  readonly child: ChildProcess;
  ready = false;
  /** Stress: all its connections have opened (the barrier). */
  opened = false;
  /** Ended: not waited for at the barrier any more. */
  gone = false;
  result: ResultMessage | undefined;
  error: ErrorMessage | undefined;
  killed = false;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  /** Resolves once the process has exited and its IPC channel is closed (every message read). */
  readonly ended: Promise<void>;

  constructor(readonly index: number, kind: WorkerJob['kind'], entry: string, env: NodeJS.ProcessEnv, onMessage: (w: WorkerProcess, m: FromWorker) => void) {
    this.child = fork(entry, [kind], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // Memory flags carry over; loaders, inspectors and test runners' flags do not.
      execArgv: process.execArgv.filter((a) => /^--(max-old-space-size|max-semi-space-size|stack-size)=/.test(a)),
      env,
    });
    this.child.on('message', (m: unknown) => {
      if (isFromWorker(m)) onMessage(this, m);
    });
    const exited = new Promise<void>((res) => this.child.once('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
      res();
    }));
    const closed = new Promise<void>((res) => {
      this.child.once('disconnect', res);
      this.child.once('error', () => res());
    });
    this.ended = Promise.all([exited, closed]).then(() => undefined);
    // A failed spawn emits 'error' and maybe never 'exit'.
    this.child.once('error', () => { if (this.child.exitCode === null && this.child.pid === undefined) this.exitCode = -1; });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(msg: ToWorker): void {
    if (this.child.connected) this.child.send(msg, (err) => { void err; /* a worker gone: its exit is reported */ });
  }

  kill(): void {
    if (!this.alive) return;
    this.killed = true;
    this.child.kill('SIGKILL');
  }

  report(): WorkerReport {
    const outcome = this.result !== undefined ? 'ok' : this.error !== undefined ? 'failed' : this.killed ? 'killed' : 'crashed';
    const error = this.error?.message ?? (outcome === 'ok' ? undefined : this.killed
      ? 'did not stop in time after stop; killed'
      : `exited without a result (${this.exitSignal !== null ? `signal ${this.exitSignal}` : `exit code ${String(this.exitCode)}`})`);
    const counters = this.result?.result.snapshot.counters;
    return {
      index: this.index,
      pid: this.child.pid,
      outcome,
      exitCode: this.exitCode,
      signal: this.exitSignal,
      ...(counters !== undefined ? { connectionsAttempted: counters['connections.attempted'] ?? 0 } : {}),
      ...(counters?.['vusers.created'] !== undefined ? { vusersCreated: counters['vusers.created'] } : {}),
      ...(this.result ? { usage: this.result.usage } : {}),
      ...(error !== undefined ? { error } : {}),
    };
  }
}

/** Start one process per job, run them on a shared startTime, collect results; never leaves a process behind. */
async function runWorkers(jobs: WorkerJob[], o: PoolOptions): Promise<PoolOutcome> {
  const entry = workerEntryPath();
  const env = { ...process.env, ...o.workerEnv };
  const live = o.live as LiveMerger<StressProgress | RunProgress>;
  let onReady: (() => void) | undefined;
  // The stress barrier: `go` once every worker still running has opened its connections.
  let released = false;
  const barrier = (): void => {
    if (released || !workers.every((w) => w.opened || w.gone)) return;
    released = true;
    for (const w of workers) w.send({ type: 'go' });
  };
  const handle = (w: WorkerProcess, m: FromWorker): void => {
    switch (m.type) {
      case 'ready':
        w.ready = true;
        onReady?.();
        break;
      case 'opened':
        w.opened = true;
        barrier();
        break;
      case 'interval':
        if (live.wanted) live.interval(w.index, m.sample);
        break;
      case 'progress':
        if (live.wanted) live.progress(w.index, m.index, m.progress);
        break;
      case 'log':
        o.log?.(m.line);
        break;
      case 'result':
        w.result = m;
        break;
      case 'error':
        w.error = m;
        break;
    }
  };
  const workers = jobs.map((_, i) => new WorkerProcess(i, jobs[i]!.kind, entry, env, handle));
  let stopTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    for (const w of workers) w.send({ type: 'stop' });
    stopTimer ??= setTimeout(() => { for (const w of workers) w.kill(); }, o.stopBoundMs);
  };
  try {
    // 1. Every worker up (bounded); one that dies or hangs here fails the whole run before it starts.
    const startBound = o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const allReady = await new Promise<boolean>((res) => {
      let settled = false;
      const finish = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onReady = undefined;
        res(ok);
      };
      const timer = setTimeout(() => finish(false), startBound);
      for (const w of workers) void w.ended.then(() => { if (!w.ready) finish(false); });
      onReady = () => { if (workers.every((w) => w.ready)) finish(true); };
    });
    if (!allReady) {
      const bad = workers.find((w) => !w.ready)!;
      for (const w of workers) w.kill();
      await Promise.all(workers.map((w) => w.ended));
      const why = bad.exitCode !== null || bad.exitSignal !== null ? `it exited (${bad.exitSignal ?? `code ${String(bad.exitCode)}`})` : `not ready within ${startBound} ms`;
      throw new WsloadError('WSLOAD_RUN_FAILED', `worker process ${bad.index} did not start: ${why}`);
    }

    // 2. One shared start; a stop (Ctrl-C) is forwarded to every worker.
    const startTime = Date.now() + o.leadMs;
    workers.forEach((w, i) => w.send({ type: 'start', job: jobs[i]!, startTime, intervalMs: o.intervalMs }));
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });

    // 3. Every worker ends: with a result, an error, or a crash.
    await Promise.all(workers.map((w) => w.ended.then(() => {
      w.gone = true;
      barrier();
      live.done(w.index);
    })));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    if (stopTimer !== undefined) clearTimeout(stopTimer);
    for (const w of workers) w.kill();
  }

  const results = workers.flatMap((w) => (w.result ? [w.result] : []));
  const reports = workers.map((w) => w.report());
  if (results.length === 0) {
    const failed = workers.find((w) => w.error !== undefined)?.error;
    if (failed !== undefined) {
      throw new WsloadError(asCode(failed.code), failed.message, failed.hint !== undefined ? { hint: failed.hint } : {});
    }
    throw new WsloadError('WSLOAD_RUN_FAILED', `every worker process ended without a result (worker 0: ${reports[0]?.error ?? 'unknown'})`);
  }
  return { results, reports };
}

const CODES: ReadonlySet<string> = new Set(['WSLOAD_USAGE', 'WSLOAD_CONFIG', 'WSLOAD_SCRIPT', 'WSLOAD_UNREACHABLE', 'WSLOAD_RUN_FAILED', 'WSLOAD_INTERNAL']);
const asCode = (code: string): WsloadErrorCode => (CODES.has(code) ? (code as WsloadErrorCode) : 'WSLOAD_INTERNAL');
