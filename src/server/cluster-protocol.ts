/**
 * The messages the cluster primary and its workers exchange over Node's IPC channel (`wsload serve
 * --workers N`, docs/serve.md#cluster-mode). Every message has a `wsload` field naming its kind, so they
 * never clash with Node's own cluster messages or prom-client's.
 *
 * Request ids: `rid` is chosen by a worker for its own requests (unique per worker), `gid` by the primary
 * for a fan-out or a collection (unique in the primary).
 */
import type { Registry } from 'prom-client';
import type { ServerOptions } from './options.js';

/** How long the primary waits for every worker's answer to a fan-out or a collection. */
export const CLUSTER_GATHER_TIMEOUT_MS = 1_000;

/** `ServerOptions` as they travel to a worker: no function, PEM as text. */
export type WorkerServerOptions = Omit<ServerOptions, 'log' | 'tls'> & { tls?: { cert: string; key: string } };

/** One worker's own numbers, for /healthz. */
export interface WorkerHealth {
  worker: number;
  pid: number;
  status: 'ok' | 'shutting_down';
  connections: number;
  messagesReceived: number;
}

/** What /healthz answers in cluster mode, before the answering worker adds its status and uptime. */
export interface ClusterHealth {
  connections: number;
  messagesReceived: number;
  /** Workers that answered in time, by worker number. */
  workers: WorkerHealth[];
  /** How many workers the cluster runs (answered or not). */
  expectedWorkers: number;
}

/** One registry's `getMetricsAsJSON()`, as it crosses IPC (its `collect` functions do not). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type ToPrimary =
  /** The worker has its message listener and waits for `start`. */
  | { wsload: 'ready' }
  | { wsload: 'listening'; port: number }
  | { wsload: 'failed'; message: string; hint?: string }
  /** A diagnostic line for the primary's `log` (only sent when the primary has one). */
  | { wsload: 'log'; line: string }
  /** Deliver `json` to the channel's subscribers on every other worker; answer with `published`. */
  | { wsload: 'publish'; rid: number; channel: string; json: string }
  /** Answer to `fanout`. */
  | { wsload: 'delivered'; gid: number; count: number }
  /** Gather `kind` from every worker; answer with `answer`. */
  | { wsload: 'ask'; rid: number; kind: 'health' | 'metrics' }
  /** Answer to `collect`. */
  | { wsload: 'report'; gid: number; health?: WorkerHealth; metrics?: MetricsJson; error?: string };

export type ToWorker =
  | { wsload: 'start'; worker: number; workers: number; log: boolean; options: WorkerServerOptions }
  | { wsload: 'fanout'; gid: number; channel: string; json: string }
  /** Subscribers reached on the other workers (those that answered within the gather timeout). */
  | { wsload: 'published'; rid: number; recipients: number }
  | { wsload: 'collect'; gid: number; kind: 'health' | 'metrics' }
  | { wsload: 'answer'; rid: number; health?: ClusterHealth; metrics?: string; error?: string }
  | { wsload: 'shutdown' };

export function isWsloadMessage(message: unknown): message is { wsload: string } {
  return typeof message === 'object' && message !== null && typeof (message as { wsload?: unknown }).wsload === 'string';
}
