/**
 * Worker process entry (run as dist/workers/worker.js by the coordinator through
 * `child_process.fork`): runs its share of a stress run or its segment of a script's arrival plan,
 * ships each interval as it closes and its result at the end (./protocol.ts), then exits.
 * It never prints: everything goes over the IPC channel.
 */
import { initHistograms } from '../metrics/index.js';
import { WsloadError } from '../errors.js';
import { CRASH_HOOK_ENV, isToWorker, type FromWorker, type RunJob, type StartMessage, type StressJob, type WorkerUsage } from './protocol.js';

const send = process.send?.bind(process);
if (send === undefined) {
  process.stderr.write('wsload: dist/workers/worker.js is a worker process started by the wsload coordinator (child_process.fork), not a command\n');
  process.exit(2);
}

const abort = new AbortController();
let started = false;
/** Releases the stress run's barrier (`go`, or an abort). */
let go: (() => void) | undefined;
let readyRssBytes = 0;

function post(msg: FromWorker): void {
  if (process.connected) send!(msg);
}

/** Send the last message, then leave; a leaked handle cannot keep the process alive past 2 s. */
function finish(msg: FromWorker, code: number): void {
  process.exitCode = code;
  const leave = (): void => {
    if (process.connected) process.disconnect();
    setTimeout(() => process.exit(code), 2000).unref();
  };
  if (process.connected) send!(msg, undefined, undefined, leave);
  else leave();
}

function fail(err: unknown): void {
  const e = err as { message?: unknown; code?: unknown; hint?: unknown };
  finish({
    type: 'error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    code: err instanceof WsloadError ? err.code : 'WSLOAD_INTERNAL',
    ...(err instanceof WsloadError && err.hint !== undefined ? { hint: err.hint } : {}),
  }, 1);
}

function usage(startTime: number, beganAt: number): WorkerUsage {
  const u = process.resourceUsage();
  return {
    cpuSec: (u.userCPUTime + u.systemCPUTime) / 1e6,
    maxRssBytes: u.maxRSS * 1024,
    readyRssBytes,
    lateMs: Math.max(0, beganAt - startTime),
  };
}

/** The crash test hook: this worker exits(1) `ms` after start without a result. */
function armCrashHook(worker: number): void {
  const spec = process.env[CRASH_HOOK_ENV];
  if (spec === undefined) return;
  const [index, ms] = spec.split(':');
  if (Number(index) !== worker) return;
  setTimeout(() => process.exit(1), Number(ms ?? 0) || 0);
}

/** The engine modules, loaded before `ready` for the kind named in argv (so the shared start is not spent loading). */
const loadStress = (): Promise<typeof import('../engine/stress.js')> => import('../engine/stress.js');
const loadRun = (): Promise<[typeof import('../scenario/load.js'), typeof import('../engine/run.js')]> =>
  Promise.all([import('../scenario/load.js'), import('../engine/run.js')]);

async function runStressJob(job: StressJob, msg: StartMessage): Promise<void> {
  const { runStress } = await loadStress();
  let index = -1;
  const beganAt = Date.now();
  const result = await runStress({ ...job.options, intervalMs: msg.intervalMs }, {
    signal: abort.signal,
    startTime: msg.startTime,
    onInterval: (sample) => {
      index = sample.index;
      post({ type: 'interval', sample });
    },
    onProgress: (progress) => post({ type: 'progress', index, progress }),
    allOpen: () => new Promise<void>((resolve) => {
      if (abort.signal.aborted) return resolve();
      go = resolve;
      abort.signal.addEventListener('abort', () => resolve(), { once: true });
      post({ type: 'opened' });
    }),
  });
  finish({ type: 'result', result, usage: usage(msg.startTime, beganAt) }, 0);
}

async function runScriptJob(job: RunJob, msg: StartMessage): Promise<void> {
  const [{ loadScript }, { runScript }] = await loadRun();
  const plan = await loadScript(job.scriptPath, job.load);
  let index = -1;
  const beganAt = Date.now();
  const result = await runScript(plan, { ...job.options, intervalMs: msg.intervalMs }, {
    signal: abort.signal,
    startTime: msg.startTime,
    segment: job.segment,
    log: (line) => post({ type: 'log', line }),
    onInterval: (sample) => {
      index = sample.index;
      post({ type: 'interval', sample });
    },
    onProgress: (progress) => post({ type: 'progress', index, progress }),
  });
  finish({ type: 'result', result, usage: usage(msg.startTime, beganAt) }, 0);
}

function onMessage(msg: unknown): void {
  if (!isToWorker(msg)) return;
  if (msg.type === 'stop') {
    abort.abort();
    return;
  }
  if (msg.type === 'go') {
    go?.();
    return;
  }
  if (started) return;
  started = true;
  armCrashHook(msg.job.worker);
  const run = msg.job.kind === 'stress' ? runStressJob(msg.job, msg) : runScriptJob(msg.job, msg);
  run.catch(fail);
}

process.on('message', onMessage);
// The coordinator went away (killed, crashed): stop as on Ctrl-C; with nothing running, leave.
process.on('disconnect', () => {
  abort.abort();
  if (!started) process.exit(0);
});
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

// No top-level await: the CLI's bundle of this file is a CommonJS script (scripts/bundle.mjs).
Promise.all([initHistograms(), process.argv[2] === 'run' ? loadRun() : process.argv[2] === 'stress' ? loadStress() : undefined]).then(() => {
  readyRssBytes = process.memoryUsage().rss;
  post({ type: 'ready', pid: process.pid });
}, fail);
