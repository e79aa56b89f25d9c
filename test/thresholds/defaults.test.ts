import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms, type MetricsSnapshot } from '../../src/metrics/index.js';
import { defaultThresholds } from '../../src/thresholds/defaults.js';
import { evaluate, evaluateThreshold, overall } from '../../src/thresholds/evaluate.js';
import { buildThresholdSet } from '../../src/thresholds/set.js';
import type { Threshold, Verdict } from '../../src/thresholds/types.js';
import { createMetricView, type ViewContext } from '../../src/thresholds/view.js';
import { snapshot as runSnapshot, type Run as RunSpec } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

type Run = Omit<RunSpec, 'gauges' | 'rtt'> & {
  /** Round trips in ms (recorded as ws.rtt.ping, and so in ws.rtt). */
  rtt?: number[];
};

const snapshot = (run: Run): MetricsSnapshot => runSnapshot({ ...run, rtt: { ping: run.rtt ?? [] } });

/** 1000 round trips whose p50, p95 and p99 are the given values (ranks 500, 950, 990). */
function latencies(p50: number, p95: number, p99: number): number[] {
  return [...Array<number>(500).fill(p50), ...Array<number>(450).fill(p95), ...Array<number>(50).fill(p99)];
}

/** A healthy stress run: every figure meets its target. */
const healthy: Required<Run> = {
  counters: {
    'connections.attempted': 100,
    'connections.successful': 100,
    'connections.failed': 0,
    'messages.sent': 5000,
    'messages.received': 5000,
  },
  errors: {},
  rtt: latencies(5, 10, 20),
  durationMs: 2000,
};

const byId = (verdicts: Verdict[]): Record<string, Verdict> => Object.fromEntries(verdicts.map((v) => [v.id.replace('default.', ''), v]));

function judge(run: Run, ctx: ViewContext = {}): Record<string, Verdict> {
  const set = buildThresholdSet({});
  return byId(evaluate(set, createMetricView(snapshot({ ...healthy, ...run, counters: { ...healthy.counters, ...run.counters } }), ctx)));
}

function one(key: string, run: Run, ctx: ViewContext = {}): Verdict {
  const t = defaultThresholds().find((d) => d.id === `default.${key}`) as Threshold;
  return evaluateThreshold(t, createMetricView(snapshot({ ...healthy, ...run, counters: { ...healthy.counters, ...run.counters } }), ctx));
}

describe('default thresholds (the seed table)', () => {
  it('are the six rows, each with a target and a critical level', () => {
    expect(
      defaultThresholds().map((t) => [t.id, t.name, t.checks.map((c) => `${c.level}: ${c.expression}`)]),
    ).toEqual([
      ['default.connection_success_rate', 'Connection success rate', ['target: connections.success_rate > 99%', 'critical: connections.success_rate >= 95%']],
      ['default.message_throughput', 'Message throughput', ['target: messages.per_second > 1000/s', 'critical: messages.per_second >= 500/s']],
      ['default.p50_latency', 'P50 latency', ['target: ws.rtt.p50 < 20ms', 'critical: ws.rtt.p50 <= 100ms']],
      ['default.p95_latency', 'P95 latency', ['target: ws.rtt.p95 < 50ms', 'critical: ws.rtt.p95 <= 200ms']],
      ['default.p99_latency', 'P99 latency', ['target: ws.rtt.p99 < 100ms', 'critical: ws.rtt.p99 <= 500ms']],
      ['default.error_rate', 'Error rate', ['target: errors.rate < 0.1%', 'critical: errors.rate <= 5%']],
    ]);
  });

  it('are all met by a healthy run, with messages that say so', () => {
    const v = judge({});
    expect(Object.values(v).map((x) => x.status)).toEqual(['met', 'met', 'met', 'met', 'met', 'met']);
    expect(v.connection_success_rate!.message).toBe('connections.success_rate = 100% meets target > 99%');
    expect(v.message_throughput!.message).toBe('messages.per_second = 2500/s meets target > 1000/s');
    expect(v.p50_latency!.message).toBe('ws.rtt.p50 = 5.003 ms meets target < 20 ms');
    expect(v.error_rate!.message).toBe('errors.rate = 0% meets target < 0.1%');
    expect(v.p99_latency).toMatchObject({
      status: 'met',
      decidedBy: 'target',
      subject: 'ws.rtt.p99',
      actual: 20.015,
      unit: 'ms',
      target: 'ws.rtt.p99 < 100ms',
      critical: 'ws.rtt.p99 <= 500ms',
      checks: [
        { level: 'target', expression: 'ws.rtt.p99 < 100ms', holds: true, crossedWhen: '>= 100 ms' },
        { level: 'critical', expression: 'ws.rtt.p99 <= 500ms', holds: true, crossedWhen: '> 500 ms' },
      ],
      values: { 'ws.rtt.p99': 20.015 },
    });
    expect(overall(Object.values(v))).toEqual({
      status: 'passed',
      exitCode: 0,
      counts: { met: 6, warning: 0, critical: 0, not_judged: 0 },
      summary: 'thresholds: 6 met, 0 warnings, 0 critical',
    });
  });

  describe('connection success rate: target > 99 %, critical < 95 %', () => {
    const rate = (successful: number, attempted = 1000): Verdict =>
      one('connection_success_rate', { counters: { 'connections.attempted': attempted, 'connections.successful': successful } });

    it('is met above 99 %', () => {
      expect(rate(991)).toMatchObject({ status: 'met', actual: 0.991, message: 'connections.success_rate = 99.1% meets target > 99%' });
    });
    it('is a warning at exactly 99 % (the target is strictly above)', () => {
      expect(rate(990)).toMatchObject({ status: 'warning', decidedBy: 'target', message: 'connections.success_rate = 99% misses target > 99%' });
    });
    it('is a warning at exactly 95 % (critical is strictly below)', () => {
      expect(rate(950)).toMatchObject({ status: 'warning', message: 'connections.success_rate = 95% misses target > 99%' });
    });
    it('is critical below 95 %', () => {
      expect(rate(949)).toMatchObject({ status: 'critical', decidedBy: 'critical', actual: 0.949, message: 'connections.success_rate = 94.9% crosses critical < 95%' });
    });
    it('is not judged when no connection was attempted', () => {
      expect(rate(0, 0)).toMatchObject({ status: 'not_judged', reason: 'no connection was attempted', message: 'connections.success_rate not judged: no connection was attempted' });
    });
  });

  describe('error rate: errors of every kind ÷ (messages sent + connections attempted); target < 0.1 %, critical > 5 %', () => {
    // 100 connections + 900 messages = 1000 opportunities for an error.
    const errors = (n: number): Verdict => one('error_rate', { counters: { 'messages.sent': 900 }, errors: n === 0 ? {} : { reply_timeout: n } });

    it('is met below 0.1 %', () => expect(errors(0).status).toBe('met'));
    it('is a warning at exactly 0.1 %', () => expect(errors(1)).toMatchObject({ status: 'warning', message: 'errors.rate = 0.1% misses target < 0.1%' }));
    it('is a warning at exactly 5 %', () => expect(errors(50)).toMatchObject({ status: 'warning', actual: 0.05 }));
    it('is critical above 5 %', () => expect(errors(51)).toMatchObject({ status: 'critical', message: 'errors.rate = 5.1% crosses critical > 5%' }));
  });

  describe('latency percentiles on ws.rtt (HDR reads a value as the top of its bucket, within 0.1 %)', () => {
    const lat = (key: string, p50: number, p95: number, p99: number): Verdict => one(key, { rtt: latencies(p50, p95, p99) });

    it('P50: target < 20 ms, critical > 100 ms', () => {
      expect(lat('p50_latency', 19.9, 30, 40)).toMatchObject({ status: 'met', actual: 19.903 });
      // 20 ms reads 20.015 ms: not under 20.
      expect(lat('p50_latency', 20, 30, 40)).toMatchObject({ status: 'warning', message: 'ws.rtt.p50 = 20.015 ms misses target < 20 ms' });
      expect(lat('p50_latency', 99.9, 120, 130)).toMatchObject({ status: 'warning', actual: 99.903 });
      expect(lat('p50_latency', 100.1, 120, 130)).toMatchObject({ status: 'critical', message: 'ws.rtt.p50 = 100.159 ms crosses critical > 100 ms' });
    });

    it('P95: target < 50 ms, critical > 200 ms', () => {
      expect(lat('p95_latency', 5, 49.9, 60)).toMatchObject({ status: 'met', actual: 49.919 });
      expect(lat('p95_latency', 5, 50, 60)).toMatchObject({ status: 'warning', actual: 50.015 });
      expect(lat('p95_latency', 5, 199.9, 250)).toMatchObject({ status: 'warning', actual: 199.935 });
      expect(lat('p95_latency', 5, 200.2, 250)).toMatchObject({ status: 'critical', message: 'ws.rtt.p95 = 200.319 ms crosses critical > 200 ms' });
    });

    it('P99: target < 100 ms, critical > 500 ms', () => {
      expect(lat('p99_latency', 5, 10, 99.9)).toMatchObject({ status: 'met' });
      expect(lat('p99_latency', 5, 10, 150)).toMatchObject({ status: 'warning', message: 'ws.rtt.p99 = 150.015 ms misses target < 100 ms' });
      expect(lat('p99_latency', 5, 10, 499)).toMatchObject({ status: 'warning' });
      expect(lat('p99_latency', 5, 10, 612.3)).toMatchObject({ status: 'critical', message: 'ws.rtt.p99 = 612.351 ms crosses critical > 500 ms' });
    });

    it('are not judged when no reply was timed', () => {
      const v = one('p95_latency', { rtt: [] });
      expect(v).toMatchObject({
        status: 'not_judged',
        reason: "no values were recorded in 'ws.rtt'",
        message: "ws.rtt.p95 not judged: no values were recorded in 'ws.rtt'",
        values: { 'ws.rtt.p95': null },
      });
      expect(v.actual).toBeUndefined();
    });
  });

  describe('message throughput: target > 1000/s, critical < 500/s, judged only where the load could reach 1000/s', () => {
    const tp = (received: number, ctx: ViewContext = {}, sent = 5000): Verdict =>
      one('message_throughput', { counters: { 'messages.sent': sent, 'messages.received': received }, durationMs: 2000 }, ctx);

    it('judges a closed loop as fast as possible (offered load unbounded)', () => {
      expect(tp(2100)).toMatchObject({ status: 'met', actual: 1050 });
      expect(tp(2000)).toMatchObject({ status: 'warning', message: 'messages.per_second = 1000/s misses target > 1000/s' });
      expect(tp(1000)).toMatchObject({ status: 'warning', actual: 500 });
      expect(tp(998)).toMatchObject({ status: 'critical', message: 'messages.per_second = 499/s crosses critical < 500/s' });
    });

    it('judges an offered load that could reach the target', () => {
      expect(tp(998, { offeredRatePerSec: 1000 }).status).toBe('critical');
      expect(tp(2100, { offeredRatePerSec: 5000 }).status).toBe('met');
    });

    it('does not judge an offered load below the target, and says why', () => {
      expect(tp(998, { offeredRatePerSec: 800 })).toMatchObject({
        status: 'not_judged',
        reason: 'offered load 800 msg/s is below the 1000 msg/s target',
        message: 'Message throughput not judged: offered load 800 msg/s is below the 1000 msg/s target',
      });
      expect(tp(998, { offeredRatePerSec: 'unknown' })).toMatchObject({
        status: 'not_judged',
        reason: 'the offered message rate is not known; throughput is judged only where the load could reach 1000 msg/s',
      });
    });

    it('does not judge a run with fewer messages than one second at the target', () => {
      expect(tp(999, {}, 999)).toMatchObject({
        status: 'not_judged',
        reason: 'only 999 messages were sent; judging throughput needs at least 1000',
      });
      expect(tp(1000, {}, 1000).status).toBe('warning');
    });
  });

  it('judge a mixed run with one verdict per row', () => {
    const v = judge({ counters: { 'connections.successful': 96 }, errors: { connect_timeout: 4 }, rtt: latencies(12, 60, 700) });
    expect(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x.status]))).toEqual({
      connection_success_rate: 'warning',
      message_throughput: 'met',
      p50_latency: 'met',
      p95_latency: 'warning',
      p99_latency: 'critical',
      error_rate: 'met',
    });
  });
});

describe('overall', () => {
  const verdict = (status: Verdict['status']): Verdict => ({ id: status, name: status, source: 'default', status, unit: 'number', checks: [], values: {}, message: '', abortOnFail: false });

  it('fails with exit 3 when a critical level is crossed', () => {
    expect(overall([verdict('met'), verdict('warning'), verdict('critical')])).toEqual({
      status: 'failed',
      exitCode: 3,
      counts: { met: 1, warning: 1, critical: 1, not_judged: 0 },
      summary: 'thresholds: 1 met, 1 warning, 1 critical',
    });
  });

  it('passes warnings alone with exit 0, unless strict', () => {
    expect(overall([verdict('met'), verdict('warning')])).toMatchObject({ status: 'warning', exitCode: 0 });
    expect(overall([verdict('met'), verdict('warning')], { strict: true })).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(overall([verdict('met')], { strict: true })).toMatchObject({ status: 'passed', exitCode: 0 });
  });

  it('counts not-judged verdicts without failing on them', () => {
    expect(overall([verdict('not_judged'), verdict('not_judged')], { strict: true })).toEqual({
      status: 'passed',
      exitCode: 0,
      counts: { met: 0, warning: 0, critical: 0, not_judged: 2 },
      summary: 'thresholds: 0 met, 0 warnings, 0 critical, 2 not judged',
    });
    expect(overall([])).toMatchObject({ status: 'passed', exitCode: 0 });
  });

  it('fails a run aborted by a threshold, whatever the final verdicts say', () => {
    expect(overall([verdict('met')], { aborted: true })).toMatchObject({ status: 'failed', exitCode: 3 });
  });
});
