/**
 * What the /metrics instrumentation costs per message, against prom-client's own hot-path calls.
 * Not a test (`vitest run` does not pick up *.bench.ts); run it with
 *   npx vitest bench test/server/metrics-cost.bench.ts --run
 * Per message the server does: messages_received[type]++, replies_sent++, and, with metrics on, one extra
 * performance.now() and a histogram bucket scan. Figures are in docs/serve.md (/metrics → cost).
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { bench, describe } from 'vitest';
import { LATENCY_BUCKETS, Received, ServerStats } from '../../src/server/metrics.js';

const stats = new ServerStats();
const registry = new Registry();
const received = new Counter({ name: 'received_total', help: 'h', labelNames: ['type'], registers: [registry] });
const replies = new Counter({ name: 'replies_total', help: 'h', registers: [registry] });
const latency = new Histogram({ name: 'latency_seconds', help: 'h', buckets: [...LATENCY_BUCKETS], registers: [registry] });
const pingChild = received.labels('ping');
let t = 0;

describe('per-message instrumentation', () => {
  bench('wsload ServerStats: 2 counters + clock + histogram', () => {
    const receivedAt = performance.now();
    stats.received[Received.ping]++;
    stats.repliesSent++;
    stats.observeLatency((performance.now() - receivedAt) / 1000);
  });

  bench('wsload ServerStats: 2 counters only (metrics off)', () => {
    stats.received[Received.ping]++;
    stats.repliesSent++;
  });

  bench('prom-client: cached labels child + counter + clock + Histogram.observe', () => {
    const receivedAt = performance.now();
    pingChild.inc();
    replies.inc();
    latency.observe((performance.now() - receivedAt) / 1000);
  });

  bench('baseline: two performance.now()', () => {
    t += performance.now() - performance.now();
  });
});
