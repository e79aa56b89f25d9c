/**
 * The stress text summary in rate mode, from a hand-made summary (no sockets): the rate lines and
 * the corrected latency block with the raw figures beside.
 */
import { describe, expect, it } from 'vitest';
import type { LatencyFigures } from '../../src/report/latency-figures.js';
import type { StressSummary } from '../../src/report/stress-summary.js';
import { formatStressText } from '../../src/report/stress-text.js';

const lat = (count: number, p: number): LatencyFigures => ({ count, avg: p / 2, min: 0.1, p50: p / 10, p95: p * 0.8, p99: p, p999: p + 10, max: p + 12 });

function summary(over: Partial<StressSummary> = {}): StressSummary {
  return {
    durationSec: 4.1,
    connections: { attempted: 4, successful: 4, failed: 0, dropped: 0, completed: 4, successRate: 100 },
    messages: { sent: 2000, received: 2000, perSecond: 487.8, timedOut: 0, lost: 0, unanswered: 0, unsolicited: 0, late: 0, bytesSent: 0, bytesReceived: 0 },
    latency: lat(2000, 1000),
    latencyByType: {},
    connect: lat(4, 1),
    errors: {},
    rate: { target: 500, achieved: 499.8, behind: 3, behindWindow: 0, maxLagMs: 12.5 },
    latencyRaw: lat(2000, 3.21),
    ...over,
  };
}

describe('formatStressText in rate mode', () => {
  it('shows the target and achieved rate, the sends behind schedule, corrected latency with raw beside', () => {
    expect(formatStressText(summary())).toBe(`========================================
WEBSOCKET STRESS TEST RESULTS
========================================
Duration: 4.10s
Connections attempted: 4
Connections successful: 4
Connections failed: 0
Success rate: 100.00%
Messages sent: 2000
Messages received: 2000
Messages/sec: 487.80
Rate: target 500.00 msg/s, achieved 499.80 msg/s
Sends behind schedule: 3 (max lag 12.50ms)

Latency Statistics (corrected: from each message's intended send time; raw: from its actual send):
  Average: 500.00ms (raw 1.60ms)
  P50: 100.00ms (raw 0.32ms)
  P95: 800.00ms (raw 2.57ms)
  P99: 1000.00ms (raw 3.21ms)
  P99.9: 1010.00ms (raw 13.21ms)
  Max: 1012.00ms (raw 15.21ms)

Errors encountered: none
========================================
`);
  });

  it('says how many sends waited for a full window, and n/a when nothing was answered', () => {
    const text = formatStressText(summary({ rate: { target: 500, achieved: 400, behind: 600, behindWindow: 590, maxLagMs: 990 }, latency: lat(0, 0), latencyRaw: lat(0, 0) }));
    expect(text).toContain('\nSends behind schedule: 600 (max lag 990.00ms; 590 waited for a full window: raise --inflight)\n');
    expect(text).toContain('  Average: n/a\n  P50: n/a\n  P95: n/a\n  P99: n/a\n  P99.9: n/a\n  Max: n/a\n');
  });
});
