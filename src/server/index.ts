/**
 * The reference server: a small, fast WebSocket target that speaks the wsload protocol (docs/protocol.md).
 * Used by `wsload serve`, by `wsload stress --serve`, and as the server in integration tests.
 * It imports nothing from the load side — only the shared protocol types and the error class.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { WsloadError } from '../errors.js';
import { CloseCode } from '../protocol/messages.js';
import { ChannelIndex } from './channels.js';
import { startHeartbeat } from './heartbeat.js';
import { handleHttpRequest, HEALTH_PATH, pathnameOf, rejectUpgrade, type HealthSource } from './http.js';
import { Peer, type DelayedFrame, type Hub } from './peer.js';
import { handleFrame } from './protocol-handler.js';

export { REQUEST_TYPES, DISCONNECT_REASON } from './protocol-handler.js';
export { HEALTH_PATH } from './http.js';

export interface ServerOptions {
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /** Default 8000; 0 picks a free port (read it back from `RunningServer.port`). */
  port?: number;
  /** WebSocket endpoint path; default '/ws'. Upgrades on other paths get HTTP 404. */
  path?: string;
  /** Largest accepted frame in bytes, default 1 MiB; a bigger one closes the connection with 1009. */
  maxPayload?: number;
  /** Ping idle peers every N ms and terminate ones that did not pong since the last round; default 30000; 0 = off. */
  heartbeatMs?: number;
  /** How long `close()` waits for clients to finish the close handshake before terminating them; default 5000. */
  shutdownTimeoutMs?: number;
  /** Fixed delay before each frame is handled (and so before every reply), for demos and latency tests; default 0. */
  replyDelayMs?: number;
  /** Where diagnostics go (connection errors, heartbeat terminations, shutdown); default: nowhere. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** e.g. 'ws://127.0.0.1:43123/ws' (IPv6 hosts in brackets). */
  url: string;
  /** e.g. 'http://127.0.0.1:43123/healthz'. */
  healthUrl: string;
  host: string;
  port: number;
  path: string;
  /** Currently open sockets. */
  connections(): number;
  /**
   * Stop accepting, close every socket with 1001 'server shutting down', and resolve when all are closed
   * or after `shutdownTimeoutMs` (stragglers are terminated). Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** The defaults, exported so the CLI's flag defaults cannot drift from the library's. */
export const SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  path: '/ws',
  maxPayload: 1_048_576,
  heartbeatMs: 30_000,
  shutdownTimeoutMs: 5_000,
  replyDelayMs: 0,
} as const;

/** Reason sent with the 1001 close on shutdown. */
export const SHUTDOWN_REASON = 'server shutting down';

/** Node clamps longer timer delays to 1 ms, which would turn a typo into a ping storm. */
const MAX_TIMER_MS = 2_147_483_647;

/** After terminating stragglers, how long to wait for their sockets to report closed. */
const TERMINATE_GRACE_MS = 1_000;

/**
 * Start the reference server and resolve once it is listening.
 * Rejects with `WsloadError('WSLOAD_CONFIG')` for a bad option or when the address cannot be bound.
 */
export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? SERVER_DEFAULTS.host;
  const port = opts.port ?? SERVER_DEFAULTS.port;
  const path = opts.path ?? SERVER_DEFAULTS.path;
  const maxPayload = opts.maxPayload ?? SERVER_DEFAULTS.maxPayload;
  const heartbeatMs = opts.heartbeatMs ?? SERVER_DEFAULTS.heartbeatMs;
  const shutdownTimeoutMs = opts.shutdownTimeoutMs ?? SERVER_DEFAULTS.shutdownTimeoutMs;
  const replyDelayMs = opts.replyDelayMs ?? SERVER_DEFAULTS.replyDelayMs;
  const log = opts.log;
  validateOptions({ host, port, path, maxPayload, heartbeatMs, shutdownTimeoutMs, replyDelayMs });

  const wss = new WebSocketServer<typeof Peer>({
    noServer: true, // we route upgrades ourselves so a wrong path gets 404 (ws' `path` option answers 400)
    maxPayload,
    WebSocket: Peer,
    perMessageDeflate: false, // the benchmark target should spend its CPU on messages, not zlib
    clientTracking: true,
  });
  const hub: Hub = {
    channels: new ChannelIndex(),
    replyDelayMs,
    messagesReceived: 0,
    log,
    onDrained: undefined,
    peers: wss.clients,
  };
  let closing = false;
  const startedAt = Date.now();
  const health: HealthSource = {
    wsPath: path,
    startedAt,
    connections: () => wss.clients.size,
    messagesReceived: () => hub.messagesReceived,
    closing: () => closing,
  };

  const httpServer = createServer((req, res) => handleHttpRequest(health, req, res));
  const onUpgraded = (peer: Peer): void => {
    acceptPeer(peer, hub);
    // The handshake may have finished after close() began; such a peer must not outlive the server.
    if (closing) peer.close(CloseCode.GoingAway, SHUTDOWN_REASON);
  };
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (closing) {
      rejectUpgrade(socket, 503, SHUTDOWN_REASON);
    } else if (pathnameOf(req.url) !== path) {
      rejectUpgrade(socket, 404, `not found; the WebSocket endpoint is ${path}`);
    } else {
      wss.handleUpgrade(req, socket, head, onUpgraded);
    }
  });

  await listen(httpServer, port, host);
  httpServer.on('error', (err: Error) => log?.(`server error: ${err.message}`));
  const boundPort = (httpServer.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;

  const stopHeartbeat = startHeartbeat(wss.clients, heartbeatMs, onHeartbeatTimeout);

  /** The one shutdown sequence; every wait in it is bounded. */
  const shutdown = async (): Promise<void> => {
    closing = true;
    stopHeartbeat();
    // Stop listening now; the callback fires once every connection, upgraded ones included, has ended.
    const httpClosed = new Promise<void>((resolve) => { httpServer.close(() => resolve()); });
    httpServer.closeIdleConnections();
    const drained = new Promise<void>((resolve) => { hub.onDrained = resolve; });
    if (wss.clients.size === 0) hub.onDrained?.();
    for (const peer of wss.clients) peer.close(CloseCode.GoingAway, SHUTDOWN_REASON);
    if (!(await within(drained, shutdownTimeoutMs))) {
      log?.(`terminating ${wss.clients.size} connection(s) that did not finish the close handshake within ${shutdownTimeoutMs} ms`);
      for (const peer of wss.clients) peer.terminate();
      await within(drained, TERMINATE_GRACE_MS);
    }
    // Keep-alive HTTP clients (a /healthz poller) would otherwise hold the listener open.
    httpServer.closeAllConnections();
    await within(httpClosed, TERMINATE_GRACE_MS);
    wss.close();
  };
  let closed: Promise<void> | undefined;

  return {
    url: `ws://${hostInUrl}:${boundPort}${path}`,
    healthUrl: `http://${hostInUrl}:${boundPort}${HEALTH_PATH}`,
    host,
    port: boundPort,
    path,
    connections: () => wss.clients.size,
    close: () => (closed ??= shutdown()),
  };

  function onHeartbeatTimeout(): void {
    log?.('heartbeat: terminating a connection that did not answer the last ping');
  }
}

/** Wire a freshly upgraded socket to the shared module-level handlers. */
function acceptPeer(peer: Peer, hub: Hub): void {
  peer.hub = hub;
  peer.on('message', onPeerMessage);
  peer.on('pong', onPeerPong);
  peer.on('error', onPeerError);
  peer.on('close', onPeerClose);
}

/** The hot path: one function for every message of every connection; state is on `this`. */
function onPeerMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const peer = this as Peer; // ws' typings say WebSocket; the server constructs only Peers
  peer.alive = true; // any message proves the peer is there, not only a pong
  const hub = peer.hub;
  hub.messagesReceived++;
  if (hub.replyDelayMs > 0) {
    deferFrame(peer, data as Buffer, isBinary, hub.replyDelayMs);
  } else {
    handleFrame(peer, data, isBinary);
  }
}

/**
 * Handle a frame after `delayMs`. The whole frame waits, not only its reply, so state changes and fan-out
 * happen in request order and the disconnect close still follows its ack. One timer per frame; a closing
 * peer cancels its own.
 */
function deferFrame(peer: Peer, data: Buffer, isBinary: boolean, delayMs: number): void {
  const frame: DelayedFrame = { peer, data, isBinary, timer: undefined };
  frame.timer = setTimeout(runDeferredFrame, delayMs, frame);
  (peer.delayed ??= new Set()).add(frame);
}

function runDeferredFrame(frame: DelayedFrame): void {
  const peer = frame.peer;
  peer.delayed?.delete(frame);
  if (peer.readyState === WebSocket.OPEN) handleFrame(peer, frame.data, frame.isBinary);
}

function onPeerPong(this: WebSocket): void {
  (this as Peer).alive = true;
}

/**
 * ws reports protocol violations here (frame too big → 1009, invalid UTF-8 → 1007) and closes the
 * connection itself; without a listener the error would crash the server.
 */
function onPeerError(this: WebSocket, err: Error & { code?: string }): void {
  (this as Peer).hub.log?.(`connection error${err.code ? ` (${err.code})` : ''}: ${err.message}`);
}

/** Drop the peer's subscriptions and pending delayed frames; tell a shutdown when the last one is gone. */
function onPeerClose(this: WebSocket): void {
  const peer = this as Peer;
  const hub = peer.hub;
  hub.channels.removePeer(peer);
  if (peer.delayed !== undefined) {
    for (const frame of peer.delayed) clearTimeout(frame.timer);
    peer.delayed.clear();
  }
  // ws removes the socket from its client set in a 'close' listener added before ours.
  if (hub.onDrained !== undefined && hub.peers.size === 0) hub.onDrained();
}

/** Listen, turning bind failures into errors that tell the user what to do. */
function listen(server: ReturnType<typeof createServer>, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(listenError(err, port, host));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function listenError(err: NodeJS.ErrnoException, port: number, host: string): WsloadError {
  const cause = { cause: err };
  switch (err.code) {
    case 'EADDRINUSE':
      return new WsloadError('WSLOAD_CONFIG', `port ${port} is in use on ${host}`, { ...cause, hint: 'pick another with --port, or --port 0 for a free one' });
    case 'EACCES':
      return new WsloadError('WSLOAD_CONFIG', `no permission to listen on port ${port} on ${host}`, { ...cause, hint: 'ports below 1024 need privileges; pick another with --port' });
    case 'EADDRNOTAVAIL':
      return new WsloadError('WSLOAD_CONFIG', `cannot listen on ${host}: the address is not available on this machine`, { ...cause, hint: 'use --host 127.0.0.1, or the address of a local interface' });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new WsloadError('WSLOAD_CONFIG', `cannot resolve host "${host}"`, { ...cause, hint: 'use --host 127.0.0.1, or the address of a local interface' });
    default:
      return new WsloadError('WSLOAD_CONFIG', `cannot listen on ${host}:${port}: ${err.message}`, cause);
  }
}

/** Reject options that would fail later in a confusing way. */
function validateOptions(o: Required<Omit<ServerOptions, 'log'>>): void {
  const bad = (message: string): never => { throw new WsloadError('WSLOAD_CONFIG', message); };
  if (typeof o.host !== 'string' || o.host === '') bad(`host must be a non-empty string, got ${JSON.stringify(o.host)}`);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) bad(`port must be an integer 0-65535, got ${String(o.port)}`);
  if (typeof o.path !== 'string' || !o.path.startsWith('/') || o.path.includes('?') || o.path.includes('#')) {
    bad(`path must start with "/" and have no query or fragment, got ${JSON.stringify(o.path)}`);
  }
  if (!Number.isInteger(o.maxPayload) || o.maxPayload < 1) bad(`maxPayload must be a positive integer (bytes), got ${String(o.maxPayload)}`);
  for (const [name, value] of [['heartbeatMs', o.heartbeatMs], ['shutdownTimeoutMs', o.shutdownTimeoutMs], ['replyDelayMs', o.replyDelayMs]] as const) {
    if (!Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) bad(`${name} must be a number of ms between 0 and ${MAX_TIMER_MS}, got ${String(value)}`);
  }
}

/** Wait for `promise` at most `ms`; true if it settled in time. The timer is always cleared. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
