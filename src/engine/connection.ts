/**
 * One load-side WebSocket connection: the only module on the load side that imports `ws`.
 * It opens the socket with a bounded handshake, measures the handshake, classifies failures into
 * error kinds (`connect_refused`, `handshake_rejected_503`, …) and closes with a bounded wait.
 * What to send and when is the session's business (./stress.ts); this file knows no protocol.
 */
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Clock, TimerHandle } from '../clock.js';

/** What a connection reports to its owner. Implemented by the session, called at most as documented. */
export interface ConnectionEvents {
  /** The handshake completed after `handshakeMs` (monotonic ms). Called at most once. */
  onOpen(handshakeMs: number): void;
  /** The handshake failed; the socket is gone. `kind` is from `classifyError`. Called at most once. */
  onConnectFailed(kind: string, error: Error): void;
  /** A data frame arrived: the payload bytes, and whether it was a binary frame. */
  onMessage(data: Buffer, isBinary: boolean): void;
  /**
   * The open connection closed, whoever closed it: `code` from the close frame (1006 when the socket
   * went away without one) and the socket error that preceded it, if any. Called once, after `onOpen`.
   */
  onClose(code: number, error: Error | undefined): void;
}

export interface ConnectionOptions {
  /** Bound on the opening handshake (`connect_timeout`). */
  connectTimeoutMs: number;
  /** Bound on the closing handshake after `close()`; then the socket is destroyed. */
  closeTimeoutMs: number;
  clock: Clock;
  /** `Sec-WebSocket-Protocol` values to offer (none by default). */
  subprotocols?: readonly string[];
  /**
   * Extra `ws` client options (handshake `headers`, TLS `rejectUnauthorized`, `maxPayload`, …), as a
   * script's `config.ws` / `config.tls` give them. Compression stays off unless they turn it on.
   */
  wsOptions?: Readonly<WebSocket.ClientOptions>;
}

/** Kinds that mean "the target could not be reached at all" (as opposed to "it refused us"). */
export const UNREACHABLE_KINDS: ReadonlySet<string> = new Set(['connect_refused', 'dns_failure', 'connect_timeout', 'host_unreachable']);

/** OpenSSL's certificate verification codes as Node reports them (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED, …). */
const TLS_CERT_CODE = /CERT|^UNABLE_TO_(GET|VERIFY|DECRYPT)_/;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

/**
 * Map a connection error to a stable error kind (a metrics key). Pure.
 * Node's dual-stack connect reports an AggregateError; its first inner error decides.
 */
export function classifyError(err: unknown): string {
  const e = (err ?? {}) as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return 'dns_failure';
    case 'ETIMEDOUT':
      return 'connect_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'connection_reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host_unreachable';
    // The process (EMFILE) or the system (ENFILE) ran out of file descriptors: `ulimit -n`, more
    // worker processes (docs/workers.md).
    case 'EMFILE':
    case 'ENFILE':
      return 'fd_limit';
    // No free ephemeral port from this source address to this destination (or the source address is
    // not local): more source addresses with --local-address (docs/workers.md).
    case 'EADDRNOTAVAIL':
    case 'EADDRINUSE':
      return 'no_source_port';
    // TLS: the certificate was refused (self-signed, expired, wrong host name) or the server does
    // not speak TLS on that port (EPROTO "wrong version number": wss:// against a ws:// server).
    case 'EPROTO':
      return 'tls_error';
    default:
      break;
  }
  if (code === undefined && Array.isArray(e.errors) && e.errors.length > 0) return classifyError(e.errors[0]);
  if (code !== undefined && code.startsWith('WS_ERR_')) return 'protocol_error';
  if (code !== undefined && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || TLS_CERT_CODE.test(code))) return 'tls_error';
  const message = typeof e.message === 'string' ? e.message : '';
  const status = /^Unexpected server response: (\d{3})/.exec(message);
  if (status) return `handshake_rejected_${status[1]}`;
  if (/handshake has timed out/i.test(message)) return 'connect_timeout';
  // ws: "Server sent no subprotocol", "Server sent an invalid subprotocol", "Server sent a subprotocol but none was requested".
  if (/subprotocol/i.test(message)) return 'subprotocol_mismatch';
  if (/^Invalid (Sec-WebSocket-Accept|Upgrade) header/i.test(message)) return 'handshake_invalid';
  if (code !== undefined) return `error_${code.toLowerCase()}`;
  return 'unknown_error';
}

/**
 * The error kind for an open connection that closed before we were done with it. Pure.
 * ws reports socket errors on an open connection only as close code 1006, so the code usually decides.
 */
export function classifyClose(code: number, error: Error | undefined): string {
  const c = (error as { code?: unknown } | undefined)?.code;
  if (c === 'ECONNRESET' || c === 'EPIPE') return 'connection_reset';
  if (typeof c === 'string' && c.startsWith('WS_ERR_')) return 'protocol_error';
  return `connection_closed_${code}`;
}

/** A one-line description of an error for a human (AggregateErrors list their parts). */
export function describeError(err: unknown): string {
  const e = (err ?? {}) as ErrorLike;
  const message = typeof e.message === 'string' ? e.message : '';
  if (message === '' && Array.isArray(e.errors) && e.errors.length > 0) {
    return [...new Set(e.errors.map(describeError))].join('; ');
  }
  return message !== '' ? message : String(err);
}

/** `ws.send` options for a Buffer that holds text (ws adds mask and fin; compression stays as negotiated). */
const TEXT_FRAME = { binary: false } as const;

// ---- client text frames (RFC 6455 §5.2): FIN + text opcode, masked with a random key ----
const FIN_TEXT = 0x81;
const MASK_BIT = 0x80;
/** Masking keys come from a pool of random bytes, refilled when used up (as ws does). */
const KEY_POOL_SIZE = 8 * 1024;
const keyPool = Buffer.allocUnsafe(KEY_POOL_SIZE);
let keyAt = KEY_POOL_SIZE;
const key = Buffer.allocUnsafe(4);

interface MaskFn {
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
}
/** bufferutil's native mask (a dependency, already loaded by ws); below this length a JS loop is cheaper. */
const NATIVE_MASK_FROM = 48;
const nativeMask: MaskFn['mask'] | undefined = (() => {
  try {
    return (createRequire(import.meta.url)('bufferutil') as MaskFn).mask;
  } catch {
    return undefined;
  }
})();

/** A masked text frame carrying `payload[0, length)`, in one new buffer. */
export function maskedTextFrame(payload: Buffer, length: number): Buffer {
  const offset = length < 126 ? 6 : length < 65536 ? 8 : 14;
  const frame = Buffer.allocUnsafe(offset + length);
  frame[0] = FIN_TEXT;
  if (length < 126) {
    frame[1] = MASK_BIT | length;
  } else if (length < 65536) {
    frame[1] = MASK_BIT | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = MASK_BIT | 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  if (keyAt === KEY_POOL_SIZE) {
    randomFillSync(keyPool);
    keyAt = 0;
  }
  const k0 = keyPool[keyAt]!;
  const k1 = keyPool[keyAt + 1]!;
  const k2 = keyPool[keyAt + 2]!;
  const k3 = keyPool[keyAt + 3]!;
  keyAt += 4;
  frame[offset - 4] = k0;
  frame[offset - 3] = k1;
  frame[offset - 2] = k2;
  frame[offset - 1] = k3;
  if (length >= NATIVE_MASK_FROM && nativeMask !== undefined) {
    key[0] = k0;
    key[1] = k1;
    key[2] = k2;
    key[3] = k3;
    nativeMask(payload, key, frame, offset, length);
  } else {
    let i = 0;
    for (; i + 3 < length; i += 4) {
      frame[offset + i] = payload[i]! ^ k0;
      frame[offset + i + 1] = payload[i + 1]! ^ k1;
      frame[offset + i + 2] = payload[i + 2]! ^ k2;
      frame[offset + i + 3] = payload[i + 3]! ^ k3;
    }
    for (; i < length; i++) frame[offset + i] = payload[i]! ^ keyPool[keyAt - 4 + (i & 3)]!;
  }
  return frame;
}

const PHASE_IDLE = 0;
const PHASE_CONNECTING = 1;
const PHASE_OPEN = 2;
const PHASE_CLOSED = 3;

/**
 * A client connection. Listeners are module-level functions bound once per connection, so nothing
 * is allocated per message.
 */
export class Connection {
  private ws: WebSocket | undefined;
  private phase = PHASE_IDLE;
  private startedAt = 0;
  private timer: TimerHandle | undefined;
  /**
   * The upgraded socket, for `sendTextBytes`' own frames; set at open when no extension was
   * negotiated (ws' sender then writes every frame synchronously, so frames never reorder).
   */
  private raw: Socket | undefined;
  private upgradedSocket: Socket | undefined;
  /** The kind decided before the socket reported (timeout, HTTP status), which wins over its error. */
  private failKind: string | undefined;
  private lastError: Error | undefined;

  constructor(
    readonly url: string,
    private readonly events: ConnectionEvents,
    private readonly opts: ConnectionOptions,
  ) {}

  /** Start the opening handshake; the outcome arrives as `onOpen` or `onConnectFailed`. */
  open(): void {
    if (this.phase !== PHASE_IDLE) throw new Error('Connection.open() called twice');
    this.phase = PHASE_CONNECTING;
    this.startedAt = this.opts.clock.now();
    let ws: WebSocket;
    try {
      // No compression: the seed's clients do not negotiate it, and it would dominate client CPU.
      const options: WebSocket.ClientOptions = { perMessageDeflate: false, ...this.opts.wsOptions };
      const protocols = this.opts.subprotocols;
      ws = protocols !== undefined && protocols.length > 0 ? new WebSocket(this.url, [...protocols], options) : new WebSocket(this.url, options);
    } catch (err) {
      // A malformed URL throws synchronously; report it like any other failure, asynchronously.
      this.phase = PHASE_CLOSED;
      const error = err instanceof Error ? err : new Error(String(err));
      queueMicrotask(() => this.events.onConnectFailed(classifyError(error), error));
      return;
    }
    this.ws = ws;
    ws.on('open', onWsOpen.bind(this));
    ws.on('unexpected-response', onWsUnexpectedResponse.bind(this));
    ws.on('error', onWsError.bind(this));
    ws.on('close', onWsClose.bind(this));
    // The owner's handler itself, bound once: no extra call per message. ws hands over one Buffer
    // (binaryType 'nodebuffer', fragments already joined) and whether it was a binary frame.
    const events = this.events;
    ws.on('message', events.onMessage.bind(events) as (data: WebSocket.RawData, isBinary: boolean) => void);
    // ws reports an open connection's socket errors (ECONNRESET, EPIPE) only as a 1006 close: listen
    // on the socket itself so a reset is told apart from a plain disconnect (classifyClose).
    ws.on('upgrade', onWsUpgrade.bind(this));
    this.timer = this.opts.clock.setTimeout(onConnectTimeout.bind(this), this.opts.connectTimeoutMs);
  }

  /** True while frames can be sent. */
  get isOpen(): boolean {
    return this.ws !== undefined && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a text frame. Returns false (and sends nothing) when the socket is not open. */
  send(text: string): boolean {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(text);
    return true;
  }

  /**
   * Send a text frame whose payload is the UTF-8 bytes `payload[0, length)` (a request written from
   * prepared templates). The bytes are copied, masked, into a frame of their own before this
   * returns, so `payload` may be reused at once. Cheaper than `send(text)`: no UTF-8 encoding, and
   * the frame (header and masked payload in one buffer) is written to the socket with one `write`,
   * where ws frames a string as header + payload (two buffers, cork, `writev`). ws' own sender is
   * bypassed only while that is equivalent: no extension negotiated (compression would queue
   * frames in ws), and nothing but whole frames sent through this Connection; otherwise this goes
   * through `ws.send`. Returns false (and sends nothing) when the socket is not open.
   */
  sendTextBytes(payload: Buffer, length: number): boolean {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return false;
    const raw = this.raw;
    if (raw === undefined) {
      // ws may hold what it is given until written: a copy.
      ws.send(Buffer.from(payload.subarray(0, length)), TEXT_FRAME);
      return true;
    }
    raw.write(maskedTextFrame(payload, length));
    return true;
  }

  /** Send a binary frame. Returns false (and sends nothing) when the socket is not open. */
  sendBinary(data: Buffer): boolean {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(data, { binary: true });
    return true;
  }

  /** The underlying `ws` socket (Artillery hands it to processor functions as `context.ws`). */
  get socket(): WebSocket | undefined {
    return this.ws;
  }

  /** Abandon a handshake in progress, reporting it as `kind` (e.g. on interrupt). */
  abortConnect(kind: string, message: string): void {
    if (this.phase !== PHASE_CONNECTING || this.ws === undefined) return;
    this.failKind ??= kind;
    this.lastError ??= new Error(message);
    this.ws.terminate();
  }

  /**
   * Start the closing handshake with `code`; if the peer does not complete it within
   * `closeTimeoutMs`, destroy the socket. `onClose` follows either way.
   */
  close(code = 1000): void {
    const ws = this.ws;
    if (this.phase === PHASE_CONNECTING) {
      this.abortConnect('connect_aborted', 'closed before the handshake completed');
      return;
    }
    if (this.phase !== PHASE_OPEN || ws === undefined || this.timer !== undefined) return;
    if (ws.readyState === WebSocket.OPEN) ws.close(code);
    this.timer = this.opts.clock.setTimeout(onCloseTimeout.bind(this), this.opts.closeTimeoutMs);
  }

  /** Destroy the socket now; `onClose` (or `onConnectFailed`) follows. */
  terminate(): void {
    if (this.phase === PHASE_CONNECTING || this.phase === PHASE_OPEN) this.ws?.terminate();
  }

  /** @internal */ handleUpgrade(socket: Socket | undefined): void {
    this.upgradedSocket = socket;
  }

  /** @internal */ handleOpen(): void {
    this.cancelTimer();
    this.phase = PHASE_OPEN;
    if (this.ws !== undefined && this.ws.extensions === '') this.raw = this.upgradedSocket;
    this.events.onOpen(this.opts.clock.now() - this.startedAt);
  }

  /** @internal */ handleUnexpectedResponse(status: number, statusMessage: string): void {
    this.failKind ??= `handshake_rejected_${status}`;
    this.lastError ??= new Error(`handshake rejected: HTTP ${status}${statusMessage ? ` ${statusMessage}` : ''}`);
    // ws leaves the request to us when we listen for 'unexpected-response': abort it.
    this.ws?.terminate();
  }

  /** @internal */ handleError(err: Error): void {
    // ws always follows 'error' with 'close'; the outcome is reported there.
    this.lastError ??= err;
  }

  /** @internal */ handleClose(code: number): void {
    this.cancelTimer();
    this.raw = undefined;
    this.upgradedSocket = undefined;
    const phase = this.phase;
    this.phase = PHASE_CLOSED;
    if (phase === PHASE_CONNECTING) {
      const error = this.lastError ?? new Error(`connection closed during the handshake (code ${code})`);
      this.events.onConnectFailed(this.failKind ?? classifyError(error), error);
    } else if (phase === PHASE_OPEN) {
      this.events.onClose(code, this.lastError);
    }
  }

  /** @internal */ handleConnectTimeout(): void {
    this.timer = undefined;
    this.abortConnect('connect_timeout', `opening handshake timed out after ${this.opts.connectTimeoutMs} ms`);
  }

  /** @internal */ handleCloseTimeout(): void {
    this.timer = undefined;
    this.ws?.terminate();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
  }
}

function onWsOpen(this: Connection): void {
  this.handleOpen();
}

function onWsUpgrade(this: Connection, res: { socket?: Socket }): void {
  res.socket?.on('error', onSocketError.bind(this));
  this.handleUpgrade(res.socket);
}

function onSocketError(this: Connection, err: Error): void {
  this.handleError(err);
}

function onWsUnexpectedResponse(this: Connection, _req: unknown, res: { statusCode?: number; statusMessage?: string }): void {
  this.handleUnexpectedResponse(res.statusCode ?? 0, res.statusMessage ?? '');
}

function onWsError(this: Connection, err: Error): void {
  this.handleError(err);
}

function onWsClose(this: Connection, code: number): void {
  this.handleClose(code);
}

function onConnectTimeout(this: Connection): void {
  this.handleConnectTimeout();
}

function onCloseTimeout(this: Connection): void {
  this.handleCloseTimeout();
}
