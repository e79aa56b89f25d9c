/**
 * The load side under target faults (issue 7), on 127.0.0.1: a reset after the upgrade, closes with a
 * code, a target that stops answering, a close frame whose socket is then held open, DNS and TLS
 * failures, a refused subprotocol. Each is its own error kind, the counts add up, and every run
 * ends within a bound. Plus the target watch (their error kinds: connection.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { realClock } from '../../src/clock.js';
import { Connection } from '../../src/engine/connection.js';
import { CONNECTION_STALLED, runStress, StressMetric, type StressOptions, type StressResult } from '../../src/engine/stress.js';
import { TargetWatch } from '../../src/engine/target-watch.js';
import { summarizeStress, type StressSummary } from '../../src/report/stress-summary.js';
import { failingLookup, selfSignedCert, startFaultServer, startNoSubprotocolServer, startResetServer, startTlsServer, type Fault } from '../helpers/fault-servers.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { startTestServer } from '../helpers/test-servers.js';
import { run } from './run-helpers.js';

const { track } = closeAfterEach();

interface Ran {
  result: StressResult;
  s: StressSummary;
  ms: number;
}

async function stress(url: string, o: Partial<StressOptions> = {}): Promise<Ran> {
  const started = performance.now();
  const result = await runStress({
    url, connections: 4, messages: 10, batch: 100, replyTimeoutMs: 2000, connectTimeoutMs: 2000,
    disconnectTimeoutMs: 300, closeTimeoutMs: 300, ...o,
  });
  const ms = performance.now() - started;
  const s = summarizeStress(result.snapshot);
  // Whatever went wrong, the counts add up and nothing is left open.
  expect(s.messages.sent, 'sent = received + reply_timeout + lost').toBe(s.messages.received + s.messages.timedOut + s.messages.lost);
  expect(s.connections.attempted).toBe(s.connections.successful + s.connections.failed);
  expect(result.snapshot.counters['connections.closed'] ?? 0, 'every opened connection closed').toBe(s.connections.successful);
  expect(result.snapshot.gauges['connections.active']).toBe(0);
  return { result, s, ms };
}

const targetLost = (r: StressResult): number => r.snapshot.counters[StressMetric.targetLost] ?? 0;

describe('the target resets, closes or stops answering mid-run', () => {
  it('a reset after the upgrade (RST on the first frame) → connection_reset, the request lost', async () => {
    const srv = await track(startResetServer());
    const { s, result, ms } = await stress(srv.url);
    expect(s.errors).toEqual({ connection_reset: 4 });
    expect(s.connections).toMatchObject({ successful: 4, dropped: 4, completed: 0 });
    expect(s.messages).toMatchObject({ sent: 4, received: 0, lost: 4, timedOut: 0 });
    expect(targetLost(result), 'every connection reset, nothing after: the target is gone').toBe(1);
    expect(ms).toBeLessThan(2000);
  });

  it('a reset during the handshake → connection_reset as a failed handshake', async () => {
    const srv = await track(startResetServer({ during: 'handshake' }));
    const { s } = await stress(srv.url, { connections: 3 });
    expect(s.errors).toEqual({ connection_reset: 3 });
    expect(s.connections).toMatchObject({ attempted: 3, failed: 3 });
  });

  it.each([1008, 1011, 1013])('a close with %i after 3 replies → connection_closed_%i; the target is not "gone"', async (code) => {
    const srv = await track(startFaultServer(3, { close: code } satisfies Fault));
    const { s, result, ms } = await stress(srv.url);
    expect(s.errors).toEqual({ [`connection_closed_${code}`]: 4 });
    expect(s.messages).toMatchObject({ sent: 16, received: 12, lost: 4 });
    expect(targetLost(result), 'a close frame with a code: the server is alive').toBe(0);
    expect(ms).toBeLessThan(2000);
  });

  it('a target that stops answering after 2 replies: reply_timeout, then connection_stalled — the run ends on schedule', async () => {
    const srv = await track(startFaultServer(2, 'blackhole'));
    const replyTimeoutMs = 150;
    const { s, ms } = await stress(srv.url, { connections: 3, messages: 50, replyTimeoutMs });
    // Per connection: 2 answered, then timeouts until 3 reply timeouts in a row passed with nothing
    // received (the first one after the last reply restarts the count): 4 timeouts, then given up.
    expect(s.errors[CONNECTION_STALLED]).toBe(3);
    expect(s.errors.reply_timeout).toBe(12);
    expect(s.messages).toMatchObject({ sent: 18, received: 6, timedOut: 12, lost: 0 });
    expect(s.connections).toMatchObject({ dropped: 3, completed: 0 });
    // Not 48 × 150 ms of waiting into the void: about 5 reply timeouts.
    expect(ms).toBeLessThan(2000);
  });

  it('a close frame whose socket is then held open: the close is bounded by closeTimeoutMs, not ws\' 30 s', async () => {
    const srv = await track(startFaultServer(1, 'close-and-hold'));
    const { s, ms } = await stress(srv.url, { connections: 2, messages: 5, replyTimeoutMs: 300, closeTimeoutMs: 200 });
    expect(s.errors.connection_closed_1008).toBe(2);
    expect(s.messages.sent).toBe(4);
    expect(s.messages.received).toBe(2);
    expect(ms).toBeLessThan(2500);
  });

  it('the target process dies mid-run: every connection dropped without a close frame, target lost', async () => {
    const srv = await track(startTestServer({ replyDelayMs: 5 }));
    setTimeout(() => void srv.close(), 150);
    const { s, result, ms } = await stress(srv.url, { connections: 5, messages: 100_000 });
    const gone = (s.errors.connection_closed_1006 ?? 0) + (s.errors.connection_reset ?? 0);
    expect(gone).toBe(5);
    expect(s.connections.dropped).toBe(5);
    expect(s.messages.sent).toBeLessThan(500_000);
    expect(targetLost(result)).toBe(1);
    expect(ms).toBeLessThan(2000);
  });
});

describe('a script run (wsload run) under the same faults', () => {
  const PING = '- send:\n    payload: { type: ping }\n    match: { json: "$.type", value: pong }\n    timeout: 0.3';

  it('a reset mid-flow fails the user with connection_reset; its request is lost', async () => {
    const srv = await track(startResetServer());
    const started = performance.now();
    const { s } = await run({ target: srv.url, flow: PING });
    expect(s.vusers).toMatchObject({ created: 1, failed: 1 });
    expect(s.errors).toEqual({ connection_reset: 1 });
    expect(s.messages).toMatchObject({ correlated: 1, replied: 0, lost: 1, timedOut: 0 });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('a target that stops answering (and reading): reply_timeout, and the close is bounded', async () => {
    const srv = await track(startFaultServer(1, 'blackhole'));
    const started = performance.now();
    const { s } = await run({ target: srv.url, flow: `- loop:\n${PING.split('\n').map((l) => `    ${l}`).join('\n')}\n  count: 5` }, { closeTimeoutMs: 300 });
    expect(s.vusers).toMatchObject({ created: 1, failed: 1 });
    expect(s.errors).toEqual({ reply_timeout: 1 });
    expect(s.messages).toMatchObject({ correlated: 2, replied: 1, timedOut: 1 });
    expect(performance.now() - started, 'one reply timeout + one bounded close').toBeLessThan(2000);
  });

  it('a close with 1013 mid-flow → connection_closed_1013', async () => {
    const srv = await track(startFaultServer(1, { close: 1013 }));
    const { s } = await run({ target: srv.url, flow: `${PING}\n${PING}` });
    expect(s.errors).toEqual({ connection_closed_1013: 1 });
    expect(s.messages).toMatchObject({ correlated: 2, replied: 1, lost: 1 });
  });
});

describe('connection failures: DNS, TLS, subprotocol', () => {
  function connectOnce(url: string, wsOptions: Record<string, unknown> = {}, subprotocols?: string[]): Promise<{ kind: string; message: string } | 'open'> {
    return new Promise((resolve) => {
      const conn = new Connection(url, {
        onOpen: () => { resolve('open'); conn.terminate(); },
        onConnectFailed: (kind, error) => resolve({ kind, message: error.message }),
        onMessage: () => {},
        onClose: () => {},
      }, { connectTimeoutMs: 2000, closeTimeoutMs: 200, clock: realClock, wsOptions, ...(subprotocols ? { subprotocols } : {}) });
      conn.open();
    });
  }

  it('a name that does not resolve (an injected lookup: no DNS query leaves the machine) → dns_failure', async () => {
    const r = await connectOnce('ws://wsload-test.invalid:8000/ws', { lookup: failingLookup });
    expect(r).toEqual({ kind: 'dns_failure', message: 'getaddrinfo ENOTFOUND wsload-test.invalid' });
  });

  const pem = selfSignedCert();
  it.skipIf(pem === undefined)('a self-signed certificate → tls_error; accepted with rejectUnauthorized: false', async () => {
    const srv = await track(startTlsServer(pem!));
    expect(await connectOnce(srv.url)).toEqual({ kind: 'tls_error', message: 'self-signed certificate' });
    expect(await connectOnce(srv.url, { rejectUnauthorized: false })).toBe('open');
  });

  it('wss:// against a plain ws:// server → tls_error (wrong version number)', async () => {
    const srv = await track(startTestServer());
    const r = await connectOnce(srv.url.replace('ws://', 'wss://'));
    expect(r).toMatchObject({ kind: 'tls_error', message: expect.stringMatching(/wrong version number/) });
  });

  it('a server that agrees to none of the subprotocols offered → subprotocol_mismatch', async () => {
    const srv = await track(startNoSubprotocolServer());
    expect(await connectOnce(srv.url, {}, ['chat.v2'])).toEqual({ kind: 'subprotocol_mismatch', message: 'Server sent no subprotocol' });
  });
});

describe('TargetWatch', () => {
  it('lost: the run ends on a streak of drops and refusals with nothing alive after them', () => {
    const w = new TargetWatch();
    for (let i = 0; i < 3; i++) w.opened();
    w.closed(1000, undefined); // one finished normally
    w.closed(1006, 'connection_closed_1006');
    w.closed(1006, 'connection_reset');
    expect(w.lost).toBe(true);
    w.connectFailed('connect_refused');
    expect(w.lost).toBe(true);
  });
  it('not lost: a sign of life after the drops, a close with a code, or one drop among many', () => {
    const a = new TargetWatch();
    a.opened(); a.opened(); a.opened();
    a.closed(1006, 'connection_closed_1006');
    a.closed(1006, 'connection_closed_1006');
    a.opened();
    expect(a.lost, 'a handshake succeeded after').toBe(false);
    const b = new TargetWatch();
    b.opened(); b.opened();
    b.closed(1011, 'connection_closed_1011');
    b.closed(1011, 'connection_closed_1011');
    expect(b.lost, 'the server closed them itself').toBe(false);
    const c = new TargetWatch();
    c.opened(); c.opened(); c.opened();
    c.closed(1000, undefined); c.closed(1000, undefined);
    c.closed(1006, 'connection_closed_1006');
    expect(c.lost, 'a single drop at the end').toBe(false);
    const d = new TargetWatch();
    d.connectFailed('connect_refused'); d.connectFailed('connect_refused');
    expect(d.lost, 'never reached: unreachable, not lost').toBe(false);
    const e = new TargetWatch();
    e.opened(); e.opened();
    e.closed(1006, 'connection_stalled');
    e.closed(1006, 'connection_stalled');
    expect(e.lost, 'our own decision says nothing about the target').toBe(false);
  });
  it('a run with a single connection: its drop is enough', () => {
    const w = new TargetWatch();
    w.opened();
    w.closed(1006, 'connection_closed_1006');
    expect(w.lost).toBe(true);
  });
});
