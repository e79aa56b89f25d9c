/**
 * The seed's "Performance Targets" table as the default threshold set (for `stress`, and for
 * scripts that declare no thresholds). Each row keeps its target and critical level; the table's
 * warning column is read as "between target and critical" (docs/thresholds.md).
 */
import { parseExpression } from './expression.js';
import type { Check, JudgeCondition, Level, Threshold } from './types.js';

/** The message rate the seed targets; throughput is judged only where the load could reach it. */
export const THROUGHPUT_TARGET_PER_SEC = 1000;

interface Row {
  readonly key: string;
  readonly name: string;
  readonly metric: string;
  /** Must hold for the target to be met. */
  readonly target: string;
  /** Must hold for the run not to be critical. */
  readonly critical: string;
  readonly judgeOnlyIf?: JudgeCondition;
}

const ROWS: readonly Row[] = [
  { key: 'connection_success_rate', name: 'Connection success rate', metric: 'connections.success_rate', target: 'connections.success_rate > 99%', critical: 'connections.success_rate >= 95%' },
  {
    key: 'message_throughput',
    name: 'Message throughput',
    metric: 'messages.per_second',
    target: 'messages.per_second > 1000/s',
    critical: 'messages.per_second >= 500/s',
    // A rate over less than a second's worth of messages measures connection set-up, not throughput.
    judgeOnlyIf: { offeredRateAtLeast: THROUGHPUT_TARGET_PER_SEC, minMessagesSent: THROUGHPUT_TARGET_PER_SEC },
  },
  { key: 'p50_latency', name: 'P50 latency', metric: 'ws.rtt', target: 'ws.rtt.p50 < 20ms', critical: 'ws.rtt.p50 <= 100ms' },
  { key: 'p95_latency', name: 'P95 latency', metric: 'ws.rtt', target: 'ws.rtt.p95 < 50ms', critical: 'ws.rtt.p95 <= 200ms' },
  { key: 'p99_latency', name: 'P99 latency', metric: 'ws.rtt', target: 'ws.rtt.p99 < 100ms', critical: 'ws.rtt.p99 <= 500ms' },
  { key: 'error_rate', name: 'Error rate', metric: 'errors.rate', target: 'errors.rate < 0.1%', critical: 'errors.rate <= 5%' },
];

const check = (level: Level, expression: string): Check => ({ level, expression, ast: parseExpression(expression) });

/** A fresh copy of the default thresholds, ids `default.<row>`. */
export function defaultThresholds(): Threshold[] {
  return ROWS.map((row) => ({
    id: `default.${row.key}`,
    name: row.name,
    source: 'default',
    metric: row.metric,
    checks: [check('target', row.target), check('critical', row.critical)],
    abortOnFail: false,
    delayAbortEvalMs: 0,
    onMissing: 'not_judged',
    ...(row.judgeOnlyIf === undefined ? {} : { judgeOnlyIf: row.judgeOnlyIf }),
  }));
}
