/**
 * The typed messages between the coordinator and its worker processes, over the IPC channel of
 * `child_process.fork` (serialization: 'advanced', structured clone). One conversation per worker:
 *
 *   worker → ready                    the process is up (modules loaded, histograms ready)
 *   coordinator → start {job, startTime, intervalMs}
 *   worker → interval, progress       once per interval, aligned on the shared startTime
 *   worker → opened, coordinator → go stress only: a barrier once every connection of every worker
 *                                     is open, so that no one sends before all are open (as in one process)
 *   worker → log                      `log` steps of a script
 *   coordinator → stop                like Ctrl-C: abort with grace; the result still follows
 *   worker → result | error           then the worker exits
 *
 * A worker that exits without `result` or `error` has crashed: the coordinator counts a
 * `worker_crashed` error and keeps the others' results (docs/workers.md).
 */
import type { RunOptions, RunProgress, RunResult } from '../engine/run.js';
import type { StressOptions, StressProgress, StressResult } from '../engine/stress.js';
import type { IntervalSample } from '../metrics/index.js';
import type { LoadOptions } from '../scenario/types.js';
import type { ExecutionSegment } from '../schedule/segment.js';

/** A stress worker's share: the engine's options with its own connections, batch, URL and source addresses. */
export interface StressJob {
  kind: 'stress';
  /** This worker's index and the number of workers. */
  worker: number;
  workers: number;
  options: StressOptions;
}

/** RunOptions that can cross a process boundary (no functions). */
export type WorkerRunOptions = Omit<RunOptions, 'random'>;

/** A script worker re-loads the script from its path (a plan holds functions and cannot be sent); its options carry its slice of the source addresses. */
export interface RunJob {
  kind: 'run';
  worker: number;
  workers: number;
  scriptPath: string;
  load: Omit<LoadOptions, 'skipProcessor'>;
  options: WorkerRunOptions;
  segment: ExecutionSegment;
}

export type WorkerJob = StressJob | RunJob;

// ---- coordinator → worker ----

export interface StartMessage {
  type: 'start';
  job: WorkerJob;
  /** Epoch ms shared by every worker: the run starts then, and interval indexes count from it. */
  startTime: number;
  intervalMs: number;
}

/** Stop gracefully, as Ctrl-C does: the worker aborts its run with grace and still sends its result. */
export interface StopMessage {
  type: 'stop';
}

/** Every worker has opened its connections (or ended): start sending. */
export interface GoMessage {
  type: 'go';
}

export type ToWorker = StartMessage | StopMessage | GoMessage;

// ---- worker → coordinator ----

export interface ReadyMessage {
  type: 'ready';
  pid: number;
}

/** Stress: every connection of this worker has opened or failed; it waits for `go` to send. */
export interface OpenedMessage {
  type: 'opened';
}

export interface IntervalMessage {
  type: 'interval';
  sample: IntervalSample;
}

export interface ProgressMessage {
  type: 'progress';
  /** The interval just closed (the `interval` message before this one). */
  index: number;
  progress: StressProgress | RunProgress;
}

export interface LogMessage {
  type: 'log';
  line: string;
}

/** What a worker process cost, for the bench and the per-worker report. */
export interface WorkerUsage {
  /** CPU seconds (user + system) of the whole worker process. */
  cpuSec: number;
  /** Peak resident set size of the worker process. */
  maxRssBytes: number;
  /** Resident set size when it was ready, before any connection (its fixed cost). */
  readyRssBytes: number;
  /** How late after `startTime` the run began (0 when it waited for it). */
  lateMs: number;
}

export interface ResultMessage {
  type: 'result';
  result: StressResult | RunResult;
  usage: WorkerUsage;
}

/** The worker could not run its share (e.g. the script failed to load): code and message of the error. */
export interface ErrorMessage {
  type: 'error';
  message: string;
  /** A `WsloadErrorCode` when the error was one, else `WSLOAD_INTERNAL`. */
  code: string;
  hint?: string;
}

export type FromWorker = ReadyMessage | OpenedMessage | IntervalMessage | ProgressMessage | LogMessage | ResultMessage | ErrorMessage;

const FROM_WORKER_TYPES: ReadonlySet<string> = new Set(['ready', 'opened', 'interval', 'progress', 'log', 'result', 'error']);
const TO_WORKER_TYPES: ReadonlySet<string> = new Set(['start', 'stop', 'go']);

const typeOf = (msg: unknown): unknown => (msg !== null && typeof msg === 'object' ? (msg as { type?: unknown }).type : undefined);

/** A message from a worker (anything else on the channel is ignored). */
export function isFromWorker(msg: unknown): msg is FromWorker {
  const t = typeOf(msg);
  return typeof t === 'string' && FROM_WORKER_TYPES.has(t);
}

export function isToWorker(msg: unknown): msg is ToWorker {
  const t = typeOf(msg);
  return typeof t === 'string' && TO_WORKER_TYPES.has(t);
}

/**
 * Test hook, read by the worker only: `<index>` or `<index>:<ms>` makes worker <index> exit(1)
 * that long after `start` without a result (a crash). Never set outside tests.
 */
export const CRASH_HOOK_ENV = 'WSLOAD_TEST_WORKER_CRASH';
