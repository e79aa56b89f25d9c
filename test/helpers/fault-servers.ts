/**
 * Targets that fail on purpose, for the load side's fault tests (issue 7): a raw TCP server that
 * accepts the WebSocket upgrade and then resets the socket, a protocol server that answers N
 * requests per connection and then closes with a code / goes silent / sends a close frame and holds
 * the socket, a self-signed TLS server, a server that refuses every subprotocol. All on 127.0.0.1,
 * port 0; every close() is immediate.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeWsServer, listenLocal } from './local-server.js';

export interface Target {
  url: string;
  port: number;
  close(): Promise<void>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A raw TCP server that speaks just enough HTTP to accept the upgrade (101 with the right
 * Sec-WebSocket-Accept) and then resets the connection (RST, not FIN: the client sees ECONNRESET)
 * when the first frame arrives — or, with `during: 'handshake'`, as soon as the upgrade request
 * has arrived, without answering it.
 */
export async function startResetServer(opts: { during?: 'handshake' | 'run' } = {}): Promise<Target & { upgrades: number }> {
  const sockets = new Set<Socket>();
  const state = { upgrades: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => { /* the client went away */ });
    let head = '';
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) {
        socket.resetAndDestroy();
        return;
      }
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      if (opts.during === 'handshake') {
        socket.resetAndDestroy();
        return;
      }
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
      const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      upgraded = true;
      state.upgrades++;
    });
  });
  const port = await listenLocal(server);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    get upgrades() { return state.upgrades; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** What a fault server does to a connection once it has answered `after` requests. */
export type Fault =
  /** Close with this code. */
  | { close: number }
  /** Stop answering and stop reading: replies never come, close handshakes never complete. */
  | 'blackhole'
  /** Send a close frame (1008), then hold the socket open without reading: the close never completes. */
  | 'close-and-hold';

function replyTo(req: Record<string, unknown>): Record<string, unknown> {
  switch (req.type) {
    case 'ping':
      return { type: 'pong', id: req.id };
    case 'agent_message':
      return { type: 'agent_response', id: req.id, from: req.to, to: req.from, payload: { status: 'processed' } };
    default:
      return { type: 'error', id: req.id, code: 'unknown_type' };
  }
}

function rawSocket(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

/** A stress-protocol server that answers each connection's first `after` requests, then applies `fault`. */
export async function startFaultServer(after: number, fault: Fault): Promise<Target & { requests(): number }> {
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  let requests = 0;
  wss.on('connection', (ws: WebSocket) => {
    let n = 0;
    let broken = false;
    ws.on('error', () => { /* dropped */ });
    ws.on('message', (data: Buffer) => {
      if (broken) return;
      const req = JSON.parse(data.toString()) as Record<string, unknown>;
      if (req.type === 'disconnect') {
        ws.send(JSON.stringify({ type: 'disconnect_ack', id: req.id }));
        ws.close(1000);
        return;
      }
      requests++;
      if (++n <= after) {
        ws.send(JSON.stringify(replyTo(req)));
        return;
      }
      broken = true;
      if (fault === 'blackhole') rawSocket(ws).pause();
      else if (fault === 'close-and-hold') {
        ws.close(1008, 'policy');
        rawSocket(ws).pause();
      } else ws.close(fault.close, 'injected');
    });
  });
  const port = await listenLocal(http);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    requests: () => requests,
    close: () => closeWsServer(wss, http),
  };
}

/** A self-signed certificate for 127.0.0.1 (openssl), or undefined when openssl is missing. */
export function selfSignedCert(): { cert: Buffer; key: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'wsload-faults-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 10_000 });
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A wss:// protocol server with a self-signed certificate: clients that verify it refuse it. */
export async function startTlsServer(pem: { cert: Buffer; key: Buffer }): Promise<Target> {
  const https = createHttpsServer({ cert: pem.cert, key: pem.key });
  const wss = new WebSocketServer({ server: https, perMessageDeflate: false });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => ws.send(JSON.stringify(replyTo(JSON.parse(data.toString()) as Record<string, unknown>))));
  });
  const port = await listenLocal(https);
  return {
    url: `wss://127.0.0.1:${port}/ws`,
    port,
    close: () => closeWsServer(wss, https),
  };
}

/** A server that completes the upgrade but agrees to no subprotocol (ws' handleProtocols → false). */
export async function startNoSubprotocolServer(): Promise<Target> {
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, handleProtocols: () => false });
  wss.on('connection', (ws: WebSocket) => ws.on('error', () => {}));
  const port = await listenLocal(http);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    close: () => closeWsServer(wss, http),
  };
}

/** A `lookup` for ws/net that fails every name with ENOTFOUND: a DNS failure without a DNS query. */
export function failingLookup(hostname: string, _options: unknown, callback: (err: Error) => void): void {
  const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname });
  process.nextTick(callback, err);
}
