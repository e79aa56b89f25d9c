/**
 * Abuse the reference server must survive (issue 7), each on loopback and bounded in time. After each,
 * `expectHealthy` checks that a fresh client gets a pong within a second and that the server's own
 * accounting shows nothing left behind (connections, buffered bytes); RSS growth gets a generous bound.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startServer, type RunningServer } from '../../src/server/index.js';
import {
  bounded, cleanupClients, clientFrame, closeCodeIn, connect, expectHealthy, PONG, rawSocket, rawWebSocket, recorder,
  metricsText, refusedHandshake, rssMiB, sleep, UPGRADE_REQUEST, WAIT_MS, waitForMetric, waitUntil,
} from './helpers.js';

/** Generous: the test process's RSS is shared with vitest and the client side of every test. */
const RSS_GROWTH_LIMIT_MIB = 200;

afterEach(cleanupClients);

describe('abuse: bad input', () => {
  let server: RunningServer;
  let rssBefore = 0;
  beforeAll(async () => { server = await startServer({ port: 0, heartbeatMs: 0 }); });
  afterAll(async () => { await server.close(); });
  beforeEach(() => { rssBefore = rssMiB(); });
  afterEach(async () => {
    cleanupClients();
    await expectHealthy(server, { connections: 0 });
    expect(rssMiB() - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_MIB);
  });

  it('invalid JSON: a burst of 1000 malformed frames, each answered invalid_json, connection kept', async () => {
    const c = await connect(server.url);
    for (let i = 0; i < 1000; i++) c.send(`{"type":"ping",${i}`);
    for (let i = 0; i < 1000; i++) {
      expect(await c.next()).toBe('{"type":"error","code":"invalid_json","message":"frame is not valid JSON; send one JSON object per text frame"}');
    }
    expect(await c.request({ type: 'ping' })).toBe(PONG);
  });

  it('non-object JSON: arrays, numbers, strings, booleans, null', async () => {
    const c = await connect(server.url);
    const cases: Array<[string, string]> = [['[]', 'an array'], ['1e308', 'a number'], ['"x"', 'a string'], ['true', 'a boolean'], ['null', 'null']];
    for (const [frame, what] of cases) {
      expect(await c.request(frame)).toBe(`{"type":"error","code":"not_an_object","message":"expected a JSON object, got ${what}"}`);
    }
    expect(await c.request({ type: 'ping' })).toBe(PONG);
  });

  it('invalid UTF-8: ws closes with 1007 and the server counts it', async () => {
    const c = await connect(server.url);
    c.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
    expect((await bounded(c.closed, WAIT_MS, 'close 1007')).code).toBe(1007);
    await waitForMetric(server, 'wsload_server_closes_total{code="1007"} 1');
  });

  it('deeply nested JSON (100k levels): error replies, never a crash, and no fan-out of what cannot be sent', async () => {
    const depth = 100_000;
    const nestedArrays = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const [c, subscriber] = await Promise.all([connect(server.url), connect(server.url)]);
    expect(await subscriber.request({ type: 'subscribe', channel: 'deep' })).toBe('{"type":"subscribed","channel":"deep"}');
    const tooDeep = 'message is nested too deeply to handle; keep JSON nesting to a few hundred levels';

    expect(await c.request(nestedArrays)).toBe('{"type":"error","code":"not_an_object","message":"expected a JSON object, got an array"}');
    expect(await c.request(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)).toBe('{"type":"error","code":"missing_type","message":"message has no \\"type\\" field"}');
    expect(await c.request(`{"type":"publish","id":"p","channel":"deep","data":${nestedArrays}}`))
      .toBe(`{"type":"error","id":"p","code":"nesting_too_deep","message":"${tooDeep}"}`);
    expect(await c.request(`{"type":"ping","id":7,"timestamp":${nestedArrays}}`))
      .toBe(`{"type":"error","id":7,"code":"nesting_too_deep","message":"${tooDeep}"}`);
    expect(await c.request(`{"type":"subscribe","channel":"never","timestamp":${nestedArrays}}`))
      .toBe(`{"type":"error","code":"nesting_too_deep","message":"${tooDeep}"}`);
    expect(await c.request(`{"type":"agent_message","from":"u","to":"a","payload":{"action":"x","data":${nestedArrays}}}`))
      .toBe(`{"type":"error","code":"nesting_too_deep","message":"${tooDeep}"}`);
    expect(await c.request({ type: 'ping' })).toBe(PONG);
    // The failed publish reached nobody, and the failed subscribe subscribed nothing.
    expect(await subscriber.request({ type: 'ping' })).toBe(PONG);
    expect(subscriber.inbox).toEqual([]);
    expect(server.snapshot().channels).toBe(1);
  });

  it('huge frames: over maxPayload, and a forged header announcing 1 TB, both close with 1009 at once', async () => {
    const c = await connect(server.url);
    c.send({ type: 'ping', pad: 'x'.repeat(1_048_576 + 10) });
    expect((await bounded(c.closed, WAIT_MS, 'close 1009')).code).toBe(1009);

    const raw = await rawWebSocket(server.port);
    const rec = recorder(raw);
    raw.write(clientFrame(1, Buffer.alloc(0), 1e12).subarray(0, 14)); // the header and mask only
    await bounded(rec.closed, WAIT_MS, 'raw socket closed after the forged header');
    expect(closeCodeIn(rec.bytes())).toBe(1009);
  });

  it('binary frames: a burst of 1000 is answered binary_not_supported, connection kept', async () => {
    const c = await connect(server.url);
    const blob = Buffer.alloc(1024, 7);
    for (let i = 0; i < 1000; i++) c.ws.send(blob, { binary: true });
    for (let i = 0; i < 1000; i++) {
      expect(await c.next()).toBe('{"type":"error","code":"binary_not_supported","message":"binary frames are not supported; send one JSON object per text frame"}');
    }
    expect(await c.request({ type: 'ping' })).toBe(PONG);
  });

  it('thousands of subscriptions: 1000 accepted, the rest refused, all released on close', async () => {
    const c = await connect(server.url);
    for (let i = 0; i < 3000; i++) c.send({ type: 'subscribe', channel: `ch-${i}` });
    let subscribed = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const reply = await c.next();
      if (reply.startsWith('{"type":"subscribed"')) subscribed++;
      else if (reply.includes('"code":"too_many_subscriptions"')) refused++;
    }
    expect({ subscribed, refused }).toEqual({ subscribed: 1000, refused: 2000 });
    expect(server.snapshot().channels).toBe(1000);
    c.ws.close();
    await waitUntil(() => server.snapshot().channels === 0, WAIT_MS, 'channels released');
  });

  it('plain HTTP and wrong paths: real statuses, never a hang', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const get = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(WAIT_MS) });
    expect((await get('/')).status).toBe(404);
    expect((await get('/ws')).status).toBe(426);
    expect((await get('/ws', { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await get('/../../etc/passwd')).status).toBe(404);
    expect((await refusedHandshake(`ws://127.0.0.1:${server.port}/nope`)).status).toBe(404);

    const garbage = await rawSocket(server.port);
    const rec = recorder(garbage);
    garbage.write('\x16\x03\x01 not http at all\r\n\r\n');
    await bounded(rec.closed, WAIT_MS, 'garbage socket closed');
    expect(rec.text()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);

    const huge = await rawSocket(server.port);
    const hugeRec = recorder(huge);
    huge.write(`GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await bounded(hugeRec.closed, WAIT_MS, 'oversized-header socket closed');
    expect(hugeRec.text()).toMatch(/^HTTP\/1\.1 431 /);

    const badKey = await rawSocket(server.port);
    const badRec = recorder(badKey);
    badKey.write(UPGRADE_REQUEST('/ws').replace('dGhlIHNhbXBsZSBub25jZQ==', 'short'));
    await bounded(badRec.closed, WAIT_MS, 'bad-key socket closed');
    expect(badRec.text()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Missing or invalid Sec-WebSocket-Key header\n$/);

    const { rejected } = server.snapshot();
    expect(rejected).toMatchObject({ not_found: 1, bad_request: 2, bad_handshake: 1 });
  });
});

describe('abuse: floods (rate limit)', () => {
  it('a flood gets rate_limited errors, then 1008 once it has gone on for 2 s; other connections are unaffected', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, rateLimit: 200 });
    try {
      const rssBefore = rssMiB();
      const [flooder, bystander] = await Promise.all([connect(server.url), connect(server.url)]);
      const limited = '{"type":"error","code":"rate_limited","message":"rate limit exceeded: at most 200 messages/s per connection; this message was dropped"}';
      for (let i = 0; i < 1000; i++) flooder.send({ type: 'ping' });
      const firstDrop = performance.now();
      let pongs = 0;
      let errors = 0;
      for (let i = 0; i < 1000; i++) {
        const reply = await flooder.next();
        if (reply === PONG) pongs++;
        else if (reply === limited) errors++;
      }
      // The burst is one second's worth (200); a few tokens refill while the burst is handled.
      expect(pongs).toBeGreaterThanOrEqual(200);
      expect(pongs).toBeLessThan(260);
      expect(pongs + errors).toBe(1000);
      expect(await bystander.request({ type: 'ping' })).toBe(PONG);

      // It goes on: 2000 messages/s, ten times the limit, until the server closes it.
      const timer = setInterval(() => {
        if (flooder.ws.readyState !== WebSocket.OPEN) return;
        for (let i = 0; i < 100; i++) flooder.send({ type: 'ping' });
      }, 50);
      try {
        expect(await bounded(flooder.closed, 4_000, 'close 1008')).toEqual({ code: 1008, reason: 'rate limit exceeded' });
      } finally {
        clearInterval(timer);
      }
      const elapsed = performance.now() - firstDrop;
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
      expect(elapsed).toBeLessThan(3_500);
      expect(await bystander.request({ type: 'ping' })).toBe(PONG);
      bystander.ws.terminate();
      await expectHealthy(server, { connections: 0 });
      expect(rssMiB() - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_MIB);
      await waitForMetric(server, 'wsload_server_closes_total{code="1008"} 1');
      expect(await metricsText(server)).toMatch(/wsload_server_errors_total\{code="rate_limited"\} [1-9]\d*/);
    } finally {
      await server.close();
    }
  });
});

describe('abuse: slow readers (backpressure)', () => {
  it('a subscriber that stops reading is closed with 1013 and never holds more than the limit plus one message', async () => {
    const limit = 256 * 1024;
    const messageBytes = 64 * 1024;
    const server = await startServer({ port: 0, heartbeatMs: 0, rateLimit: 0, maxBufferedBytes: limit });
    try {
      const rssBefore = rssMiB();
      const [slow, publisher] = await Promise.all([connect(server.url), connect(server.url)]);
      expect(await slow.request({ type: 'subscribe', channel: 'firehose' })).toBe('{"type":"subscribed","channel":"firehose"}');
      slow.ws.pause(); // stop reading the socket: the kernel buffers fill, then the server's queue grows
      const data = 'x'.repeat(messageBytes);
      let maxPeerBuffered = 0;
      let published = 0;
      // Bounded: 400 × 64 KiB = 25 MiB, far more than loopback's socket buffers can absorb.
      for (let i = 0; i < 400 && server.snapshot().backpressureCloses === 0; i++) {
        const reply = await publisher.request({ type: 'publish', channel: 'firehose', data });
        expect(reply).toMatch(/^\{"type":"published","channel":"firehose","recipients":[01]\}$/);
        maxPeerBuffered = Math.max(maxPeerBuffered, server.snapshot().maxPeerBufferedBytes);
        published++;
      }
      expect(server.snapshot().backpressureCloses).toBe(1);
      // The fan-out frame is the data plus ~40 bytes of JSON and a 4-byte header.
      expect(maxPeerBuffered).toBeLessThanOrEqual(limit + messageBytes + 64);
      expect(published).toBeLessThan(400);
      slow.ws.resume(); // read what is queued, then the close frame
      expect(await bounded(slow.closed, WAIT_MS, 'close 1013')).toEqual({ code: 1013, reason: 'slow reader: too much data buffered' });
      expect(await publisher.request({ type: 'publish', channel: 'firehose' })).toBe('{"type":"published","channel":"firehose","recipients":0}');
      publisher.ws.terminate();
      await expectHealthy(server, { connections: 0 });
      expect(rssMiB() - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_MIB);
      await waitForMetric(server, 'wsload_server_closes_total{code="1013"} 1');
      expect(await metricsText(server)).toContain('wsload_server_backpressure_closes_total 1\n');
    } finally {
      await server.close();
    }
  });

  it('a slow reader that never reads again is terminated after the close grace', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, rateLimit: 0, maxBufferedBytes: 64 * 1024 });
    try {
      const raw = await rawWebSocket(server.port);
      raw.pause();
      const rec = recorder(raw);
      raw.write(clientFrame(1, Buffer.from('{"type":"subscribe","channel":"f"}')));
      const publisher = await connect(server.url);
      const data = 'y'.repeat(64 * 1024);
      for (let i = 0; i < 400 && server.snapshot().backpressureCloses === 0; i++) {
        await publisher.request({ type: 'publish', channel: 'f', data });
      }
      expect(server.snapshot().backpressureCloses).toBe(1);
      // Never resumed: the server gives up on the close handshake after ~1 s and drops the socket.
      await waitUntil(() => server.connections() === 1, 3_000, 'slow reader terminated');
      raw.destroy();
      await rec.closed;
      publisher.ws.terminate();
      await expectHealthy(server, { connections: 0 });
    } finally {
      await server.close();
    }
  });
});

describe('abuse: slow handshakes', () => {
  it('an upgrade request sent a byte at a time, and a client that sends nothing, get 408 and are cut off', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, handshakeTimeoutMs: 300 });
    try {
      const slowloris = await rawSocket(server.port);
      const silent = await rawSocket(server.port);
      const slowRec = recorder(slowloris);
      const silentRec = recorder(silent);
      const request = UPGRADE_REQUEST();
      let sent = 0;
      const drip = setInterval(() => { if (!slowloris.destroyed && sent < request.length) slowloris.write(request[sent++]!); }, 50);
      try {
        const [slowMs, silentMs] = await bounded(Promise.all([slowRec.closed, silentRec.closed]), 3_000, 'slow handshakes cut off');
        expect(slowMs).toBeLessThan(1_000);
        expect(silentMs).toBeLessThan(1_000);
      } finally {
        clearInterval(drip);
      }
      expect(sent).toBeLessThan(request.length);
      expect(slowRec.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(silentRec.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(server.snapshot().rejected.timeout).toBe(2);
      // A complete handshake in time is unaffected, and the upgraded socket has no timeout any more.
      const c = await connect(server.url);
      await sleep(500);
      expect(await c.request({ type: 'ping' })).toBe(PONG);
      c.ws.terminate();
      await expectHealthy(server, { connections: 0 });
    } finally {
      await server.close();
    }
  });
});
