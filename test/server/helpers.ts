/**
 * Shared helpers for the server tests: bounded waits, a queued `ws` test client, and a raw TCP client
 * that speaks just enough RFC 6455 to misbehave on purpose (half-sent handshakes, forged frame headers,
 * not reading). Every wait is bounded; every socket is registered for cleanup with `track`.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { expect } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import type { RunningServer } from '../../src/server/index.js';

export const WAIT_MS = 2_000;
export const PONG = '{"type":"pong"}';

const open: Array<{ terminate(): void } | Socket> = [];

/** Close everything opened through these helpers (call from afterEach). */
export function cleanupClients(): void {
  for (const s of open.splice(0)) {
    if ('terminate' in s) s.terminate();
    else s.destroy();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reject with `what` if `promise` has not settled within `ms`. */
export async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll `check` every 10 ms until it returns true, failing with `what` after `ms`. */
export async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(10);
  }
}

export interface Closed { code: number; reason: string }

/** A test client that queues incoming text so no message is lost between awaits. */
export interface Client {
  ws: WebSocket;
  send(frame: unknown): void;
  /** Next message as raw text. */
  next(ms?: number): Promise<string>;
  /** Send a request object and return the raw reply. */
  request(frame: unknown): Promise<string>;
  /** Resolve after `ms`, failing if any message arrived in the meantime. */
  silentFor(ms: number): Promise<void>;
  /** Messages received and not yet taken. */
  inbox: string[];
  closed: Promise<Closed>;
}

export async function connect(url: string, options: ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, options);
  open.push(ws);
  const inbox: string[] = [];
  let waiter: ((text: string) => void) | undefined;
  ws.on('message', (data) => {
    const text = (data as Buffer).toString('utf8');
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(text);
    } else {
      inbox.push(text);
    }
  });
  ws.on('error', () => { /* surfaced through `closed` / failed waits */ });
  const closed = new Promise<Closed>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await bounded(new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  }), WAIT_MS, `open ${url}`);
  const next = (ms = WAIT_MS): Promise<string> => {
    const queued = inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return bounded(new Promise<string>((resolve) => { waiter = resolve; }), ms, 'next message');
  };
  const send = (frame: unknown): void => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  return {
    ws,
    send,
    next,
    request(frame) {
      send(frame);
      return next();
    },
    async silentFor(ms) {
      await sleep(ms);
      expect(inbox).toEqual([]);
    },
    inbox,
    closed,
  };
}

/** The HTTP status and body a refused handshake got (ws' 'unexpected-response'). */
export async function refusedHandshake(url: string, options: ClientOptions = {}): Promise<{ status: number | undefined; headers: Record<string, unknown>; body: string }> {
  const ws = new WebSocket(url, options);
  open.push(ws);
  ws.on('error', () => { /* expected once the request is dropped */ });
  return bounded(new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error(`handshake to ${url} was accepted`)));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => { resolve({ status: res.statusCode, headers: res.headers, body }); req.destroy(); });
    });
  }), WAIT_MS, `refused handshake on ${url}`);
}

/**
 * After an abuse: a fresh client gets a pong within a second, and the server's own accounting shows no
 * leftover (connections back to `connections`, nothing buffered beyond `maxBufferedBytes`).
 */
export async function expectHealthy(server: RunningServer, expected: { connections: number; maxBufferedBytes?: number }): Promise<void> {
  const started = performance.now();
  const c = await bounded(connect(server.url), 1_000, 'fresh connection after abuse');
  expect(await c.request({ type: 'ping', id: 'after' })).toBe('{"type":"pong","id":"after"}');
  expect(performance.now() - started).toBeLessThan(1_000);
  c.ws.terminate();
  await waitUntil(() => server.connections() === expected.connections, WAIT_MS, `connections back to ${expected.connections}, have ${server.connections()}`);
  const snap = server.snapshot();
  expect(snap.bufferedBytes).toBeLessThanOrEqual(expected.maxBufferedBytes ?? 64 * 1024);
}

/** GET /metrics as text. */
export async function metricsText(server: RunningServer, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(server.metricsUrl, { headers, signal: AbortSignal.timeout(WAIT_MS) });
  expect(res.status).toBe(200);
  return res.text();
}

/** Poll /metrics until it has `line` (the server counts a close only once the close handshake is over). */
export async function waitForMetric(server: RunningServer, line: string): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  let text = '';
  while (performance.now() < deadline) {
    text = await metricsText(server);
    if (text.split('\n').includes(line)) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${WAIT_MS} ms waiting for metric line ${JSON.stringify(line)}`);
}

/** Everything a stream carries, and a bounded wait (`defaultMs` unless given) for a pattern in it. */
export function capture(stream: NodeJS.ReadableStream, defaultMs: number): { text(): string; waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray> } {
  let text = '';
  const waiters: Array<() => void> = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    for (const w of waiters.splice(0)) w();
  });
  return {
    text: () => text,
    waitFor(re, ms = defaultMs) {
      return bounded(new Promise<RegExpMatchArray>((resolve) => {
        const check = (): void => {
          const m = text.match(re);
          if (m) resolve(m);
          else waiters.push(check);
        };
        check();
      }), ms, `output matching ${String(re)}; got ${JSON.stringify(text)}`);
    },
  };
}

/** RSS now, in MiB. */
export function rssMiB(): number {
  return process.memoryUsage().rss / 1_048_576;
}

// ---------------------------------------------------------------------------------------------------
// Raw RFC 6455 over TCP, for what a well-behaved client library will not do.

export const UPGRADE_REQUEST = (path = '/ws', extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

/** A raw TCP socket to the server, registered for cleanup; resolves once connected. */
export async function rawSocket(port: number): Promise<Socket> {
  const socket = tcpConnect(port, '127.0.0.1');
  open.push(socket);
  socket.on('error', () => { /* resets are part of these tests */ });
  await bounded(new Promise<void>((resolve) => socket.once('connect', () => resolve())), WAIT_MS, 'tcp connect');
  return socket;
}

/** Everything the socket receives, and a promise for its close. */
export function recorder(socket: Socket): { bytes(): Buffer; text(): string; closed: Promise<number> } {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const started = performance.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  return { bytes: () => Buffer.concat(chunks), text: () => Buffer.concat(chunks).toString('latin1'), closed };
}

/** A raw socket that has completed the WebSocket handshake (the server sends nothing else unasked). */
export async function rawWebSocket(port: number): Promise<Socket> {
  const socket = await rawSocket(port);
  socket.write(UPGRADE_REQUEST());
  await bounded(new Promise<void>((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`upgrade refused: ${head.slice(0, 60)}`));
      else resolve();
    };
    socket.on('data', onData);
  }), WAIT_MS, 'raw upgrade');
  return socket;
}

/**
 * A masked client frame. `declaredLength` lets a test lie about the payload length (a huge frame header
 * followed by nothing). Opcode 1 = text, 2 = binary.
 */
export function clientFrame(opcode: number, payload: Buffer, declaredLength = payload.length, fin = true): Buffer {
  let header: Buffer;
  if (declaredLength < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | declaredLength]);
  } else if (declaredLength < 65536) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(declaredLength, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(declaredLength), 2);
  }
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([header, mask, masked]);
}

/** Server frames (unmasked) parsed from raw bytes: opcode and payload of each complete one. */
export function serverFrames(bytes: Buffer): Array<{ opcode: number; payload: Buffer }> {
  const frames: Array<{ opcode: number; payload: Buffer }> = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at]! & 0x0f;
    let length = bytes[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > bytes.length) break;
      length = bytes.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > bytes.length) break;
    frames.push({ opcode, payload: bytes.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}

/** The close code in the first close frame among `bytes`, if any. */
export function closeCodeIn(bytes: Buffer): number | undefined {
  const close = serverFrames(bytes).find((f) => f.opcode === 8);
  return close === undefined || close.payload.length < 2 ? undefined : close.payload.readUInt16BE(0);
}
