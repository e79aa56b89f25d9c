/**
 * Cluster mode of the reference server (`wsload serve --workers N`, docs/serve.md#cluster-mode): the
 * primary forks N worker processes with `node:cluster`; each runs `startServer` on the same host:port
 * (by default the primary owns the listening socket and hands connections out round-robin; with
 * `balance: 'kernel'` the workers accept from the shared socket themselves). The primary opens no
 * WebSocket; it relays:
 *   - publish fan-out: a publish on one worker is delivered to the channel's subscribers on every other
 *     worker, and the counts come back so the `published` receipt has the total;
 *   - /healthz and /metrics: gathered from every worker and summed (prom-client's AggregatorRegistry).
 * Every gather waits at most CLUSTER_GATHER_TIMEOUT_MS and then answers with what it has.
 * A worker that dies is logged and restarted (at most MAX_RESTARTS within RESTART_WINDOW_MS; beyond
 * that the cluster gives up: `failed` resolves). `close()` is bounded; stragglers are killed by pid.
 */
import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { WsloadError } from '../errors.js';
import {
  CLUSTER_GATHER_TIMEOUT_MS, isWsloadMessage,
  type ClusterHealth, type MetricsJson, type ToPrimary, type ToWorker, type WorkerHealth, type WorkerServerOptions,
} from './cluster-protocol.js';
import { HEALTH_PATH, METRICS_PATH } from './http.js';
import type { RunningServer } from './index.js';
import { CLUSTER_BALANCES, resolveOptions, SERVER_DEFAULTS, type ClusterBalance, type ServerOptions } from './options.js';
import { within } from './within.js';

export interface ClusterOptions extends ServerOptions {
  /** Worker processes, 1 or more (the CLI runs a single process, without cluster, for 1). */
  workers: number;
  /**
   * Open connections in total, split over the workers as evenly as possible (worker i gets
   * floor(max / N), plus one for the first max % N); must be at least `workers`. Default 10000.
   */
  maxConnections?: number;
  /**
   * Who accepts new connections. 'round-robin' (default, Node's): the primary accepts each one and hands
   * it to the next worker over IPC — an even spread, but every connection costs the primary and the worker
   * a handoff. 'kernel': every worker accepts from the shared listening socket itself (SCHED_NONE, with
   * libuv's UV_TCP_SINGLE_ACCEPT so that one worker does not drain the queue alone) — ~40% less server CPU
   * per new connection and no primary in the path, but the spread is the kernel's (measured up to ~1.35×
   * the mean), so a worker can fill its share of maxConnections before the total is reached.
   */
  balance?: ClusterBalance;
  /** How long to wait for every worker to listen; default 15000 ms. */
  startTimeoutMs?: number;
  /**
   * Where the primary reports worker lifecycle events: a worker that died (and its restart), a worker
   * killed at shutdown, giving up. Default: `log`. The CLI sends these to stderr even with --quiet.
   */
  notice?: (line: string) => void;
}

/** Where the cluster listens (every worker on the same address), as a single server says it. */
export interface RunningCluster extends Pick<RunningServer, 'url' | 'healthUrl' | 'metricsUrl' | 'host' | 'port' | 'path'> {
  /** Number of worker processes. */
  workers: number;
  /** Process ids of the workers alive now. */
  pids(): number[];
  /** Resolves (never rejects) if the cluster gives up because workers keep dying; then call close(). */
  failed: Promise<WsloadError>;
  /**
   * Tell every worker to shut down (1001 to its clients, bounded by `shutdownTimeoutMs`), wait for them
   * to exit, kill any still running after that bound plus a grace by pid. Idempotent.
   */
  close(): Promise<void>;
}


/** Restarts allowed within RESTART_WINDOW_MS before the cluster gives up. */
export const MAX_RESTARTS = 5;
export const RESTART_WINDOW_MS = 60_000;
/** Delay before a dead worker is replaced. */
const RESTART_DELAY_MS = 200;
/** Beyond the workers' own shutdown bound: their terminate grace and HTTP close (index.ts), plus margin. */
const SHUTDOWN_GRACE_MS = 3_000;
const KILL_WAIT_MS = 1_000;
const DEFAULT_START_TIMEOUT_MS = 15_000;

/** `--workers`: a positive integer, or 'auto' for the number of cores. */
export function resolveWorkers(value: number | 'auto'): number {
  return value === 'auto' ? availableParallelism() : value;
}

/** Per-worker `maxConnections` for a total: as even as possible, summing to exactly `total`. */
export function splitMaxConnections(total: number, workers: number): number[] {
  const base = Math.floor(total / workers);
  return Array.from({ length: workers }, (_, i) => base + (i < total % workers ? 1 : 0));
}

interface Slot {
  /** 1…N, stable across restarts. */
  number: number;
  worker: Worker | undefined;
  listening: boolean;
  maxConnections: number;
}

interface PendingPublish {
  kind: 'publish';
  from: Slot;
  rid: number;
  awaiting: Set<Slot>;
  recipients: number;
  deadline: number;
}

interface PendingCollect {
  kind: 'health' | 'metrics';
  from: Slot;
  rid: number;
  awaiting: Set<Slot>;
  health: WorkerHealth[];
  metrics: MetricsJson[];
  deadline: number;
}

type Pending = PendingPublish | PendingCollect;

/**
 * Fork `workers` processes serving the reference server on one port, and resolve once all listen.
 * Rejects with `WsloadError('WSLOAD_CONFIG')` for a bad option or when a worker cannot listen.
 * Call it once per process: `node:cluster`'s primary settings are global.
 */
export async function startClusterServer(opts: ClusterOptions): Promise<RunningCluster> {
  const { workers, startTimeoutMs = DEFAULT_START_TIMEOUT_MS, log, notice = log, balance = 'round-robin', ...serverOpts } = opts;
  const problems: string[] = [];
  if (!CLUSTER_BALANCES.includes(balance)) problems.push(`balance must be ${CLUSTER_BALANCES.join(' or ')}, got ${String(balance)}`);
  if (!cluster.isPrimary) problems.push('startClusterServer must run in the primary process, not in a cluster worker');
  if (!Number.isSafeInteger(workers) || workers < 1) problems.push(`workers must be a positive integer, got ${String(workers)}`);
  const totalMax = serverOpts.maxConnections ?? SERVER_DEFAULTS.maxConnections;
  if (Number.isSafeInteger(workers) && Number.isSafeInteger(totalMax) && totalMax < workers) {
    problems.push(`maxConnections (${totalMax}) must be at least the number of workers (${workers}): it is split between them`);
  }
  if (problems.length > 0) throw new WsloadError('WSLOAD_CONFIG', problems.join('; '));
  const o = resolveOptions(serverOpts); // every other option checked here, before any process is forked

  const { tls, ...rest } = serverOpts;
  const base: WorkerServerOptions = {
    ...rest,
    ...(tls === undefined ? {} : { tls: { cert: tls.cert.toString(), key: tls.key.toString() } }),
  };
  const shares = splitMaxConnections(totalMax, workers);
  const slots: Slot[] = shares.map((maxConnections, i) => ({ number: i + 1, worker: undefined, listening: false, maxConnections }));

  let boundPort = -1;
  let closing = false;
  let gaveUp = false;
  let nextGid = 1;
  const pending = new Map<number, Pending>();
  const restarts: number[] = [];
  const restartTimers = new Set<NodeJS.Timeout>();
  let giveUp!: (err: WsloadError) => void;
  const failed = new Promise<WsloadError>((resolve) => { giveUp = resolve; });

  // Startup: every slot must report 'listening' (or one 'failed' / early exit fails the whole start).
  let startupDone = false;
  let startupResolve!: () => void;
  let startupReject!: (err: WsloadError) => void;
  const started = new Promise<void>((resolve, reject) => { startupResolve = resolve; startupReject = reject; });

  // Read by node:cluster when the first worker is forked (and by workers when they listen).
  cluster.schedulingPolicy = balance === 'kernel' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  cluster.setupPrimary({ ...workerEntry(), args: [], silent: false });
  const workerEnv = balance === 'kernel' ? { UV_TCP_SINGLE_ACCEPT: '1' } : undefined;

  const sweep = setInterval(sweepPending, Math.max(10, Math.floor(CLUSTER_GATHER_TIMEOUT_MS / 10)));
  sweep.unref();

  for (const slot of slots) fork(slot);

  const startTimer = setTimeout(() => {
    startupReject(new WsloadError('WSLOAD_CONFIG', `not every worker was listening after ${startTimeoutMs} ms (${slots.filter((s) => s.listening).length} of ${workers})`));
  }, startTimeoutMs);
  try {
    await started;
  } catch (err) {
    await shutdown();
    throw err;
  } finally {
    startupDone = true;
    clearTimeout(startTimer);
  }

  const hostInUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  const httpScheme = o.tls === undefined ? 'http' : 'https';
  let closed: Promise<void> | undefined;
  return {
    url: `${o.tls === undefined ? 'ws' : 'wss'}://${hostInUrl}:${boundPort}${o.path}`,
    healthUrl: `${httpScheme}://${hostInUrl}:${boundPort}${HEALTH_PATH}`,
    metricsUrl: `${httpScheme}://${hostInUrl}:${boundPort}${METRICS_PATH}`,
    host: o.host,
    port: boundPort,
    path: o.path,
    workers,
    pids: () => slots.flatMap((s) => (s.worker?.process.pid === undefined || !alive(s.worker) ? [] : [s.worker.process.pid])),
    failed,
    close: () => (closed ??= shutdown()),
  };

  function fork(slot: Slot): void {
    const worker = cluster.fork(workerEnv);
    slot.worker = worker;
    slot.listening = false;
    worker.on('message', (message: unknown) => {
      if (isWsloadMessage(message)) onMessage(slot, worker, message as ToPrimary);
    });
    // A worker whose IPC channel breaks emits 'error'; its 'exit' follows and is what we act on.
    worker.on('error', (err: Error) => notice?.(`worker ${slot.number}: ${err.message}`));
    worker.on('exit', (code, signal) => onExit(slot, worker, code, signal));
  }

  function onMessage(slot: Slot, worker: Worker, m: ToPrimary): void {
    if (slot.worker !== worker) return; // a replaced worker's last words
    switch (m.wsload) {
      case 'ready': {
        // A worker still loading when close() began could not have heard its `shutdown` (IPC messages
        // that arrive before the worker's listener are lost): tell it now.
        if (closing) {
          sendTo(slot, { wsload: 'shutdown' });
          return;
        }
        // The first start uses the requested port (0 included: the workers then share the one port
        // the primary bound for the first of them). A restart reuses that while another worker keeps
        // the shared socket open; if none does, the socket is gone and only the bound port keeps the URL.
        const port = boundPort > 0 && !slots.some((s) => s !== slot && s.listening) ? boundPort : o.port;
        sendTo(slot, { wsload: 'start', worker: slot.number, workers, log: log !== undefined, options: { ...base, port, maxConnections: slot.maxConnections } });
        return;
      }
      case 'listening':
        if (boundPort === -1) boundPort = m.port;
        else if (m.port !== boundPort) notice?.(`worker ${slot.number} listens on port ${m.port}, not ${boundPort}`);
        slot.listening = true;
        if (closing) sendTo(slot, { wsload: 'shutdown' });
        if (!startupDone && slots.every((s) => s.listening)) startupResolve();
        return;
      case 'failed':
        if (!startupDone) {
          startupReject(new WsloadError('WSLOAD_CONFIG', m.message, m.hint === undefined ? {} : { hint: m.hint }));
        } else {
          notice?.(`worker ${slot.number} could not start: ${m.message}`);
          worker.process.kill('SIGKILL'); // counted as a crash by onExit
        }
        return;
      case 'log':
        log?.(`[worker ${slot.number}] ${m.line}`);
        return;
      case 'publish': {
        const others = slots.filter((s) => s !== slot && s.listening && s.worker !== undefined);
        if (others.length === 0) {
          sendTo(slot, { wsload: 'published', rid: m.rid, recipients: 0 });
          return;
        }
        const gid = nextGid++;
        pending.set(gid, { kind: 'publish', from: slot, rid: m.rid, awaiting: new Set(others), recipients: 0, deadline: performance.now() + CLUSTER_GATHER_TIMEOUT_MS });
        const fanout: ToWorker = { wsload: 'fanout', gid, channel: m.channel, json: m.json };
        for (const s of others) sendTo(s, fanout);
        return;
      }
      case 'delivered': {
        const p = pending.get(m.gid);
        if (p?.kind !== 'publish') return;
        p.recipients += m.count;
        p.awaiting.delete(slot);
        if (p.awaiting.size === 0) finish(m.gid, p);
        return;
      }
      case 'ask': {
        const targets = slots.filter((s) => s.listening && s.worker !== undefined);
        const gid = nextGid++;
        const p: PendingCollect = { kind: m.kind, from: slot, rid: m.rid, awaiting: new Set(targets), health: [], metrics: [], deadline: performance.now() + CLUSTER_GATHER_TIMEOUT_MS };
        pending.set(gid, p);
        for (const s of targets) sendTo(s, { wsload: 'collect', gid, kind: m.kind });
        if (targets.length === 0) finish(gid, p);
        return;
      }
      case 'report': {
        const p = pending.get(m.gid);
        if (p === undefined || p.kind === 'publish') return;
        if (m.health !== undefined) p.health.push(m.health);
        if (m.metrics !== undefined) p.metrics.push(m.metrics);
        p.awaiting.delete(slot);
        if (p.awaiting.size === 0) finish(m.gid, p);
        return;
      }
    }
  }

  /** Answer a gather with what it has (all answers, or what came before the deadline / an exit). */
  function finish(gid: number, p: Pending): void {
    pending.delete(gid);
    if (p.kind === 'publish') {
      sendTo(p.from, { wsload: 'published', rid: p.rid, recipients: p.recipients });
    } else if (p.kind === 'health') {
      const list = p.health.sort((a, b) => a.worker - b.worker);
      const health: ClusterHealth = {
        connections: list.reduce((sum, w) => sum + w.connections, 0),
        messagesReceived: list.reduce((sum, w) => sum + w.messagesReceived, 0),
        workers: list,
        expectedWorkers: workers,
      };
      sendTo(p.from, { wsload: 'answer', rid: p.rid, health });
    } else if (p.metrics.length === 0) {
      sendTo(p.from, { wsload: 'answer', rid: p.rid, error: 'no worker answered' });
    } else {
      AggregatorRegistry.aggregate(p.metrics).metrics().then(
        (text) => sendTo(p.from, { wsload: 'answer', rid: p.rid, metrics: text }),
        (err: unknown) => sendTo(p.from, { wsload: 'answer', rid: p.rid, error: err instanceof Error ? err.message : String(err) }),
      );
    }
  }

  /** Answer every gather past its deadline; entries are in creation order, so stop at the first that is not. */
  function sweepPending(): void {
    const now = performance.now();
    for (const [gid, p] of pending) {
      if (p.deadline > now) break;
      finish(gid, p);
    }
  }

  function onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.listening = false;
    // Nobody waits for the dead worker any more; what it started is dropped.
    for (const [gid, p] of pending) {
      if (p.from === slot) {
        pending.delete(gid);
        continue;
      }
      if (p.awaiting.delete(slot) && p.awaiting.size === 0) finish(gid, p);
    }
    if (closing) return;
    const how = signal !== null ? `signal ${signal}` : `code ${String(code)}`;
    if (!startupDone) {
      startupReject(new WsloadError('WSLOAD_CONFIG', `worker ${slot.number} exited with ${how} before it was listening`));
      return;
    }
    if (gaveUp) return;
    const now = performance.now();
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length >= MAX_RESTARTS) {
      gaveUp = true;
      const err = new WsloadError('WSLOAD_RUN_FAILED', `worker ${slot.number} (pid ${String(worker.process.pid)}) exited with ${how}; ${MAX_RESTARTS} restarts within ${RESTART_WINDOW_MS / 1000} s already, giving up`, {
        hint: 'run with --workers 1 to see the error in a single process',
      });
      notice?.(err.message);
      giveUp(err);
      return;
    }
    restarts.push(now);
    notice?.(`worker ${slot.number} (pid ${String(worker.process.pid)}) exited unexpectedly with ${how}; its connections are lost; restarting it`);
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!closing) fork(slot);
    }, RESTART_DELAY_MS);
    restartTimers.add(timer);
  }

  async function shutdown(): Promise<void> {
    closing = true;
    for (const t of restartTimers) clearTimeout(t);
    restartTimers.clear();
    const live = slots.flatMap((s) => (s.worker !== undefined && alive(s.worker) ? [s.worker] : []));
    const exits = live.map((w) => new Promise<void>((resolve) => {
      if (!alive(w)) resolve();
      else w.once('exit', () => resolve());
    }));
    for (const s of slots) sendTo(s, { wsload: 'shutdown' });
    const all = Promise.all(exits).then(() => undefined);
    if (!(await within(all, o.shutdownTimeoutMs + SHUTDOWN_GRACE_MS))) {
      for (const w of live) {
        if (!alive(w)) continue;
        notice?.(`worker (pid ${String(w.process.pid)}) did not exit in time; killing it`);
        w.process.kill('SIGKILL');
      }
      await within(all, KILL_WAIT_MS);
    }
    clearInterval(sweep);
    for (const [gid, p] of pending) finish(gid, p);
  }
}

/** Send to a slot's worker if it can still receive; a send that fails is the same as a dead worker. */
function sendTo(slot: Slot, message: ToWorker): void {
  const w = slot.worker;
  if (w !== undefined && w.isConnected()) w.send(message, undefined, ignore);
}

function alive(w: Worker): boolean {
  return w.process.exitCode === null && w.process.signalCode === null;
}

/**
 * The worker entry: the compiled dist/server/cluster-worker.js next to this file; when running from the
 * TypeScript sources (tests, tsx) the .ts file through tsx.
 */
function workerEntry(): { exec: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./cluster-worker.js', import.meta.url));
  if (existsSync(js)) return { exec: js, execArgv: process.execArgv };
  const ts = fileURLToPath(new URL('./cluster-worker.ts', import.meta.url));
  return { exec: ts, execArgv: [...process.execArgv, '--import', 'tsx'] };
}

function ignore(): void {}
