/**
 * Thresholds: parse expressions and declarations, judge a metrics snapshot, decide the exit code.
 * Pure: no sockets, no process, no printing.
 */
export { parseExpression, ThresholdSyntaxError, metricRefs, refName, aggregateSuffix } from './expression.js';
export type { Expr, Aggregate, AggregateName, CompareOp, ArithOp, ParseOptions } from './expression.js';
export { createMetricView, percentileOfSuffix } from './view.js';
export type { MetricView, ViewContext, Resolved } from './view.js';
export { formatValue, formatNumber } from './format.js';
export type { ValueUnit } from './format.js';
export { STATUS_MARK, STATUS_TEXT, countVerdicts, verdictDetail, verdictLine } from './verdict-text.js';
export type { StatusColors } from './verdict-text.js';
export { parseThresholdArg, parseCliThresholds } from './cli.js';
export { parseSlo } from './slo.js';
export { parseEnsure, LEGACY_LATENCY_METRIC } from './ensure.js';
export { defaultThresholds, THROUGHPUT_TARGET_PER_SEC } from './defaults.js';
export { thresholdsFromConfig, buildThresholdSet } from './set.js';
export type { DefaultsMode, ThresholdSources } from './set.js';
export { evaluate, evaluateThreshold, overall } from './evaluate.js';
export type { Outcome, OverallOptions } from './evaluate.js';
export { createAbortWatcher, DEFAULT_ABORT_CONSECUTIVE } from './abort.js';
export type { AbortWatcher, AbortWatcherOptions, AbortDecision } from './abort.js';
export type {
  Check,
  CheckResult,
  JudgeCondition,
  Level,
  ParsedThresholds,
  Threshold,
  ThresholdIssue,
  ThresholdSet,
  ThresholdSource,
  Verdict,
  VerdictStatus,
} from './types.js';
