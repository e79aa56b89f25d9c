/**
 * Judging thresholds against a metric view: each threshold gets a verdict (met / warning /
 * critical / not_judged) with the value it saw and one line saying why; `overall` turns the
 * verdicts into a status and an exit code.
 */
import { ExitCode } from '../errors.js';
import { flipOp, negateOp, refName, type CompareOp, type Expr } from './expression.js';
import { formatNumber, formatValue, type ValueUnit } from './format.js';
import type { Check, CheckResult, Level, Threshold, ThresholdSet, Verdict, VerdictStatus } from './types.js';
import { countVerdicts } from './verdict-text.js';
import type { MetricView, Resolved } from './view.js';

interface Reading {
  readonly values: Map<string, Resolved>;
  /** Why something could not be read, first problem first. */
  readonly missing: string[];
}

/** Evaluate an expression; undefined when a figure it needs cannot be read (the reason goes to `r.missing`). */
function evalExpr(e: Expr, text: string, view: MetricView, r: Reading): number | boolean | undefined {
  switch (e.kind) {
    case 'number':
      return e.value;
    case 'metric': {
      const res = e.aggregate === undefined ? view.resolve(e.name) : view.aggregate(e.name, e.aggregate);
      r.values.set(refName(e), res);
      if (res.value === undefined) r.missing.push(res.reason ?? `'${refName(e)}' could not be read`);
      return res.value;
    }
    case 'negate': {
      const v = evalExpr(e.operand, text, view, r);
      return typeof v === 'number' ? -v : undefined;
    }
    case 'arith': {
      const a = evalExpr(e.left, text, view, r);
      const b = evalExpr(e.right, text, view, r);
      if (typeof a !== 'number' || typeof b !== 'number') return undefined;
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          if (b === 0) {
            r.missing.push(`${text.slice(e.right.start, e.right.end).trim()} is 0, so '${text.slice(e.start, e.end).trim()}' has no value`);
            return undefined;
          }
          return a / b;
      }
      return undefined;
    }
    case 'compare': {
      const a = evalExpr(e.left, text, view, r);
      const b = evalExpr(e.right, text, view, r);
      if (typeof a !== 'number' || typeof b !== 'number') return undefined;
      return compare(a, e.op, b);
    }
    case 'not': {
      const v = evalExpr(e.operand, text, view, r);
      return typeof v === 'boolean' ? !v : undefined;
    }
    case 'logic': {
      // Both sides are read (no short-circuit) so the verdict lists every figure involved.
      const a = evalExpr(e.left, text, view, r);
      const b = evalExpr(e.right, text, view, r);
      if (typeof a !== 'boolean' || typeof b !== 'boolean') return undefined;
      return e.op === 'and' ? a && b : a || b;
    }
  }
}

export function compare(a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

const isLiteral = (e: Expr): boolean => e.kind === 'number' || (e.kind === 'negate' && isLiteral(e.operand));
const literalValue = (e: Expr): number => (e.kind === 'number' ? e.value : e.kind === 'negate' ? -literalValue(e.operand) : NaN);

/** A check of the form `<subject> op <number>` (either way round), normalised to subject on the left. */
interface Simple {
  readonly subject: string;
  readonly value: number | undefined;
  readonly unit: ValueUnit;
  readonly op: CompareOp;
  readonly limit: number;
}

function simpleForm(check: Check, view: MetricView, r: Reading): Simple | undefined {
  const e = check.ast;
  if (e.kind !== 'compare') return undefined;
  let side: Expr;
  let op: CompareOp;
  let limit: number;
  if (isLiteral(e.right) && !isLiteral(e.left)) {
    side = e.left;
    op = e.op;
    limit = literalValue(e.right);
  } else if (isLiteral(e.left) && !isLiteral(e.right)) {
    side = e.right;
    op = flipOp(e.op);
    limit = literalValue(e.left);
  } else {
    return undefined;
  }
  const scratch: Reading = { values: new Map(), missing: [] };
  const v = evalExpr(side, check.expression, view, scratch);
  const value = typeof v === 'number' ? v : undefined;
  if (check.subject !== undefined) return { subject: check.subject.label, value, unit: check.subject.unit, op, limit };
  if (side.kind === 'metric') {
    const name = refName(side);
    return { subject: name, value, unit: r.values.get(name)?.unit ?? 'number', op, limit };
  }
  return { subject: check.expression.slice(side.start, side.end).trim(), value, unit: 'number', op, limit };
}

const LEVEL_ORDER: readonly Level[] = ['target', 'warning', 'critical'];

/** Judge one threshold. */
export function evaluateThreshold(t: Threshold, view: MetricView): Verdict {
  const levels: Partial<Record<Level, string>> = {};
  for (const c of t.checks) levels[c.level] = c.expression;
  const base = {
    id: t.id,
    name: t.name,
    source: t.source,
    ...(t.metric === undefined ? {} : { metric: t.metric }),
    ...levels,
    abortOnFail: t.abortOnFail,
  };

  const gate = judgeGate(t, view);
  if (gate !== undefined) {
    return {
      ...base,
      status: 'not_judged',
      unit: 'number',
      checks: t.checks.map((c) => ({ level: c.level, expression: c.expression, holds: undefined })),
      values: {},
      message: `${t.name} not judged: ${gate}`,
      reason: gate,
    };
  }

  const reading: Reading = { values: new Map(), missing: [] };
  const holds = new Map<Check, boolean | undefined>();
  for (const c of t.checks) {
    const v = evalExpr(c.ast, c.expression, view, reading);
    holds.set(c, typeof v === 'boolean' ? v : undefined);
  }
  const simple = new Map<Check, Simple | undefined>();
  for (const c of t.checks) simple.set(c, simpleForm(c, view, reading));
  const values: Record<string, number | null> = {};
  for (const [name, res] of reading.values) values[name] = res.value ?? null;

  const checkResults: CheckResult[] = t.checks.map((c) => {
    const s = simple.get(c);
    return {
      level: c.level,
      expression: c.expression,
      holds: holds.get(c),
      ...(s === undefined ? {} : { crossedWhen: `${negateOp(s.op)} ${formatValue(s.limit, s.unit)}` }),
    };
  });

  const unreadable = t.checks.filter((c) => holds.get(c) === undefined);
  const reason = unreadable.length > 0 ? [...new Set(reading.missing)].join('; ') || 'could not be evaluated' : undefined;
  const first = t.checks[0];
  const firstSimple = first === undefined ? undefined : simple.get(first);
  const unit = firstSimple?.unit ?? 'number';

  if (reason !== undefined && t.onMissing === 'not_judged') {
    const who = firstSimple?.subject ?? t.name;
    return { ...base, status: 'not_judged', ...(firstSimple ? { subject: firstSimple.subject } : {}), unit, checks: checkResults, values, message: `${who} not judged: ${reason}`, reason };
  }

  // A check that cannot be read fails here (onMissing: 'fail').
  const fails = (level: Level): Check | undefined => t.checks.find((c) => c.level === level && holds.get(c) !== true);
  const critical = fails('critical');
  const warning = fails('warning');
  const target = fails('target');
  const status: VerdictStatus = critical ? 'critical' : warning || target ? 'warning' : 'met';
  const decider: Check =
    critical ?? warning ?? target ?? LEVEL_ORDER.map((l) => t.checks.find((c) => c.level === l)).find((c): c is Check => c !== undefined)!;
  const s = simple.get(decider);
  const message = describe(decider, status, s, holds.get(decider) === undefined ? reason : undefined, reading);
  return {
    ...base,
    status,
    decidedBy: decider.level,
    ...(s === undefined ? {} : { subject: s.subject, ...(s.value === undefined ? {} : { actual: s.value }) }),
    unit: s?.unit ?? unit,
    checks: checkResults,
    values,
    message,
    ...(reason === undefined ? {} : { reason }),
  };
}

function describe(check: Check, status: VerdictStatus, s: Simple | undefined, unreadable: string | undefined, r: Reading): string {
  if (unreadable !== undefined) return `${check.expression} fails (${check.level}): ${unreadable}`;
  if (s !== undefined && s.value !== undefined) {
    const head = `${s.subject} = ${formatValue(s.value, s.unit)}`;
    const lim = formatValue(s.limit, s.unit);
    if (status === 'met') return `${head} ${check.level === 'target' ? 'meets target' : 'passes'} ${s.op} ${lim}`;
    if (check.level === 'target') return `${head} misses target ${s.op} ${lim}`;
    return `${head} crosses ${check.level} ${negateOp(s.op)} ${lim}`;
  }
  const figures = [...r.values].map(([name, res]) => `${name} = ${res.value === undefined ? 'n/a' : formatValue(res.value, res.unit)}`).join(', ');
  const tail = figures === '' ? '' : `: ${figures}`;
  if (status === 'met') return `'${check.expression}' holds${tail}`;
  if (check.level === 'target') return `'${check.expression}' misses target${tail}`;
  return `'${check.expression}' fails (${check.level})${tail}`;
}

/** Why a threshold is not judged at all on this view, or undefined. */
function judgeGate(t: Threshold, view: MetricView): string | undefined {
  const cond = t.judgeOnlyIf;
  if (cond === undefined) return undefined;
  if (cond.offeredRateAtLeast !== undefined) {
    const offered = view.context.offeredRatePerSec;
    const level = formatNumber(cond.offeredRateAtLeast);
    if (offered === 'unknown') return `the offered message rate is not known; throughput is judged only where the load could reach ${level} msg/s`;
    if (offered !== undefined && offered < cond.offeredRateAtLeast) return `offered load ${formatNumber(offered)} msg/s is below the ${level} msg/s target`;
  }
  if (cond.minMessagesSent !== undefined) {
    const sent = view.get('messages.sent');
    if (sent !== undefined && sent < cond.minMessagesSent) {
      return `only ${sent} message${sent === 1 ? ' was' : 's were'} sent; judging throughput needs at least ${formatNumber(cond.minMessagesSent)}`;
    }
  }
  return undefined;
}

/** Judge every threshold of a set, in the set's order. */
export function evaluate(set: ThresholdSet, view: MetricView): Verdict[] {
  return set.thresholds.map((t) => evaluateThreshold(t, view));
}

export interface Outcome {
  /** `failed`: a critical level was crossed (or a warning under --strict, or the run was aborted by a threshold). */
  readonly status: 'passed' | 'warning' | 'failed';
  readonly exitCode: typeof ExitCode.Ok | typeof ExitCode.ThresholdCritical;
  readonly counts: Readonly<Record<VerdictStatus, number>>;
  /** `thresholds: 4 met, 1 warning, 1 critical, 1 not judged`. */
  readonly summary: string;
}

export interface OverallOptions {
  /** Warnings fail the run too (exit 3). */
  strict?: boolean;
  /** The run was stopped by an abortOnFail threshold: failed, whatever the final verdicts say. */
  aborted?: boolean;
}

export function overall(verdicts: readonly Verdict[], options: OverallOptions = {}): Outcome {
  const counts = countVerdicts(verdicts);
  const failed = counts.critical > 0 || options.aborted === true || (options.strict === true && counts.warning > 0);
  const status = failed ? 'failed' : counts.warning > 0 ? 'warning' : 'passed';
  const parts = [`${counts.met} met`, `${counts.warning} warning${counts.warning === 1 ? '' : 's'}`, `${counts.critical} critical`];
  if (counts.not_judged > 0) parts.push(`${counts.not_judged} not judged`);
  return {
    status,
    exitCode: failed ? ExitCode.ThresholdCritical : ExitCode.Ok,
    counts,
    summary: `thresholds: ${parts.join(', ')}`,
  };
}
