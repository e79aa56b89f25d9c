/**
 * The stress run (the seed's `websocket_stress_test.js`, measured properly): open C connections in
 * batches, then each sends M requests — alternating pings and agent messages, the next when the
 * previous reply has come — matches every reply to its request by id, records round trips in HDR
 * histograms, and finally disconnects each connection with the protocol's `disconnect`.
 * Rate mode (`rate`): an open loop instead — each connection sends on a fixed schedule whatever the
 * replies, driven by one timer for the run, and round trips count from the intended send time.
 *
 * Hot path (../shared/PERF-NOTES.md): each request is written as bytes from prepared templates
 * into a scratch buffer, which the connection masks into a frame written with one `write` (no
 * string building, no UTF-8 encoding, no cork + `writev`), the reply's id is read from the Buffer without JSON.parse, pending requests
 * live in typed arrays, each connection has one message listener bound once, and reply timeouts are
 * found by one periodic sweep instead of a timer per message. Library code: never prints, never exits.
 */
import { realClock, type Clock, type TimerHandle } from '../clock.js';
import { initHistograms, MetricsRecorder, summarizeEncoded, type Counter, type Gauge, type HistogramHandle, type IntervalSample, type MetricsSnapshot } from '../metrics/index.js';
import { classifyClose, Connection, describeError, type ConnectionEvents } from './connection.js';
import { digitCount, hasErrorToken, idFromJson, readReplyId, serverErrorKind, writeDigits } from './reply-id.js';
import { TARGET_LOST_METRIC, TargetWatch } from './target-watch.js';

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
  /**
   * Source addresses: connection i binds `localAddresses[i % n]` (default none: the OS picks). Each
   * source address has its own ~28k ephemeral ports towards one server address (docs/workers.md).
   */
  localAddresses?: readonly string[];
  /** Once every connection is open, hold them all open this long before sending (default 0). */
  holdMs?: number;
  /**
   * Rate mode (open loop, docs/stress.md): messages per second, in total (`ratePer: 'run'`, the
   * default) or per connection. 0 or absent: the closed loop. In rate mode each connection sends on
   * a fixed schedule regardless of replies, and round trips are measured from the intended send time.
   */
  rate?: number;
  /** What `rate` counts: the whole run (divided among the connections that opened) or each connection. */
  ratePer?: RatePer;
  /**
   * What the requests are: `mixed` (the default) alternates pings (odd ids) and agent messages (even
   * ids), `ping` sends pings only (to compare with a pings-only client), `agent` agent messages only.
   */
  mix?: StressMix;
}

export type RatePer = 'run' | 'connection';
export type StressMix = 'mixed' | 'ping' | 'agent';
export const STRESS_MIXES: readonly StressMix[] = ['mixed', 'ping', 'agent'];

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
  /**
   * Epoch ms the run starts at (default: now). Worker processes share one so their interval
   * indexes line up (src/workers); the run waits until then when it is in the future.
   */
  startTime?: number;
  /** Called with each interval as it closes (the last, partial one is only in the snapshot). */
  onInterval?: (sample: IntervalSample) => void;
  /**
   * Awaited once every connection of this run has opened or failed, before the hold and the first
   * send. A coordinator resolves it when all its workers got there, so that, as in one process, no
   * connection sends before every connection is open. It must also resolve on abort.
   */
  allOpen?: () => Promise<void>;
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
  /**
   * Rate mode: the target rate in messages per second for the whole run (for thresholds'
   * `createMetricView(snapshot, { offeredRatePerSec })`); absent in the closed loop (unbounded).
   * Equals `offeredRate(options)`.
   */
  offeredRatePerSec?: number | undefined;
}

/** Every option resolved; `mix` only when it is not the default `mixed` (reports list what was set). */
export type ResolvedStressOptions = Required<Omit<StressOptions, 'mix'>> & { mix?: 'ping' | 'agent' };

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
  /** Set to 1 when the target went away mid-run (./target-watch.ts); absent otherwise. */
  targetLost: TARGET_LOST_METRIC,
  // Rate mode only (absent from closed-loop snapshots): ws.rtt* are then measured from the intended
  // send time; these hold the raw round trips, each send's lag behind schedule, and the rates.
  rttRaw: 'ws.rtt.raw',
  sendLag: 'ws.send_lag',
  messagesBehind: 'messages.behind',
  messagesBehindWindow: 'messages.behind_window',
  rateTarget: 'rate.target',
  rateAchieved: 'rate.achieved',
} as const;

/** Rate mode: a send later than its intended time by more than this counts in `messages.behind`. */
export const BEHIND_THRESHOLD_MS = 10;

/** The total target rate (msg/s) of resolved options, or undefined in the closed loop. */
export function offeredRate(o: Pick<ResolvedStressOptions, 'rate' | 'ratePer' | 'connections'>): number | undefined {
  if (!(o.rate > 0)) return undefined;
  return o.ratePer === 'connection' ? o.rate * o.connections : o.rate;
}

/**
 * Rate mode's default window per connection: room for a reply timeout's worth of sends at the
 * per-connection rate (a request cannot stay pending longer than that, so the window never fills
 * while replies come in time), at least 64 and at most 1000.
 */
export function defaultRateInflight(perConnectionRate: number, replyTimeoutMs: number): number {
  return Math.min(1000, Math.max(64, Math.ceil(perConnectionRate * (replyTimeoutMs / 1000))));
}

export const REPLY_TIMEOUT = 'reply_timeout';
export const SEND_FAILED = 'send_failed';
export const DISCONNECT_TIMEOUT = 'disconnect_timeout';
export const CONNECT_ABORTED = 'connect_aborted';
/** A connection that got nothing at all for STALL_TIMEOUTS reply timeouts in a row is given up. */
export const CONNECTION_STALLED = 'connection_stalled';
export const STALL_TIMEOUTS = 3;

export function resolveEngineOptions(o: StressOptions): ResolvedStressOptions {
  const rate = o.rate !== undefined && Number.isFinite(o.rate) && o.rate > 0 ? o.rate : 0;
  const ratePer: RatePer = o.ratePer ?? 'run';
  const perConnection = ratePer === 'connection' ? rate : rate / Math.max(1, o.connections);
  return {
    url: o.url,
    connections: o.connections,
    messages: o.messages,
    batch: o.batch,
    inflight: o.inflight ?? (rate > 0 ? defaultRateInflight(perConnection, o.replyTimeoutMs) : 1),
    rate,
    ratePer,
    replyTimeoutMs: o.replyTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    disconnectTimeoutMs: o.disconnectTimeoutMs ?? 2000,
    closeTimeoutMs: o.closeTimeoutMs ?? 1000,
    graceMs: o.graceMs ?? 1000,
    intervalMs: o.intervalMs ?? 1000,
    localAddresses: o.localAddresses ?? [],
    holdMs: o.holdMs ?? 0,
    ...resolveMix(o.mix),
  };
}

function resolveMix(mix: StressMix | undefined): { mix?: 'ping' | 'agent' } {
  return mix === 'ping' || mix === 'agent' ? { mix } : {};
}

// ---- send templates: UTF-8 bytes written into each frame's payload, never JSON.stringify ----
const PING_PREFIX = Buffer.from('{"type":"ping","id":');
const AGENT_PREFIX = Buffer.from('{"type":"agent_message","id":');
const AGENT_PAYLOAD = Buffer.from('","payload":{"action":"execute","timestamp":');
const AGENT_SUFFIX = Buffer.from(',"data":{}}}');
const DISCONNECT_PREFIX = '{"type":"disconnect","id":';
/** Agents addressed round-robin: `agent_0` … `agent_99`. */
const AGENTS = 100;
const CLOSE_BRACE = 0x7d;

/**
 * The agent message's tail from the payload on (`","payload":{…,"timestamp":<ms>,"data":{}}}`):
 * the same bytes for every message sent within one millisecond, so built once per millisecond.
 */
let tailMs = -1;
let tail: Buffer = Buffer.alloc(0);
function agentTail(now: number): Buffer {
  if (now !== tailMs) {
    const n = digitCount(now);
    const t = Buffer.allocUnsafe(AGENT_PAYLOAD.length + n + AGENT_SUFFIX.length);
    t.set(AGENT_PAYLOAD, 0);
    t.set(AGENT_SUFFIX, writeDigits(t, AGENT_PAYLOAD.length, now, n));
    tail = t;
    tailMs = now;
  }
  return tail;
}

/**
 * Where requests are written before `Connection.sendTextBytes` copies them into their frame: one
 * buffer for the whole process (sending is synchronous). Large enough for any request: an agent
 * message with 15-digit ids is under 200 bytes.
 */
const scratch = Buffer.allocUnsafe(512);

/** Write `{"type":"ping","id":<id>}` into `buf` from 0; returns its length. */
export function writePing(buf: Buffer, id: number): number {
  const n = digitCount(id);
  buf.set(PING_PREFIX, 0);
  const end = writeDigits(buf, PING_PREFIX.length, id, n);
  buf[end] = CLOSE_BRACE;
  return end + 1;
}

/**
 * Write `{"type":"agent_message","id":<id>,"from":"user_<i>","to":"agent_<agent>","payload":
 * {"action":"execute","timestamp":<nowMs>,"data":{}}}` into `buf` from 0; returns its length. `from`
 * is the session's `,"from":"user_<i>","to":"agent_` bytes.
 */
export function writeAgentMessage(buf: Buffer, id: number, from: Buffer, agent: number, nowMs: number): number {
  const t = agentTail(nowMs);
  buf.set(AGENT_PREFIX, 0);
  let at = writeDigits(buf, AGENT_PREFIX.length, id, digitCount(id));
  buf.set(from, at);
  at = writeDigits(buf, at + from.length, agent, digitCount(agent));
  buf.set(t, at);
  return at + t.length;
}

// ---- reply parsing without JSON.parse ----
const TYPE_KEY = Buffer.from('{"type":"');
const ID_MEMBER = Buffer.from(',"id":');
const ERROR_VALUE = Buffer.from('error');

/**
 * The fastest path, for replies laid out as the reference server writes them (`{"type":"pong","id":7}`,
 * `{"type":"agent_response","id":8,…}`): a first member `"type"` with a plain string value other than
 * `"error"`, then `"id"` with a plain integer. Returns that id (> 0), or -1 when the reply is laid
 * out otherwise or is an error (the general path then decides, as for any reply). The rest of the
 * reply is not looked at: a second `"type"` member further on (JSON.parse would keep the last) is
 * not taken for an error.
 */
export function readPlainReplyId(buf: Buffer): number {
  const n = buf.length;
  const k = TYPE_KEY.length;
  if (n < k + ID_MEMBER.length + 2) return -1;
  for (let i = 0; i < k; i++) if (buf[i] !== TYPE_KEY[i]) return -1;
  // The type's value: up to the closing quote, no escapes.
  let i = k;
  while (i < n) {
    const c = buf[i]!;
    if (c === 0x22) break;
    if (c === 0x5c) return -1;
    i++;
  }
  if (i - k === ERROR_VALUE.length && buf.compare(ERROR_VALUE, 0, ERROR_VALUE.length, k, i) === 0) return -1;
  i++;
  const m = ID_MEMBER.length;
  if (i + m >= n) return -1;
  for (let j = 0; j < m; j++) if (buf[i + j] !== ID_MEMBER[j]) return -1;
  i += m;
  let id = 0;
  const first = i;
  for (; i < n; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    id = id * 10 + (c - 0x30);
  }
  const digits = i - first;
  if (digits === 0 || digits > 15 || i === n) return -1;
  // Only a plain integer member: 5.0, 5e3 or anything else after the digits is left to the general path.
  const c = buf[i];
  return c === 0x2c || c === CLOSE_BRACE ? id : -1;
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

const S_CONNECTING = 0;
const S_OPEN = 1; // connected, waiting for the other connections before sending
const S_RUNNING = 2;
const S_DISCONNECTING = 3;
const S_DONE = 4;

const TYPE_PING = 0;
const TYPE_AGENT = 1;

const MIX_MIXED = 0;
const MIX_PING = 1;
const MIX_AGENT = 2;

/** Everything sessions share: options, metric handles, the clock. One per run. */
class Run {
  readonly opts: ResolvedStressOptions;
  /** MIX_MIXED, MIX_PING or MIX_AGENT. */
  readonly mix: number;
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
  /** Rate mode only (undefined in the closed loop, so its snapshot stays as it was). */
  readonly rttRaw: HistogramHandle | undefined;
  readonly sendLag: HistogramHandle | undefined;
  readonly behind: Counter | undefined;
  /** Of `behind`, the sends that waited for a slot of a full window. */
  readonly behindWindow: Counter | undefined;
  /** Rate mode: clock time of the latest send. */
  lastSendAt = 0;
  readonly sessions: Session[] = [];
  /** Set on abort: no new connections or requests. */
  stopping = false;
  firstConnectError: FirstConnectError | undefined;
  errorsTotal = 0;
  /** Connection outcomes, to tell at the end whether the target went away mid-run. */
  readonly target = new TargetWatch();
  private settled = 0;
  private onAllSettled: (() => void) | undefined;

  constructor(opts: ResolvedStressOptions, clock: Clock, recorder: MetricsRecorder) {
    this.opts = opts;
    this.mix = opts.mix === 'ping' ? MIX_PING : opts.mix === 'agent' ? MIX_AGENT : MIX_MIXED;
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
    const rateMode = opts.rate > 0;
    this.rttRaw = rateMode ? r.histogram(StressMetric.rttRaw) : undefined;
    this.sendLag = rateMode ? r.histogram(StressMetric.sendLag) : undefined;
    this.behind = rateMode ? r.counter(StressMetric.messagesBehind) : undefined;
    this.behindWindow = rateMode ? r.counter(StressMetric.messagesBehindWindow) : undefined;
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
  /** Rate mode: each pending request's intended send time (empty in the closed loop). */
  private readonly slotDue: Float64Array;
  /** Rate mode: request k (0-based) is due at `dueT0 + (duePhase + k × dueStride) × dueSlotMs`. */
  private dueT0 = 0;
  private duePhase = 0;
  private dueStride = 0;
  private dueSlotMs = 0;
  /** `,"from":"user_<index>","to":"agent_` as bytes, for the agent messages. */
  private readonly agentFrom: Buffer;
  private disconnectId = 0;
  private disconnectDeadline = 0;
  /** Why this connection was given up, when it was our decision (reported at close). */
  private dropKind: string | undefined;
  /** Stall detection: messages received, the count the sweep last saw, and since when nothing came. */
  private inbound = 0;
  private inboundSeen = 0;
  private silentSince = 0;
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
    this.slotDue = new Float64Array(run.opts.rate > 0 ? w : 0);
    this.agentFrom = Buffer.from(`,"from":"user_${index}","to":"agent_`);
    const sources = run.opts.localAddresses;
    this.conn = new Connection(run.opts.url, this, {
      connectTimeoutMs: run.opts.connectTimeoutMs,
      closeTimeoutMs: run.opts.closeTimeoutMs,
      clock: run.clock,
      ...(sources.length > 0 ? { wsOptions: { localAddress: sources[index % sources.length]! } } : {}),
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
    this.silentSince = run.clock.now();
    run.target.opened();
    this.settleConnectPromise();
    // A connection that opens after an abort goes straight to its disconnect.
    if (run.stopping) this.start();
  }

  onConnectFailed(kind: string, error: Error): void {
    const run = this.run;
    run.failed.value++;
    run.error(kind);
    run.firstConnectError ??= { kind, message: describeError(error) };
    run.target.connectFailed(kind);
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

  /**
   * Rate mode: this connection's place in the run's schedule. Send slot g of the run is due at
   * `t0 + g × slotMs`; this connection owns slots `phase, phase + stride, phase + 2·stride, …`, so
   * the connections are phase-shifted and the run's total is smooth. The scheduler's wheel computes
   * due times with the same expression (bit-identical), so it and `pump` never disagree.
   */
  schedule(t0: number, phase: number, stride: number, slotMs: number): void {
    this.dueT0 = t0;
    this.duePhase = phase;
    this.dueStride = stride;
    this.dueSlotMs = slotMs;
  }

  /**
   * Send while there is room in the window (rate mode: and the next request is due); disconnect
   * when everything is answered. In rate mode a request whose window was full goes out as soon as a
   * slot frees (a reply, a timeout), still measured from its intended time. `freed`: a slot of a
   * full window was just freed, so what goes out now late waited for the window.
   */
  pump(freed = false): void {
    const run = this.run;
    const limit = run.opts.messages;
    const window = run.opts.inflight;
    if (this.slotDue.length > 0) {
      const now = run.clock.now();
      while (this.pending < window && this.sentCount < limit && !run.stopping) {
        const due = this.dueT0 + (this.duePhase + this.sentCount * this.dueStride) * this.dueSlotMs;
        if (due > now) break;
        if (!this.sendNext(due, freed)) return;
      }
    } else {
      while (this.pending < window && this.sentCount < limit && !run.stopping) {
        if (!this.sendNext(0, false)) return;
      }
    }
    if (this.pending === 0 && (this.sentCount >= limit || run.stopping)) this.disconnect();
  }

  /**
   * Send request `sentCount + 1`: odd ids are pings, even ids agent messages (or all of one type,
   * by `mix`). `due`: its intended send time in rate mode (ignored in the closed loop).
   */
  private sendNext(due: number, freed: boolean): boolean {
    const run = this.run;
    const id = this.sentCount + 1;
    const mix = run.mix;
    const type = mix === MIX_PING || (mix === MIX_MIXED && (id & 1) === 1) ? TYPE_PING : TYPE_AGENT;
    const length = type === TYPE_PING ? writePing(scratch, id) : writeAgentMessage(scratch, id, this.agentFrom, (this.index + id) % AGENTS, Date.now());
    // Ids are sequential, so slot (id − 1) mod window is usually free; otherwise the first free one.
    let slot = (id - 1) % this.slotId.length;
    if (this.slotId[slot] !== 0) {
      slot = 0;
      while (this.slotId[slot] !== 0) slot++;
    }
    // Stamp before sending: the round trip includes ws framing and the write.
    const at = run.clock.now();
    try {
      // False when the socket is closing: the close event will say why; nothing was sent.
      if (!this.conn.sendTextBytes(scratch, length)) return false;
    } catch {
      // ws refused the frame: give up on this connection, counted once as send_failed.
      this.dropKind = SEND_FAILED;
      this.conn.terminate();
      return false;
    }
    this.slotId[slot] = id;
    this.slotAt[slot] = at;
    this.slotType[slot] = type;
    if (this.slotDue.length > 0) {
      this.slotDue[slot] = due;
      const lag = at - due;
      run.sendLag!.record(lag * 1000);
      if (lag > BEHIND_THRESHOLD_MS) {
        run.behind!.value++;
        if (freed) run.behindWindow!.value++;
      }
      run.lastSendAt = at;
    }
    this.pending++;
    this.sentCount = id;
    run.sent.value++;
    run.bytesSent.value += length;
    return true;
  }

  onMessage(data: Buffer): void {
    const run = this.run;
    run.bytesReceived.value += data.length;
    this.inbound++;
    // The reference server's layout (a plain type, then the id) first; then any top-level id.
    let id = readPlainReplyId(data);
    if (id > 0) {
      if (this.complete(id, data, false)) return;
    } else {
      id = readReplyId(data);
      if (id > 0 && this.complete(id, data, true)) return;
    }
    this.slowMessage(data, id);
  }

  /**
   * Match `id` to a pending request; false when it is not pending. `mayBeError`: the reply's type is
   * not known yet (false when the fast path read a type other than "error").
   */
  private complete(id: number, data: Buffer, mayBeError: boolean): boolean {
    const slots = this.slotId;
    // Where sendNext usually put it; else search.
    let slot = (id - 1) % slots.length;
    if (slots[slot] !== id) {
      slot = 0;
      while (slot < slots.length && slots[slot] !== id) slot++;
      if (slot === slots.length) return false;
    }
    const run = this.run;
    const now = run.clock.now();
    const rttMs = now - this.slotAt[slot]!;
    const wasFull = this.pending === slots.length;
    slots[slot] = 0;
    this.pending--;
    run.received.value++;
    if (this.slotDue.length === 0) {
      (this.slotType[slot] === TYPE_PING ? run.rttPing : run.rttAgent).record(rttMs * 1000);
    } else {
      // Rate mode: ws.rtt* from the intended send time (coordinated omission corrected, as wrk2
      // does), the raw round trip beside it.
      (this.slotType[slot] === TYPE_PING ? run.rttPing : run.rttAgent).record((now - this.slotDue[slot]!) * 1000);
      run.rttRaw!.record(rttMs * 1000);
    }
    // An error reply is a reply (its round trip counts) and also an error of its kind.
    if (mayBeError && hasErrorToken(data)) {
      const kind = serverErrorKind(parseObject(data));
      if (kind !== undefined) run.error(kind);
    }
    if (this.state === S_RUNNING) this.pump(wasFull);
    return true;
  }

  /**
   * Everything the fast path did not match: the disconnect ack, a reply with a string id, a late
   * reply, an unsolicited message. Rare, so a full parse is fine here.
   */
  private slowMessage(data: Buffer, fastId: number): void {
    const run = this.run;
    const obj = parseObject(data);
    const id = idFromJson(obj, 'id');
    if (id > 0 && id !== fastId && this.complete(id, data, true)) return;
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
    // The server started a close (its close frame came) but holds the socket open: bound it by
    // closeTimeoutMs rather than ws' own 30 s.
    if (!this.conn.isOpen) this.conn.close(1000);
    if (this.state === S_DISCONNECTING) {
      if (this.disconnectId !== 0 && now >= this.disconnectDeadline) {
        this.disconnectId = 0;
        run.error(DISCONNECT_TIMEOUT);
        this.conn.close(1000);
      }
      return;
    }
    if (this.pending === 0) return;
    const wasFull = this.pending === this.slotId.length;
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
    if (expired) {
      // A target that stopped answering: after STALL_TIMEOUTS reply timeouts with nothing received,
      // stop sending into the void (each request would wait out its timeout): the rest is not sent.
      if (this.inbound !== this.inboundSeen) {
        this.inboundSeen = this.inbound;
        this.silentSince = now;
      } else if (now - this.silentSince >= STALL_TIMEOUTS * run.opts.replyTimeoutMs) {
        this.dropKind ??= CONNECTION_STALLED;
        this.conn.terminate();
        return;
      }
    }
    if (expired && this.state === S_RUNNING) this.pump(wasFull);
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
      const kind = this.dropKind ?? classifyClose(code, error);
      run.error(kind);
      run.target.closed(code, kind);
      this.abandonPending();
    } else {
      run.target.closed(code, undefined);
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

/** Rate mode's running schedule. */
interface RateSchedule {
  /** Clock time of send slot 0. */
  readonly t0: number;
  /** ms between consecutive sends of the run (1000 / total rate). */
  readonly slotMs: number;
  /** No more wake-ups; connections idle between sends disconnect now (abort). */
  stop(): void;
}

/**
 * Rate mode: give every open connection its place in the schedule, start them, and drive the
 * schedule with one timer for the whole run (no timer per message, none per connection): it wakes
 * at the next due send slot, pumps the connection of every slot now due (each send carries its own
 * intended time), and sleeps until the next one.
 */
function startSchedule(run: Run): RateSchedule | undefined {
  const { opts, clock } = run;
  const active = run.sessions.filter((s) => s.state === S_OPEN);
  const n = active.length;
  if (n === 0) return undefined;
  const slotMs = 1000 / (opts.ratePer === 'connection' ? opts.rate * n : opts.rate);
  const t0 = clock.now();
  for (let j = 0; j < n; j++) active[j]!.schedule(t0, j, n, slotMs);
  for (const s of active) s.start();
  const slots = n * opts.messages;
  let g = 0;
  let timer: TimerHandle | undefined;
  let stopped = false;
  const wake = (): void => {
    timer = undefined;
    if (stopped || run.stopping) return;
    const now = clock.now();
    // Same expression as Session.pump's due time: slot g = phase j + k·stride, j = g mod n.
    for (; g < slots && t0 + g * slotMs <= now; g++) {
      const s = active[g % n]!;
      if (s.state === S_RUNNING) s.pump();
    }
    if (g < slots) timer = clock.setTimeout(wake, t0 + g * slotMs - clock.now());
  };
  wake();
  return {
    t0,
    slotMs,
    stop(): void {
      if (stopped) return;
      stopped = true;
      timer?.cancel();
      for (const s of active) if (s.state === S_RUNNING) s.pump();
    },
  };
}

/** Wait until epoch ms `at` on `clock`, or until `signal` aborts. */
function sleepUntil(at: number, clock: Clock, signal: AbortSignal | undefined): Promise<void> {
  const ms = at - clock.wallNow();
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Run a stress test. Resolves when every connection has settled (closed or failed) — every wait is
 * bounded by the options' timeouts — and leaves no timer or socket behind.
 */
export async function runStress(options: StressOptions, deps: StressDeps = {}): Promise<StressResult> {
  const opts = resolveEngineOptions(options);
  const clock = deps.clock ?? realClock;
  await initHistograms();
  if (deps.startTime !== undefined) await sleepUntil(deps.startTime, clock, deps.signal);
  const startMono = clock.now();
  const startWall = clock.wallNow();
  const epochNow = (): number => startWall + (clock.now() - startMono);
  const recorder = new MetricsRecorder({ startTime: deps.startTime ?? startWall, intervalMs: opts.intervalMs });
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
    deps.onInterval?.(sample);
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
  let schedule: RateSchedule | undefined;
  const onAbort = (): void => {
    if (run.stopping) return;
    run.stopping = true;
    schedule?.stop();
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
    if (deps.allOpen !== undefined && !run.stopping) await deps.allOpen();
    if (opts.holdMs > 0 && !run.stopping) await sleepUntil(clock.wallNow() + opts.holdMs, clock, signal);
    // Then every open connection sends its requests (rate mode: on the schedule).
    if (opts.rate > 0 && !run.stopping) schedule = startSchedule(run);
    else for (const s of run.sessions) s.start();
    await run.allSettled();
  } finally {
    schedule?.stop();
    clearInterval(sweeper);
    if (ticker !== undefined) clearTimeout(ticker);
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    signal?.removeEventListener('abort', onAbort);
  }

  const offeredRatePerSec = offeredRate(opts);
  if (offeredRatePerSec !== undefined) {
    // Achieved: sends over the time they took, counted from the schedule's start to the last send
    // plus one send interval (a run exactly on schedule achieves exactly the target).
    const sent = run.sent.value;
    const spanMs = schedule === undefined || sent === 0 ? 0 : run.lastSendAt - schedule.t0 + schedule.slotMs;
    recorder.gauge(StressMetric.rateTarget).value = offeredRatePerSec;
    recorder.gauge(StressMetric.rateAchieved).value = spanMs > 0 ? Math.round((sent / spanMs) * 100_000) / 100 : 0;
  }
  // The target went away and stayed away: the CLI marks the run partial and fails it (docs/exit-codes.md).
  if (!run.stopping && run.target.lost) recorder.counter(StressMetric.targetLost).value = 1;
  const snapshot = recorder.snapshot(epochNow());
  recorder.destroy();
  return { snapshot, aborted: run.stopping, options: opts, firstConnectError: run.firstConnectError, ...(offeredRatePerSec === undefined ? {} : { offeredRatePerSec }) };
}
