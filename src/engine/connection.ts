/**
 * One load-side WebSocket connection: the only module on the load side that imports `ws`.
 * It opens the socket with a bounded handshake, measures the handshake, classifies failures into
 * error kinds (`connect_refused`, `handshake_rejected_503`, …) and closes with a bounded wait.
 * What to send and when is the session's business (./stress.ts); this file knows no protocol.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
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

// ---- the plain ws:// handshake, done here (the common case of stress and of most scripts) ----
//
// ws opens a client connection through http.request: a ClientRequest, its headers' validation, the
// llhttp parser and an IncomingMessage for one 101 response, about 40% of the client's CPU per opened
// connection. For a plain ws:// URL with nothing but a source address to configure, the upgrade request
// is written and its response read here, over net.connect, and the upgraded socket is handed to ws, as
// ws' own server hands it the sockets it upgrades (`setSocket`). ws then owns it exactly as after its own
// handshake. The checks and error messages are ws' (status, Upgrade, Sec-WebSocket-Accept, subprotocol,
// extensions), so every error kind is the same; anything else (wss://, subprotocols, headers, redirects,
// an agent, a custom lookup…) goes through ws' client unchanged.

/** RFC 6455 §1.3. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Node's default limit on a response head (`--max-http-header-size`): a longer one is left to Node's parser (readWithNode). */
const MAX_RESPONSE_HEAD = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/**
 * What ws' client gets by default (its documented client options), given to the WebSocket that adopts
 * the socket: a WebSocket made without a URL (ws' server-side constructor) takes none of them itself.
 */
const ADOPTED_CLIENT_OPTIONS = {
  autoPong: true,
  closeTimeout: 30_000,
  maxPendingAutoPongs: 60,
} as const;
const ADOPTED_SOCKET_OPTIONS = {
  allowSynchronousEvents: true,
  maxBufferedChunks: 256 * 1024,
  maxFragments: 16 * 1024,
  maxPayload: 100 * 1024 * 1024,
  skipUTF8Validation: false,
} as const;

/** The members of ws' WebSocket the adoption uses (ws' server path uses the same; none is in its typings). */
interface AdoptableWebSocket {
  _isServer: boolean;
  _url: string;
  _bufferedAmount: number;
  setSocket(socket: Socket, head: Buffer, options: typeof ADOPTED_SOCKET_OPTIONS): void;
}

/** ws' URL-less constructor (its server side's), with options: the typings know only `new WebSocket(null)`. */
const UrlLessWebSocket = WebSocket as unknown as new (address: null, protocols: undefined, options: typeof ADOPTED_CLIENT_OPTIONS) => WebSocket & AdoptableWebSocket;

/**
 * Whether this ws can adopt a socket as a client: its `setSocket`, and a URL-less WebSocket marked as
 * the server side through `_isServer` (which then decides masking, as for ws' own clients). Checked once;
 * if a ws version changes that, every connection goes through ws' client instead.
 */
const CAN_ADOPT: boolean = (() => {
  try {
    const probe: Partial<AdoptableWebSocket> = new UrlLessWebSocket(null, undefined, ADOPTED_CLIENT_OPTIONS);
    return typeof probe.setSocket === 'function' && probe._isServer === true && Object.hasOwn(probe, '_isServer');
  } catch {
    return false;
  }
})();

/** Where a plain ws:// connection goes, worked out once per URL. */
interface DirectTarget {
  readonly host: string;
  readonly port: number;
  /** The upgrade request up to its Sec-WebSocket-Key value. */
  readonly requestHead: string;
  readonly href: string;
}

/** The URL last dialled: a run's connections dial the same URL, so it is parsed once, not per connection. */
let lastTarget: { readonly url: string; readonly parsed: URL | string; readonly direct: DirectTarget | undefined } | undefined;

function targetOf(url: string): NonNullable<typeof lastTarget> {
  if (lastTarget !== undefined && lastTarget.url === url) return lastTarget;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // ws reports a malformed URL itself, as it always did.
  }
  let direct: DirectTarget | undefined;
  if (CAN_ADOPT && parsed !== undefined && parsed.protocol === 'ws:' && parsed.username === '' && parsed.password === '' && parsed.hash === '') {
    const hostname = parsed.hostname;
    // Host: what Node's ClientRequest sends for ws (the port only when not 80, an IPv6 address bracketed).
    direct = {
      host: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
      port: parsed.port === '' ? 80 : Number(parsed.port),
      requestHead: `GET ${parsed.pathname}${parsed.search} HTTP/1.1\r\nHost: ${parsed.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: `,
      href: parsed.href,
    };
  }
  lastTarget = { url, parsed: parsed ?? url, direct };
  return lastTarget;
}

/** Only a source address may be set for the direct handshake; any other ws option goes through ws. */
function onlyLocalAddress(options: Readonly<WebSocket.ClientOptions> | undefined): boolean {
  if (options === undefined) return true;
  for (const key in options) if (key !== 'localAddress') return false;
  return true;
}

/** Sec-WebSocket-Key values: 16 random bytes each (RFC 6455 §4.1), from a pool refilled when used up. */
const NONCE_POOL_SIZE = 16 * 512;
const noncePool = Buffer.allocUnsafe(NONCE_POOL_SIZE);
let nonceAt = NONCE_POOL_SIZE;
function nextKey(): string {
  if (nonceAt === NONCE_POOL_SIZE) {
    randomFillSync(noncePool);
    nonceAt = 0;
  }
  const key = noncePool.toString('base64', nonceAt, nonceAt + 16);
  nonceAt += 16;
  return key;
}

/** An error as Node's http client reports it (code and message), for the same error kinds. */
function httpClientError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A response head the strict reader took: status, reason and headers (lower-case names, repeats joined with ", " as Node does). */
interface ResponseHead {
  status: number;
  reason: string;
  headers: Map<string, string>;
}

/** What every response this reader takes begins with. */
const HTTP11 = Buffer.from('HTTP/1.1 ');
/** Strict forms: a final status, a header line with a token name and visible-ASCII value. */
const STATUS_LINE = /^HTTP\/1\.1 ([1-5]\d\d)(?: ([\t\x20-\x7e]*))?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([\t\x20-\x7e]*?)[\t ]*$/;

/** Could `bytes` (a response head so far) still be one the strict reader takes? False at once for anything else. */
function plausibleHead(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, HTTP11.length);
  if (bytes.compare(HTTP11, 0, n, 0, n) !== 0) return false;
  // Bare LF line ends: Node's parser has its own verdict on those.
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) if (i === 0 || bytes[i - 1] !== 13) return false;
  return true;
}

/**
 * A response head in the strict form (`HTTP/1.1 NNN reason`, `Name: value` lines, CRLF, no final blank
 * line), or undefined for anything else, which Node's http client then reads (Connection.readWithNode).
 */
function parseResponseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0]!);
  if (status === null) return undefined;
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const m = HEADER_LINE.exec(lines[i]!);
    if (m === null) return undefined;
    const name = m[1]!.toLowerCase();
    const before = headers.get(name);
    headers.set(name, before === undefined ? m[2]! : `${before}, ${m[2]!}`);
  }
  return { status: Number(status[1]), reason: status[2] ?? '', headers };
}

/**
 * Whether Node's http client takes this response as an upgrade (llhttp: status 101 with an Upgrade header
 * and an "upgrade" token in Connection); a 101 without them is an ordinary response to it.
 */
function isUpgrade(head: ResponseHead): boolean {
  const connection = head.headers.get('connection');
  return head.status === 101 && head.headers.has('upgrade') && connection !== undefined
    && connection.split(',').some((token) => token.trim().toLowerCase() === 'upgrade');
}

/** The header getter for ws' checks, from either reader. */
type HeaderOf = (name: string) => string | undefined;

/**
 * ws' own verdict on a 101 response to a request that offered no subprotocol and no extension
 * (lib/websocket.js, its 'upgrade' handler): undefined when it is good, else ws' message.
 */
function checkUpgradeResponse(header: HeaderOf, key: string): string | undefined {
  const upgrade = header('upgrade');
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return 'Invalid Upgrade header';
  const digest = createHash('sha1').update(key + WS_GUID).digest('base64');
  if (header('sec-websocket-accept') !== digest) return 'Invalid Sec-WebSocket-Accept header';
  if (header('sec-websocket-protocol') !== undefined) return 'Server sent a subprotocol but none was requested';
  if (header('sec-websocket-extensions') !== undefined) return 'Server sent a Sec-WebSocket-Extensions header but no extension was requested';
  return undefined;
}

/** A header of a response Node parsed (repeats joined as Node joins them; arrays only for set-cookie). */
function nodeHeader(headers: IncomingHttpHeaders): HeaderOf {
  return (name) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
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
  /** Direct handshake (plain ws://): the socket until ws adopts it, its key, and the response bytes so far. */
  private handshakeSocket: Socket | undefined;
  private direct: DirectTarget | undefined;
  private handshakeKey = '';
  private responseBytes: Buffer | undefined;
  private onHandshakeData: ((chunk: Buffer) => void) | undefined;
  private onHandshakeClose: (() => void) | undefined;
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
    const target = targetOf(this.url);
    const protocols = this.opts.subprotocols;
    const wsOptions = this.opts.wsOptions;
    if (target.direct !== undefined && (protocols === undefined || protocols.length === 0) && onlyLocalAddress(wsOptions)) {
      this.openDirect(target.direct, wsOptions?.localAddress);
      return;
    }
    let ws: WebSocket;
    try {
      // No compression: the seed's clients do not negotiate it, and it would dominate client CPU.
      const options: WebSocket.ClientOptions = { perMessageDeflate: false, ...wsOptions };
      ws = protocols !== undefined && protocols.length > 0 ? new WebSocket(target.parsed, [...protocols], options) : new WebSocket(target.parsed, options);
    } catch (err) {
      // A malformed URL throws synchronously; report it like any other failure, asynchronously.
      this.phase = PHASE_CLOSED;
      const error = err instanceof Error ? err : new Error(String(err));
      queueMicrotask(() => this.events.onConnectFailed(classifyError(error), error));
      return;
    }
    this.ws = ws;
    ws.on('unexpected-response', onWsUnexpectedResponse.bind(this));
    this.listen(ws);
    // ws reports an open connection's socket errors (ECONNRESET, EPIPE) only as a 1006 close: listen
    // on the socket itself so a reset is told apart from a plain disconnect (classifyClose).
    ws.on('upgrade', onWsUpgrade.bind(this));
    this.timer = this.opts.clock.setTimeout(onConnectTimeout.bind(this), this.opts.connectTimeoutMs);
  }

  /** The listeners every ws WebSocket of ours has, whoever did the handshake. */
  private listen(ws: WebSocket): void {
    ws.on('open', onWsOpen.bind(this));
    ws.on('error', onWsError.bind(this));
    ws.on('close', onWsClose.bind(this));
    // The owner's handler itself, bound once: no extra call per message. ws hands over one Buffer
    // (binaryType 'nodebuffer', fragments already joined) and whether it was a binary frame.
    const events = this.events;
    ws.on('message', events.onMessage.bind(events) as (data: WebSocket.RawData, isBinary: boolean) => void);
  }

  /** The plain ws:// handshake over net.connect (see DirectTarget); ws adopts the socket once upgraded. */
  private openDirect(target: DirectTarget, localAddress: string | undefined): void {
    const socket = netConnect(localAddress === undefined ? { host: target.host, port: target.port } : { host: target.host, port: target.port, localAddress });
    this.handshakeSocket = socket;
    this.direct = target;
    const key = nextKey();
    this.handshakeKey = key;
    // Written once connected (net queues it), as ClientRequest does.
    socket.write(`${target.requestHead}${key}\r\n\r\n`, 'latin1');
    this.onHandshakeData = onHandshakeData.bind(this);
    this.onHandshakeClose = onHandshakeClose.bind(this);
    socket.on('data', this.onHandshakeData);
    socket.on('close', this.onHandshakeClose);
    // Stays on after the upgrade, as the ws path's 'upgrade' listener does (a reset is then connection_reset).
    socket.on('error', onWsError.bind(this));
    this.timer = this.opts.clock.setTimeout(onConnectTimeout.bind(this), this.opts.connectTimeoutMs);
  }

  /** @internal */ handleHandshakeData(chunk: Buffer): void {
    const socket = this.handshakeSocket;
    if (socket === undefined) return;
    const bytes = this.responseBytes === undefined ? chunk : Buffer.concat([this.responseBytes, chunk]);
    this.responseBytes = undefined;
    const end = bytes.indexOf(HEAD_END);
    if (!plausibleHead(end === -1 ? bytes : bytes.subarray(0, end)) || (end === -1 ? bytes.length : end) > MAX_RESPONSE_HEAD) {
      this.readWithNode(socket, bytes);
      return;
    }
    if (end === -1) {
      this.responseBytes = bytes;
      return;
    }
    const head = parseResponseHead(bytes.toString('latin1', 0, end));
    // Unusual but maybe valid (informational 1xx, a 101 that is no upgrade, obs-fold…): Node decides.
    if (head === undefined || (head.status < 200 && !isUpgrade(head))) {
      this.readWithNode(socket, bytes);
      return;
    }
    if (head.status !== 101) {
      this.handleUnexpectedResponse(head.status, head.reason);
      return;
    }
    const headers = head.headers;
    this.upgraded(socket, (name) => headers.get(name), bytes.subarray(end + 4));
  }

  /**
   * Hand the rest of the handshake to Node's http client: a ClientRequest over a stand-in socket that is
   * fed what the real one received (the request itself went out already). Its verdict — an error, a
   * response, an upgrade — is then the ws path's, byte for byte. Only for responses the strict reader does
   * not take; a WebSocket server's ordinary answers never come here.
   */
  private readWithNode(socket: Socket, received: Buffer): void {
    socket.removeListener('data', this.onHandshakeData!);
    const standIn = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
    const feed = (chunk: Buffer): void => { standIn.push(chunk); };
    socket.on('data', feed);
    // The real socket's close reports the failure (handleHandshakeClose); the stand-in just ends.
    const end = (): void => { standIn.push(null); };
    socket.once('close', end);
    const req = httpRequest({ createConnection: () => standIn, headers: { Connection: 'Upgrade', Upgrade: 'websocket' } });
    req.on('error', (err: Error) => { this.failHandshake(undefined, err); });
    req.on('response', (res: IncomingMessage) => {
      this.handleUnexpectedResponse(res.statusCode ?? 0, res.statusMessage ?? '');
      req.destroy();
    });
    req.on('upgrade', (res: IncomingMessage, _standIn: Duplex, rest: Buffer) => {
      socket.removeListener('data', feed);
      socket.removeListener('close', end);
      if (this.handshakeSocket === socket) this.upgraded(socket, nodeHeader(res.headers), rest);
    });
    req.end();
    standIn.push(received);
  }

  /** A 101 upgrade: ws' checks, then ws adopts the socket; `rest` is what came after the response head. */
  private upgraded(socket: Socket, header: HeaderOf, rest: Buffer): void {
    const invalid = checkUpgradeResponse(header, this.handshakeKey);
    if (invalid !== undefined) {
      this.failHandshake(undefined, new Error(invalid));
      return;
    }
    // From here ws owns the socket, as after its own handshake.
    socket.removeListener('data', this.onHandshakeData!);
    socket.removeListener('close', this.onHandshakeClose!);
    this.onHandshakeData = undefined;
    this.onHandshakeClose = undefined;
    this.handshakeSocket = undefined;
    const ws = new UrlLessWebSocket(null, undefined, ADOPTED_CLIENT_OPTIONS);
    ws._isServer = false; // a client: ws masks what it sends and expects unmasked frames
    ws._url = this.direct!.href;
    ws._bufferedAmount = 0;
    this.ws = ws;
    this.upgradedSocket = socket;
    this.listen(ws);
    // ws emits 'open' from here (handleOpen), then reads whatever followed the response.
    ws.setSocket(socket, rest, ADOPTED_SOCKET_OPTIONS);
  }

  /** The handshake failed: remember why (the first reason wins), and let the socket's 'close' report it. */
  private failHandshake(kind: string | undefined, error: Error): void {
    if (kind !== undefined) this.failKind ??= kind;
    this.lastError ??= error;
    this.handshakeSocket?.destroy();
  }

  /** @internal */ handleHandshakeClose(): void {
    if (this.handshakeSocket === undefined) return;
    this.handshakeSocket = undefined;
    this.responseBytes = undefined;
    this.onHandshakeData = undefined;
    this.onHandshakeClose = undefined;
    // Closed before a response: what Node's http client (and so ws) reports then.
    this.lastError ??= httpClientError('ECONNRESET', 'socket hang up');
    this.handleClose(1006);
  }

  /** True while frames can be sent. */
  get isOpen(): boolean {
    return this.ws !== undefined && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Whether ws' receiver still holds bytes of the socket's latest read: called from `onMessage`, false
   * means the message just delivered was the last thing that read brought (no close frame, no other
   * message behind it), so acting on it now is the same as acting on it in a microtask. True when it
   * cannot tell (ws' internals changed): the caller then defers, as it always may.
   */
  get moreInputBuffered(): boolean {
    const receiver = (this.ws as unknown as { _receiver?: { _bufferedBytes?: unknown } } | undefined)?._receiver;
    return receiver === undefined || receiver._bufferedBytes !== 0;
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
    if (this.phase !== PHASE_CONNECTING) return;
    if (this.handshakeSocket !== undefined) {
      this.failHandshake(kind, new Error(message));
      return;
    }
    if (this.ws === undefined) return;
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
    if (this.phase === PHASE_CONNECTING && this.handshakeSocket !== undefined) this.handshakeSocket.destroy();
    else if (this.phase === PHASE_CONNECTING || this.phase === PHASE_OPEN) this.ws?.terminate();
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

  /**
   * @internal The handshake was answered with an HTTP status other than 101, whichever reader read it.
   * (ws leaves the request to us when we listen for 'unexpected-response': abortConnect ends it.)
   */
  handleUnexpectedResponse(status: number, statusMessage: string): void {
    this.abortConnect(`handshake_rejected_${status}`, `handshake rejected: HTTP ${status}${statusMessage ? ` ${statusMessage}` : ''}`);
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
  res.socket?.on('error', onWsError.bind(this));
  this.handleUpgrade(res.socket);
}

function onHandshakeData(this: Connection, chunk: Buffer): void {
  this.handleHandshakeData(chunk);
}

function onHandshakeClose(this: Connection): void {
  this.handleHandshakeClose();
}

function onWsUnexpectedResponse(this: Connection, _req: unknown, res: { statusCode?: number; statusMessage?: string }): void {
  this.handleUnexpectedResponse(res.statusCode ?? 0, res.statusMessage ?? '');
}

/** ws' 'error', and the upgraded socket's own (see onWsUpgrade). */
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
