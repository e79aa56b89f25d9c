/**
 * The reference server: a small, fast WebSocket target that speaks the wsload protocol (docs/protocol.md).
 * Used by `wsload serve`, by `wsload stress --serve`, and as the server in integration tests.
 * It imports nothing from the load side — only the shared protocol types and the error class.
 * Hardened for untrusted clients (issue 7): every limit is an option with a safe default (docs/serve.md).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { WsloadError } from '../errors.js';
import { CloseCode } from '../protocol/messages.js';
import { ChannelIndex } from './channels.js';
import type { WorkerLink } from './cluster-link.js';
import { checkCapacity, checkOrigin, TokenCheck, type Refusal } from './handshake.js';
import { startHeartbeat } from './heartbeat.js';
import { handleClientError, handleHttpRequest, HEALTH_PATH, METRICS_PATH, pathnameOf, rejectUpgrade, type HealthSource } from './http.js';
import { startIdleSweep } from './idle-timeout.js';
import { createMetricsRegistry, Rejected, ServerStats, type RejectReason } from './metrics.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import { closePeer, Peer, type DelayedFrame, type Hub } from './peer.js';
import { handleFrame } from './protocol-handler.js';
import { rateLimitedReply, startBucket, takeToken } from './rate-limit.js';
import { within } from './within.js';

export { REQUEST_TYPES, DISCONNECT_REASON } from './protocol-handler.js';
export { HEALTH_PATH, METRICS_PATH } from './http.js';
export { SERVER_DEFAULTS, type ServerOptions } from './options.js';
export { SLOW_READER_REASON, SLOW_READER_CLOSE_GRACE_MS } from './backpressure.js';
export { RATE_LIMIT_CLOSE_AFTER_MS, RATE_LIMIT_EPISODE_GAP_MS, RATE_LIMIT_REASON } from './rate-limit.js';
export { IDLE_REASON } from './idle-timeout.js';
export { ERROR_CODES, REJECT_REASONS, RECEIVED_TYPES, LATENCY_BUCKETS, type ServerErrorCode } from './metrics.js';
export { startClusterServer, resolveWorkers, splitMaxConnections, type ClusterOptions, type RunningCluster } from './cluster.js';
export { CLUSTER_GATHER_TIMEOUT_MS, type ClusterHealth, type WorkerHealth } from './cluster-protocol.js';

/** A point-in-time view of the server, for tests and embedding code (the same numbers /metrics shows). */
export interface ServerSnapshot {
  /** Open WebSocket connections. */
  connections: number;
  /** Channels with at least one subscriber. */
  channels: number;
  /** Bytes queued for all peers and not yet handed to the kernel. */
  bufferedBytes: number;
  /** The most queued for any one peer right now. */
  maxPeerBufferedBytes: number;
  /** Frames received since start, text and binary. */
  messagesReceived: number;
  /** Connections closed with 1013 for not reading. */
  backpressureCloses: number;
  /** Handshakes refused, by reason. */
  rejected: Record<RejectReason, number>;
}

export interface RunningServer {
  /** e.g. 'ws://127.0.0.1:43123/ws' ('wss://…' with TLS; IPv6 hosts in brackets). */
  url: string;
  /** e.g. 'http://127.0.0.1:43123/healthz'. */
  healthUrl: string;
  /** e.g. 'http://127.0.0.1:43123/metrics' (served only when metrics are on). */
  metricsUrl: string;
  host: string;
  port: number;
  path: string;
  /** Currently open sockets. */
  connections(): number;
  /** Counters and gauges right now. */
  snapshot(): ServerSnapshot;
  /**
   * Stop accepting, close every socket with 1001 'server shutting down', and resolve when all are closed
   * or after `shutdownTimeoutMs` (stragglers are terminated). Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** Reason sent with the 1001 close on shutdown. */
export const SHUTDOWN_REASON = 'server shutting down';

/**
 * Pending connections the kernel may queue before the server accepts them (capped by
 * net.core.somaxconn). Node's default, 511, overflows when a load test opens a thousand connections at
 * once: the SYNs beyond it are dropped and retried by the client a second later, a stall in the open rate
 * and the handshake latency, not a CPU cost.
 */
const LISTEN_BACKLOG = 4096;

/** After terminating stragglers, how long to wait for their sockets to report closed. */
const TERMINATE_GRACE_MS = 1_000;

/**
 * Start the reference server and resolve once it is listening.
 * Rejects with `WsloadError('WSLOAD_CONFIG')` for a bad option, a bad TLS key/certificate, or when the
 * address cannot be bound.
 * @param link internal: set only by a cluster worker (cluster-worker.ts); publish fan-out and /healthz,
 *   /metrics then go through the primary. Without it nothing here touches IPC.
 */
export async function startServer(opts: ServerOptions = {}, link?: WorkerLink): Promise<RunningServer> {
  const o = resolveOptions(opts);
  const log = o.log;
  const stats = new ServerStats();

  const wss = new WebSocketServer<typeof Peer>({
    noServer: true, // we route upgrades ourselves so a wrong path gets 404 (ws' `path` option answers 400)
    maxPayload: o.maxPayload,
    WebSocket: Peer,
    perMessageDeflate: false, // the benchmark target should spend its CPU on messages, not zlib
    // We track the peers ourselves (acceptPeer / onPeerClose): ws' tracking adds a closure and a 'close'
    // listener per connection.
    clientTracking: false,
  });
  /** The open (and closing) connections: added when upgraded, removed first thing in their 'close'. */
  const peers = new Set<Peer>();
  const hub: Hub = {
    channels: new ChannelIndex(),
    stats,
    replyDelayMs: o.replyDelayMs,
    timeReplies: o.metrics,
    maxSubscriptions: o.maxSubscriptions,
    maxChannelLength: o.maxChannelLength,
    rateLimit: o.rateLimit,
    rateLimitPerMs: o.rateLimit / 1000,
    rateLimitedReply: rateLimitedReply(o.rateLimit),
    maxBufferedBytes: o.maxBufferedBytes,
    log,
    onDrained: undefined,
    peers,
    heartbeat: o.heartbeatMs > 0,
    cluster: link,
  };
  let closing = false;
  const tokenCheck = o.authToken === undefined ? undefined : new TokenCheck(o.authToken);
  const registry = o.metrics
    ? createMetricsRegistry(stats, { connections: () => peers.size, channels: () => hub.channels.size, bufferedBytes: () => bufferedBytes(peers).total })
    : undefined;
  const health: HealthSource = {
    wsPath: o.path,
    wsScheme: o.tls === undefined ? 'ws' : 'wss',
    startedAt: Date.now(),
    connections: () => peers.size,
    messagesReceived: () => stats.messagesReceived,
    closing: () => closing,
    metrics: registry === undefined ? undefined : { text: link === undefined ? () => registry.metrics() : () => link.metrics(), contentType: registry.contentType },
    authorize: (req) => tokenCheck?.check(req),
    ...(link === undefined ? {} : { cluster: { health: () => link.health() } }),
  };
  link?.bind({
    deliver: (channel, json) => {
      const count = hub.channels.publish(channel, json);
      stats.fanoutSent += count;
      return count;
    },
    health: () => ({ pid: process.pid, status: closing ? 'shutting_down' : 'ok', connections: peers.size, messagesReceived: stats.messagesReceived }),
    metricsJson: () => registry?.getMetricsAsJSON(),
  });

  const httpServer = createServer(o, (req, res) => handleHttpRequest(health, req, res));
  const onUpgraded = (peer: Peer, req: IncomingMessage): void => {
    acceptPeer(peer, req, hub);
    // The handshake may have finished after close() began; such a peer must not outlive the server.
    if (closing) closePeer(peer, CloseCode.GoingAway, SHUTDOWN_REASON);
  };
  const refuse = (socket: Duplex, refusal: Refusal): void => {
    stats.rejected[Rejected[refusal.reason]]++;
    rejectUpgrade(socket, refusal.status, refusal.text, refusal.headers);
  };
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refusal = closing
      ? { status: 503, reason: 'shutting_down', text: SHUTDOWN_REASON } as const
      : pathnameOf(req.url) !== o.path
        ? { status: 404, reason: 'not_found', text: `not found; the WebSocket endpoint is ${o.path}` } as const
        // Origin and token before capacity: an unauthenticated client learns nothing about the load.
        : checkOrigin(req, o.allowedOrigins) ?? tokenCheck?.check(req) ?? checkCapacity(peers.size, o.maxConnections);
    if (refusal !== undefined) refuse(socket, refusal);
    else wss.handleUpgrade(req, socket, head, onUpgraded);
  });
  // With a listener ws hands malformed upgrades to us instead of answering itself; we answer as ws would
  // (405 for a wrong method, 400 otherwise) and count them.
  wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
    refuse(socket, {
      status: req.method === 'GET' ? 400 : 405,
      reason: 'bad_handshake',
      text: err.message,
      ...(err.message.includes('Sec-WebSocket-Version') ? { headers: { 'Sec-WebSocket-Version': '13, 8' } } : {}),
    });
  });
  httpServer.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const counted = handleClientError(err, socket);
    if (counted !== undefined) stats.rejected[Rejected[counted]]++;
  });
  httpServer.on('tlsClientError', (err: Error, socket: Duplex) => {
    stats.rejected[Rejected.tls]++;
    log?.(`TLS handshake failed: ${err.message}`);
    socket.destroy();
  });

  await listen(httpServer, o.port, o.host);
  httpServer.on('error', (err: Error) => log?.(`server error: ${err.message}`));
  const boundPort = (httpServer.address() as AddressInfo).port;
  const hostInUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  const httpScheme = o.tls === undefined ? 'http' : 'https';

  const stopHeartbeat = startHeartbeat(peers, o.heartbeatMs, onHeartbeatTimeout);
  const stopIdleSweep = startIdleSweep(peers, o.idleTimeoutMs);

  /** The one shutdown sequence; every wait in it is bounded. */
  const shutdown = async (): Promise<void> => {
    closing = true;
    // Cluster: publishes still waiting for the other workers are answered now, with what this worker
    // reached, ahead of the 1001 close.
    link?.flush();
    stopHeartbeat();
    stopIdleSweep();
    // Stop listening now; the callback fires once every connection, upgraded ones included, has ended.
    const httpClosed = new Promise<void>((resolve) => { httpServer.close(() => resolve()); });
    httpServer.closeIdleConnections();
    const drained = new Promise<void>((resolve) => { hub.onDrained = resolve; });
    if (peers.size === 0) hub.onDrained?.();
    for (const peer of peers) closePeer(peer, CloseCode.GoingAway, SHUTDOWN_REASON);
    if (!(await within(drained, o.shutdownTimeoutMs))) {
      log?.(`terminating ${peers.size} connection(s) that did not finish the close handshake within ${o.shutdownTimeoutMs} ms`);
      for (const peer of peers) peer.terminate();
      await within(drained, TERMINATE_GRACE_MS);
    }
    // Keep-alive HTTP clients (a /healthz poller) would otherwise hold the listener open.
    httpServer.closeAllConnections();
    await within(httpClosed, TERMINATE_GRACE_MS);
    wss.close();
  };
  let closed: Promise<void> | undefined;

  return {
    url: `${health.wsScheme}://${hostInUrl}:${boundPort}${o.path}`,
    healthUrl: `${httpScheme}://${hostInUrl}:${boundPort}${HEALTH_PATH}`,
    metricsUrl: `${httpScheme}://${hostInUrl}:${boundPort}${METRICS_PATH}`,
    host: o.host,
    port: boundPort,
    path: o.path,
    connections: () => peers.size,
    snapshot: () => {
      const buffered = bufferedBytes(peers);
      const rejected = {} as Record<RejectReason, number>;
      for (const reason of Object.keys(Rejected) as RejectReason[]) rejected[reason] = stats.rejected[Rejected[reason]]!;
      return {
        connections: peers.size,
        channels: hub.channels.size,
        bufferedBytes: buffered.total,
        maxPeerBufferedBytes: buffered.max,
        messagesReceived: stats.messagesReceived,
        backpressureCloses: stats.backpressureCloses,
        rejected,
      };
    },
    close: () => (closed ??= shutdown()),
  };

  function onHeartbeatTimeout(): void {
    log?.('heartbeat: terminating a connection that did not answer the last ping');
  }
}

/**
 * The http or https server, with the handshake timeout applied before the upgrade: Node's
 * `headersTimeout`/`requestTimeout` answer 408 to a request not complete in time, silent or sending its
 * upgrade one byte a second (checked every `connectionsCheckingInterval`, so within a quarter of the timeout,
 * at most 1 s, late); a socket idle timeout backs that up; and for TLS the same bound covers the TLS handshake.
 */
function createServer(o: ResolvedOptions, onRequest: Parameters<typeof createHttpServer>[1]): HttpServer {
  const timeouts = {
    headersTimeout: o.handshakeTimeoutMs,
    requestTimeout: o.handshakeTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(o.handshakeTimeoutMs / 4))),
  };
  let server: HttpServer;
  if (o.tls === undefined) {
    server = createHttpServer(timeouts, onRequest);
  } else {
    try {
      server = createHttpsServer({ ...timeouts, cert: o.tls.cert, key: o.tls.key, handshakeTimeout: o.handshakeTimeoutMs }, onRequest);
    } catch (err) {
      throw new WsloadError('WSLOAD_CONFIG', `cannot use the TLS certificate and key: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err, hint: 'pass a PEM certificate and its matching private key (--tls-cert, --tls-key)',
      });
    }
  }
  // A backstop only: Node's request timeouts above answer 408 first; this drops a socket that stalls
  // anywhere else before the upgrade (ws resets it to 0 on upgrade).
  server.setTimeout(2 * o.handshakeTimeoutMs);
  return server;
}

/** Total and largest `bufferedAmount` over `peers`; read at scrape time, never on the hot path. */
function bufferedBytes(peers: Set<Peer>): { total: number; max: number } {
  let total = 0;
  let max = 0;
  for (const peer of peers) {
    const b = peer.bufferedAmount;
    total += b;
    if (b > max) max = b;
  }
  return { total, max };
}

/** Wire a freshly upgraded socket to the shared module-level handlers. */
function acceptPeer(peer: Peer, req: IncomingMessage, hub: Hub): void {
  peer.hub = hub;
  peer.socket = req.socket;
  hub.peers.add(peer);
  const now = performance.now();
  peer.lastMessageAt = now;
  startBucket(peer, now);
  hub.stats.connectionsTotal++;
  peer.on('message', onPeerMessage);
  // Only the heartbeat reads `alive`; without it a pong needs no handler (ws answers pings itself).
  if (hub.heartbeat) peer.on('pong', onPeerPong);
  peer.on('error', onPeerError);
  peer.on('close', onPeerClose);
}

/**
 * The hot path: one function for every message of every connection; state is on `this`. One clock read
 * serves the idle timeout, the rate limit and the reply-latency histogram.
 */
function onPeerMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const peer = this as Peer; // ws' typings say WebSocket; the server constructs only Peers
  const hub = peer.hub;
  hub.stats.messagesReceived++;
  // Closing (1008, 1013, idle, disconnect, shutdown): ws still parses what arrives; nothing more is answered.
  if (peer.readyState !== WebSocket.OPEN) return;
  peer.alive = true; // any message proves the peer is there, not only a pong
  const now = performance.now();
  peer.lastMessageAt = now;
  if (hub.rateLimit > 0 && !takeToken(peer, now)) return;
  if (hub.replyDelayMs > 0) {
    deferFrame(peer, data as Buffer, isBinary, now, hub.replyDelayMs);
  } else {
    peer.receivedAt = now;
    handleFrame(peer, data, isBinary);
  }
}

/**
 * Handle a frame after `delayMs`. The whole frame waits, not only its reply, so state changes and fan-out
 * happen in request order and the disconnect close still follows its ack. One timer per frame; a closing
 * peer cancels its own.
 */
function deferFrame(peer: Peer, data: Buffer, isBinary: boolean, receivedAt: number, delayMs: number): void {
  const frame: DelayedFrame = { peer, data, isBinary, receivedAt, timer: undefined };
  frame.timer = setTimeout(runDeferredFrame, delayMs, frame);
  (peer.delayed ??= new Set()).add(frame);
}

function runDeferredFrame(frame: DelayedFrame): void {
  const peer = frame.peer;
  // libuv starts a timer from the loop's cached clock, which lags while one loop turn handles many
  // messages: a timer can fire up to about a millisecond before `replyDelayMs` has passed since this
  // frame arrived. The injected delay is a figure measurements are checked against (docs/serve.md), so
  // it is never short: wait out the rest.
  const left = peer.hub.replyDelayMs - (performance.now() - frame.receivedAt);
  if (left > 0) {
    frame.timer = setTimeout(runDeferredFrame, Math.max(1, Math.ceil(left)), frame);
    return;
  }
  peer.delayed?.delete(frame);
  if (peer.readyState !== WebSocket.OPEN) return;
  peer.receivedAt = frame.receivedAt;
  handleFrame(peer, frame.data, frame.isBinary);
}

function onPeerPong(this: WebSocket): void {
  (this as Peer).alive = true;
}

/**
 * ws reports protocol violations here (frame too big → 1009, invalid UTF-8 → 1007) and closes the
 * connection itself; without a listener the error would crash the server. ws then stops reading, so its
 * own 'close' event says 1006; the code it sent is remembered here for the closes metric.
 */
function onPeerError(this: WebSocket, err: Error & { code?: string }): void {
  const peer = this as Peer;
  if (peer.closeCodeSent === 0) peer.closeCodeSent = wsErrorCloseCode(err.code);
  peer.hub.log?.(`connection error${err.code ? ` (${err.code})` : ''}: ${err.message}`);
}

/** The close code ws sends for one of its receiver errors (lib/receiver.js); 0 for other errors. */
function wsErrorCloseCode(code: string | undefined): number {
  switch (code) {
    case 'WS_ERR_INVALID_UTF8': return 1007;
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH': return CloseCode.MessageTooBig;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS': return CloseCode.PolicyViolation;
    default: return code?.startsWith('WS_ERR_') === true ? 1002 : 0;
  }
}

/**
 * Count the close, drop the peer's subscriptions, pending delayed frames and timers; tell a shutdown when
 * the last one is gone.
 */
function onPeerClose(this: WebSocket, code: number): void {
  const peer = this as Peer;
  const hub = peer.hub;
  hub.peers.delete(peer);
  peer.socket = undefined;
  hub.stats.countClose(peer.closeCodeSent !== 0 ? peer.closeCodeSent : code);
  hub.channels.removePeer(peer);
  if (peer.delayed !== undefined) {
    for (const frame of peer.delayed) clearTimeout(frame.timer);
    peer.delayed.clear();
  }
  if (peer.closeTimer !== undefined) {
    clearTimeout(peer.closeTimer);
    peer.closeTimer = undefined;
  }
  if (hub.onDrained !== undefined && hub.peers.size === 0) hub.onDrained();
}

/** Listen, turning bind failures into errors that tell the user what to do. */
function listen(server: HttpServer, port: number, host: string): Promise<void> {
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
    server.listen(port, host, LISTEN_BACKLOG);
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
