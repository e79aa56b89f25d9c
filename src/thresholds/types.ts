/**
 * The threshold model: a threshold is a group of checks on one subject, one check per level
 * (target / warning / critical, as in the seed's table); a verdict is what one evaluation found.
 */
import type { Path } from '../scenario/source.js';
import type { Expr } from './expression.js';
import type { ValueUnit } from './format.js';

export type Level = 'target' | 'warning' | 'critical';
export type VerdictStatus = 'met' | 'warning' | 'critical' | 'not_judged';
/** Where a threshold came from: the built-in defaults, `--threshold`, `config.slo`, `config.ensure`. */
export type ThresholdSource = 'default' | 'cli' | 'slo' | 'ensure';

/** One expression at one level. The expression states what must hold (k6 style: `p(95)<200` passes). */
export interface Check {
  readonly level: Level;
  /** As written, without any level prefix. */
  readonly expression: string;
  readonly ast: Expr;
  /** How the checked value is named in messages when it is not a plain metric (ensure's maxErrorRate). */
  readonly subject?: { readonly label: string; readonly unit: ValueUnit };
}

/** When a threshold is judged at all (the default throughput level needs a load that could reach it). */
export interface JudgeCondition {
  /** Judged only when the offered rate (`ViewContext.offeredRatePerSec`) is at least this, msg/s. */
  readonly offeredRateAtLeast?: number;
  /** Judged only when at least this many messages were sent. */
  readonly minMessagesSent?: number;
}

export interface Threshold {
  /** Unique within a set: `default.p99`, `cli[0]`, `slo["ws.rtt.ping"][1]`, `ensure.conditions[0]`. */
  readonly id: string;
  /** For people: `P99 latency`, `ws.rtt.ping.p99`, `ws.rtt.p99 < 250`. */
  readonly name: string;
  readonly source: ThresholdSource;
  /** The metric the threshold is declared on (slo key, default's metric), when there is one. */
  readonly metric?: string;
  /** At most one per level, in the order target, warning, critical. */
  readonly checks: readonly Check[];
  /** Stop the run early when the critical level is crossed and stays crossed (`createAbortWatcher`). */
  readonly abortOnFail: boolean;
  /** Crossings before this much of the run has passed do not count towards an abort. */
  readonly delayAbortEvalMs: number;
  /**
   * A metric that cannot be read: `not_judged` (default), or `fail` — the check fails at its level,
   * as Artillery's ensure fails a check on a metric it does not know.
   */
  readonly onMissing: 'not_judged' | 'fail';
  readonly judgeOnlyIf?: JudgeCondition;
  /** Where it was declared (`['config','slo','ws.rtt.ping',1]`), for reports that point back. */
  readonly path?: Path;
}

export interface ThresholdSet {
  readonly thresholds: readonly Threshold[];
  /** True when the built-in defaults are part of the set. */
  readonly defaultsApplied: boolean;
}

export interface CheckResult {
  readonly level: Level;
  readonly expression: string;
  /** true: holds; false: fails (the level is crossed); undefined: could not be evaluated. */
  readonly holds: boolean | undefined;
  /** For a single comparison: when this level counts as crossed, e.g. `> 500 ms` for `p(99)<=500`. */
  readonly crossedWhen?: string;
}

export interface Verdict {
  readonly id: string;
  readonly name: string;
  readonly source: ThresholdSource;
  readonly metric?: string;
  readonly status: VerdictStatus;
  /** The level whose check decided the status (undefined when not judged). */
  readonly decidedBy?: Level;
  /** What the deciding check compares, for a single comparison: `ws.rtt.p99`. */
  readonly subject?: string;
  /** The subject's value, for a single comparison. */
  readonly actual?: number;
  readonly unit: ValueUnit;
  readonly target?: string;
  readonly warning?: string;
  readonly critical?: string;
  readonly checks: readonly CheckResult[];
  /** Every figure the expressions read, by name (`null`: could not be read). */
  readonly values: Readonly<Record<string, number | null>>;
  /** One line: `ws.rtt.p99 = 612.3 ms crosses critical > 500 ms`. */
  readonly message: string;
  /** Why it was not judged, or why an ensure check failed without a value. */
  readonly reason?: string;
  readonly abortOnFail: boolean;
}

/** A problem in a threshold declaration, at its place in the script. */
export interface ThresholdIssue {
  readonly severity: 'error' | 'warning';
  /** From the script's root: `['config','slo','ws.rtt.ping',1,'warning']`. */
  readonly path: Path;
  /** One line, no trailing period. */
  readonly message: string;
  readonly hint?: string;
  /** For an expression that does not parse: the 1-based column inside the string at `path`. */
  readonly column?: number;
}

/** Thresholds read from a declaration, with every problem found on the way. */
export interface ParsedThresholds {
  readonly thresholds: Threshold[];
  readonly issues: ThresholdIssue[];
}
