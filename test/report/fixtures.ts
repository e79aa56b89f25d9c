/**
 * Report fixtures for the report tests: a synthetic report built from a real MetricsRecorder with
 * known values, and threshold verdicts from the real evaluator.
 */
import { MetricsRecorder, type MetricsSnapshot } from '../../src/metrics/index.js';
import { enrichReport, type Verdict, type WsloadReport } from '../../src/report/document.js';
import { buildStressJson } from '../../src/report/stress-json.js';
import { summarizeStress } from '../../src/report/stress-summary.js';
import * as T from '../../src/thresholds/index.js';

export const START = Date.UTC(2025, 0, 15, 10, 0, 0);

/**
 * Two full seconds and a half: 10 connections; 100 pings answered in 1..100 ms in the first
 * second, 50 agent messages at 20 ms in the second (3 reply timeouts), 20 pings at 5 ms in the last half.
 */
export function syntheticSnapshot(): MetricsSnapshot {
  const rec = new MetricsRecorder({ startTime: START, intervalMs: 1000 });
  const attempted = rec.counter('connections.attempted');
  const successful = rec.counter('connections.successful');
  const sent = rec.counter('messages.sent');
  const received = rec.counter('messages.received');
  const active = rec.gauge('connections.active');
  const rtt = rec.histogram('ws.rtt');
  const ping = rec.histogram('ws.rtt.ping', rtt);
  const agent = rec.histogram('ws.rtt.agent_message', rtt);
  const connect = rec.histogram('ws.connect');
  attempted.value = 10;
  successful.value = 10;
  active.value = 10;
  for (let i = 0; i < 10; i++) connect.record(2000);
  for (let i = 1; i <= 100; i++) {
    sent.value++;
    received.value++;
    ping.record(i * 1000);
  }
  rec.tick(START + 1000);
  for (let i = 0; i < 53; i++) sent.value++;
  for (let i = 0; i < 50; i++) {
    received.value++;
    agent.record(20_000);
  }
  rec.error('reply_timeout', 3);
  active.value = 8;
  rec.tick(START + 2000);
  for (let i = 0; i < 20; i++) {
    sent.value++;
    received.value++;
    ping.record(5000);
  }
  active.value = 0;
  rec.counter('connections.closed').value = 10;
  const snap = rec.snapshot(START + 2500);
  rec.destroy();
  return snap;
}

/** The thresholds the synthetic report is judged by: one of each status. */
export const THRESHOLD_ARGS = ['ws.rtt.p99<10', 'warning:ws.rtt.p50<1', 'ws.rtt.p50<1000', 'ws.rtt.nosuch.p99<5'];

export function verdictsFor(snapshot: MetricsSnapshot, args = THRESHOLD_ARGS): Verdict[] {
  const set = T.buildThresholdSet({ cli: args.map((a, i) => T.parseThresholdArg(a, i)) });
  return T.evaluate(set, T.createMetricView(snapshot));
}

export function syntheticReport(opts: { verdicts?: boolean; strict?: boolean } = {}): WsloadReport {
  const snapshot = syntheticSnapshot();
  const base = buildStressJson({
    version: '0.1.0',
    aborted: false,
    partial: false,
    options: { url: 'ws://127.0.0.1:9/ws', connections: 10, messages: 17, batch: 100, inflight: 1, replyTimeoutMs: 10_000, connectTimeoutMs: 10_000, preset: null, serve: false },
    summary: summarizeStress(snapshot),
    snapshot,
  });
  return enrichReport(base, {
    ...(opts.verdicts === false ? {} : { verdicts: verdictsFor(snapshot) }),
    ...(opts.strict ? { strict: true } : {}),
    phases: [{ name: 'ramp', startSec: 0, endSec: 1 }, { name: 'steady', startSec: 1, endSec: 2.5 }],
  });
}
