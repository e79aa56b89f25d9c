/**
 * The server's counters and their Prometheus exposition (/metrics, prom-client, one Registry per server so
 * several servers in one process do not clash).
 *
 * The hot path never touches prom-client: it increments slots of typed arrays here (~1 ns, no allocation),
 * and the prom-client metrics copy those numbers in their `collect()` at scrape time. prom-client's own
 * `counter.labels(x).inc()` re-hashes the label set on every call (~70-110 ns and a string per call) and
 * `histogram.observe()` allocates a closure and an object per call (~150-250 ns); measured in docs/serve.md.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';

/** Label values of `wsload_server_messages_received_total{type}`: the request types, then what is not one. */
export const RECEIVED_TYPES = [
  'ping', 'subscribe', 'unsubscribe', 'publish', 'agent_message', 'disconnect',
  /** A JSON object whose `type` is missing, not a string, or not a known type. */
  'unknown',
  /** Not JSON, not an object, or nested too deeply to handle. */
  'invalid',
  'binary',
  /** Dropped by the rate limit before it was parsed. */
  'dropped',
] as const;
/** Slot of each received type in `ServerStats.received`. */
export const Received = indexOf(RECEIVED_TYPES);

/** Every error code the server sends; label values of `wsload_server_errors_total{code}`. */
export const ERROR_CODES = [
  'invalid_json', 'not_an_object', 'missing_type', 'unknown_type', 'missing_field', 'invalid_field',
  'binary_not_supported', 'too_many_subscriptions', 'channel_too_long', 'rate_limited', 'nesting_too_deep', 'internal_error',
] as const;
export type ServerErrorCode = (typeof ERROR_CODES)[number];
const ErrorSlot = indexOf(ERROR_CODES);

/** Why a connection was refused before it became a WebSocket; label values of `…_handshakes_rejected_total{reason}`. */
export const REJECT_REASONS = [
  /** Upgrade on a path other than the endpoint (404). */
  'not_found',
  /** The server is closing (503). */
  'shutting_down',
  /** `maxConnections` open already (503). */
  'max_connections',
  /** Missing or wrong token (401). */
  'unauthorized',
  /** Origin not in the allowed list (403). */
  'forbidden_origin',
  /** ws found the upgrade request malformed: method, Upgrade, Sec-WebSocket-Key/Version… (400/405). */
  'bad_handshake',
  /** The HTTP request was not complete within the handshake timeout (408). Counts plain HTTP requests too. */
  'timeout',
  /** Not parseable as HTTP, or headers too large (400/431). Counts plain HTTP requests too. */
  'bad_request',
  /** The TLS handshake failed or timed out. */
  'tls',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export const Rejected = indexOf(REJECT_REASONS);

/** Close codes with their own label; other codes are grouped so a client cannot mint series. */
const CLOSE_LABELS = [
  '1000', '1001', '1002', '1003', '1005', '1006', '1007', '1008', '1009', '1010', '1011', '1012', '1013', '1014', '1015',
  '3xxx', '4xxx', 'other',
] as const;

/** Upper bounds (seconds) of the reply-latency histogram: 10 µs (an unloaded ping) to 10 s (a long reply delay). */
export const LATENCY_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Every number the server counts. Plain fields and typed arrays: the hot path only ever does `++`. */
export class ServerStats {
  /** Every frame received, text and binary, valid or not (also reported by /healthz). */
  messagesReceived = 0;
  readonly received = new Float64Array(RECEIVED_TYPES.length);
  readonly errors = new Float64Array(ERROR_CODES.length);
  readonly rejected = new Float64Array(REJECT_REASONS.length);
  readonly closes = new Float64Array(CLOSE_LABELS.length);
  connectionsTotal = 0;
  repliesSent = 0;
  fanoutSent = 0;
  backpressureCloses = 0;
  /** Per-bucket counts (not cumulative); the last slot is +Inf. */
  readonly latencyCounts = new Float64Array(LATENCY_BUCKETS.length + 1);
  latencySum = 0;

  countError(code: ServerErrorCode): void {
    this.errors[ErrorSlot[code]]++;
  }

  countClose(code: number): void {
    this.closes[closeSlot(code)]++;
  }

  /** Record one reply latency in seconds. A linear scan: replies are mostly in the first few buckets. */
  observeLatency(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.latencyCounts[i]++;
    this.latencySum += seconds;
  }
}

/** Slot of a close code in `ServerStats.closes`. */
function closeSlot(code: number): number {
  if (code >= 1000 && code <= 1015 && code !== 1004) return code <= 1003 ? code - 1000 : code - 1001;
  if (code >= 3000 && code <= 3999) return 15;
  if (code >= 4000 && code <= 4999) return 16;
  return 17;
}

/** What the registry reads live at scrape time, beyond the counters. */
export interface LiveGauges {
  connections(): number;
  channels(): number;
  bufferedBytes(): number;
}

/** Build the per-server registry; every metric is filled from `stats` / `live` when scraped. */
export function createMetricsRegistry(stats: ServerStats, live: LiveGauges): Registry {
  const registers = [new Registry()];
  const registry = registers[0]!;

  new Gauge({
    name: 'wsload_server_connections', help: 'Open WebSocket connections.', registers,
    collect() { this.set(live.connections()); },
  });
  new Gauge({
    name: 'wsload_server_channels', help: 'Channels with at least one subscriber.', registers,
    collect() { this.set(live.channels()); },
  });
  new Gauge({
    name: 'wsload_server_buffered_bytes', help: 'Bytes queued for all peers and not yet written to the network.', registers,
    collect() { this.set(live.bufferedBytes()); },
  });
  plainCounter(registers, 'wsload_server_connections_total', 'WebSocket connections accepted.', () => stats.connectionsTotal);
  plainCounter(registers, 'wsload_server_replies_sent_total', 'Replies sent to requests (errors included; fan-out not).', () => stats.repliesSent);
  plainCounter(registers, 'wsload_server_fanout_messages_total', 'Channel messages delivered to subscribers by publish.', () => stats.fanoutSent);
  plainCounter(registers, 'wsload_server_backpressure_closes_total', 'Connections closed with 1013 because too much was buffered for them.', () => stats.backpressureCloses);
  labelledCounter(registers, 'wsload_server_handshakes_rejected_total', 'Connections refused before becoming a WebSocket, by reason.', 'reason', REJECT_REASONS, stats.rejected);
  labelledCounter(registers, 'wsload_server_messages_received_total', 'Frames received, by request type.', 'type', RECEIVED_TYPES, stats.received);
  labelledCounter(registers, 'wsload_server_errors_total', 'Error replies sent, by error code.', 'code', ERROR_CODES, stats.errors);
  labelledCounter(registers, 'wsload_server_closes_total', 'Connections closed, by close code (the server\'s when it closed first).', 'code', CLOSE_LABELS, stats.closes);
  registry.registerMetric(latencyHistogram(stats));
  return registry;
}

function plainCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name, help, registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function labelledCounter(
  registers: Registry[], name: string, help: string, label: string, values: readonly string[], counts: Float64Array,
): void {
  new Counter({
    name, help, registers, labelNames: [label],
    collect() {
      this.reset();
      for (let i = 0; i < values.length; i++) this.inc({ [label]: values[i]! }, counts[i]!);
    },
  });
}

/**
 * The reply-latency histogram as a prom-client metric object. prom-client's Histogram cannot be loaded
 * with counts kept elsewhere, so this object speaks the interface its Registry reads (`name`, `help`,
 * `type`, `aggregator`, `get()` → values with `metricName`), the same shape its own Histogram returns.
 * test/server/hardening.test.ts asserts the exposition text, so a prom-client change that breaks it shows.
 */
function latencyHistogram(stats: ServerStats): Metric {
  const name = 'wsload_server_reply_latency_seconds';
  const metric = {
    name,
    help: 'Time from a frame being received to its reply being sent (reply delay included).',
    type: 'histogram',
    aggregator: 'sum',
    collect: undefined,
    get() {
      const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        cumulative += stats.latencyCounts[i]!;
        values.push({ value: cumulative, labels: { le: LATENCY_BUCKETS[i]! }, metricName: `${name}_bucket` });
      }
      cumulative += stats.latencyCounts[LATENCY_BUCKETS.length]!;
      values.push({ value: cumulative, labels: { le: '+Inf' }, metricName: `${name}_bucket` });
      values.push({ value: stats.latencySum, labels: {}, metricName: `${name}_sum` });
      values.push({ value: cumulative, labels: {}, metricName: `${name}_count` });
      return Promise.resolve({ name, help: metric.help, type: metric.type, aggregator: metric.aggregator, values });
    },
  };
  return metric as unknown as Metric;
}

function indexOf<const T extends readonly string[]>(names: T): { readonly [K in T[number]]: number } {
  const index = {} as Record<string, number>;
  names.forEach((n, i) => { index[n] = i; });
  return Object.freeze(index) as { readonly [K in T[number]]: number };
}
