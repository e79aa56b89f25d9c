/**
 * The direct handshake (a plain ws:// URL: the upgrade written and read by Connection over net.connect,
 * the socket then adopted by ws) against ws' own client (forced here by setting a ws option): for every
 * answer a target can give, both report the same outcome, error kind and message. Targets are raw TCP
 * servers on 127.0.0.1 that answer the upgrade request with fixed bytes.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../src/clock.js';
import { Connection } from '../../src/engine/connection.js';
import { startTestServer } from '../helpers/test-servers.js';
import { closeAfterEach } from '../helpers/cleanup.js';

const { track } = closeAfterEach();

type Outcome = { kind: string; message: string } | { open: true; url: string | undefined; protocol: string | undefined; extensions: string | undefined };

/** ws' client path: any ws option other than a source address sends the handshake through ws (its default value here). */
const VIA_WS = { maxPayload: 100 * 1024 * 1024 };

/** One handshake by `path` (no ws options: direct; VIA_WS: ws' client), checked to have gone that way. */
function connectOnce(url: string, path: 'direct' | 'ws', connectTimeoutMs = 2000): Promise<Outcome> {
  return new Promise((resolve) => {
    const wsOptions = path === 'ws' ? VIA_WS : {};
    const conn = new Connection(url, {
      onOpen: () => {
        const ws = conn.socket;
        resolve({ open: true, url: ws?.url, protocol: ws?.protocol, extensions: ws?.extensions });
        conn.terminate();
      },
      onConnectFailed: (kind, error) => resolve({ kind, message: error.message }),
      onMessage: () => {},
      onClose: () => {},
    }, { connectTimeoutMs, closeTimeoutMs: 200, clock: realClock, wsOptions });
    conn.open();
    // The direct path has no ws WebSocket until the upgrade; ws' own client path has one, CONNECTING.
    expect(conn.socket === undefined, `the ${path} path`).toBe(path === 'direct');
  });
}

const sockets = new Set<Socket>();
const servers: Server[] = [];
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A TCP server that reads the upgrade request and answers `respond(key)` (or does what `act` says). */
async function rawServer(act: (socket: Socket, key: string) => void): Promise<string> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(text)?.[1] ?? '';
      text = '';
      act(socket, key);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return `ws://127.0.0.1:${port}/ws`;
}

const accept = (key: string): string => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const answer = (head: (key: string) => string) => (socket: Socket, key: string): void => { socket.write(head(key)); };

const CASES: Array<[string, (socket: Socket, key: string) => void]> = [
  ['a good 101', answer((k) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(k)}\r\n\r\n`)],
  ['a good 101 in two pieces, header names in any case', (socket, k) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUPGRADE: WebSocket\r\n');
    setTimeout(() => socket.write(`connection: upgrade\r\nsec-websocket-accept: ${accept(k)}\r\n\r\n`), 20);
  }],
  ['a 503 with a body', answer(() => 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nRetry-After: 1\r\n\r\nbusy\n')],
  ['a 401 without a reason phrase', answer(() => 'HTTP/1.1 401\r\nContent-Length: 0\r\n\r\n')],
  ['a wrong Sec-WebSocket-Accept', answer(() => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n')],
  ['no Upgrade header', answer((k) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(k)}\r\n\r\n`)],
  ['a subprotocol nobody asked for', answer((k) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(k)}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`)],
  ['an extension nobody asked for', answer((k) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(k)}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`)],
  ['not HTTP at all', answer(() => 'SSH-2.0-OpenSSH_9.6\r\n\r\n')],
  ['a close before any answer', (socket) => { socket.end(); }],
  ['a reset before any answer', (socket) => { socket.resetAndDestroy(); }],
  ['half a response, then a close', (socket) => { socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'); }],
  // Answers the strict reader leaves to Node's parser: the same verdicts either way.
  ['a 101 without Upgrade (an ordinary response to Node)', answer((k) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(k)}\r\n\r\n`)],
  ['a 101 without Connection: upgrade', answer((k) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${accept(k)}\r\n\r\n`)],
  ['an HTTP/1.0 101 that is otherwise good', answer((k) => `HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(k)}\r\n\r\n`)],
  ['100 Continue, then a 503', answer(() => 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n')],
  ['a bad status code', answer(() => 'HTTP/1.1 abc\r\n\r\n')],
  ['HTTP/2 on the status line', answer(() => 'HTTP/2 200 OK\r\n\r\n')],
  ['a header line without a colon', answer(() => 'HTTP/1.1 101 OK\r\nbad header line\r\n\r\n')],
  ['bare LF line ends', answer(() => 'HTTP/1.1 503 X\nContent-Length: 0\n\n')],
  ['not HTTP, and no blank line ever', answer(() => 'SSH-2.0-OpenSSH_9.6\r\n')],
  ['a response head past 16 KiB', answer(() => `HTTP/1.1 101 Switching Protocols\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`)],
];

describe('the direct ws:// handshake reports what ws\' own client reports', () => {
  for (const [name, act] of CASES) {
    it(name, async () => {
      const url = await rawServer(act);
      const direct = await connectOnce(url, 'direct');
      const viaWs = await connectOnce(url, 'ws');
      expect(direct).toEqual(viaWs);
    });
  }

  it('a target that never answers: connect_timeout on both paths', async () => {
    const url = await rawServer(() => {});
    const direct = await connectOnce(url, 'direct', 150);
    expect(direct).toEqual(await connectOnce(url, 'ws', 150));
    expect(direct).toMatchObject({ kind: 'connect_timeout' });
  });

  it('a refused connection: connect_refused on both paths', async () => {
    const url = await rawServer(() => {});
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    const direct = await connectOnce(url, 'direct');
    expect(direct).toEqual(await connectOnce(url, 'ws'));
    expect(direct).toMatchObject({ kind: 'connect_refused' });
  });

  it('the adopted socket is a ws client: masked frames out, the reply in, the url as given, a clean close', async () => {
    const srv = await track(startTestServer());
    const got = await new Promise<{ reply: string; code: number; url: string | undefined }>((resolve) => {
      let reply = '';
      const conn = new Connection(srv.url, {
        onOpen: () => { conn.send('{"type":"ping","id":7}'); },
        onConnectFailed: (kind) => { throw new Error(kind); },
        onMessage: (data) => { reply = data.toString(); conn.close(1000); },
        onClose: (code) => resolve({ reply, code, url: conn.socket?.url }),
      }, { connectTimeoutMs: 2000, closeTimeoutMs: 500, clock: realClock });
      conn.open();
      // The direct path: no ws WebSocket until the upgrade (ws' own client path has one, CONNECTING).
      expect(conn.socket).toBeUndefined();
    });
    // The reference server closes with 1002 on an unmasked client frame; a reply means it was masked.
    expect(JSON.parse(got.reply)).toMatchObject({ type: 'pong', id: 7 });
    expect(got.code).toBe(1000);
    expect(got.url).toBe(srv.url);
  });
});
