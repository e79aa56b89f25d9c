/**
 * Small WebSocket servers with known, injected behaviour for the stress engine's tests: they speak
 * enough of the reference protocol (ping, agent_message, disconnect) and misbehave on purpose.
 * All listen on 127.0.0.1, port 0.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeWsServer, listenLocal } from './local-server.js';
import { afterAtLeast } from './timing.js';

export interface TestServerOptions {
  /** Delay every reply by this many ms. */
  replyDelayMs?: number;
  /** Do not answer every Nth request of each connection (N, 2N, …; counted from 1). */
  ignoreEvery?: number;
  /** Answer every Nth request of each connection with `{"type":"error","code":"boom"}` (with its id). */
  errorEvery?: number;
  /**
   * Before each reply send an unsolicited notice (no id), a reply with an id never sent (999999) and,
   * from the second request on, a stale reply to the previous id; the real reply then carries a
   * nested `"id"` before its own.
   */
  noise?: boolean;
  /** Hold requests until this many have arrived, then answer them in reverse order. */
  reorder?: number;
  /** Every second connection accepted (2nd, 4th, …) is dropped when its Nth request arrives, unanswered. */
  dropAfter?: number;
  /** How to drop: destroy the socket (client sees 1006) or close with 1011. */
  dropMode?: 'terminate' | 'close1011';
  /** Never answer anything (not even disconnect). */
  silent?: boolean;
}

export interface TestServerStats {
  accepted: number;
  requests: number;
  disconnects: number;
}

export interface TestServer {
  url: string;
  port: number;
  stats: TestServerStats;
  /** Sockets currently open on the server side. */
  openConnections(): number;
  close(): Promise<void>;
}

interface PeerState {
  index: number;
  requests: number;
  held: Array<[Record<string, unknown>, number]>;
}

function replyTo(req: Record<string, unknown>): Record<string, unknown> {
  switch (req.type) {
    case 'ping':
      return { type: 'pong', id: req.id };
    case 'agent_message':
      return { type: 'agent_response', id: req.id, from: req.to, to: req.from, payload: { status: 'processed', action: 'execute', data: {} } };
    default:
      return { type: 'error', id: req.id, code: 'unknown_type', message: 'unknown type' };
  }
}

/** A protocol server with the misbehaviour chosen in `opts`. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const stats: TestServerStats = { accepted: 0, requests: 0, disconnects: 0 };
  const timers = new Set<NodeJS.Timeout>();

  const later = (fn: () => void): void => {
    if (!opts.replyDelayMs) return fn();
    afterAtLeast(opts.replyDelayMs, fn, timers);
  };

  const send = (ws: WebSocket, msg: string): void => {
    if (ws.readyState === ws.OPEN) ws.send(msg);
  };

  const answer = (ws: WebSocket, req: Record<string, unknown>, n: number): void => {
    if (opts.errorEvery && n % opts.errorEvery === 0) {
      send(ws, JSON.stringify({ type: 'error', id: req.id, code: 'boom', message: 'injected error' }));
      return;
    }
    if (opts.noise) {
      send(ws, '{"type":"notice","text":"unsolicited"}');
      send(ws, '{"type":"pong","id":999999}');
      if (typeof req.id === 'number' && req.id > 1) send(ws, JSON.stringify({ type: 'pong', id: req.id - 1 }));
      const { id, ...rest } = replyTo(req);
      // A nested "id" first: a client that trusts the first "id" key would mismatch.
      send(ws, JSON.stringify({ ...rest, meta: { id: 424242 }, id }));
      return;
    }
    send(ws, JSON.stringify(replyTo(req)));
  };

  wss.on('connection', (ws: WebSocket) => {
    const peer: PeerState = { index: ++stats.accepted, requests: 0, held: [] };
    ws.on('error', () => { /* a dropped client: nothing to do */ });
    ws.on('message', (data: Buffer) => {
      const req = JSON.parse(data.toString()) as Record<string, unknown>;
      if (req.type === 'disconnect') {
        stats.disconnects++;
        if (opts.silent) return;
        later(() => {
          send(ws, JSON.stringify({ type: 'disconnect_ack', id: req.id }));
          ws.close(1000, 'client requested disconnect');
        });
        return;
      }
      stats.requests++;
      const n = ++peer.requests;
      if (opts.silent) return;
      if (opts.dropAfter && peer.index % 2 === 0 && n === opts.dropAfter) {
        if (opts.dropMode === 'close1011') ws.close(1011, 'injected failure');
        else ws.terminate();
        return;
      }
      if (opts.ignoreEvery && n % opts.ignoreEvery === 0) return;
      if (opts.reorder) {
        peer.held.push([req, n]);
        if (peer.held.length < opts.reorder) return;
        const batch = peer.held.splice(0).reverse();
        later(() => { for (const [r, k] of batch) answer(ws, r, k); });
        return;
      }
      later(() => answer(ws, req, n));
    });
  });

  const port = await listenLocal(http);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    stats,
    openConnections: () => wss.clients.size,
    close: () => {
      for (const t of timers) clearTimeout(t);
      return closeWsServer(wss, http);
    },
  };
}

/** A server that answers every upgrade with `HTTP <status>`. */
export async function startRejectingServer(status = 503): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, verifyClient: (_info, cb) => cb(false, status) });
  http.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, () => { /* never reached: verifyClient rejects */ });
  });
  const port = await listenLocal(http);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    close: () => closeWsServer(wss, http),
  };
}

/** A TCP server that accepts connections and never says a word: handshakes time out. */
export async function startBlackholeServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => { /* the client gave up */ });
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listenLocal(server);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A port that was just free: listen on port 0, close, return the number (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listenLocal(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Poll `check` until true or `ms` elapse; returns the last result. */
export async function eventually(check: () => boolean, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
