/**
 * The reference server against real `ws` clients on 127.0.0.1, port 0. Replies are compared as raw text,
 * so field names, values and order are all asserted. Every wait is bounded; every socket is closed.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WsloadError } from '../../src/errors.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { bounded, cleanupClients, connect, PONG, refusedHandshake, sleep, WAIT_MS } from './helpers.js';

afterEach(cleanupClients);

describe('protocol', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer({ port: 0, heartbeatMs: 0 }); });
  afterAll(async () => { await server.close(); });

  it('ping → pong', async () => {
    const c = await connect(server.url);
    expect(await c.request({ type: 'ping' })).toBe(PONG);
  });

  it('echoes id and timestamp on the reply, type first and id second', async () => {
    const c = await connect(server.url);
    expect(await c.request({ timestamp: 1700000000000, id: 'req-1', type: 'ping' })).toBe('{"type":"pong","id":"req-1","timestamp":1700000000000}');
    expect(await c.request({ type: 'ping', id: 42 })).toBe('{"type":"pong","id":42}');
    expect(await c.request({ type: 'subscribe', channel: 'agents', id: 7, timestamp: 5 })).toBe('{"type":"subscribed","id":7,"channel":"agents","timestamp":5}');
  });

  it('subscribe → subscribed, unsubscribe → unsubscribed, and unsubscribe is idempotent', async () => {
    const c = await connect(server.url);
    expect(await c.request({ type: 'subscribe', channel: 'agents' })).toBe('{"type":"subscribed","channel":"agents"}');
    expect(await c.request({ type: 'unsubscribe', channel: 'agents' })).toBe('{"type":"unsubscribed","channel":"agents"}');
    expect(await c.request({ type: 'unsubscribe', channel: 'never-subscribed' })).toBe('{"type":"unsubscribed","channel":"never-subscribed"}');
  });

  it('agent_message → agent_response exactly as the protocol table', async () => {
    const c = await connect(server.url);
    const req = { type: 'agent_message', from: 'user_123', to: 'agent_456', payload: { action: 'execute', timestamp: 1234567890, data: {} } };
    expect(await c.request(req)).toBe(
      '{"type":"agent_response","from":"agent_456","to":"user_123","payload":{"status":"processed","action":"execute","data":{}},"timestamp":1234567890}',
    );
  });

  it('agent_message: data echoed, {} when absent, top-level timestamp and id win', async () => {
    const c = await connect(server.url);
    expect(await c.request({ type: 'agent_message', from: 'u', to: 'a', payload: { action: 'run', data: { n: [1, 2] } } }))
      .toBe('{"type":"agent_response","from":"a","to":"u","payload":{"status":"processed","action":"run","data":{"n":[1,2]}}}');
    expect(await c.request({ type: 'agent_message', from: 'u', to: 'a', payload: { action: 'run' } }))
      .toBe('{"type":"agent_response","from":"a","to":"u","payload":{"status":"processed","action":"run","data":{}}}');
    expect(await c.request({ type: 'agent_message', id: 'm1', timestamp: 99, from: 'u', to: 'a', payload: { action: 'run', timestamp: 11 } }))
      .toBe('{"type":"agent_response","id":"m1","from":"a","to":"u","payload":{"status":"processed","action":"run","data":{}},"timestamp":99}');
  });

  it('disconnect → disconnect_ack, then close 1000', async () => {
    const c = await connect(server.url);
    expect(await c.request({ type: 'disconnect', id: 3 })).toBe('{"type":"disconnect_ack","id":3}');
    expect(await bounded(c.closed, WAIT_MS, 'close after disconnect')).toEqual({ code: 1000, reason: 'client requested disconnect' });
  });

  it('publish fans out to every subscriber (publisher included), reports recipients, and stops after unsubscribe', async () => {
    const [pub, a, b, outsider] = await Promise.all([connect(server.url), connect(server.url), connect(server.url), connect(server.url)]);
    for (const c of [pub, a, b]) expect(await c.request({ type: 'subscribe', channel: 'fan' })).toBe('{"type":"subscribed","channel":"fan"}');
    expect(await outsider.request({ type: 'subscribe', channel: 'other' })).toBe('{"type":"subscribed","channel":"other"}');

    pub.send({ type: 'publish', channel: 'fan', data: { hello: 1 }, id: 'p1' });
    const message = '{"type":"message","channel":"fan","data":{"hello":1}}';
    expect(await pub.next()).toBe(message);
    expect(await pub.next()).toBe('{"type":"published","id":"p1","channel":"fan","recipients":3}');
    expect(await a.next()).toBe(message);
    expect(await b.next()).toBe(message);
    await outsider.silentFor(100);

    expect(await b.request({ type: 'unsubscribe', channel: 'fan' })).toBe('{"type":"unsubscribed","channel":"fan"}');
    pub.send({ type: 'publish', channel: 'fan' });
    expect(await pub.next()).toBe('{"type":"message","channel":"fan","data":null}');
    expect(await pub.next()).toBe('{"type":"published","channel":"fan","recipients":2}');
    expect(await a.next()).toBe('{"type":"message","channel":"fan","data":null}');
    await Promise.all([b.silentFor(100), outsider.silentFor(100)]);
  });

  it('publish to a channel nobody subscribed to reports 0 recipients', async () => {
    const c = await connect(server.url);
    expect(await c.request({ type: 'publish', channel: 'empty', data: 1 })).toBe('{"type":"published","channel":"empty","recipients":0}');
  });

  it('a closed subscriber is no longer a recipient', async () => {
    const [pub, gone] = await Promise.all([connect(server.url), connect(server.url)]);
    expect(await gone.request({ type: 'subscribe', channel: 'leaving' })).toBe('{"type":"subscribed","channel":"leaving"}');
    gone.ws.close();
    await bounded(gone.closed, WAIT_MS, 'subscriber close');
    await sleep(20); // let the server process the close
    expect(await pub.request({ type: 'publish', channel: 'leaving' })).toBe('{"type":"published","channel":"leaving","recipients":0}');
  });

  const badInput: Array<[string, string, string]> = [
    ['malformed JSON', '{"type":', '{"type":"error","code":"invalid_json","message":"frame is not valid JSON; send one JSON object per text frame"}'],
    ['an array', '[1,2]', '{"type":"error","code":"not_an_object","message":"expected a JSON object, got an array"}'],
    ['a number', '42', '{"type":"error","code":"not_an_object","message":"expected a JSON object, got a number"}'],
    ['null', 'null', '{"type":"error","code":"not_an_object","message":"expected a JSON object, got null"}'],
    ['a string', '"ping"', '{"type":"error","code":"not_an_object","message":"expected a JSON object, got a string"}'],
    ['no type', '{"id":"x1"}', '{"type":"error","id":"x1","code":"missing_type","message":"message has no \\"type\\" field"}'],
    ['a non-string type', '{"type":5}', '{"type":"error","code":"missing_type","message":"\\"type\\" must be a string, got a number"}'],
    ['an unknown type', '{"type":"fly","id":9}',
      '{"type":"error","id":9,"code":"unknown_type","message":"unknown type \\"fly\\"; known types: ping, subscribe, unsubscribe, publish, agent_message, disconnect"}'],
    ['subscribe without channel', '{"type":"subscribe","id":"s"}',
      '{"type":"error","id":"s","code":"missing_field","message":"subscribe requires \\"channel\\" (a non-empty string)","field":"channel"}'],
    ['unsubscribe without channel', '{"type":"unsubscribe"}',
      '{"type":"error","code":"missing_field","message":"unsubscribe requires \\"channel\\" (a non-empty string)","field":"channel"}'],
    ['publish without channel', '{"type":"publish","data":1}',
      '{"type":"error","code":"missing_field","message":"publish requires \\"channel\\" (a non-empty string)","field":"channel"}'],
    ['a numeric channel', '{"type":"subscribe","channel":5}',
      '{"type":"error","code":"invalid_field","message":"\\"channel\\" must be a non-empty string, got a number","field":"channel"}'],
    ['an empty channel', '{"type":"subscribe","channel":"","timestamp":1}',
      '{"type":"error","code":"invalid_field","message":"\\"channel\\" must be a non-empty string, got an empty string","field":"channel","timestamp":1}'],
    ['agent_message without from', '{"type":"agent_message","to":"a","payload":{"action":"x"}}',
      '{"type":"error","code":"missing_field","message":"agent_message requires \\"from\\" (a string)","field":"from"}'],
    ['agent_message with a numeric from', '{"type":"agent_message","from":1,"to":"a","payload":{"action":"x"}}',
      '{"type":"error","code":"invalid_field","message":"\\"from\\" must be a string, got a number","field":"from"}'],
    ['agent_message without to', '{"type":"agent_message","from":"u","payload":{"action":"x"}}',
      '{"type":"error","code":"missing_field","message":"agent_message requires \\"to\\" (a string)","field":"to"}'],
    ['agent_message without payload', '{"type":"agent_message","from":"u","to":"a"}',
      '{"type":"error","code":"missing_field","message":"agent_message requires \\"payload\\" (an object with a string \\"action\\")","field":"payload"}'],
    ['agent_message with an array payload', '{"type":"agent_message","from":"u","to":"a","payload":[]}',
      '{"type":"error","code":"invalid_field","message":"\\"payload\\" must be an object, got an array","field":"payload"}'],
    ['agent_message without payload.action', '{"type":"agent_message","from":"u","to":"a","payload":{}}',
      '{"type":"error","code":"missing_field","message":"agent_message requires \\"payload.action\\" (a string)","field":"payload.action"}'],
    ['agent_message with a numeric payload.action', '{"type":"agent_message","id":"m","from":"u","to":"a","payload":{"action":3}}',
      '{"type":"error","id":"m","code":"invalid_field","message":"\\"payload.action\\" must be a string, got a number","field":"payload.action"}'],
    ['an object id', '{"type":"ping","id":{}}',
      '{"type":"error","code":"invalid_field","message":"\\"id\\" must be a string or a number, got an object","field":"id"}'],
  ];

  it.each(badInput)('answers %s with an error and keeps the connection open', async (_name, frame, expected) => {
    const c = await connect(server.url);
    expect(await c.request(frame)).toBe(expected);
    expect(await c.request({ type: 'ping' })).toBe(PONG);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('answers a binary frame with binary_not_supported and keeps the connection open', async () => {
    const c = await connect(server.url);
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await c.next()).toBe('{"type":"error","code":"binary_not_supported","message":"binary frames are not supported; send one JSON object per text frame"}');
    expect(await c.request({ type: 'ping' })).toBe(PONG);
  });

  it('closes with 1007 on invalid UTF-8 in a text frame (ws validates before we see it)', async () => {
    const c = await connect(server.url);
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await bounded(c.closed, WAIT_MS, 'close 1007')).code).toBe(1007);
  });

  it('accepts a query string on the endpoint path', async () => {
    const c = await connect(`${server.url}?token=abc`);
    expect(await c.request({ type: 'ping' })).toBe(PONG);
  });
});

describe('HTTP', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer({ port: 0, heartbeatMs: 0 }); });
  afterAll(async () => { await server.close(); });
  const base = () => `http://127.0.0.1:${server.port}`;

  it('GET /healthz → 200 JSON with connections and messagesReceived', async () => {
    const [a, b] = await Promise.all([connect(server.url), connect(server.url)]);
    expect(await a.request({ type: 'ping' })).toBe(PONG);
    expect(await b.request({ type: 'ping' })).toBe(PONG);
    const res = await fetch(server.healthUrl, { signal: AbortSignal.timeout(WAIT_MS) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await res.json() as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['status', 'uptimeSeconds', 'connections', 'messagesReceived']);
    expect(body).toMatchObject({ status: 'ok', connections: 2, messagesReceived: 2 });
    expect(typeof body.uptimeSeconds).toBe('number');
    expect(body.uptimeSeconds as number).toBeGreaterThanOrEqual(0);
  });

  it('plain GET on the WebSocket path → 426, anywhere else → 404', async () => {
    const upgradeRequired = await fetch(`${base()}/ws`, { signal: AbortSignal.timeout(WAIT_MS) });
    expect(upgradeRequired.status).toBe(426);
    expect(await upgradeRequired.text()).toBe('this is a WebSocket endpoint; connect with a WebSocket client (ws://…/ws)\n');
    const notFound = await fetch(`${base()}/nope`, { signal: AbortSignal.timeout(WAIT_MS) });
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toBe('not found; the WebSocket endpoint is /ws and the health check is /healthz\n');
  });

  it('a WebSocket upgrade on a wrong path → HTTP 404', async () => {
    const { status, body } = await refusedHandshake(`ws://127.0.0.1:${server.port}/wrong`);
    expect({ status, body }).toEqual({ status: 404, body: 'not found; the WebSocket endpoint is /ws\n' });
  });
});

describe('limits and timing', () => {
  it('a frame over maxPayload closes the connection with 1009', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, maxPayload: 1024 });
    try {
      const c = await connect(server.url);
      expect(await c.request({ type: 'ping', pad: 'x'.repeat(900) })).toBe(PONG);
      c.send({ type: 'ping', pad: 'x'.repeat(2000) });
      expect((await bounded(c.closed, WAIT_MS, 'close 1009')).code).toBe(1009);
    } finally {
      await server.close();
    }
  });

  it('replyDelayMs delays the reply by about that long', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, replyDelayMs: 150 });
    try {
      const c = await connect(server.url);
      const started = performance.now();
      expect(await c.request({ type: 'ping', id: 1 })).toBe('{"type":"pong","id":1}');
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(145);
      expect(elapsed).toBeLessThan(1_000);
    } finally {
      await server.close();
    }
  });

  it('replyDelayMs is never short: at least the delay by a fine clock, though Node timers count whole milliseconds', async () => {
    // libuv keeps its loop clock in whole milliseconds, so a 20 ms setTimeout can fire after 19.x ms of
    // real time; one connection, requests one after another, so that nothing else adds to the round trip.
    const server = await startServer({ port: 0, heartbeatMs: 0, replyDelayMs: 20 });
    try {
      const c = await connect(server.url);
      const rtts: number[] = [];
      for (let i = 0; i < 40; i++) {
        const started = performance.now();
        await c.request({ type: 'ping', id: i });
        rtts.push(performance.now() - started);
      }
      expect(Math.min(...rtts), 'the shortest round trip against a 20 ms injected delay').toBeGreaterThanOrEqual(20);
      expect(Math.max(...rtts), 'and it is not much longer either').toBeLessThan(60);
    } finally {
      await server.close();
    }
  });

  it('heartbeat terminates a peer that stops answering pings and keeps one that answers', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 50 });
    try {
      const silent = await connect(server.url, { autoPong: false });
      const healthy = await connect(server.url);
      expect((await bounded(silent.closed, WAIT_MS, 'heartbeat termination')).code).toBe(1006);
      await sleep(120); // two more rounds
      expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
      expect(await healthy.request({ type: 'ping' })).toBe(PONG);
      expect(server.connections()).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('lifecycle', () => {
  it('close() closes every client with 1001 and resolves', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0 });
    const clients = await Promise.all([connect(server.url), connect(server.url)]);
    expect(server.connections()).toBe(2);
    const closing = server.close();
    expect(server.close()).toBe(closing); // idempotent
    await bounded(closing, WAIT_MS, 'server.close()');
    for (const c of clients) expect(await bounded(c.closed, WAIT_MS, 'client close')).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(server.connections()).toBe(0);
    await expect(connect(server.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('close() terminates a client that never answers the close frame after shutdownTimeoutMs', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, shutdownTimeoutMs: 200 });
    const raw: Socket = tcpConnect(server.port, '127.0.0.1');
    try {
      raw.on('error', () => { /* reset by the server's terminate */ });
      const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
      await bounded(new Promise<void>((resolve) => {
        raw.once('connect', () => raw.write(
          'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
        raw.once('data', (chunk: Buffer) => { if (chunk.toString('latin1').startsWith('HTTP/1.1 101')) resolve(); });
      }), WAIT_MS, 'raw upgrade');
      expect(server.connections()).toBe(1);
      const started = performance.now();
      await bounded(server.close(), WAIT_MS, 'server.close() with a straggler');
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1_500);
      await bounded(rawClosed, WAIT_MS, 'straggler socket closed');
      expect(server.connections()).toBe(0);
    } finally {
      raw.destroy();
    }
  });

  it('rejects with a clear WSLOAD_CONFIG error when the port is in use', async () => {
    const first = await startServer({ port: 0, heartbeatMs: 0 });
    try {
      const err = await startServer({ port: first.port, heartbeatMs: 0 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(WsloadError);
      expect((err as WsloadError).code).toBe('WSLOAD_CONFIG');
      expect((err as WsloadError).toLine()).toBe(`port ${first.port} is in use on 127.0.0.1 — pick another with --port, or --port 0 for a free one`);
    } finally {
      await first.close();
    }
  });

  it('rejects bad options with WSLOAD_CONFIG before listening', async () => {
    await expect(startServer({ port: 70000 })).rejects.toMatchObject({ code: 'WSLOAD_CONFIG', message: 'port must be an integer 0-65535, got 70000' });
    await expect(startServer({ port: 0, path: 'ws' })).rejects.toMatchObject({
      code: 'WSLOAD_CONFIG', message: 'path must start with "/" and have no query or fragment, got "ws"',
    });
  });

  it('puts IPv6 hosts in brackets in the URL', async () => {
    const server = await startServer({ host: '::1', port: 0, heartbeatMs: 0, path: '/v6' });
    try {
      expect(server.url).toBe(`ws://[::1]:${server.port}/v6`);
      expect(server.healthUrl).toBe(`http://[::1]:${server.port}/healthz`);
      const c = await connect(server.url);
      expect(await c.request({ type: 'ping' })).toBe(PONG);
    } finally {
      await server.close();
    }
  });
});
