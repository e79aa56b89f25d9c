/**
 * The stress text summary and its error labels, from a hand-made summary (no sockets).
 */
import { describe, expect, it } from 'vitest';
import type { LatencyFigures } from '../../src/report/latency-figures.js';
import type { StressSummary } from '../../src/report/stress-summary.js';
import { errorLabel, formatStressText } from '../../src/report/stress-text.js';

const lat = (count: number, base: number): LatencyFigures => ({ count, avg: base + 2.345, min: base, p50: base + 0.125, p95: 25, p99: 45, p999: 50, max: 60 });

function summary(over: Partial<StressSummary> = {}): StressSummary {
  return {
    durationSec: 15.234,
    connections: { attempted: 1000, successful: 998, failed: 2, dropped: 0, completed: 998, successRate: 99.8 },
    messages: { sent: 9980, received: 9980, perSecond: 655.22, timedOut: 0, lost: 0, unanswered: 0, unsolicited: 0, late: 0, bytesSent: 0, bytesReceived: 0 },
    latency: lat(9980, 10),
    latencyByType: {},
    connect: lat(998, 1),
    errors: { connect_timeout: 2 },
    ...over,
  };
}

describe('formatStressText', () => {
  it('renders the seed\'s block exactly', () => {
    expect(formatStressText(summary())).toBe(`========================================
WEBSOCKET STRESS TEST RESULTS
========================================
Duration: 15.23s
Connections attempted: 1000
Connections successful: 998
Connections failed: 2
Success rate: 99.80%
Messages sent: 9980
Messages received: 9980
Messages/sec: 655.22

Latency Statistics:
  Average: 12.35ms
  P50: 10.13ms
  P95: 25.00ms
  P99: 45.00ms

Errors encountered:
  Connection timeout: 2
========================================
`);
  });

  it('says none, n/a and interrupted where they apply; errors most frequent first', () => {
    const none = formatStressText(summary({ errors: {} }));
    expect(none).toContain('\n\nErrors encountered: none\n========================================\n');
    const empty = formatStressText(summary({ latency: lat(0, 0), errors: { reply_timeout: 1, handshake_rejected_503: 5, connection_closed_1006: 1 } }), { interrupted: true });
    expect(empty).toContain('========================================\n(interrupted: partial results)\nDuration: 15.23s\n');
    expect(empty).toContain('  Average: n/a\n  P50: n/a\n  P95: n/a\n  P99: n/a\n');
    expect(empty).toContain('Errors encountered:\n  Handshake rejected (HTTP 503): 5\n  Connection closed mid-run (1006 abnormal closure): 1\n  Reply timeout: 1\n====');
  });
});

describe('errorLabel', () => {
  it.each([
    ['connect_refused', 'Connection refused'],
    ['connect_timeout', 'Connection timeout'],
    ['dns_failure', 'DNS lookup failed'],
    ['handshake_rejected_503', 'Handshake rejected (HTTP 503)'],
    ['connection_reset', 'Connection reset'],
    ['connection_closed_1011', 'Connection closed mid-run (1011 internal error)'],
    ['connection_closed_4000', 'Connection closed mid-run (4000)'],
    ['reply_timeout', 'Reply timeout'],
    ['server_error_invalid_json', 'Server error reply (invalid_json)'],
    ['send_failed', 'Send failed'],
    ['error_eacces', 'Socket error (EACCES)'],
    ['something_new', 'something_new'],
  ])('%s → %s', (kind, label) => {
    expect(errorLabel(kind)).toBe(label);
  });
});
