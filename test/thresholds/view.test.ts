import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms, summarizeSnapshot } from '../../src/metrics/index.js';
import { createMetricView } from '../../src/thresholds/view.js';
import { snapshot } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

describe('createMetricView', () => {
  const snap = snapshot({
    counters: {
      'connections.attempted': 200,
      'connections.successful': 190,
      'connections.failed': 10,
      'messages.sent': 1000,
      'messages.received': 990,
    },
    gauges: { 'connections.active': 7 },
    errors: { connect_timeout: 10, reply_timeout: 10 },
    rtt: { ping: oneToHundred, agent_message: [200] },
    durationMs: 2000,
  });
  const view = createMetricView(snap);

  it('reads counters, gauges and errors by kind', () => {
    expect(view.durationSec).toBe(2);
    expect(view.resolve('messages.sent')).toEqual({ value: 1000, unit: 'count' });
    expect(view.resolve('connections.active')).toEqual({ value: 7, unit: 'number' });
    expect(view.resolve('errors.reply_timeout')).toEqual({ value: 10, unit: 'count' });
    // A documented kind that did not happen is 0; an unknown one is not made up.
    expect(view.resolve('errors.connection_closed_1006')).toEqual({ value: 0, unit: 'count' });
    expect(view.resolve('errors.ETIMEDOUT')).toEqual({ value: undefined, unit: 'number', reason: "unknown metric 'errors.ETIMEDOUT'" });
  });

  it('reads histogram aggregates in ms, the same figures the reports print', () => {
    const summary = summarizeSnapshot(snap).latency['ws.rtt.ping']!;
    expect(view.get('ws.rtt.ping.count')).toBe(100);
    expect(view.get('ws.rtt.ping.min')).toBe(1);
    // HDR reports a value within 0.1 %: the top of its bucket (100 ms reads 100.031 ms).
    expect(view.get('ws.rtt.ping.max')).toBe(summary.max);
    expect(view.get('ws.rtt.ping.max')).toBeCloseTo(100, 1);
    for (const k of ['p50', 'p75', 'p90', 'p95', 'p99', 'p999'] as const) expect(view.get(`ws.rtt.ping.${k}`)).toBe(summary[k]);
    expect(view.get('ws.rtt.ping.median')).toBe(summary.p50);
    expect(view.get('ws.rtt.ping.med')).toBe(summary.p50);
    expect(view.get('ws.rtt.ping.mean')).toBe(summary.mean);
    expect(view.get('ws.rtt.ping.avg')).toBe(summary.mean);
    expect(view.get('ws.rtt.ping.stddev')).toBe(summary.stddev);
    expect(view.resolve('ws.rtt.ping.p95').unit).toBe('ms');
    expect(view.resolve('ws.rtt.ping.count').unit).toBe('count');
    // ws.rtt holds every type.
    expect(view.get('ws.rtt.count')).toBe(101);
    expect(view.get('ws.rtt.max')).toBeCloseTo(200, 0);
  });

  it('reads k6 aggregates of a histogram, p(N) for any N', () => {
    const summary = summarizeSnapshot(snap).latency['ws.rtt.ping']!;
    expect(view.aggregate('ws.rtt.ping', { kind: 'percentile', p: 95 })).toEqual({ value: summary.p95, unit: 'ms' });
    expect(view.aggregate('ws.rtt.ping', { kind: 'percentile', p: 99.9 }).value).toBe(summary.p999);
    expect(view.aggregate('ws.rtt.ping', { kind: 'percentile', p: 100 }).value).toBe(summary.max);
    const p42 = view.aggregate('ws.rtt.ping', { kind: 'percentile', p: 42 }).value;
    expect(p42).toBeCloseTo(42, 1);
    expect(view.get('ws.rtt.ping.p42')).toBe(p42);
    expect(view.aggregate('ws.rtt.ping', { kind: 'avg' }).value).toBe(summary.mean);
    expect(view.aggregate('ws.rtt.ping', { kind: 'count' })).toEqual({ value: 100, unit: 'count' });
    expect(view.aggregate('ws.rtt.ping', { kind: 'rate' }).reason).toBe(
      "'rate' does not apply to histogram 'ws.rtt.ping': use p(N), avg, med, min, max or count",
    );
  });

  it('derives rates: connection success, throughput, errors', () => {
    expect(view.resolve('connections.success_rate')).toEqual({ value: 0.95, unit: 'ratio' });
    expect(view.resolve('connections.failure_rate')).toEqual({ value: 0.05, unit: 'ratio' });
    expect(view.resolve('messages.per_second')).toEqual({ value: 495, unit: 'per_second' });
    expect(view.get('messages.throughput')).toBe(495);
    expect(view.get('messages.answered_rate')).toBe(0.99);
    expect(view.resolve('errors.total')).toEqual({ value: 20, unit: 'count' });
    // errors of every kind ÷ (messages sent + connections attempted)
    expect(view.resolve('errors.rate')).toEqual({ value: 20 / 1200, unit: 'ratio' });
  });

  it("reads k6's count / rate / value of a figure: rate of a counter is per second, of a ratio the ratio", () => {
    expect(view.aggregate('messages.sent', { kind: 'count' })).toEqual({ value: 1000, unit: 'count' });
    expect(view.aggregate('messages.sent', { kind: 'rate' })).toEqual({ value: 500, unit: 'per_second' });
    expect(view.get('messages.sent.rate')).toBe(500);
    expect(view.aggregate('connections.success_rate', { kind: 'rate' })).toEqual({ value: 0.95, unit: 'ratio' });
    expect(view.aggregate('connections.active', { kind: 'value' })).toEqual({ value: 7, unit: 'number' });
    expect(view.aggregate('messages.sent', { kind: 'percentile', p: 95 }).reason).toBe("p(95) needs a histogram, and 'messages.sent' is a counter");
    // Artillery's WebSocket engine names.
    expect(view.get('websocket.messages_sent')).toBe(1000);
    expect(view.get('websocket.send_rate')).toBe(500);
  });

  it('resolves what it cannot read to undefined with the reason, never to a made-up number', () => {
    expect(view.resolve('ws.rtt.pp99')).toEqual({ value: undefined, unit: 'number', reason: "unknown metric 'ws.rtt.pp99' (did you mean 'ws.rtt.p99'?)" });
    expect(view.resolve('ws.rtt')).toEqual({ value: undefined, unit: 'ms', reason: "'ws.rtt' is a histogram: name an aggregate such as 'ws.rtt.p95'" });
    expect(view.resolve('http.response_time.p99').reason).toBe(
      "unknown metric 'http.response_time.p99' (wsload's round-trip histogram is 'ws.rtt', e.g. 'ws.rtt.p99')",
    );
    expect(view.resolve('vusers.failed_rate').reason).toBe('vusers.created was not measured (this run has no virtual users)');
    // A histogram wsload records, with nothing recorded: no percentile, but a count of 0.
    expect(view.resolve('ws.connect.p95')).toEqual({ value: undefined, unit: 'ms', reason: "no values were recorded in 'ws.connect'" });
    expect(view.get('ws.connect.count')).toBe(0);
    expect(view.get('ws.rtt.subscribe.count')).toBe(0);
  });

  it('explains derived figures that have nothing to divide by', () => {
    const empty = createMetricView(snapshot({ counters: { 'connections.attempted': 0, 'messages.sent': 0, 'vusers.created': 0 }, durationMs: 0 }));
    expect(empty.resolve('connections.success_rate').reason).toBe('no connection was attempted');
    expect(empty.resolve('messages.per_second').reason).toBe('messages.received was not measured');
    expect(empty.resolve('messages.answered_rate').reason).toBe('no message was sent');
    expect(empty.resolve('errors.rate').reason).toBe('no connection was attempted and no message was sent');
    expect(empty.resolve('vusers.failed_rate').reason).toBe('no virtual user was created');
    expect(empty.get('errors.total')).toBe(0);
    const bare = createMetricView(snapshot({ counters: { 'messages.received': 5 }, durationMs: 0 }));
    expect(bare.resolve('messages.per_second').reason).toBe('the run lasted 0 s');
    expect(bare.resolve('connections.success_rate').reason).toBe('connections.attempted was not measured');
    expect(bare.resolve('errors.rate').reason).toBe('neither messages.sent nor connections.attempted was measured');
  });

  it('derives the failed share of virtual users when the run has them', () => {
    const v = createMetricView(snapshot({ counters: { 'vusers.created': 40, 'vusers.failed': 2, 'vusers.completed': 38 } }));
    expect(v.resolve('vusers.failed_rate')).toEqual({ value: 0.05, unit: 'ratio' });
  });

  it('lists the names that resolve, for did-you-mean', () => {
    const names = view.names();
    expect(names).toContain('connections.success_rate');
    expect(names).toContain('errors.reply_timeout');
    expect(names).toContain('ws.rtt.ping.p99');
    expect(names).not.toContain('vusers.failed_rate');
  });
});
