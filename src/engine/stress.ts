/**
 * The stress run (the seed's `websocket_stress_test.js`, measured properly): open C connections in
 * batches, then each sends M requests — alternating pings and agent messages, the next when the
 * previous reply has come — matches every reply to its request by id, records round trips in HDR
 * histograms, and finally disconnects each connection with the protocol's `disconnect`.
 *
 * Hot path (../shared/PERF-NOTES.md): sends are built from prepared string templates, the reply's
 * id is read from the Buffer without JSON.parse, pending requests live in typed arrays, each
 * connection has one message listener bound once, and reply timeouts are found by one periodic
 * sweep instead of a timer per message. Library code: never prints, never exits.
 */
import { realClock, type Clock } from '../clock.js';
import { initHistograms, MetricsRecorder, summarizeEncoded, type Counter, type Gauge, type HistogramHandle, type MetricsSnapshot } from '../metrics/index.js';
import { classifyClose, Connection, describeError, type ConnectionEvents } from './connection.js';

export interface StressOptions {
  /** Target, `ws://` or `wss://`. */
  url: string;
  /** Connections to open. */
  connections: number;
  /** Requests per connection (0: connect and disconnect only). */
  messages: number;
  /** Connections whose handshakes run concurrently; the next batch starts when one has settled. */
  batch: number;
  /** Requests in flight per connection; 1 = the next is sent when the previous reply has come. */
  inflight?: number;
  /** A request without a reply after this long counts as `reply_timeout`. */
  replyTimeoutMs: number;
  /** Bound on each opening handshake (`connect_timeout`). */
  connectTimeoutMs: number;
  /** Bound on waiting for `disconnect_ack` (default 2000 ms), then the client closes anyway. */
  disconnectTimeoutMs?: number;
  /** Bound on the closing handshake (default 1000 ms), then the socket is destroyed. */
  closeTimeoutMs?: number;
  /** After an abort, how long in-flight requests may still be answered (default 1000 ms). */
  graceMs?: number;
  /** Metrics interval (default 1000 ms). */
  intervalMs?: number;
}

/** Sent to `onProgress` once per metrics interval. */
export interface StressProgress {
  elapsedMs: number;
  connectionsTarget: number;
  connectionsAttempted: number;
  connectionsOpen: number;
  messagesSent: number;
  messagesReceived: number;
  /** Errors of every kind so far. */
  errors: number;
  /** Median round trip of the interval just closed (ms); undefined when nothing was answered. */
  p50Ms: number | undefined;
}

export interface StressDeps {
  /** Abort: stop starting connections and requests, allow `graceMs` for replies, disconnect. */
  signal?: AbortSignal;
  clock?: Clock;
  onProgress?: (p: StressProgress) => void;
}

/** The first handshake failure, for a one-line diagnosis ("connect ECONNREFUSED 127.0.0.1:8000"). */
export interface FirstConnectError {
  kind: string;
  message: string;
}

export interface StressResult {
  snapshot: MetricsSnapshot;
  /** True when the run was cut short by the signal. */
  aborted: boolean;
  options: ResolvedStressOptions;
  firstConnectError: FirstConnectError | undefined;
}

export type ResolvedStressOptions = Required<StressOptions>;

/** Metric names (docs/stress.md). */
export const StressMetric = {
  connectionsAttempted: 'connections.attempted',
  connectionsSuccessful: 'connections.successful',
  connectionsFailed: 'connections.failed',
  connectionsClosed: 'connections.closed',
  connectionsDropped: 'connections.dropped',
  connectionsCompleted: 'connections.completed',
  connectionsActive: 'connections.active',
  messagesSent: 'messages.sent',
  messagesReceived: 'messages.received',
  messagesLost: 'messages.lost',
  messagesUnsolicited: 'messages.unsolicited',
  messagesLate: 'messages.late',
  bytesSent: 'bytes.sent',
  bytesReceived: 'bytes.received',
  rtt: 'ws.rtt',
  rttPing: 'ws.rtt.ping',
  rttAgentMessage: 'ws.rtt.agent_message',
  connect: 'ws.connect',
} as const;

export const REPLY_TIMEOUT = 'reply_timeout';
export const SEND_FAILED = 'send_failed';
export const DISCONNECT_TIMEOUT = 'disconnect_timeout';
export const CONNECT_ABORTED = 'connect_aborted';

export function resolveEngineOptions(o: StressOptions): ResolvedStressOptions {
  return {
    url: o.url,
    connections: o.connections,
    messages: o.messages,
    batch: o.batch,
    inflight: o.inflight ?? 1,
    replyTimeoutMs: o.replyTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    disconnectTimeoutMs: o.disconnectTimeoutMs ?? 2000,
    closeTimeoutMs: o.closeTimeoutMs ?? 1000,
    graceMs: o.graceMs ?? 1000,
    intervalMs: o.intervalMs ?? 1000,
  };
}

// ---- send templates: JSON built by concatenation, never JSON.stringify ----
const PING_PREFIX = '{"type":"ping","id":';
const AGENT_PREFIX = '{"type":"agent_message","id":';
const AGENT_PAYLOAD = '","payload":{"action":"execute","timestamp":';
const AGENT_SUFFIX = ',"data":{}}}';
const DISCONNECT_PREFIX = '{"type":"disconnect","id":';
/** Agents addressed round-robin: `agent_0` … `agent_99`. */
const AGENTS = 100;

// ---- reply parsing without JSON.parse ----
const ID_KEY = Buffer.from('"id"');
const ERROR_TOKEN = Buffer.from('"error"');

/**
 * The non-negative integer after the first `"id"` key in a JSON text, or -1 when there is none or
 * it is not a plain integer (the caller then falls back to JSON.parse). Whitespace-tolerant.
 */
export function readReplyId(buf: Buffer): number {
  let i = buf.indexOf(ID_KEY);
  if (i < 0) return -1;
  i += ID_KEY.length;
  const n = buf.length;
  while (i < n && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  if (buf[i] !== 0x3a /* : */) return -1;
  i++;
  while (i < n && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  let id = 0;
  let digits = 0;
  for (; i < n; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    id = id * 10 + (c - 0x30);
    digits++;
  }
  if (digits === 0 || digits > 15) return -1;
  // A number like 5.0 or 5e3 is not one of our ids.
  if (i < n && (buf[i] === 0x2e || buf[i] === 0x65 || buf[i] === 0x45)) return -1;
  return id;
}

/** The slow path: a full parse, for replies the fast path could not settle. Undefined if not an object. */
function parseObject(buf: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A top-level id as one of our numeric ids, or -1. */
function idOf(obj: Record<string, unknown> | undefined): number {
  const id = obj?.id;
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id === 'string' && /^\d{1,15}$/.test(id)) return Number(id);
  return -1;
}

/** `server_error_<code>` for an `{"type":"error"}` message, else undefined. */
function serverErrorKind(obj: Record<string, unknown> | undefined): string | undefined {
  if (obj?.type !== 'error') return undefined;
  const code = obj.code;
  return `server_error_${typeof code === 'string' || typeof code === 'number' ? String(code) : 'unknown'}`;
}

const S_CONNECTING = 0;
const S_OPEN = 1; // connected, waiting for the other connections before sending
const S_RUNNING = 2;
const S_DISCONNECTING = 3;
const S_DONE = 4;

const TYPE_PING = 0;
const TYPE_AGENT = 1;

/** Everything sessions share: options, metric handles, the clock. One per run. */
class Run {
  readonly opts: ResolvedStressOptions;
  readonly clock: Clock;
  readonly recorder: MetricsRecorder;
  readonly attempted: Counter;
  readonly successful: Counter;
  readonly failed: Counter;
  readonly closed: Counter;
  readonly dropped: Counter;
  readonly completed: Counter;
  readonly active: Gauge;
  readonly sent: Counter;
  readonly received: Counter;
  readonly lost: Counter;
  readonly unsolicited: Counter;
  readonly late: Counter;
  readonly bytesSent: Counter;
  readonly bytesReceived: Counter;
  readonly rttPing: HistogramHandle;
  readonly rttAgent: HistogramHandle;
  readonly connectHist: HistogramHandle;
  readonly sessions: Session[] = [];
  /** Set on abort: no new connections or requests. */
  stopping = false;
  firstConnectError: FirstConnectError | undefined;
  errorsTotal = 0;
  private settled = 0;
  private onAllSettled: (() => void) | undefined;

  constructor(opts: ResolvedStressOptions, clock: Clock, recorder: MetricsRecorder) {
    this.opts = opts;
    this.clock = clock;
    this.recorder = recorder;
    const r = recorder;
    this.attempted = r.counter(StressMetric.connectionsAttempted);
    this.successful = r.counter(StressMetric.connectionsSuccessful);
    this.failed = r.counter(StressMetric.connectionsFailed);
    this.closed = r.counter(StressMetric.connectionsClosed);
    this.dropped = r.counter(StressMetric.connectionsDropped);
    this.completed = r.counter(StressMetric.connectionsCompleted);
    this.active = r.gauge(StressMetric.connectionsActive);
    this.sent = r.counter(StressMetric.messagesSent);
    this.received = r.counter(StressMetric.messagesReceived);
    this.lost = r.counter(StressMetric.messagesLost);
    this.unsolicited = r.counter(StressMetric.messagesUnsolicited);
    this.late = r.counter(StressMetric.messagesLate);
    this.bytesSent = r.counter(StressMetric.bytesSent);
    this.bytesReceived = r.counter(StressMetric.bytesReceived);
    const rtt = r.histogram(StressMetric.rtt);
    this.rttPing = r.histogram(StressMetric.rttPing, rtt);
    this.rttAgent = r.histogram(StressMetric.rttAgentMessage, rtt);
    this.connectHist = r.histogram(StressMetric.connect);
  }

  error(kind: string): void {
    this.recorder.error(kind);
    this.errorsTotal++;
  }

  /** A session reached its end (failed handshake or closed). */
  sessionSettled(): void {
    this.settled++;
    if (this.settled === this.sessions.length && this.onAllSettled !== undefined) this.onAllSettled();
  }

  /** Resolves once every started session has settled. */
  allSettled(): Promise<void> {
    if (this.settled === this.sessions.length) return Promise.resolve();
    return new Promise((resolve) => { this.onAllSettled = resolve; });
  }
}

/**
 * One connection's request/reply state. Pending requests sit in typed-array slots (id, send time,
 * type); `slotId` 0 marks a free slot (our ids start at 1).
 */
class Session implements ConnectionEvents {
  state = S_CONNECTING;
  readonly conn: Connection;
  /** Requests sent so far; the next request's id is `sent + 1`. */
  private sentCount = 0;
  private pending = 0;
  private readonly slotId: Float64Array;
  private readonly slotAt: Float64Array;
  private readonly slotType: Uint8Array;
  private readonly agentFrom: string;
  private disconnectId = 0;
  private disconnectDeadline = 0;
  /** Why this connection was given up, when it was our decision (reported at close). */
  private dropKind: string | undefined;
  /** Settles the batch that opened this connection. */
  private settleConnect: (() => void) | undefined;

  constructor(
    private readonly run: Run,
    readonly index: number,
  ) {
    const w = run.opts.inflight;
    this.slotId = new Float64Array(w);
    this.slotAt = new Float64Array(w);
    this.slotType = new Uint8Array(w);
    this.agentFrom = `,"from":"user_${index}","to":"agent_`;
    this.conn = new Connection(run.opts.url, this, {
      connectTimeoutMs: run.opts.connectTimeoutMs,
      closeTimeoutMs: run.opts.closeTimeoutMs,
      clock: run.clock,
    });
  }

  /** Start the handshake; resolves when it has succeeded or failed. */
  connect(): Promise<void> {
    return new Promise((resolve) => {
      this.settleConnect = resolve;
      this.run.attempted.value++;
      this.conn.open();
    });
  }

  onOpen(handshakeMs: number): void {
    const run = this.run;
    run.successful.value++;
    run.active.value++;
    run.connectHist.record(handshakeMs * 1000);
    this.state = S_OPEN;
    this.settleConnectPromise();
    // A connection that opens after an abort goes straight to its disconnect.
    if (run.stopping) this.start();
  }

  onConnectFailed(kind: string, error: Error): void {
    const run = this.run;
    run.failed.value++;
    run.error(kind);
    run.firstConnectError ??= { kind, message: describeError(error) };
    this.state = S_DONE;
    this.settleConnectPromise();
    run.sessionSettled();
  }

  /** Begin sending (after every batch has connected). */
  start(): void {
    if (this.state !== S_OPEN) return;
    this.state = S_RUNNING;
    this.pump();
  }

  /** Send while there is room in the window; disconnect when everything is answered. */
  private pump(): void {
    const run = this.run;
    const limit = run.opts.messages;
    const window = run.opts.inflight;
    while (this.pending < window && this.sentCount < limit && !run.stopping) {
      if (!this.sendNext()) return;
    }
    if (this.pending === 0 && (this.sentCount >= limit || run.stopping)) this.disconnect();
  }

  /** Send request `sentCount + 1`: odd ids are pings, even ids agent messages. */
  private sendNext(): boolean {
    const run = this.run;
    const id = this.sentCount + 1;
    const type = (id & 1) === 1 ? TYPE_PING : TYPE_AGENT;
    const text = type === TYPE_PING
      ? PING_PREFIX + id + '}'
      : AGENT_PREFIX + id + this.agentFrom + ((this.index + id) % AGENTS) + AGENT_PAYLOAD + Date.now() + AGENT_SUFFIX;
    let slot = 0;
    while (this.slotId[slot] !== 0) slot++;
    // Stamp before sending: the round trip includes ws framing and the write.
    const at = run.clock.now();
    try {
      // False when the socket is closing: the close event will say why; nothing was sent.
      if (!this.conn.send(text)) return false;
    } catch {
      // ws refused the frame: give up on this connection, counted once as send_failed.
      this.dropKind = SEND_FAILED;
      this.conn.terminate();
      return false;
    }
    this.slotId[slot] = id;
    this.slotAt[slot] = at;
    this.slotType[slot] = type;
    this.pending++;
    this.sentCount = id;
    run.sent.value++;
    // Templates are ASCII: length is the byte count.
    run.bytesSent.value += text.length;
    return true;
  }

  onMessage(data: Buffer): void {
    const run = this.run;
    run.bytesReceived.value += data.length;
    const id = readReplyId(data);
    if (id > 0 && this.complete(id, data)) return;
    this.slowMessage(data, id);
  }

  /** Match `id` to a pending request; false when it is not pending. */
  private complete(id: number, data: Buffer): boolean {
    const slots = this.slotId;
    let slot = 0;
    while (slot < slots.length && slots[slot] !== id) slot++;
    if (slot === slots.length) return false;
    const run = this.run;
    const rttMs = run.clock.now() - this.slotAt[slot]!;
    slots[slot] = 0;
    this.pending--;
    run.received.value++;
    (this.slotType[slot] === TYPE_PING ? run.rttPing : run.rttAgent).record(rttMs * 1000);
    // An error reply is a reply (its round trip counts) and also an error of its kind.
    if (data.indexOf(ERROR_TOKEN) !== -1) {
      const kind = serverErrorKind(parseObject(data));
      if (kind !== undefined) run.error(kind);
    }
    if (this.state === S_RUNNING) this.pump();
    return true;
  }

  /**
   * Everything the fast path did not match: the disconnect ack, a reply whose first `"id"` was a
   * nested one, a late reply, an unsolicited message. Rare, so a full parse is fine here.
   */
  private slowMessage(data: Buffer, fastId: number): void {
    const run = this.run;
    const obj = parseObject(data);
    const id = idOf(obj);
    if (id > 0 && id !== fastId && this.complete(id, data)) return;
    if (this.state === S_DISCONNECTING && this.disconnectId !== 0 && (id === this.disconnectId || (id < 0 && obj?.type === 'disconnect_ack'))) {
      this.disconnectId = 0;
      run.completed.value++;
      this.conn.close(1000);
      return;
    }
    const kind = serverErrorKind(obj);
    if (kind !== undefined) run.error(kind);
    // Unsolicited: matched nothing pending. Late (a subset): one of our ids, no longer pending.
    run.unsolicited.value++;
    if (id > 0 && id <= this.sentCount) run.late.value++;
  }

  /** Called by the sweep: expire requests older than the reply timeout, and a silent disconnect. */
  sweep(now: number): void {
    const run = this.run;
    if (this.state === S_DISCONNECTING) {
      if (this.disconnectId !== 0 && now >= this.disconnectDeadline) {
        this.disconnectId = 0;
        run.error(DISCONNECT_TIMEOUT);
        this.conn.close(1000);
      }
      return;
    }
    if (this.pending === 0) return;
    const oldest = now - run.opts.replyTimeoutMs;
    let expired = false;
    for (let slot = 0; slot < this.slotId.length; slot++) {
      if (this.slotId[slot] !== 0 && this.slotAt[slot]! <= oldest) {
        this.slotId[slot] = 0;
        this.pending--;
        run.error(REPLY_TIMEOUT);
        expired = true;
      }
    }
    if (expired && this.state === S_RUNNING) this.pump();
  }

  /** Send `disconnect` and wait (bounded, by the sweep) for the ack; requests still pending are lost. */
  disconnect(): void {
    if (this.state !== S_RUNNING && this.state !== S_OPEN) return;
    // Already closing under us: the close event accounts for it as a drop.
    if (!this.conn.isOpen) return;
    this.state = S_DISCONNECTING;
    this.abandonPending();
    const run = this.run;
    const id = this.sentCount + 1;
    const text = DISCONNECT_PREFIX + id + '}';
    this.conn.send(text);
    run.bytesSent.value += text.length;
    this.disconnectId = id;
    this.disconnectDeadline = run.clock.now() + run.opts.disconnectTimeoutMs;
  }

  /** Give up on a handshake still in progress (after an abort's grace). */
  abortConnect(): void {
    if (this.state === S_CONNECTING) this.conn.abortConnect(CONNECT_ABORTED, 'connection attempt abandoned: the run was interrupted');
  }

  onClose(code: number, error: Error | undefined): void {
    const run = this.run;
    run.active.value--;
    run.closed.value++;
    if (this.state !== S_DISCONNECTING) {
      // Closed under us before we were done: one error of its kind; what was in flight is lost.
      run.dropped.value++;
      run.error(this.dropKind ?? classifyClose(code, error));
      this.abandonPending();
    }
    this.state = S_DONE;
    run.sessionSettled();
  }

  private abandonPending(): void {
    if (this.pending === 0) return;
    this.run.lost.value += this.pending;
    this.pending = 0;
    this.slotId.fill(0);
  }

  private settleConnectPromise(): void {
    const settle = this.settleConnect;
    this.settleConnect = undefined;
    settle?.();
  }
}

/**
 * Run a stress test. Resolves when every connection has settled (closed or failed) — every wait is
 * bounded by the options' timeouts — and leaves no timer or socket behind.
 */
export async function runStress(options: StressOptions, deps: StressDeps = {}): Promise<StressResult> {
  const opts = resolveEngineOptions(options);
  const clock = deps.clock ?? realClock;
  await initHistograms();
  const startMono = clock.now();
  const startWall = clock.wallNow();
  const epochNow = (): number => startWall + (clock.now() - startMono);
  const recorder = new MetricsRecorder({ startTime: startWall, intervalMs: opts.intervalMs });
  const run = new Run(opts, clock, recorder);

  // Reply timeouts and disconnect deadlines: one sweep for all connections, a bounded cheap check.
  const sweepMs = Math.max(5, Math.min(100, opts.replyTimeoutMs / 10));
  const sweeper = setInterval(() => {
    const now = clock.now();
    for (const s of run.sessions) if (s.state === S_RUNNING || s.state === S_DISCONNECTING) s.sweep(now);
  }, sweepMs);

  // Interval ticks, aligned to the recorder's boundaries; unref'd so they never hold the process.
  let ticker: NodeJS.Timeout | undefined;
  const scheduleTick = (): void => {
    ticker = setTimeout(onTick, Math.max(1, recorder.nextBoundary() - epochNow()));
    ticker.unref();
  };
  const onTick = (): void => {
    const sample = recorder.tick(epochNow());
    if (deps.onProgress !== undefined) {
      const rtt = sample.histograms[StressMetric.rtt];
      deps.onProgress({
        elapsedMs: clock.now() - startMono,
        connectionsTarget: opts.connections,
        connectionsAttempted: run.attempted.value,
        connectionsOpen: run.active.value,
        messagesSent: run.sent.value,
        messagesReceived: run.received.value,
        errors: run.errorsTotal,
        p50Ms: rtt === undefined ? undefined : summarizeEncoded(rtt).p50,
      });
    }
    scheduleTick();
  };
  scheduleTick();

  // Abort: stop now, let in-flight replies arrive for graceMs, then disconnect what is left.
  let graceTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    if (run.stopping) return;
    run.stopping = true;
    // Idle connections (waiting to start, or between requests) disconnect now.
    for (const s of run.sessions) if (s.state === S_OPEN) s.start();
    graceTimer = setTimeout(() => {
      for (const s of run.sessions) {
        if (s.state === S_CONNECTING) s.abortConnect();
        else s.disconnect();
      }
    }, opts.graceMs);
  };
  const signal = deps.signal;
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  try {
    // Open in batches: a batch's handshakes concurrently, the next once every one has settled.
    for (let first = 0; first < opts.connections && !run.stopping; first += opts.batch) {
      const end = Math.min(opts.connections, first + opts.batch);
      const batch: Promise<void>[] = [];
      for (let i = first; i < end; i++) {
        const session = new Session(run, i);
        run.sessions.push(session);
        batch.push(session.connect());
      }
      await Promise.all(batch);
    }
    // Then every open connection sends its requests.
    for (const s of run.sessions) s.start();
    await run.allSettled();
  } finally {
    clearInterval(sweeper);
    if (ticker !== undefined) clearTimeout(ticker);
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    signal?.removeEventListener('abort', onAbort);
  }

  const snapshot = recorder.snapshot(epochNow());
  recorder.destroy();
  return { snapshot, aborted: run.stopping, options: opts, firstConnectError: run.firstConnectError };
}
