/**
 * The inbound side of one virtual user: replies tied to their requests by id, the one step waiting
 * for a message, and a bounded buffer of everything else (broadcasts, replies nobody waited for) that
 * `wait` steps search. Artillery sets one `onmessage` per step and loses whatever arrives in between;
 * here every inbound message is either a timed reply, the awaited message, or buffered and counted.
 *
 * Hot path (../shared/PERF-NOTES.md): the reply's id is read from the Buffer before any JSON.parse;
 * pending requests sit in typed-array slots indexed by `id & mask` (ids are a per-connection counter);
 * JSON is parsed lazily, at most once per message, and only when a matcher needs it — a `$.<field>`
 * matcher reads the field from the bytes (../scenario/jsonpath.ts scanTopLevel) and needs no parse. A
 * send awaiting its reply is a callback (expectId), not a promise: nothing is allocated per wait.
 */
import type { Counter, HistogramHandle } from '../metrics/index.js';
import { matchesAll, type Expectation, type InboundMessage, type Vars } from '../scenario/index.js';
import { hasErrorToken, idFromJson, isSpace, ODD_ID, readTopLevelId, serverErrorKind } from './reply-id.js';

/** Error kinds the inbox reports through rejected waits. */
export const REPLY_TIMEOUT = 'reply_timeout';
export const WAIT_TIMEOUT = 'wait_timeout';

/** A failure of a virtual user's step, by kind (a metrics key) with a one-line detail. */
export class VuError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
    this.name = 'VuError';
  }
}

/** Counters every virtual user's inbox adds to (one set per run). */
export interface InboxCounters {
  readonly received: Counter;
  readonly bytesReceived: Counter;
  /** Sends that expect a timed reply (an id was added, or the step awaits a match). */
  readonly correlated: Counter;
  /** Of those, replies that came (each one recorded in a `ws.rtt.*` histogram). */
  readonly replied: Counter;
  readonly timedOut: Counter;
  readonly unanswered: Counter;
  readonly lost: Counter;
  readonly unsolicited: Counter;
  readonly dropped: Counter;
  /** Replies carrying one of our ids that was no longer pending (after its timeout). */
  readonly late: Counter;
}

/** What the inbox reports besides counters: `{"type":"error"}` messages from the server. */
export interface InboxHost {
  readonly counters: InboxCounters;
  /** A server error message (`server_error_<code>`), attributed to the step that sent the request. */
  serverError(kind: string, location: string, message: string): void;
}

export interface InboxOptions {
  /** The correlation field (`id`), or undefined when correlation is off. */
  readonly field: string | undefined;
  /** Most messages kept for `wait` steps; beyond it the oldest is dropped (and counted). */
  readonly bufferLimit: number;
}

// ---- a received message, parsed on demand ----

const UNPARSED: unique symbol = Symbol('unparsed');

/**
 * A received message as matchers see it. Text frames: `text` is the UTF-8 text, `json` its parse (or
 * undefined). Binary frames: `text` is the bytes in lowercase hex (so `regexp: '^cafe'` matches a
 * frame starting 0xCA 0xFE) and `json` the parse of the bytes as UTF-8 JSON when they look like it.
 * Each is computed at most once.
 */
export class ReceivedMessage implements InboundMessage {
  private textValue: string | undefined;
  private jsonValue: unknown = UNPARSED;

  constructor(
    readonly data: Buffer,
    readonly isBinary: boolean,
  ) {}

  get text(): string {
    return (this.textValue ??= this.isBinary ? this.data.toString('hex') : this.data.toString('utf8'));
  }

  get json(): unknown {
    if (this.jsonValue === UNPARSED) this.jsonValue = parseJson(this.data, this.isBinary ? undefined : this.text);
    return this.jsonValue;
  }

  /** A text frame's bytes while it is unparsed: `$.<field>` matchers read them without a parse. */
  get bytes(): Buffer | undefined {
    return this.isBinary || this.jsonValue !== UNPARSED ? undefined : this.data;
  }
}

function parseJson(data: Buffer, text: string | undefined): unknown {
  let i = 0;
  while (i < data.length && isSpace(data[i])) i++;
  const c = data[i];
  // Only objects and arrays are worth a parse attempt (and the only shapes JSONPath can read).
  if (c !== 0x7b && c !== 0x5b) return undefined;
  try {
    return JSON.parse(text ?? data.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

// ---- waiters ----

const WAIT_NONE = 0;
/** A send with capture/match whose request carries an id: the reply with that id. */
const WAIT_ID = 1;
/** A wait step, or a send with capture/match and no id: the first message satisfying the strict matches. */
const WAIT_MATCH = 2;

const FLAG_BINARY = 1;
/** A reply matched by id (already counted as such): not unsolicited, not counted when dropped. */
const FLAG_REPLY = 2;

/**
 * One virtual user's inbound state. The owner feeds it every message (`onMessage`), calls `sweep`
 * periodically for timeouts, and ends it with `abandon` once the connection is gone.
 */
export class Inbox {
  private readonly host: InboxHost;
  private readonly c: InboxCounters;
  readonly field: string | undefined;
  private readonly key: Buffer | undefined;
  private readonly bufferLimit: number;

  // Pending requests: slot = id & mask; slotId 0 = free (ids start at 1).
  private lastId = 0;
  private pending = 0;
  private mask = 7;
  private slotId = new Float64Array(8);
  private slotAt = new Float64Array(8);
  private slotDeadline = new Float64Array(8);
  private slotHist: (HistogramHandle | undefined)[] = new Array<HistogramHandle | undefined>(8);
  private slotLoc: string[] = new Array<string>(8);

  // The one waiter (a virtual user runs one step at a time).
  private waitKind = WAIT_NONE;
  private waitId = 0;
  private waitExpect: Expectation | undefined;
  private waitVars: Vars | undefined;
  private waitDeadline = 0;
  private waitTimeoutKind = '';
  private waitTimeoutMessage = '';
  /** For a timed WAIT_MATCH (a send awaiting a match): where its round trip goes. */
  private waitHist: HistogramHandle | undefined;
  private waitAt = 0;
  private waitResolve: ((msg: ReceivedMessage) => void) | undefined;
  private waitReject: ((err: VuError) => void) | undefined;

  // Resolved when nothing is pending any more (the end-of-flow grace).
  private idleResolve: (() => void) | undefined;

  // The buffer: a ring of received messages, oldest at `head`; grows up to bufferLimit.
  private bufData: Buffer[] = [];
  private bufMsg: (ReceivedMessage | undefined)[] = [];
  private bufFlags = new Uint8Array(0);
  private bufHead = 0;
  private bufSize = 0;

  /**
   * Where the last message without an id was sent from: a server error without an id most likely
   * answers it (the server echoes the id of a request that had one).
   */
  private lastLoc = '';
  private closed = false;

  constructor(host: InboxHost, opts: InboxOptions) {
    this.host = host;
    this.c = host.counters;
    this.field = opts.field;
    this.key = opts.field === undefined ? undefined : Buffer.from(JSON.stringify(opts.field));
    this.bufferLimit = Math.max(1, opts.bufferLimit);
  }

  /** Requests sent and still waiting for their reply. */
  get pendingCount(): number {
    return this.pending;
  }

  /** Messages in the buffer now. */
  get bufferedCount(): number {
    return this.bufSize;
  }

  /** The id for the next request (the correlation field's value). */
  nextId(): number {
    return ++this.lastId;
  }

  /** Note where a message without an id was sent from (for attributing server errors). */
  sentFrom(location: string): void {
    this.lastLoc = location;
  }

  /**
   * Register request `id`, handed to the socket at `sentAt`: its reply is timed into `hist`; without
   * a reply by `deadline` it counts as timed out.
   */
  track(id: number, hist: HistogramHandle | undefined, sentAt: number, deadline: number, location: string): void {
    while (this.slotId[id & this.mask] !== 0) this.grow();
    const slot = id & this.mask;
    this.slotId[slot] = id;
    this.slotAt[slot] = sentAt;
    this.slotDeadline[slot] = deadline;
    this.slotHist[slot] = hist;
    this.slotLoc[slot] = location;
    this.pending++;
    this.c.correlated.value++;
  }

  private grow(): void {
    const oldId = this.slotId;
    const oldAt = this.slotAt;
    const oldDeadline = this.slotDeadline;
    const oldHist = this.slotHist;
    const oldLoc = this.slotLoc;
    const size = oldId.length * 2;
    this.mask = size - 1;
    this.slotId = new Float64Array(size);
    this.slotAt = new Float64Array(size);
    this.slotDeadline = new Float64Array(size);
    this.slotHist = new Array<HistogramHandle | undefined>(size);
    this.slotLoc = new Array<string>(size);
    for (let i = 0; i < oldId.length; i++) {
      const id = oldId[i]!;
      if (id === 0) continue;
      const slot = id & this.mask;
      this.slotId[slot] = id;
      this.slotAt[slot] = oldAt[i]!;
      this.slotDeadline[slot] = oldDeadline[i]!;
      this.slotHist[slot] = oldHist[i];
      this.slotLoc[slot] = oldLoc[i]!;
    }
  }

  /**
   * Wait for the reply to tracked request `id` (a send with capture/match), without a promise: `onReply`
   * gets the reply (called from onMessage), `onFail` the timeout (from sweep) or the cancellation
   * (cancelWait), each at most once. The callbacks are the caller's, made once: nothing is allocated per wait.
   */
  expectId(id: number, deadline: number, timeoutMessage: string, onReply: (msg: ReceivedMessage) => void, onFail: (err: VuError) => void): void {
    this.setWaiter(WAIT_ID, id, undefined, undefined, deadline, REPLY_TIMEOUT, timeoutMessage, undefined, 0, onReply, onFail);
  }

  /**
   * A send's wait for the first message after it that satisfies `expect` (awaitMatch without
   * searching the buffer), with callbacks as expectId. With `hist`, a timed round trip from `sentAt`.
   */
  expectMatch(
    expect: Expectation,
    vars: Vars,
    deadline: number,
    timeoutMessage: string,
    hist: HistogramHandle | undefined,
    sentAt: number,
    onReply: (msg: ReceivedMessage) => void,
    onFail: (err: VuError) => void,
  ): void {
    this.setWaiter(WAIT_MATCH, 0, expect, vars, deadline, REPLY_TIMEOUT, timeoutMessage, hist, sentAt, onReply, onFail);
  }

  /**
   * Wait for the first message that satisfies every strict match of `expect`. With `searchBuffer`
   * (a `wait` step) messages already buffered count, oldest first; a send awaiting its reply looks only
   * at what arrives after it. With `hist`, the wait is a timed round trip from `sentAt`.
   */
  awaitMatch(
    expect: Expectation,
    vars: Vars,
    deadline: number,
    searchBuffer: boolean,
    timeoutKind: string,
    timeoutMessage: string,
    hist: HistogramHandle | undefined,
    sentAt: number,
  ): Promise<ReceivedMessage> {
    if (searchBuffer) {
      const found = this.takeFromBuffer(expect, vars);
      if (found !== undefined) return Promise.resolve(found);
    }
    // Throws now, not as a rejection, when something is awaited already.
    this.assertIdle();
    return new Promise<ReceivedMessage>((resolve, reject) => {
      this.setWaiter(WAIT_MATCH, 0, expect, vars, deadline, timeoutKind, timeoutMessage, hist, sentAt, resolve, reject);
    });
  }

  /** The one waiter; with `hist` (a timed match) it is a correlated send. */
  private setWaiter(
    kind: number,
    id: number,
    expect: Expectation | undefined,
    vars: Vars | undefined,
    deadline: number,
    timeoutKind: string,
    timeoutMessage: string,
    hist: HistogramHandle | undefined,
    sentAt: number,
    resolve: (msg: ReceivedMessage) => void,
    reject: (err: VuError) => void,
  ): void {
    this.assertIdle();
    if (hist !== undefined) this.c.correlated.value++;
    this.waitKind = kind;
    this.waitId = id;
    this.waitExpect = expect;
    this.waitVars = vars;
    this.waitDeadline = deadline;
    this.waitTimeoutKind = timeoutKind;
    this.waitTimeoutMessage = timeoutMessage;
    this.waitHist = hist;
    this.waitAt = sentAt;
    this.waitResolve = resolve;
    this.waitReject = reject;
  }

  private assertIdle(): void {
    if (this.waitKind !== WAIT_NONE) throw new Error('Inbox: a virtual user waits for one thing at a time');
  }

  private clearWaiter(): void {
    this.waitKind = WAIT_NONE;
    this.waitExpect = undefined;
    this.waitVars = undefined;
    this.waitHist = undefined;
    this.waitResolve = undefined;
    this.waitReject = undefined;
  }

  private resolveWaiter(msg: ReceivedMessage): void {
    const resolve = this.waitResolve;
    this.clearWaiter();
    resolve?.(msg);
  }

  /** Fail the current wait (connection closed, the user was stopped). Counts a timed wait as lost. */
  cancelWait(err: VuError): void {
    if (this.waitKind === WAIT_NONE) return;
    if (this.waitKind === WAIT_MATCH && this.waitHist !== undefined) this.c.lost.value++;
    const reject = this.waitReject;
    this.clearWaiter();
    reject?.(err);
  }

  /** One inbound data frame, arrived at `now`. */
  onMessage(data: Buffer, isBinary: boolean, now: number): void {
    const c = this.c;
    c.received.value++;
    c.bytesReceived.value += data.length;
    let msg: ReceivedMessage | undefined;
    if (this.key !== undefined && !isBinary) {
      let id = readTopLevelId(data, this.key);
      if (id === ODD_ID) {
        msg = new ReceivedMessage(data, false);
        id = idFromJson(msg.json, this.field as string);
      }
      if (id > 0) {
        const slot = id & this.mask;
        if (this.slotId[slot] === id) {
          msg = this.completeReply(slot, data, now, msg);
          if (this.waitKind === WAIT_ID && this.waitId === id) {
            this.resolveWaiter(msg ?? new ReceivedMessage(data, false));
            return;
          }
          // A reply nobody awaits (a send without capture/match): timed, then kept for `wait` steps.
          if (this.offerToMatchWaiter(data, false, now, msg)) return;
          this.push(data, FLAG_REPLY, msg);
          return;
        }
        if (id <= this.lastId) c.late.value++;
      }
    }
    if (this.waitKind === WAIT_MATCH) {
      msg ??= new ReceivedMessage(data, isBinary);
      if (this.offerToMatchWaiter(data, isBinary, now, msg)) return;
    }
    c.unsolicited.value++;
    if (!isBinary && hasErrorToken(data)) {
      msg ??= new ReceivedMessage(data, false);
      const kind = serverErrorKind(msg.json);
      if (kind !== undefined) this.host.serverError(kind, this.lastLoc, msg.text);
    }
    this.push(data, isBinary ? FLAG_BINARY : 0, msg);
  }

  /** Time the reply in `slot` and free it; returns the parsed message if one was needed. */
  private completeReply(slot: number, data: Buffer, now: number, msg: ReceivedMessage | undefined): ReceivedMessage | undefined {
    const hist = this.slotHist[slot];
    if (hist !== undefined) hist.record((now - this.slotAt[slot]!) * 1000);
    this.slotId[slot] = 0;
    this.slotHist[slot] = undefined;
    this.pending--;
    this.c.replied.value++;
    // An error reply is a reply (its round trip counts) and also an error of its kind.
    if (hasErrorToken(data)) {
      msg ??= new ReceivedMessage(data, false);
      const kind = serverErrorKind(msg.json);
      if (kind !== undefined) this.host.serverError(kind, this.slotLoc[slot]!, msg.text);
    }
    if (this.pending === 0 && this.idleResolve !== undefined) this.wakeIdle();
    return msg;
  }

  private offerToMatchWaiter(data: Buffer, isBinary: boolean, now: number, msg: ReceivedMessage | undefined): boolean {
    if (this.waitKind !== WAIT_MATCH) return false;
    const m = msg ?? new ReceivedMessage(data, isBinary);
    if (!matchesAll(this.waitExpect as Expectation, m, this.waitVars as Vars)) return false;
    if (this.waitHist !== undefined) {
      this.waitHist.record((now - this.waitAt) * 1000);
      this.c.replied.value++;
    }
    this.resolveWaiter(m);
    return true;
  }

  // ---- the buffer ----

  private push(data: Buffer, flags: number, msg: ReceivedMessage | undefined): void {
    if (this.bufSize === this.bufData.length) {
      if (this.bufSize < this.bufferLimit) this.growBuffer();
      else {
        // Full: the oldest goes (counted when it was a message nobody had seen).
        if ((this.bufFlags[this.bufHead]! & FLAG_REPLY) === 0) this.c.dropped.value++;
        this.bufData[this.bufHead] = EMPTY;
        this.bufMsg[this.bufHead] = undefined;
        this.bufHead = (this.bufHead + 1) % this.bufData.length;
        this.bufSize--;
      }
    }
    const cap = this.bufData.length;
    const at = (this.bufHead + this.bufSize) % cap;
    this.bufData[at] = data;
    this.bufMsg[at] = msg;
    this.bufFlags[at] = flags;
    this.bufSize++;
  }

  private growBuffer(): void {
    const oldCap = this.bufData.length;
    const cap = Math.min(this.bufferLimit, Math.max(16, oldCap * 2));
    const data = new Array<Buffer>(cap);
    const msgs = new Array<ReceivedMessage | undefined>(cap);
    const flags = new Uint8Array(cap);
    for (let k = 0; k < this.bufSize; k++) {
      const from = (this.bufHead + k) % oldCap;
      data[k] = this.bufData[from]!;
      msgs[k] = this.bufMsg[from];
      flags[k] = this.bufFlags[from]!;
    }
    this.bufData = data;
    this.bufMsg = msgs;
    this.bufFlags = flags;
    this.bufHead = 0;
  }

  /**
   * The oldest buffered message satisfying `expect`; it and every older one leave the buffer (a later
   * `wait` continues from there, it does not go back in time).
   */
  private takeFromBuffer(expect: Expectation, vars: Vars): ReceivedMessage | undefined {
    const cap = this.bufData.length;
    for (let k = 0; k < this.bufSize; k++) {
      const at = (this.bufHead + k) % cap;
      let msg = this.bufMsg[at];
      if (msg === undefined) {
        msg = new ReceivedMessage(this.bufData[at]!, (this.bufFlags[at]! & FLAG_BINARY) !== 0);
        this.bufMsg[at] = msg;
      }
      if (!matchesAll(expect, msg, vars)) continue;
      for (let d = 0; d <= k; d++) {
        const j = (this.bufHead + d) % cap;
        this.bufData[j] = EMPTY;
        this.bufMsg[j] = undefined;
      }
      this.bufHead = (this.bufHead + k + 1) % cap;
      this.bufSize -= k + 1;
      return msg;
    }
    return undefined;
  }

  // ---- time ----

  /** Expire requests and the wait whose deadline has passed. */
  sweep(now: number): void {
    if (this.pending > 0) {
      const ids = this.slotId;
      for (let slot = 0; slot < ids.length; slot++) {
        const id = ids[slot]!;
        if (id === 0 || this.slotDeadline[slot]! > now) continue;
        ids[slot] = 0;
        this.slotHist[slot] = undefined;
        this.pending--;
        this.c.timedOut.value++;
        if (this.waitKind === WAIT_ID && this.waitId === id) this.timeoutWaiter();
      }
      if (this.pending === 0 && this.idleResolve !== undefined) this.wakeIdle();
    }
    if (this.waitKind !== WAIT_NONE && this.waitDeadline <= now) {
      if (this.waitKind === WAIT_MATCH && this.waitHist !== undefined) this.c.timedOut.value++;
      this.timeoutWaiter();
    }
  }

  private timeoutWaiter(): void {
    const reject = this.waitReject;
    const err = new VuError(this.waitTimeoutKind, this.waitTimeoutMessage);
    this.clearWaiter();
    reject?.(err);
  }

  /** Settle whenIdle's promise (idleResolve is set). */
  private wakeIdle(): void {
    const idle = this.idleResolve!;
    this.idleResolve = undefined;
    idle();
  }

  /** Resolves once no request is pending, or after `ms` (via `setTimer`), or when the inbox is abandoned. */
  whenIdle(ms: number, setTimer: (fn: () => void, ms: number) => { cancel(): void }): Promise<void> {
    if (this.pending === 0 || this.closed || ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimer(() => {
        this.idleResolve = undefined;
        resolve();
      }, ms);
      this.idleResolve = () => {
        timer.cancel();
        resolve();
      };
    });
  }

  /**
   * The end: requests still pending count as `unanswered` (the flow ended and the grace ran out) or
   * `lost` (the connection went, or the user was stopped). Idempotent; frees the buffer.
   */
  abandon(as: 'unanswered' | 'lost'): void {
    if (this.pending > 0) {
      (as === 'unanswered' ? this.c.unanswered : this.c.lost).value += this.pending;
      this.pending = 0;
      this.slotId.fill(0);
      this.slotHist.fill(undefined);
    }
    if (this.idleResolve !== undefined) this.wakeIdle();
    this.closed = true;
    this.bufData = [];
    this.bufMsg = [];
    this.bufFlags = new Uint8Array(0);
    this.bufHead = 0;
    this.bufSize = 0;
  }
}

const EMPTY = Buffer.alloc(0);
