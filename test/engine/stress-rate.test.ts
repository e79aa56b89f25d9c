/**
 * Rate mode (open loop) with coordinated-omission-corrected latency, against a server that stalls
 * its whole event loop for 1 s once. The server runs in its own process (test/fixtures/
 * stall-server.mjs) so the stall does not stop the client's loop too. About 10 s in all.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runStress, StressMetric, type StressOptions, type StressResult } from '../../src/engine/stress.js';
import { buildStressJson } from '../../src/report/stress-json.js';
import type { LatencyFigures } from '../../src/report/latency-figures.js';
import { summarizeStress, type StressSummary } from '../../src/report/stress-summary.js';
import { formatStressText } from '../../src/report/stress-text.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { startTestServer } from '../helpers/test-servers.js';

const STALL_SERVER = fileURLToPath(new URL('../fixtures/stall-server.mjs', import.meta.url));

const { defer } = closeAfterEach();

interface StallServer {
  url: string;
  stats(): Promise<{ requests: number; stalledAt: number }>;
}

/** Fork the stall server: it stalls for `stallMs` when request number `stallAt` arrives. */
async function stallServer(stallAt: number, stallMs: number): Promise<StallServer> {
  const child: ChildProcess = fork(STALL_SERVER, [String(stallAt), String(stallMs)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  defer(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.disconnect();
  }));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`stall server exited (${code})`)));
    child.once('message', (m) => resolve((m as { port: number }).port));
  });
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    stats: () => new Promise((resolve) => {
      child.once('message', (m) => resolve(m as { requests: number; stalledAt: number }));
      child.send('stats');
    }),
  };
}

async function rateRun(url: string, o: Partial<StressOptions>): Promise<{ result: StressResult; s: StressSummary }> {
  const result = await runStress({ url, connections: 4, messages: 500, batch: 100, replyTimeoutMs: 5000, connectTimeoutMs: 5000, ...o });
  const s = summarizeStress(result.snapshot);
  expect(s.messages.sent, 'sent = received + reply_timeout + lost').toBe(s.messages.received + s.messages.timedOut + s.messages.lost);
  return { result, s };
}

const PERCENTILES = ['min', 'p50', 'p95', 'p99', 'p999', 'max', 'avg'] as const;

/**
 * Every request is sent at or after its intended time, so corrected = raw + lag ≥ raw for each
 * message; the k-th smallest corrected value is then ≥ the k-th smallest raw one, and HDR buckets
 * are monotonic: every percentile (and the mean) of corrected is ≥ raw's.
 */
function expectCorrectedAtLeastRaw(corrected: LatencyFigures, raw: LatencyFigures): void {
  expect(corrected.count).toBe(raw.count);
  for (const k of PERCENTILES) expect(corrected[k], `corrected ${k} ≥ raw ${k}`).toBeGreaterThanOrEqual(raw[k]);
}

// 4 connections × 500 messages at 500 msg/s: a 4 s schedule. The stall comes with request 200
// (≈ 0.4 s in) and holds every reply for 1 s: the ~500 requests due meanwhile wait for it.
const PLAN = { connections: 4, messages: 500, rate: 500 } as const;

describe('rate mode against a server that stalls for 1 s once', () => {
  it('a window that holds the stall: no send waits for it, the stall shows in corrected and raw alike', async () => {
    const srv = await stallServer(200, 1000);
    const { result, s } = await rateRun(srv.url, PLAN);
    expect((await srv.stats()).stalledAt, 'the server did stall').toBeGreaterThan(0);
    expect(s.messages).toMatchObject({ sent: 2000, received: 2000, timedOut: 0, lost: 0 });
    expect(s.errors).toEqual({});
    // Default window in rate mode: 125 msg/s per connection × 5 s reply timeout = 625 ≥ the ~125
    // requests a connection has in flight during the stall.
    expect(result.options.inflight).toBe(625);
    expect(result.offeredRatePerSec).toBe(500);

    const c = s.latency;
    const raw = s.latencyRaw!;
    const rate = s.rate!;
    // The stall is in the corrected tail …
    expect(c.p999, `corrected P99.9 ${c.p999} ms`).toBeGreaterThanOrEqual(900);
    expect(c.max).toBeGreaterThanOrEqual(900);
    // … and not only there: ~25 % of the messages were due during it, waiting 1000 … 0 ms.
    expect(c.p99, `corrected P99 ${c.p99} ms`).toBeGreaterThanOrEqual(500);
    expect(c.p95, `corrected P95 ${c.p95} ms`).toBeGreaterThanOrEqual(300);
    expectCorrectedAtLeastRaw(c, raw);
    // The window never filled, so no send waited for the stall: a send can only be late by the
    // client's own loop (timer ticks; on two busy cores — the stalled server spins one — some ms).
    // corrected − raw is each message's lag, at most maxLag; the raw figures see the stall as well.
    expect(rate.behindWindow, 'no send waited for a full window').toBe(0);
    expect(rate.maxLagMs, 'no send waited for the stall').toBeLessThan(250);
    expect(c.p99 - raw.p99).toBeLessThanOrEqual(rate.maxLagMs + c.p99 * 0.002);
    expect(raw.p999).toBeGreaterThanOrEqual(900);

    // The schedule was kept: achieved within 5 % of the target, and interval by interval too.
    expect(rate.target).toBe(500);
    expect(Math.abs(rate.achieved - 500) / 500, `achieved ${rate.achieved} msg/s`).toBeLessThanOrEqual(0.05);
    const snap = result.snapshot;
    expect(snap.counters[StressMetric.messagesBehind]).toBe(rate.behind);
    expect(snap.counters[StressMetric.messagesBehindWindow]).toBe(0);
    // Whole intervals inside the 4 s schedule (interval 0 holds the connects, the last is partial).
    const inner = snap.intervals.filter((i) => i.index >= 1 && i.index <= 2);
    expect(inner).toHaveLength(2);
    // On schedule, an interval of d ms holds 500·d/1000 sends ± 1; a late send can cross each of its
    // two boundaries, which moves at most 500·maxLag/1000 + 1 sends per boundary.
    const slack = 2 * ((500 * rate.maxLagMs) / 1000 + 1) + 1;
    for (const i of inner) {
      const sent = i.counters[StressMetric.messagesSent] ?? 0;
      const scheduled = (500 * i.durationMs) / 1000;
      expect(Math.abs(sent - scheduled), `interval ${i.index}: ${sent} sends in ${i.durationMs} ms (max lag ${rate.maxLagMs} ms)`).toBeLessThanOrEqual(slack);
    }
  });

  it('a window too small to hold it: sends fall behind, the raw figures hide the stall, the corrected ones keep it', async () => {
    const srv = await stallServer(200, 1000);
    // 2 in flight per connection: during the stall each connection fills its window at once and
    // every later send waits for it — what a closed-loop client does (coordinated omission).
    const { s } = await rateRun(srv.url, { ...PLAN, inflight: 2 });
    expect(s.messages).toMatchObject({ sent: 2000, received: 2000, timedOut: 0, lost: 0 });
    const c = s.latency;
    const raw = s.latencyRaw!;
    const rate = s.rate!;
    // ~500 sends were due during the stall, all but the first few went out after it, each as a
    // reply freed a slot.
    expect(rate.behindWindow, `${rate.behindWindow} sends waited for the window`).toBeGreaterThanOrEqual(400);
    expect(rate.behind).toBeGreaterThanOrEqual(rate.behindWindow);
    expect(rate.maxLagMs).toBeGreaterThanOrEqual(800);
    expectCorrectedAtLeastRaw(c, raw);
    expect(c.p999).toBeGreaterThanOrEqual(900);
    expect(c.p99, `corrected P99 ${c.p99} ms`).toBeGreaterThanOrEqual(500);
    // Raw: only the ≤ 8 requests in flight when the stall began (0.4 %) waited for it; the late
    // sends were answered quickly once they went out. The raw P99 misses the stall entirely.
    expect(raw.p99, `raw P99 ${raw.p99} ms`).toBeLessThan(100);
    expect(raw.max).toBeGreaterThanOrEqual(900);
    // The backlog went out as soon as the server recovered: the schedule still finished on time.
    expect(Math.abs(rate.achieved - 500) / 500, `achieved ${rate.achieved} msg/s`).toBeLessThanOrEqual(0.05);

    const text = formatStressText(s);
    expect(text).toContain('Rate: target 500.00 msg/s, achieved ');
    expect(text).toMatch(/\nSends behind schedule: \d+ \(max lag \d+\.\d{2}ms; \d+ waited for a full window: raise --inflight\)\n/);
    expect(text).toMatch(/\n {2}P99: \d+\.\d{2}ms \(raw \d+\.\d{2}ms\)\n {2}P99\.9: /);
  });
});

describe('rate mode, plainly', () => {
  it('per connection: 2 × 40 messages at 100/conn is 200 msg/s in total', async () => {
    const srv = await startTestServer();
    defer(() => srv.close());
    const { result, s } = await rateRun(srv.url, { connections: 2, messages: 40, rate: 100, ratePer: 'connection' });
    expect(result.offeredRatePerSec).toBe(200);
    expect(s.messages).toMatchObject({ sent: 80, received: 80 });
    expect(s.rate!.target).toBe(200);
    expect(Math.abs(s.rate!.achieved - 200) / 200).toBeLessThanOrEqual(0.05);
    const json = buildStressJson({ version: '0', aborted: false, partial: false, options: { ...result.options, preset: null, serve: false }, summary: s, snapshot: result.snapshot });
    expect(Object.keys(json)).toEqual(expect.arrayContaining(['rate', 'latency', 'latencyRaw']));
    expect(json.rate).toEqual(s.rate);
  });

  it('an abort disconnects connections idle between scheduled sends at once, not after the grace', async () => {
    const srv = await startTestServer();
    defer(() => srv.close());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const started = performance.now();
    const result = await runStress({ url: srv.url, connections: 2, messages: 1000, batch: 10, replyTimeoutMs: 5000, connectTimeoutMs: 5000, rate: 20, graceMs: 3000 }, { signal: ac.signal });
    const elapsed = performance.now() - started;
    expect(result.aborted).toBe(true);
    expect(elapsed, 'no wait for the 3 s grace').toBeLessThan(1500);
    const s = summarizeStress(result.snapshot);
    expect(s.connections.completed).toBe(2);
    expect(s.messages.sent).toBeGreaterThan(0);
    expect(s.messages.sent).toBeLessThan(20);
  });

  it('the closed loop is unchanged: no rate figures, no extra metrics — and it hides the stall', async () => {
    const srv = await stallServer(200, 1000);
    const { result, s } = await rateRun(srv.url, { connections: 4, messages: 200 });
    expect(result.offeredRatePerSec).toBeUndefined();
    expect(result.options.inflight).toBe(1);
    expect(s.rate).toBeUndefined();
    expect(s.latencyRaw).toBeUndefined();
    const snap = result.snapshot;
    for (const name of [StressMetric.rttRaw, StressMetric.sendLag]) expect(snap.histograms[name]).toBeUndefined();
    expect(snap.counters[StressMetric.messagesBehind]).toBeUndefined();
    expect(snap.counters[StressMetric.messagesBehindWindow]).toBeUndefined();
    expect(snap.gauges[StressMetric.rateTarget]).toBeUndefined();
    const json = buildStressJson({ version: '0', aborted: false, partial: false, options: { ...result.options, preset: null, serve: false }, summary: s, snapshot: snap });
    expect(Object.keys(json)).not.toContain('rate');
    expect(Object.keys(json)).not.toContain('latencyRaw');
    expect(formatStressText(s)).toContain('\nMessages/sec: ');
    expect(formatStressText(s)).not.toContain('Rate:');
    // Coordinated omission: one request per connection waited out the stall (4 of 800, 0.5 %),
    // no request was sent meanwhile — the P99 never sees the stall.
    expect(s.latency.max).toBeGreaterThanOrEqual(900);
    expect(s.latency.p99, `closed-loop P99 ${s.latency.p99} ms`).toBeLessThan(100);
  });
});
