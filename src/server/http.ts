/**
 * The plain-HTTP side of the reference server: the /healthz probe, /metrics, helpful refusals for other
 * GETs, and real HTTP statuses for upgrades and requests the server will not accept (a client should see
 * 404, 408 or 503, not a reset).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { ClusterHealth } from './cluster-protocol.js';
import type { Refusal } from './handshake.js';

/** Path of the health probe. */
export const HEALTH_PATH = '/healthz';
/** Path of the Prometheus metrics. */
export const METRICS_PATH = '/metrics';

/** What the HTTP side reports and checks; read fresh on every request. */
export interface HealthSource {
  readonly wsPath: string;
  /** 'ws' or 'wss', for the 426 hint. */
  readonly wsScheme: string;
  readonly startedAt: number;
  connections(): number;
  messagesReceived(): number;
  closing(): boolean;
  /** The metrics exposition and its content type; undefined when metrics are off (then /metrics is a 404). */
  readonly metrics: { text(): Promise<string>; readonly contentType: string } | undefined;
  /** undefined when the request may read /metrics; else the 401 (the WebSocket token, when one is set). */
  authorize(req: IncomingMessage): Refusal | undefined;
  /** Cluster mode: /healthz reports every worker (gathered through the primary). */
  readonly cluster?: { health(): Promise<ClusterHealth> };
}

/** The request path without its query string. */
export function pathnameOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Answer a plain HTTP request: `GET /healthz` → 200 JSON (503 while shutting down); `GET <ws path>` without
 * an upgrade → 426; anything else → 404, or 405 for methods other than GET/HEAD. Text bodies are one line.
 */
export function handleHttpRequest(source: HealthSource, req: IncomingMessage, res: ServerResponse): void {
  const path = pathnameOf(req.url);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, `method ${req.method ?? '?'} not allowed; use GET`, { Allow: 'GET, HEAD' });
    return;
  }
  if (path === HEALTH_PATH) {
    if (source.cluster !== undefined) {
      serveClusterHealth(source, source.cluster, req, res);
      return;
    }
    const closing = source.closing();
    sendHealth(req, res, closing, {
      status: closing ? 'shutting_down' : 'ok',
      uptimeSeconds: (Date.now() - source.startedAt) / 1000,
      connections: source.connections(),
      messagesReceived: source.messagesReceived(),
    });
    return;
  }
  if (path === METRICS_PATH && source.metrics !== undefined) {
    serveMetrics(source, source.metrics, req, res);
    return;
  }
  if (path === source.wsPath) {
    sendText(res, 426, `this is a WebSocket endpoint; connect with a WebSocket client (${source.wsScheme}://…${source.wsPath})`, {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
    });
    return;
  }
  sendText(res, 404, `not found; the WebSocket endpoint is ${source.wsPath} and the health check is ${HEALTH_PATH}`);
}

/**
 * /healthz in cluster mode: the totals over every worker that answered within the gather timeout, and
 * each of them (`workers`); `status` is the answering worker's. If the primary cannot be reached, this
 * worker's own numbers with `"workers": []`.
 */
function serveClusterHealth(source: HealthSource, cluster: NonNullable<HealthSource['cluster']>, req: IncomingMessage, res: ServerResponse): void {
  const answer = (gathered: ClusterHealth | undefined): void => {
    const closing = source.closing();
    sendHealth(req, res, closing, {
      status: closing ? 'shutting_down' : 'ok',
      uptimeSeconds: (Date.now() - source.startedAt) / 1000,
      connections: gathered?.connections ?? source.connections(),
      messagesReceived: gathered?.messagesReceived ?? source.messagesReceived(),
      workers: gathered?.workers ?? [],
      expectedWorkers: gathered?.expectedWorkers,
    });
  };
  cluster.health().then(answer, () => answer(undefined));
}

function sendHealth(req: IncomingMessage, res: ServerResponse, closing: boolean, fields: Record<string, unknown>): void {
  const body = JSON.stringify(fields);
  res.writeHead(closing ? 503 : 200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answer GET /metrics: the Prometheus text, 401 without the token when one is set, 500 if collection fails. */
function serveMetrics(source: HealthSource, metrics: NonNullable<HealthSource['metrics']>, req: IncomingMessage, res: ServerResponse): void {
  const refusal = source.authorize(req);
  if (refusal !== undefined) {
    sendText(res, refusal.status, refusal.text, refusal.headers);
    return;
  }
  metrics.text().then((body) => {
    res.writeHead(200, {
      'Content-Type': metrics.contentType,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }, (err: unknown) => {
    sendText(res, 500, `metrics collection failed: ${err instanceof Error ? err.message : String(err)}`);
  });
}

/** Send a one-line text/plain response. */
function sendText(res: ServerResponse, status: number, text: string, headers: Readonly<Record<string, string>> = {}): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * Refuse an upgrade with a real HTTP response on the raw socket, then close it (as ws' own
 * `abortHandshake` does): the client gets a status it can report instead of a connection reset.
 */
export function rejectUpgrade(socket: Duplex, status: number, text: string, headers: Readonly<Record<string, string>> = {}): void {
  const body = `${text}\n`;
  // The client may already be gone; an error here must not become an uncaught exception.
  socket.on('error', ignoreError);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', socket.destroy);
  let extra = '';
  for (const name in headers) extra += `${name}: ${headers[name]}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Connection: close\r\n' +
    extra +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body,
  );
}

/**
 * The http server's 'clientError': a request that was not complete within the handshake timeout (408),
 * headers over Node's size limit (431), or bytes that are not HTTP (400). With this listener installed Node
 * writes nothing itself, so the answer is ours; a socket already ended or reset is only destroyed.
 * Returns what was counted, or undefined.
 */
export function handleClientError(err: NodeJS.ErrnoException, socket: Duplex): 'timeout' | 'bad_request' | undefined {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return undefined;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    rejectUpgrade(socket, 408, 'request timeout: the request was not complete within the handshake timeout');
    return 'timeout';
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    rejectUpgrade(socket, 431, 'request headers too large');
    return 'bad_request';
  }
  rejectUpgrade(socket, 400, 'bad request: not a valid HTTP request');
  return 'bad_request';
}

function ignoreError(): void {}
