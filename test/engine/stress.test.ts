/**
 * The stress engine against real sockets on 127.0.0.1: exact counts, true latency, correlation by
 * id, timeouts and errors by kind. Every run is small so the file takes a few seconds.
 */
import { describe, expect, it } from 'vitest';
import { runStress, type StressOptions, type StressResult } from '../../src/engine/stress.js';
import { summarizeStress, type StressSummary } from '../../src/report/stress-summary.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { closedPort, eventually, startBlackholeServer, startRejectingServer, startTestServer, type TestServerOptions } from '../helpers/test-servers.js';

const { defer, track } = closeAfterEach();
const server = (opts: TestServerOptions = {}) => track(startTestServer(opts));

async function stress(url: string, o: Partial<StressOptions> = {}, signal?: AbortSignal): Promise<{ result: StressResult; s: StressSummary }> {
  const result = await runStress({
    url,
    connections: 10,
    messages: 10,
    batch: 100,
    replyTimeoutMs: 5000,
    connectTimeoutMs: 5000,
    ...o,
  }, signal ? { signal } : {});
  const s = summarizeStress(result.snapshot);
  expectBalanced(result, s);
  return { result, s };
}

/** Invariants every run must satisfy, whatever went wrong. */
function expectBalanced(result: StressResult, s: StressSummary): void {
  const m = s.messages;
  expect(m.sent, 'sent = received + reply_timeout + lost').toBe(m.received + m.timedOut + m.lost);
  const c = s.connections;
  expect(c.attempted, 'attempted = successful + failed').toBe(c.successful + c.failed);
  expect(result.snapshot.counters['connections.closed'] ?? 0, 'every opened connection closed').toBe(c.successful);
  expect(result.snapshot.gauges['connections.active'], 'no connection left open').toBe(0);
  expect(s.latency.count, 'one latency sample per matched reply').toBe(m.received);
}

describe('runStress against a healthy server', () => {
  it('sends and receives exactly C×M, disconnects every connection, and leaves none open', async () => {
    const srv = await server();
    const { s, result } = await stress(srv.url, { connections: 20, messages: 25 });
    expect(s.connections).toMatchObject({ attempted: 20, successful: 20, failed: 0, dropped: 0, completed: 20 });
    expect(s.messages).toMatchObject({ sent: 500, received: 500, timedOut: 0, lost: 0, unsolicited: 0, late: 0 });
    expect(s.errors).toEqual({});
    // Odd ids are pings, even ids agent messages: 13 + 12 per connection.
    expect(s.latencyByType.ping!.count).toBe(20 * 13);
    expect(s.latencyByType.agent_message!.count).toBe(20 * 12);
    expect(s.connect.count).toBe(20);
    expect(result.aborted).toBe(false);
    expect(srv.stats.requests, 'the server got every request').toBe(500);
    expect(srv.stats.disconnects, 'every connection sent disconnect').toBe(20);
    expect(await eventually(() => srv.openConnections() === 0), `server still has ${srv.openConnections()} open`).toBe(true);
  });

  it('connects and disconnects only with 0 messages', async () => {
    const srv = await server();
    const { s } = await stress(srv.url, { connections: 5, messages: 0 });
    expect(s.connections).toMatchObject({ successful: 5, completed: 5 });
    expect(s.messages.sent).toBe(0);
    expect(srv.stats.disconnects).toBe(5);
  });

  it('measures true latency: a 20 ms reply delay gives a P50 within 2 ms of 20 ms', async () => {
    const srv = await server({ replyDelayMs: 20 });
    const { s } = await stress(srv.url, { connections: 5, messages: 10 });
    expect(s.messages.received).toBe(50);
    expect(Math.abs(s.latency.p50 - 20), `p50 was ${s.latency.p50} ms`).toBeLessThanOrEqual(2);
    expect(s.latency.p99).toBeGreaterThanOrEqual(20);
    expect(s.latency.avg).toBeGreaterThanOrEqual(20);
    expect(s.latency.min, 'no reply can beat the injected delay').toBeGreaterThanOrEqual(19.5);
  });

  it('reports a small latency when the server answers at once', async () => {
    const srv = await server();
    const { s } = await stress(srv.url, { connections: 5, messages: 20 });
    expect(s.latency.p50, `p50 was ${s.latency.p50} ms`).toBeLessThan(5);
  });
});

describe('correlation by id', () => {
  it('ignores unsolicited, unknown-id, stale and nested ids and still counts exactly', async () => {
    const srv = await server({ noise: true });
    // A short reply timeout: a mismatch fails fast instead of waiting out the default.
    const { s } = await stress(srv.url, { connections: 4, messages: 10, replyTimeoutMs: 1000 });
    expect(s.messages).toMatchObject({ sent: 40, received: 40, timedOut: 0, lost: 0 });
    // Per request: a notice, an unknown id and (from the 2nd) a stale one → 3M − 1 per connection.
    expect(s.messages.unsolicited).toBe(4 * (3 * 10 - 1));
    expect(s.messages.late, 'stale replies to ids already answered').toBe(4 * 9);
    expect(s.errors).toEqual({});
  });

  it('matches replies that come back in reverse order (4 in flight)', async () => {
    const srv = await server({ reorder: 4 });
    const { s } = await stress(srv.url, { connections: 3, messages: 24, inflight: 4 });
    expect(s.messages).toMatchObject({ sent: 72, received: 72, unsolicited: 0 });
    expect(s.errors).toEqual({});
  });

  it('counts an error reply as a reply and as server_error_<code>', async () => {
    const srv = await server({ errorEvery: 5 });
    const { s } = await stress(srv.url, { connections: 2, messages: 10 });
    expect(s.messages).toMatchObject({ sent: 20, received: 20 });
    expect(s.errors).toEqual({ server_error_boom: 4 });
  });
});

describe('timeouts', () => {
  it('counts reply_timeout exactly and moves on to the next message', async () => {
    const srv = await server({ ignoreEvery: 4 });
    const { s } = await stress(srv.url, { connections: 3, messages: 10, replyTimeoutMs: 200 });
    expect(s.errors).toEqual({ reply_timeout: 6 });
    expect(s.messages).toMatchObject({ sent: 30, received: 24, timedOut: 6, lost: 0 });
    expect(srv.stats.requests, 'every message was still sent after a timeout').toBe(30);
  });

  it('bounds handshakes with connect_timeout, batch after batch', async () => {
    const hole = await startBlackholeServer();
    defer(() => hole.close());
    const started = performance.now();
    const { s } = await stress(hole.url, { connections: 5, batch: 2, connectTimeoutMs: 200 });
    const elapsed = performance.now() - started;
    expect(s.errors).toEqual({ connect_timeout: 5 });
    expect(s.connections).toMatchObject({ attempted: 5, failed: 5 });
    // Three batches (2 + 2 + 1), each waiting out its 200 ms timeout; concurrently it would be ~200 ms.
    expect(elapsed).toBeGreaterThanOrEqual(590);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe('errors by kind', () => {
  it('counts a 503 handshake rejection as handshake_rejected_503', async () => {
    const rejecting = await startRejectingServer(503);
    defer(() => rejecting.close());
    const { s, result } = await stress(rejecting.url, { connections: 4 });
    expect(s.errors).toEqual({ handshake_rejected_503: 4 });
    expect(s.connections).toMatchObject({ attempted: 4, successful: 0, failed: 4 });
    expect(s.messages.sent).toBe(0);
    expect(result.firstConnectError?.kind).toBe('handshake_rejected_503');
  });

  it.each([
    ['terminate', 'connection_closed_1006'],
    ['close1011', 'connection_closed_1011'],
  ] as const)('a server that drops connections mid-run (%s) → %s, with counts adding up', async (dropMode, kind) => {
    const srv = await server({ dropAfter: 4, dropMode });
    const { s } = await stress(srv.url, { connections: 6, messages: 10 });
    // Every second connection dies on its 4th request: 3 × 10 + 3 × 4 sent, the 3 last ones lost.
    expect(s.errors).toEqual({ [kind]: 3 });
    expect(s.connections).toMatchObject({ successful: 6, dropped: 3, completed: 3 });
    expect(s.messages).toMatchObject({ sent: 42, received: 39, lost: 3, timedOut: 0 });
  });

  it('counts connect_refused for a closed port and keeps the socket error for the diagnosis', async () => {
    const port = await closedPort();
    const { s, result } = await stress(`ws://127.0.0.1:${port}/ws`, { connections: 3 });
    expect(s.errors).toEqual({ connect_refused: 3 });
    expect(result.firstConnectError).toEqual({ kind: 'connect_refused', message: `connect ECONNREFUSED 127.0.0.1:${port}` });
  });
});

describe('abort', () => {
  it('stops sending, gives in-flight requests a grace, disconnects, and reports aborted', async () => {
    const srv = await server({ silent: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const started = performance.now();
    const { s, result } = await stress(srv.url, { connections: 4, messages: 1000, graceMs: 200, disconnectTimeoutMs: 200, closeTimeoutMs: 200 }, ac.signal);
    const elapsed = performance.now() - started;
    expect(result.aborted).toBe(true);
    // Each connection sent its first request, never answered: lost at the end of the grace.
    expect(s.messages).toMatchObject({ sent: 4, received: 0, lost: 4 });
    expect(s.errors).toEqual({ disconnect_timeout: 4 });
    expect(srv.stats.disconnects).toBe(4);
    expect(elapsed, 'abort + grace + bounded disconnect + bounded close').toBeLessThan(2000);
    expect(await eventually(() => srv.openConnections() === 0)).toBe(true);
  });

  it('leaves no timers or sockets behind', async () => {
    const srv = await server();
    const count = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    const timers = count('Timeout');
    const sockets = count('TCPSocketWrap');
    await stress(srv.url, { connections: 5, messages: 5 });
    // The server's side of each socket may take a moment to see the close.
    await eventually(() => srv.openConnections() === 0 && count('TCPSocketWrap') <= sockets);
    expect(count('TCPSocketWrap'), 'sockets left open').toBeLessThanOrEqual(sockets);
    expect(count('Timeout'), 'timers left by runStress').toBeLessThanOrEqual(timers);
  });
});
