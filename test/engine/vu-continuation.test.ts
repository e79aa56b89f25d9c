/**
 * How a virtual user goes on after an awaited reply (vu.ts onReply): at once when the reply was the last
 * thing its socket read brought, else from a microtask, so that what came behind it in the same read
 * (a close frame, other messages) is taken in first. Real sockets on 127.0.0.1: a `ws` server that
 * writes the reply and what follows it in one TCP write (corked), so both arrive in one read.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run } from './run-helpers.js';

const { track } = closeAfterEach();

interface Corked {
  url: string;
  received: string[];
  close(): Promise<void>;
}

/** A server answering each `{"id":N,…}` with a pong; `after(ws, id)` may add frames to the same write. */
async function corkedServer(after: (ws: WebSocket, id: number) => void): Promise<Corked> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const received: string[] = [];
  wss.on('connection', (ws) => {
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    ws.on('message', (data) => {
      const text = String(data);
      received.push(text);
      const id = (JSON.parse(text) as { id: number }).id;
      socket.cork();
      ws.send(JSON.stringify({ type: 'pong', id }));
      after(ws, id);
      process.nextTick(() => socket.uncork());
    });
  });
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => resolve());
    }),
  };
}

const PING = '- send:\n    payload: { type: ping }\n    match: { json: "$.type", value: pong }';

describe('after an awaited reply', () => {
  it('replies that come alone: the flow goes on and every round trip is timed', async () => {
    const srv = await track(corkedServer(() => {}));
    const { s } = await run({ target: srv.url, flow: `- loop:\n  ${PING.replace(/\n/g, '\n  ')}\n  count: 50` });
    expect(s.vusers).toMatchObject({ created: 1, completed: 1, failed: 0 });
    expect(s.messages.replied).toBe(50);
    expect(srv.received).toHaveLength(50);
    expect(s.errors).toEqual({});
  });

  it('a close frame in the same read as the reply is taken in before the next step: nothing is sent into the closing connection', async () => {
    const srv = await track(corkedServer((ws, id) => { if (id === 2) ws.close(1000, 'bye'); }));
    const { s } = await run({ target: srv.url, flow: `${PING}\n${PING}\n${PING}` });
    expect(s.vusers).toMatchObject({ created: 1, completed: 0, failed: 1 });
    // Two replies timed; the third send found the connection closing (send_failed) instead of going out
    // into it and being lost (sent 3, lost 1, connection_closed_1000), which is what going on before the
    // close frame was read would do.
    expect(s.messages.replied).toBe(2);
    expect(s.messages.sent, 'no request sent after the close frame arrived').toBe(2);
    expect(s.messages.lost).toBe(0);
    expect(Object.keys(s.errors)).toEqual(['send_failed']);
  });

  it('a broadcast in the same read as the reply is buffered before the next step, so a wait finds it', async () => {
    const srv = await track(corkedServer((ws, id) => { if (id === 1) ws.send(JSON.stringify({ type: 'news', n: 7 })); }));
    const lines: string[] = [];
    const { s } = await run({
      target: srv.url,
      flow: `${PING}\n- wait:\n    match: { json: "$.type", value: news }\n    capture: { json: "$.n", as: n }\n    timeout: 1\n- log: "n={{ n }}"`,
    }, {}, { log: (line) => lines.push(line) });
    expect(s.vusers).toMatchObject({ created: 1, completed: 1, failed: 0 });
    expect(s.errors).toEqual({});
    // Taken in with nobody waiting (unsolicited, buffered), then found by the wait in the buffer: going on
    // before it was read would have the wait step waiting already, and the broadcast would go to it directly.
    expect(s.messages.unsolicited, 'the broadcast was buffered before the wait step began').toBe(1);
    expect(lines).toEqual(['n=7']);
  });
});
