/**
 * A virtual user: runs one scenario of a ScriptPlan over one Connection, step by step, with
 * Artillery's semantics for each step (engine_ws.js, engine_util.js) and wsload's metering: every send
 * that carries an id (or awaits a match) gets a round trip, nothing that arrives is lost (./inbox.ts),
 * and replies still in flight at the end of the flow get a bounded grace.
 *
 * Scenarios are prepared once per run (`prepareScenario`): static frames, the histogram of each
 * message type and processor functions are looked up there, not per message.
 */
import type { WebSocket } from 'ws';
import type { Clock, TimerHandle } from '../clock.js';
import { formatLocation, WsloadError, type SourceLocation } from '../errors.js';
import type { Counter, Gauge, HistogramHandle } from '../metrics/index.js';
import {
  checkExpectation,
  compilePath,
  compileTemplate,
  parseDurationMs,
  serializePayload,
  TEMPLATE_FUNCTIONS,
  type Expectation,
  type ExpectationFailure,
  type Vars,
} from '../scenario/index.js';
import type { Jitter, LoopStep, ProcessorFunction, ScenarioPlan, StepPlan, ThinkStep } from '../scenario/types.js';
import { classifyClose, Connection, describeError, type ConnectionEvents } from './connection.js';
import { digitCount, writeDigits } from './reply-id.js';
import { Inbox, REPLY_TIMEOUT, VuError, WAIT_TIMEOUT, type InboxCounters, type InboxHost, type ReceivedMessage } from './inbox.js';
import { TARGET_LOST_METRIC, type TargetWatch } from './target-watch.js';

export { VuError } from './inbox.js';

/** Error kinds a virtual user reports (besides connection kinds from connection.ts and the inbox's). */
export const VuErrorKind = {
  replyTimeout: REPLY_TIMEOUT,
  waitTimeout: WAIT_TIMEOUT,
  matchFailed: 'match_failed',
  captureFailed: 'capture_failed',
  functionError: 'function_error',
  sendFailed: 'send_failed',
  invalidStep: 'invalid_step',
  drainTimeout: 'drain_timeout',
  /** Stopped by Ctrl-C: counted as `vusers.interrupted`, not as an error. */
  interrupted: 'interrupted',
} as const;

/** Metric names of a script run (docs/run.md). */
export const RunMetric = {
  vusersCreated: 'vusers.created',
  vusersCompleted: 'vusers.completed',
  vusersFailed: 'vusers.failed',
  vusersSkipped: 'vusers.skipped',
  vusersInterrupted: 'vusers.interrupted',
  vusersActive: 'vusers.active',
  sessionLength: 'vusers.session_length',
  connectionsAttempted: 'connections.attempted',
  connectionsSuccessful: 'connections.successful',
  connectionsFailed: 'connections.failed',
  connectionsClosed: 'connections.closed',
  connectionsActive: 'connections.active',
  messagesSent: 'messages.sent',
  messagesReceived: 'messages.received',
  messagesCorrelated: 'messages.correlated',
  messagesReplied: 'messages.replied',
  messagesTimedOut: 'messages.timed_out',
  messagesUnanswered: 'messages.unanswered',
  messagesLost: 'messages.lost',
  messagesUnsolicited: 'messages.unsolicited',
  messagesDropped: 'messages.dropped',
  messagesLate: 'messages.late',
  bytesSent: 'bytes.sent',
  bytesReceived: 'bytes.received',
  rtt: 'ws.rtt',
  connect: 'ws.connect',
  /** Set to 1 when the target went away mid-run (./target-watch.ts); absent otherwise. */
  targetLost: TARGET_LOST_METRIC,
} as const;

/** The metric handles virtual users write to; one set per run. */
export interface VuMetrics {
  readonly inbox: InboxCounters;
  readonly created: Counter;
  readonly completed: Counter;
  readonly failed: Counter;
  readonly interrupted: Counter;
  readonly vusersActive: Gauge;
  readonly sessionLength: HistogramHandle;
  readonly attempted: Counter;
  readonly successful: Counter;
  readonly connectFailed: Counter;
  readonly closed: Counter;
  readonly connectionsActive: Gauge;
  readonly sent: Counter;
  readonly bytesSent: Counter;
  readonly connect: HistogramHandle;
}

export interface VuSettings {
  /** The correlation field (`id`); undefined: correlation off. */
  readonly correlationField: string | undefined;
  /** End-of-flow grace for replies still awaited. */
  readonly graceMs: number;
  /** Per-user buffer of messages nobody awaited. */
  readonly bufferLimit: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  /** Sends done without awaiting anything before a user yields to the event loop. */
  readonly yieldEvery: number;
}

/** What the run gives its virtual users. */
export interface VuHost {
  readonly clock: Clock;
  readonly settings: VuSettings;
  readonly metrics: VuMetrics;
  /** Artillery's `events` argument of processor functions. */
  readonly events: unknown;
  /** An error of `kind` at a step (`file:line:col`), with a one-line detail for the report. */
  error(kind: string, location: string, message: string): void;
  /** A `log` step's line. */
  log(line: string): void;
  /** The `ws.rtt.<type>` histogram (created on first use; the run caps how many types get their own). */
  rttHistogram(type: string): HistogramHandle;
  /** The first URL a user connected to, and the first handshake failure (for "cannot connect to …"). */
  connecting(url: string): void;
  connectFailed(kind: string, message: string): void;
  /** Connection outcomes, to tell whether the target went away mid-run (optional). */
  readonly target?: TargetWatch;
  /**
   * The source address for a user's connection when its ws options set none (`RunOptions.localAddresses`,
   * round-robin); absent: the OS picks. Asked once per user, only when the user does not set its own.
   */
  nextLocalAddress?(): string;
}

// ---- prepared scenarios ----

interface PreparedCommon {
  readonly loc: string;
}

interface PreparedSend extends PreparedCommon {
  readonly kind: 'send';
  readonly step: Extract<StepPlan, { kind: 'send' }>;
  /** The exact frame of a static payload that gets no id. */
  readonly frame: string | undefined;
  /** Round trips of this step's messages, when its type is known in advance. */
  readonly hist: HistogramHandle | undefined;
  /**
   * A static object payload that gets an id: the frame is `{"id":` + id + `,` + body, built from bytes;
   * `body` as UTF-8 bytes, and their length (-1 without a body).
   */
  readonly bodyBuf: Buffer | undefined;
  readonly bodyBytes: number;
  /** The step's timeout messages (made once, not per send). */
  readonly replyTimeoutMessage: string;
  readonly matchTimeoutMessage: string;
}

interface PreparedBinary extends PreparedCommon {
  readonly kind: 'sendBinary';
  readonly step: Extract<StepPlan, { kind: 'sendBinary' }>;
}

interface PreparedWait extends PreparedCommon {
  readonly kind: 'wait';
  readonly step: Extract<StepPlan, { kind: 'wait' }>;
}

interface PreparedThink extends PreparedCommon {
  readonly kind: 'think';
  readonly step: ThinkStep;
  readonly jitter: Jitter | undefined;
}

interface PreparedLoop extends PreparedCommon {
  readonly kind: 'loop';
  readonly step: LoopStep;
  readonly steps: readonly PreparedStep[];
  readonly whileTrue: ProcessorFunction | undefined;
  readonly overPath: ((vars: Vars) => unknown) | undefined;
}

interface PreparedFunction extends PreparedCommon {
  readonly kind: 'function';
  readonly name: string;
  readonly fn: ProcessorFunction;
}

interface PreparedLog extends PreparedCommon {
  readonly kind: 'log';
  readonly step: Extract<StepPlan, { kind: 'log' }>;
}

type PreparedStep = PreparedSend | PreparedBinary | PreparedWait | PreparedThink | PreparedLoop | PreparedFunction | PreparedLog;

/** A scenario ready to run: everything per-message already decided. */
export interface PreparedScenario {
  readonly plan: ScenarioPlan;
  readonly steps: readonly PreparedStep[];
  readonly connectLoc: string;
  readonly scenarioLoc: string;
  readonly connectFunction: ProcessorFunction | undefined;
  readonly before: readonly PreparedFunction[];
  readonly after: readonly PreparedFunction[];
  /** Shortest reply/wait timeout of any step (the run's sweep period follows it). */
  readonly minTimeoutMs: number;
}

export interface PrepareContext {
  readonly functions: Readonly<Record<string, ProcessorFunction>>;
  readonly correlationField: string | undefined;
  /** The `ws.rtt.<type>` histogram. */
  rttHistogram(type: string): HistogramHandle;
  /** Default jitter of think steps (`config.defaults.think.jitter`). */
  readonly thinkJitter: Jitter | undefined;
}

export const locationKey = (loc: SourceLocation): string => formatLocation(loc);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The message type a payload names (its string `type`), or undefined. */
function typeOf(v: Record<string, unknown>): string | undefined {
  const t = v.type;
  return typeof t === 'string' && t !== '' ? t : undefined;
}

/**
 * Compile a scenario for running. Throws a WsloadError (`WSLOAD_SCRIPT`) when a processor function it
 * names is missing (a plan loaded with skipProcessor), so nothing is sent.
 */
export function prepareScenario(plan: ScenarioPlan, ctx: PrepareContext): PreparedScenario {
  let minTimeoutMs = Number.POSITIVE_INFINITY;
  const fn = (name: string, loc: SourceLocation): ProcessorFunction => {
    const f = ctx.functions[name];
    if (typeof f !== 'function') {
      throw new WsloadError('WSLOAD_SCRIPT', `function '${name}' is not exported by the processor (or config.processor is not set)`, { location: loc });
    }
    return f;
  };
  const prep = (steps: readonly StepPlan[]): PreparedStep[] =>
    steps.map((s): PreparedStep => {
      const loc = locationKey(s.location);
      switch (s.kind) {
        case 'send': {
          let frame: string | undefined;
          let body: string | undefined;
          let hist: HistogramHandle | undefined;
          if (s.text !== undefined) {
            const value = s.payload.source;
            const type = isPlainObject(value) ? typeOf(value) : undefined;
            if (type !== undefined) hist = ctx.rttHistogram(type);
            const field = ctx.correlationField;
            if (type !== undefined && field !== undefined && !Object.hasOwn(value as object, field)) body = s.text.slice(1);
            else frame = s.text;
          }
          minTimeoutMs = Math.min(minTimeoutMs, s.timeoutMs);
          return {
            kind: 'send',
            loc,
            step: s,
            frame,
            hist,
            bodyBuf: body === undefined ? undefined : Buffer.from(body),
            bodyBytes: body === undefined ? -1 : Buffer.byteLength(body),
            replyTimeoutMessage: `no reply within ${s.timeoutMs} ms`,
            matchTimeoutMessage: `no matching reply within ${s.timeoutMs} ms`,
          };
        }
        case 'sendBinary':
          if (s.expect) minTimeoutMs = Math.min(minTimeoutMs, s.timeoutMs);
          return { kind: 'sendBinary', loc, step: s };
        case 'wait':
          minTimeoutMs = Math.min(minTimeoutMs, s.timeoutMs);
          return { kind: 'wait', loc, step: s };
        case 'think':
          return { kind: 'think', loc, step: s, jitter: s.jitter ?? ctx.thinkJitter };
        case 'loop':
          return {
            kind: 'loop',
            loc,
            step: s,
            steps: prep(s.steps),
            whileTrue: s.whileTrue === undefined ? undefined : fn(s.whileTrue, s.location),
            overPath: s.over?.kind === 'variable' ? compilePath(s.over.name)?.get : undefined,
          };
        case 'function':
          return { kind: 'function', loc, name: s.name, fn: fn(s.name, s.location) };
        case 'log':
          return { kind: 'log', loc, step: s };
      }
    });
  const hook = (name: string): PreparedFunction => ({ kind: 'function', loc: locationKey(plan.location), name, fn: fn(name, plan.location) });
  return {
    plan,
    steps: prep(plan.steps),
    connectLoc: locationKey(plan.connect.location),
    scenarioLoc: locationKey(plan.location),
    connectFunction: plan.connect.function === undefined ? undefined : fn(plan.connect.function, plan.connect.location),
    before: plan.beforeScenario.map(hook),
    after: plan.afterScenario.map(hook),
    minTimeoutMs,
  };
}

// ---- processor calls ----

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(typeof err === 'string' ? err : describeError(err));
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Call a processor function with Artillery's callback as last argument. It finishes when it calls the
 * callback, or when the promise it returns settles (async functions), whichever comes first; a function
 * that declares no callback parameter and returns no promise finishes when it returns (Artillery would
 * wait forever). Throwing, rejecting or `done(err)` fail with `function_error`. Resolves with the
 * callback's first non-error argument or the promise's value (for `whileTrue`).
 */
function callProcessor(fn: ProcessorFunction, args: unknown[], callbackArity: number, name: string, isWhileTrue = false): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      reject(new VuError(VuErrorKind.functionError, `function '${name}' failed: ${describeError(asError(err))}`));
    };
    const done = (err?: unknown): void => {
      if (settled) return;
      if (!isWhileTrue && err !== undefined && err !== null && err !== false) return fail(err);
      settled = true;
      resolve(err);
    };
    let ret: unknown;
    try {
      ret = (fn as (...a: unknown[]) => unknown)(...args, done);
    } catch (err) {
      fail(err ?? new Error('threw'));
      return;
    }
    if (isThenable(ret)) {
      ret.then(
        (v) => {
          if (settled) return;
          settled = true;
          resolve(v);
        },
        (err: unknown) => fail(err ?? new Error('rejected')),
      );
    } else if (fn.length < callbackArity && !settled) {
      settled = true;
      resolve(ret);
    }
  });
}

// ---- the virtual user ----

const P_NEW = 0;
const P_CONNECTING = 1;
const P_RUNNING = 2;
/** The flow is done: grace and afterScenario; a 1000 close from the server is a normal end. */
const P_FLOW_DONE = 3;
const P_CLOSING = 4;
const P_ENDED = 5;

export type VuOutcome = 'completed' | 'failed' | 'interrupted';

/** The `context` processor functions get: Artillery's shape. */
export interface VuContext {
  vars: Vars;
  funcs: Record<string, unknown>;
  scenario: ScenarioPlan;
  ws: WebSocket | undefined;
  _uid: unknown;
  [key: string]: unknown;
}

function failureMessage(f: ExpectationFailure): string {
  const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v));
  return f.kind === 'match'
    ? `match ${f.expression}: expected ${show(f.expected)}, got ${show(f.got)}`
    : `capture ${f.expression}: got ${show(f.got)}`;
}

function applyJitter(ms: number, jitter: Jitter | undefined): number {
  if (jitter === undefined || ms <= 0) return ms;
  const spread = jitter.kind === 'percent' ? (ms * jitter.value) / 100 : jitter.value;
  return Math.max(0, ms + spread * (2 * Math.random() - 1));
}

/** Artillery's parseLoopCount for a rendered count: a number, "n", "a-b"; anything else is 0. */
function parseLoopCount(v: unknown): { from: number; to: number } {
  if (typeof v === 'number' && Number.isFinite(v)) return { from: 0, to: Math.trunc(v) };
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^-?\d+$/.test(t)) return { from: 0, to: Number(t) };
    const m = /^(\d+)\s*-\s*(\d+)$/.exec(t);
    if (m) return { from: Number(m[1]), to: Number(m[2]) };
  }
  return { from: 0, to: 0 };
}

function ignore(): void {}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Where frames of a prepared payload are written (prefix, id, body) before `sendTextBytes` copies them
 * into their WebSocket frame: one buffer for every user (grown when a frame needs more).
 */
let scratch = Buffer.allocUnsafe(1024);

/**
 * Where the step machine is in one list of steps: the flow itself, or a loop's body with the loop's
 * counters. Frames are kept per nesting depth and reused (no object per loop or per step).
 */
interface Frame {
  steps: readonly PreparedStep[];
  index: number;
  loop: PreparedLoop | undefined;
  /** The loop's counter, its end (-1: forever), its list (`over`), and whileTrue's last answer. */
  i: number;
  to: number;
  over: readonly unknown[] | undefined;
  goOn: boolean;
  /** The iteration is over (counters advanced, whileTrue asked): only the loop condition is left. */
  checking: boolean;
}

/** Yield to the event loop (after many sends in a row, so sockets and timers get their turn). */
function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Whether a loop runs (another) iteration: whileTrue's answer, items left in `over`, or the count. */
function loopGoesOn(f: Frame): boolean {
  const loop = f.loop as PreparedLoop;
  if (loop.whileTrue !== undefined) return f.goOn;
  if (f.over !== undefined) return f.i < f.over.length;
  return f.i < f.to || f.to === -1;
}

export class VirtualUser implements ConnectionEvents {
  readonly vars: Vars;
  readonly context: VuContext;
  private readonly host: VuHost;
  private readonly scenario: PreparedScenario;
  private readonly inbox: Inbox;
  private conn: Connection | undefined;
  private phase = P_NEW;
  /** Where the user is in its flow: errors are attributed here. */
  private loc: string;
  /** Set by stop(): the kind the user was stopped with. */
  private stopError: VuError | undefined;
  /** Set when the connection closed under a running flow. */
  private closeError: VuError | undefined;
  /** Cancels whatever the user is waiting on now (a reply, a think, a processor function). */
  private interrupt: ((err: VuError) => void) | undefined;
  private connectSettle: { resolve: () => void; reject: (err: VuError) => void } | undefined;
  private closeResolve: (() => void) | undefined;
  private sinceYield = 0;
  // Results of the last sendText (no allocation per send).
  private lastId = 0;
  private lastAt = 0;
  private lastHist: HistogramHandle | undefined;
  /** `{"id":` — what an object frame with an added id starts with. */
  private readonly idPrefix: string;
  private readonly idPrefixBytes: number;
  private readonly idPrefixBuf: Buffer;

  // The step machine (runFlow): frames by depth, the flow's settle functions, the awaited reply.
  private readonly frames: Frame[] = [];
  private depth = -1;
  private flowResolve: (() => void) | undefined;
  private flowReject: ((err: unknown) => void) | undefined;
  /** The expectation of the send whose reply is awaited, and the reply once it came. */
  private awaited: Expectation | undefined;
  private reply: ReceivedMessage | undefined;
  // Made once per user: the callbacks of every wait and async step.
  private readonly resumeFn = (): void => this.advance();
  private readonly failFn = (err: unknown): void => this.failFlow(err);
  private readonly onReplyFn = (msg: ReceivedMessage): void => this.onReply(msg);
  private readonly onWaitFailFn = (err: VuError): void => this.onWaitFail(err);
  private readonly afterReplyFn = (): void => this.afterReply();
  private readonly afterWhileTrueFn = (r: unknown): void => this.afterWhileTrue(r);

  constructor(host: VuHost, scenario: PreparedScenario, vars: Vars) {
    this.host = host;
    this.idPrefix = `{${JSON.stringify(host.settings.correlationField ?? 'id')}:`;
    this.idPrefixBuf = Buffer.from(this.idPrefix);
    this.idPrefixBytes = this.idPrefixBuf.length;
    this.scenario = scenario;
    this.vars = vars;
    this.loc = scenario.scenarioLoc;
    const inboxHost: InboxHost = {
      counters: host.metrics.inbox,
      serverError: (kind, location, message) => host.error(kind, location || this.loc, message),
    };
    this.inbox = new Inbox(inboxHost, { field: host.settings.correlationField, bufferLimit: host.settings.bufferLimit });
    const funcs: Record<string, unknown> = {
      ...TEMPLATE_FUNCTIONS,
      $template: (input: unknown) => compileTemplate(input)(this.vars),
    };
    this.context = { vars, funcs, scenario: scenario.plan, ws: undefined, _uid: vars.$uuid };
  }

  /** Requests in flight now (tests). */
  get pendingReplies(): number {
    return this.inbox.pendingCount;
  }

  /**
   * Run the whole session: beforeScenario, connect, the flow, the grace for replies in flight,
   * afterScenario, close. Never rejects; every failure is counted by kind at its step.
   */
  async run(): Promise<VuOutcome> {
    const host = this.host;
    const m = host.metrics;
    const startedAt = host.clock.now();
    let outcome: VuOutcome = 'completed';
    let failure: VuError | undefined;
    try {
      for (const f of this.scenario.before) await this.runFunction(f);
      await this.connect();
      this.phase = P_RUNNING;
      await this.runFlow(this.scenario.steps);
      this.checkStopped();
      this.phase = P_FLOW_DONE;
      await this.suspend(this.inbox.whenIdle(host.settings.graceMs, (fn, ms) => host.clock.setTimeout(fn, ms)));
      this.inbox.abandon('unanswered');
    } catch (err) {
      failure = err instanceof VuError ? err : new VuError(VuErrorKind.functionError, describeError(err));
      // A stop wins over what it interrupted; so does a connection that closed under the step.
      failure = this.stopError ?? this.closeError ?? failure;
      this.inbox.cancelWait(failure);
      this.inbox.abandon('lost');
      outcome = failure.kind === VuErrorKind.interrupted ? 'interrupted' : 'failed';
      if (outcome === 'failed') host.error(failure.kind, this.loc, failure.message);
    }
    // afterScenario runs after a failure too, but not once the run has stopped the user.
    if (this.stopError === undefined && this.scenario.after.length > 0) {
      this.loc = this.scenario.scenarioLoc;
      if (this.phase === P_RUNNING) this.phase = P_FLOW_DONE;
      try {
        for (const f of this.scenario.after) await this.runFunction(f);
      } catch (err) {
        const e = this.stopError ?? (err instanceof VuError ? err : new VuError(VuErrorKind.functionError, describeError(err)));
        if (outcome === 'completed') outcome = e.kind === VuErrorKind.interrupted ? 'interrupted' : 'failed';
        if (e.kind !== VuErrorKind.interrupted) host.error(e.kind, this.loc, e.message);
      }
    }
    m.sessionLength.record((host.clock.now() - startedAt) * 1000);
    await this.close();
    this.phase = P_ENDED;
    if (outcome === 'completed') m.completed.value++;
    else if (outcome === 'failed') m.failed.value++;
    else m.interrupted.value++;
    return outcome;
  }

  /**
   * Stop the user now (drain timeout, interrupt): whatever it waits on is cancelled, replies in flight
   * are lost, the connection is closed. `kind` is the error it ends with (`interrupted` is no error).
   */
  stop(kind: string, message: string): void {
    if (this.phase === P_ENDED || this.stopError !== undefined) return;
    const err = new VuError(kind, message);
    this.stopError = err;
    if (this.phase === P_CONNECTING) this.conn?.abortConnect('connect_aborted', message);
    const interrupt = this.interrupt;
    this.interrupt = undefined;
    interrupt?.(err);
  }

  /** Called by the run's periodic sweep. */
  sweep(now: number): void {
    this.inbox.sweep(now);
  }

  private checkStopped(): void {
    if (this.stopError !== undefined) throw this.stopError;
    if (this.closeError !== undefined) throw this.closeError;
  }

  /** Cancels the inbox's wait (stop, close): one function per user, not one per message. */
  private readonly cancelInbox = (err: VuError): void => this.inbox.cancelWait(err);

  /** Await a wait registered with the inbox; stop() or a closed connection cancel it through the inbox. */
  private async awaitInbox(p: Promise<ReceivedMessage>): Promise<ReceivedMessage> {
    if (this.stopError !== undefined || this.closeError !== undefined) {
      // The wait will be cancelled by the caller's cleanup: nobody awaits it.
      p.catch(ignore);
      this.checkStopped();
    }
    this.interrupt = this.cancelInbox;
    try {
      return await p;
    } finally {
      this.interrupt = undefined;
    }
  }

  /** Await `p`, letting stop() or a closed connection cancel the wait. */
  private async suspend<T>(p: Promise<T>, cancel?: () => void): Promise<T> {
    if (this.stopError !== undefined || this.closeError !== undefined) {
      p.catch(ignore);
      cancel?.();
      this.checkStopped();
    }
    let rejectWait!: (err: VuError) => void;
    const stopped = new Promise<never>((_, reject) => { rejectWait = reject; });
    this.interrupt = (err) => {
      cancel?.();
      rejectWait(err);
    };
    try {
      return await Promise.race([p, stopped]);
    } finally {
      this.interrupt = undefined;
    }
  }

  // ---- connect ----

  private async connect(): Promise<void> {
    const host = this.host;
    const plan = this.scenario.plan.connect;
    this.loc = this.scenario.connectLoc;
    let target = serializePayload(plan.target(this.vars));
    let subprotocols: string[] = [...plan.subprotocols];
    const headers = plan.headers(this.vars);
    let options: Record<string, unknown> = { ...plan.options };
    if (isPlainObject(headers) && Object.keys(headers).length > 0) {
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) h[k] = serializePayload(v);
      options.headers = h;
    }
    if (this.scenario.connectFunction !== undefined) {
      // Artillery: processFn(wsArgs, context, done); the function may change target, subprotocols, options.
      const wsArgs = { target, subprotocols, options };
      await this.suspend(callProcessor(this.scenario.connectFunction, [wsArgs, this.context], 3, plan.function ?? 'connect'));
      target = String(wsArgs.target);
      subprotocols = Array.isArray(wsArgs.subprotocols) ? wsArgs.subprotocols.map(String) : [];
      options = isPlainObject(wsArgs.options) ? wsArgs.options : {};
    }
    this.checkStopped();
    // Source-address spreading: the script's ws options (or the connect function) win when they set one.
    if (options.localAddress === undefined && host.nextLocalAddress !== undefined) options = { ...options, localAddress: host.nextLocalAddress() };
    host.connecting(target);
    const conn = new Connection(target, this, {
      connectTimeoutMs: host.settings.connectTimeoutMs,
      closeTimeoutMs: host.settings.closeTimeoutMs,
      clock: host.clock,
      subprotocols,
      wsOptions: options,
    });
    this.conn = conn;
    this.phase = P_CONNECTING;
    host.metrics.attempted.value++;
    const opened = new Promise<void>((resolve, reject) => {
      this.connectSettle = { resolve, reject };
    });
    conn.open();
    await this.suspend(opened);
    this.context.ws = conn.socket;
  }

  onOpen(handshakeMs: number): void {
    const m = this.host.metrics;
    m.successful.value++;
    m.connectionsActive.value++;
    m.connect.record(handshakeMs * 1000);
    this.host.target?.opened();
    const settle = this.connectSettle;
    this.connectSettle = undefined;
    settle?.resolve();
  }

  onConnectFailed(kind: string, error: Error): void {
    const m = this.host.metrics;
    m.connectFailed.value++;
    const message = describeError(error);
    if (kind !== 'connect_aborted') this.host.connectFailed(kind, message);
    this.host.target?.connectFailed(kind);
    const settle = this.connectSettle;
    this.connectSettle = undefined;
    settle?.reject(new VuError(kind, message));
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    this.inbox.onMessage(data, isBinary, this.host.clock.now());
  }

  onClose(code: number, error: Error | undefined): void {
    const m = this.host.metrics;
    m.connectionsActive.value--;
    m.closed.value++;
    this.context.ws = undefined;
    const phase = this.phase;
    if (phase === P_RUNNING) {
      // Closed under a running flow: the step in progress (or the next one) fails with this kind.
      const err = new VuError(classifyClose(code, error), `the connection closed during the flow (code ${code})`);
      this.host.target?.closed(code, err.kind);
      this.closeError = err;
      this.inbox.cancelWait(err);
      this.inbox.abandon('lost');
      const interrupt = this.interrupt;
      this.interrupt = undefined;
      interrupt?.(err);
    } else if (phase === P_FLOW_DONE) {
      // After the last step: a normal close (1000, e.g. the server answering `disconnect`) is the end.
      const kind = code !== 1000 && this.stopError === undefined ? classifyClose(code, error) : undefined;
      if (kind !== undefined) this.host.error(kind, this.loc, `the connection closed after the flow (code ${code})`);
      this.host.target?.closed(code, kind);
      this.inbox.abandon('lost');
    } else {
      this.host.target?.closed(code, undefined);
    }
    const resolve = this.closeResolve;
    this.closeResolve = undefined;
    resolve?.();
  }

  /** Close the connection (bounded by closeTimeoutMs inside Connection) and wait for it. */
  private async close(): Promise<void> {
    const conn = this.conn;
    if (conn === undefined) return;
    if (this.phase === P_CONNECTING) return; // a failed or aborted handshake: nothing open
    if (!conn.isOpen && this.context.ws === undefined) return; // already closed
    this.phase = P_CLOSING;
    const closed = new Promise<void>((resolve) => { this.closeResolve = resolve; });
    conn.close(1000);
    await closed;
  }

  // ---- steps ----

  /**
   * Run a list of steps (the flow) to its end: settles when the last step is done, rejects with the
   * first failure. A step machine rather than nested async functions: the steps of the hot path —
   * `send`, `send` awaiting its reply, `log`, `loop` — run without a promise or a closure per step; a
   * reply continues the flow from one microtask (queued when it arrives, so messages of the same read
   * are all taken in before the next send, as with an await). Slower steps (think, wait, sendBinary,
   * functions, whileTrue, the yield after many sends) go through their promises.
   */
  private runFlow(steps: readonly PreparedStep[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.flowResolve = resolve;
      this.flowReject = reject;
      this.depth = -1;
      this.pushFrame(steps, undefined, 0, 0, undefined);
      this.advance();
    });
  }

  private pushFrame(steps: readonly PreparedStep[], loop: PreparedLoop | undefined, i: number, to: number, over: readonly unknown[] | undefined): void {
    const d = ++this.depth;
    let f = this.frames[d];
    if (f === undefined) {
      f = { steps, index: 0, loop, i, to, over, goOn: true, checking: false };
      this.frames[d] = f;
    } else {
      f.steps = steps;
      f.index = 0;
      f.loop = loop;
      f.i = i;
      f.to = to;
      f.over = over;
      f.goOn = true;
      f.checking = false;
    }
  }

  /** Run steps until one has to wait (it resumes the machine when done) or the flow ends. */
  private advance(): void {
    if (this.flowResolve === undefined) return;
    try {
      for (;;) {
        const d = this.depth;
        if (d < 0) {
          const resolve = this.flowResolve;
          this.flowResolve = undefined;
          this.flowReject = undefined;
          resolve();
          return;
        }
        const f = this.frames[d]!;
        if (f.index < f.steps.length) {
          const s = f.steps[f.index++]!;
          this.loc = s.loc;
          this.checkStopped();
          switch (s.kind) {
            case 'send': {
              const expect = s.step.expect;
              if (expect !== undefined) {
                this.sendAndExpect(s, expect);
                return;
              }
              this.sendText(s);
              if (++this.sinceYield >= this.host.settings.yieldEvery) {
                this.sinceYield = 0;
                this.suspend(yieldTurn()).then(this.resumeFn, this.failFn);
                return;
              }
              continue;
            }
            case 'log':
              this.host.log(serializePayload(s.step.message(this.vars)));
              continue;
            case 'loop':
              this.enterLoop(s);
              continue;
            case 'sendBinary':
              this.sendBinary(s).then(this.resumeFn, this.failFn);
              return;
            case 'wait':
              this.wait(s).then(this.resumeFn, this.failFn);
              return;
            case 'think':
              this.think(s).then(this.resumeFn, this.failFn);
              return;
            case 'function':
              this.runFunction(s).then(this.resumeFn, this.failFn);
              return;
          }
        }
        // The end of a list: the flow's (pop to -1: done) or a loop body's (next iteration or out).
        const loop = f.loop;
        if (loop === undefined) {
          this.depth = d - 1;
          continue;
        }
        if (!f.checking) {
          const step = loop.step;
          const i = ++f.i;
          this.vars[step.indexVar] = i;
          if (f.over !== undefined) this.vars[step.elementVar] = f.over[i];
          this.loc = loop.loc;
          if (loop.whileTrue !== undefined) {
            f.checking = true;
            this.suspend(callProcessor(loop.whileTrue, [this.context], 2, step.whileTrue ?? 'whileTrue', true)).then(this.afterWhileTrueFn, this.failFn);
            return;
          }
        }
        f.checking = false;
        if (loopGoesOn(f)) f.index = 0;
        else this.depth = d - 1;
      }
    } catch (err) {
      this.failFlow(err);
    }
  }

  private failFlow(err: unknown): void {
    const reject = this.flowReject;
    if (reject === undefined) return;
    this.flowResolve = undefined;
    this.flowReject = undefined;
    this.depth = -1;
    reject(err);
  }

  /** A loop step: its counters, and its body unless it runs no iteration. */
  private enterLoop(s: PreparedLoop): void {
    const step = s.step;
    const vars = this.vars;
    let over: readonly unknown[] | undefined;
    if (step.over !== undefined) {
      const v = step.over.kind === 'values' ? step.over.values : s.overPath?.(vars);
      // Artillery: `over` a variable that is not a list runs no iteration.
      if (!Array.isArray(v)) return;
      over = v;
    }
    let from = 0;
    let to = 0;
    if (step.count.kind === 'range') ({ from, to } = step.count);
    else if (step.count.kind === 'dynamic') ({ from, to } = parseLoopCount(step.count.template(vars)));
    else to = -1;
    vars[step.elementVar] = over !== undefined ? over[from] : from;
    vars[step.indexVar] = from;
    this.pushFrame(s.steps, s, from, to, over);
    if (!loopGoesOn(this.frames[this.depth]!)) this.depth--;
  }

  private afterWhileTrue(r: unknown): void {
    const f = this.frames[this.depth];
    if (f !== undefined && f.loop !== undefined) {
      f.goOn = Boolean(r);
      this.loc = f.loop.loc;
    }
    this.advance();
  }

  /** A `send` with capture/match: send, then wait for the reply through the inbox's callbacks. */
  private sendAndExpect(s: PreparedSend, expect: Expectation): void {
    this.sinceYield = 0;
    this.sendText(s);
    this.awaited = expect;
    if (this.lastId !== 0) {
      this.inbox.expectId(this.lastId, this.lastAt + s.step.timeoutMs, s.replyTimeoutMessage, this.onReplyFn, this.onWaitFailFn);
    } else {
      const hist = this.lastHist ?? this.rttHistogram('text');
      this.inbox.expectMatch(expect, this.vars, this.lastAt + s.step.timeoutMs, s.matchTimeoutMessage, hist, this.lastAt, this.onReplyFn, this.onWaitFailFn);
    }
    if (this.stopError !== undefined || this.closeError !== undefined) {
      // As awaitInbox: the wait is cancelled by run()'s cleanup.
      this.awaited = undefined;
      this.checkStopped();
    }
    this.interrupt = this.cancelInbox;
  }

  /**
   * The awaited reply, from inside the inbox's onMessage. What came after the reply in the same socket
   * read (a close frame, broadcasts) must be taken in first, as with an `await` — going on before it
   * would send the next request into a connection whose close is already read (a send_failed would
   * become a lost request and a connection_closed error). So the flow goes on from one microtask, unless
   * the reply was the last thing that read brought: then there is nothing to take in first, and going on
   * here is the same, without a promise reaction per round trip (the common case of a closed loop).
   */
  private onReply(msg: ReceivedMessage): void {
    this.interrupt = undefined;
    this.reply = msg;
    if (this.conn !== undefined && !this.conn.moreInputBuffered) {
      this.afterReply();
      return;
    }
    // One promise reaction: cheaper than queueMicrotask, which makes an AsyncResource per call in Node.
    void RESOLVED.then(this.afterReplyFn);
  }

  private onWaitFail(err: VuError): void {
    this.interrupt = undefined;
    if (this.awaited === undefined) return;
    this.awaited = undefined;
    this.failFlow(err);
  }

  private afterReply(): void {
    const msg = this.reply as ReceivedMessage;
    const expect = this.awaited as Expectation;
    this.reply = undefined;
    this.awaited = undefined;
    try {
      this.apply(expect, msg);
    } catch (err) {
      this.failFlow(err);
      return;
    }
    this.advance();
  }

  /** Fails with the connection's close kind, or send_failed, when the socket cannot take a frame. */
  private socketGone(): VuError {
    return this.closeError ?? new VuError(VuErrorKind.sendFailed, 'the connection is not open');
  }

  /**
   * Send a `send` step's frame. Object payloads with a string `type` and no correlation field of their
   * own get the next id and are tracked. Leaves the id (0 when none), the send time and the round-trip
   * histogram in `lastId` / `lastAt` / `lastHist` (no object per send).
   */
  private sendText(s: PreparedSend): void {
    const conn = this.conn;
    const bodyBuf = s.bodyBuf;
    if (bodyBuf !== undefined) {
      // A prepared payload: `{"id":` + id + `,` + body, written as bytes.
      const id = this.inbox.nextId();
      this.lastHist = s.hist;
      this.lastId = id;
      if (conn === undefined || !conn.isOpen) throw this.socketGone();
      const digits = digitCount(id);
      const bytes = this.idPrefixBytes + digits + 1 + s.bodyBytes;
      if (scratch.length < bytes) scratch = Buffer.allocUnsafe(Math.max(bytes, scratch.length * 2));
      const buf = scratch;
      const end = writeDigits(buf, this.idPrefixBuf.copy(buf, 0), id, digits);
      buf[end] = 0x2c;
      bodyBuf.copy(buf, end + 1);
      // The round trip starts when the frame is handed over.
      const at = this.host.clock.now();
      conn.sendTextBytes(buf, bytes);
      this.sent(id, s.hist, at, bytes, s);
      return;
    }
    let frame: string;
    let id = 0;
    let hist = s.hist;
    if (s.frame !== undefined) {
      frame = s.frame;
    } else {
      const value = s.step.payload(this.vars);
      if (isPlainObject(value)) {
        const type = typeOf(value);
        const json = JSON.stringify(value);
        if (type !== undefined) {
          hist = this.rttHistogram(type);
          const field = this.host.settings.correlationField;
          if (field !== undefined && !Object.hasOwn(value, field)) id = this.inbox.nextId();
        }
        frame = id === 0 ? json : this.idPrefix + id + ',' + json.slice(1);
      } else {
        frame = serializePayload(value);
      }
    }
    if (conn === undefined || !conn.isOpen) {
      this.lastHist = hist;
      this.lastId = id;
      throw this.socketGone();
    }
    // The round trip starts when the frame is handed to ws.
    const at = this.host.clock.now();
    conn.send(frame);
    this.sent(id, hist, at, Buffer.byteLength(frame), s);
  }

  /** After a send: `lastId` / `lastAt` / `lastHist`, the counters, and the id tracked (or where it came from). */
  private sent(id: number, hist: HistogramHandle | undefined, at: number, bytes: number, s: PreparedSend): void {
    this.lastHist = hist;
    this.lastId = id;
    this.lastAt = at;
    const m = this.host.metrics;
    m.sent.value++;
    m.bytesSent.value += bytes;
    if (id !== 0) this.inbox.track(id, hist, at, at + s.step.timeoutMs, s.loc);
    else this.inbox.sentFrom(s.loc);
  }

  private rttHistogram(type: string): HistogramHandle {
    return this.host.rttHistogram(type);
  }

  private async sendBinary(s: PreparedBinary): Promise<void> {
    const step = s.step;
    let bytes = step.bytes;
    if (bytes === undefined) {
      const text = serializePayload(step.data(this.vars)).replace(/\s+/g, '');
      bytes = Buffer.from(text, step.encoding);
    }
    const conn = this.conn;
    if (conn === undefined || !conn.isOpen) throw this.socketGone();
    const at = this.host.clock.now();
    conn.sendBinary(bytes);
    const m = this.host.metrics;
    m.sent.value++;
    m.bytesSent.value += bytes.length;
    this.inbox.sentFrom(s.loc);
    if (step.expect === undefined) return;
    this.sinceYield = 0;
    const wait = this.inbox.awaitMatch(step.expect, this.vars, at + step.timeoutMs, false, REPLY_TIMEOUT, `no matching reply within ${step.timeoutMs} ms`, this.rttHistogram('binary'), at);
    this.apply(step.expect, await this.awaitInbox(wait));
  }

  private async wait(s: PreparedWait): Promise<void> {
    this.sinceYield = 0;
    const step = s.step;
    const deadline = this.host.clock.now() + step.timeoutMs;
    const wait = this.inbox.awaitMatch(step.expect, this.vars, deadline, true, WAIT_TIMEOUT, `no matching message within ${step.timeoutMs} ms`, undefined, 0);
    this.apply(step.expect, await this.awaitInbox(wait));
  }

  /** Captures and matches on the message a step waited for; a strict failure fails the user. */
  private apply(expect: Expectation, msg: ReceivedMessage): void {
    const r = checkExpectation(expect, msg, this.vars);
    if (!r.ok) {
      const strict = r.failures.find((f) => f.kind === 'capture' || expect.matches.some((mm) => mm.location === f.location && mm.strict)) ?? r.failures[0];
      const kind = strict?.kind === 'capture' ? VuErrorKind.captureFailed : VuErrorKind.matchFailed;
      throw new VuError(kind, strict ? failureMessage(strict) : 'capture or match failed');
    }
    // Artillery sets captured variables only when nothing strict failed.
    if (expect.captures.length !== 0) for (const name of Object.keys(r.captured)) this.vars[name] = r.captured[name];
  }

  private async think(s: PreparedThink): Promise<void> {
    this.sinceYield = 0;
    const step = s.step;
    let ms = step.ms;
    if (ms === undefined) {
      const v = step.dynamic?.(this.vars);
      ms = parseDurationMs(v);
      if (ms === undefined || ms < 0) throw new VuError(VuErrorKind.invalidStep, `think: ${JSON.stringify(v) ?? String(v)} is not a duration`);
    }
    ms = applyJitter(ms, s.jitter);
    let timer: TimerHandle | undefined;
    const slept = new Promise<void>((resolve) => { timer = this.host.clock.setTimeout(resolve, ms); });
    await this.suspend(slept, () => timer?.cancel());
  }

  private async runFunction(f: PreparedFunction): Promise<void> {
    this.sinceYield = 0;
    this.loc = f.loc;
    await this.suspend(callProcessor(f.fn, [this.context, this.host.events], 3, f.name));
  }
}
