/**
 * Connection's frames against plain ws servers: `sendTextBytes` (a prepared UTF-8 payload, framed
 * and masked by the Connection itself) must arrive as the same text frame `send(string)` makes, for
 * every payload length encoding, in order with frames ws writes (strings, binary, close), over
 * ws:// and wss://, and through ws when compression was negotiated.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer, type ServerOptions } from 'ws';
import { realClock } from '../../src/clock.js';
import { Connection, maskedTextFrame } from '../../src/engine/connection.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { selfSignedCert } from '../helpers/fault-servers.js';

const { defer } = closeAfterEach();

interface Got { text: string; isBinary: boolean }

/** Echoes every frame with its type and closes (1000) on "bye". Records what it received. */
async function echoServer(o: { tls?: { cert: Buffer; key: Buffer }; ws?: ServerOptions } = {}): Promise<{ url: string; got: Got[] }> {
  const http: Server = o.tls ? createHttpsServer(o.tls) : createHttpServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, ...o.ws });
  const got: Got[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const text = (data as Buffer).toString('utf8');
      got.push({ text, isBinary });
      if (text === 'bye') ws.close(1000);
      else ws.send(data as Buffer, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  defer(() => new Promise<void>((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => resolve()); http.closeAllConnections(); }));
  return { url: `${o.tls ? 'wss' : 'ws'}://127.0.0.1:${(http.address() as AddressInfo).port}/ws`, got };
}

/**
 * Open a Connection, run `send` once open, wait for `replies` echoes, say bye; resolves with the
 * echoes (text or hex) and the close code.
 */
function exchange(url: string, replies: number, send: (conn: Connection) => void, wsOptions: Record<string, unknown> = {}): Promise<{ received: Got[]; code: number }> {
  const received: Got[] = [];
  return new Promise((resolve, reject) => {
    const conn = new Connection(url, {
      onOpen: () => send(conn),
      onConnectFailed: (kind, error) => reject(new Error(`${kind}: ${error.message}`)),
      onMessage: (data, isBinary) => {
        received.push({ text: isBinary ? data.toString('hex') : data.toString('utf8'), isBinary });
        if (received.length === replies) conn.send('bye');
      },
      onClose: (code) => resolve({ received, code }),
    }, { connectTimeoutMs: 5000, closeTimeoutMs: 1000, clock: realClock, wsOptions });
    conn.open();
  });
}

const bytes = (s: string): [Buffer, number] => {
  // Written into a larger reused buffer, as stress does: only the first `length` bytes count.
  const b = Buffer.alloc(Buffer.byteLength(s) + 16, 0x7a);
  return [b, b.write(s, 0)];
};

/** Payloads around every length boundary of the frame header (7-bit, 16-bit, 64-bit) and of the native mask. */
const SIZES = [0, 1, 3, 4, 5, 47, 48, 125, 126, 127, 65535, 65536, 70001];
const payload = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(0x20 + ((i * 7) % 95))).join('');

describe('Connection.sendTextBytes', () => {
  it('arrives as text frames identical to send(string), in order with ws\' own frames', async () => {
    const srv = await echoServer();
    const note = `{"type":"note","text":"${'é€'.repeat(40)}"}`;
    const texts = [...SIZES.map(payload), note];
    const { received, code } = await exchange(srv.url, texts.length + 2, (conn) => {
      for (const t of texts) {
        const [buf, len] = bytes(t);
        expect(conn.sendTextBytes(buf, len)).toBe(true);
        buf.fill(0x21); // reused at once: the frame is already a copy
      }
      expect(conn.send('{"type":"ping","id":2}')).toBe(true);
      expect(conn.sendBinary(Buffer.from([0, 1, 2, 255]))).toBe(true);
    });
    expect(code).toBe(1000);
    const expected = [...texts.map((text) => ({ text, isBinary: false })), { text: '{"type":"ping","id":2}', isBinary: false }];
    expect(srv.got.slice(0, expected.length)).toEqual(expected);
    expect(srv.got.at(-1)).toEqual({ text: 'bye', isBinary: false });
    expect(received).toEqual([...expected, { text: '000102ff', isBinary: true }]);
  });

  const pem = selfSignedCert();
  it.skipIf(pem === undefined)('works over wss:// (the frame goes through TLS)', async () => {
    const srv = await echoServer({ tls: pem! });
    const texts = ['{"type":"ping","id":1}', payload(300), payload(70001)];
    const { received, code } = await exchange(srv.url, texts.length, (conn) => {
      for (const t of texts) conn.sendTextBytes(...bytes(t));
    }, { rejectUnauthorized: false });
    expect(code).toBe(1000);
    expect(received.map((r) => r.text)).toEqual(texts);
    expect(srv.got.map((g) => g.text)).toEqual([...texts, 'bye']);
  });

  it('goes through ws when compression was negotiated (order kept, still text)', async () => {
    const srv = await echoServer({ ws: { perMessageDeflate: { threshold: 0 } } });
    const texts = ['{"type":"ping","id":1}', payload(2000), 'x'];
    const { received } = await exchange(srv.url, texts.length + 1, (conn) => {
      conn.sendTextBytes(...bytes(texts[0]!));
      conn.send(texts[1]!);
      conn.sendTextBytes(...bytes(texts[2]!));
      conn.send('last');
    }, { perMessageDeflate: true });
    expect(received.map((r) => r.text)).toEqual([...texts, 'last']);
    expect(srv.got.every((g) => !g.isBinary)).toBe(true);
  });

  it('returns false and sends nothing before the socket is open', () => {
    const conn = new Connection('ws://127.0.0.1:1/ws', { onOpen() {}, onConnectFailed() {}, onMessage() {}, onClose() {} }, { connectTimeoutMs: 100, closeTimeoutMs: 100, clock: realClock });
    expect(conn.sendTextBytes(Buffer.from('x'), 1)).toBe(false);
  });
});

describe('maskedTextFrame', () => {
  /** Unmask a frame as a server does: [fin+opcode, payload]. */
  function parse(frame: Buffer): { first: number; masked: boolean; text: string } {
    let len = frame[1]! & 0x7f;
    let at = 2;
    if (len === 126) { len = frame.readUInt16BE(2); at = 4; } else if (len === 127) { len = Number(frame.readBigUInt64BE(2)); at = 10; }
    const key = frame.subarray(at, at + 4);
    const body = Buffer.from(frame.subarray(at + 4));
    expect(body.length).toBe(len);
    for (let i = 0; i < len; i++) body[i]! ^= key[i & 3]!;
    return { first: frame[0]!, masked: (frame[1]! & 0x80) !== 0, text: body.toString('utf8') };
  }

  it('is a final, masked text frame with the payload at every header size', () => {
    for (const n of SIZES) {
      const t = payload(n);
      const [buf, len] = bytes(t);
      expect(parse(maskedTextFrame(buf, len)), `length ${n}`).toEqual({ first: 0x81, masked: true, text: t });
    }
  });

  it('uses a fresh key per frame', () => {
    const [buf, len] = bytes('{"type":"ping","id":1}');
    const keys = new Set<string>();
    for (let i = 0; i < 64; i++) keys.add(maskedTextFrame(buf, len).subarray(2, 6).toString('hex'));
    expect(keys.size).toBeGreaterThan(60);
  });
});
