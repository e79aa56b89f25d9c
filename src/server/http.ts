/**
 * The plain-HTTP side of the reference server: the /healthz probe, helpful refusals for other GETs, and
 * real HTTP statuses for upgrades the server will not accept (a client should see 404, not a reset).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';

/** Path of the health probe. */
export const HEALTH_PATH = '/healthz';

/** What /healthz reports; read fresh on every request. */
export interface HealthSource {
  readonly wsPath: string;
  readonly startedAt: number;
  connections(): number;
  messagesReceived(): number;
  closing(): boolean;
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
    const closing = source.closing();
    const body = JSON.stringify({
      status: closing ? 'shutting_down' : 'ok',
      uptimeSeconds: (Date.now() - source.startedAt) / 1000,
      connections: source.connections(),
      messagesReceived: source.messagesReceived(),
    });
    res.writeHead(closing ? 503 : 200, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === source.wsPath) {
    sendText(res, 426, `this is a WebSocket endpoint; connect with a WebSocket client (ws://…${source.wsPath})`, {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
    });
    return;
  }
  sendText(res, 404, `not found; the WebSocket endpoint is ${source.wsPath} and the health check is ${HEALTH_PATH}`);
}

/** Send a one-line text/plain response. */
function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
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
export function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  const body = `${text}\n`;
  // The client may already be gone; an error here must not become an uncaught exception.
  socket.on('error', ignoreError);
  socket.once('finish', socket.destroy);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body,
  );
}

function ignoreError(): void {}
