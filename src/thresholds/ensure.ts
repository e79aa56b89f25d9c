/**
 * Artillery's `config.ensure` (the ensure plugin), run as Artillery runs it:
 * - `thresholds: [{ <metric>: N }]` — `<metric> < N`, always strict;
 * - `conditions: [{ expression, strict }]` — the expression must hold; `strict: false` makes a
 *   failure a warning ("optional" in Artillery);
 * - legacy top-level `min`, `max`, `median`, `p95`, `p99` — Artillery reads them on
 *   `http.response_time`; wsload on `ws.rtt`, with Artillery's `parseInt` of the value;
 * - `maxErrorRate: N` — `(vusers.created − vusers.completed) / vusers.created × 100 <= N`.
 * A check that reads a metric the run did not produce fails, as Artillery's does.
 */
import { describe, isRecord } from '../scenario/checker.js';
import type { Path } from '../scenario/source.js';
import type { Expr } from './expression.js';
import { parseCheck, pathText, suggestWord } from './checks.js';
import type { Check, Level, ParsedThresholds, Threshold, ThresholdIssue } from './types.js';

const LEGACY_KEYS = ['min', 'max', 'median', 'p95', 'p99'] as const;
const KNOWN_KEYS = ['thresholds', 'conditions', 'maxErrorRate', ...LEGACY_KEYS] as const;

/** The metric Artillery's legacy keys are read on, in wsload. */
export const LEGACY_LATENCY_METRIC = 'ws.rtt';

const MAX_ERROR_RATE_SUBJECT = '(vusers.created - vusers.completed) / vusers.created * 100';

function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** `<metric> < <limit>`, built without parsing: Artillery metric names may hold any character. */
function lessThan(metric: string, limit: number): { expression: string; ast: Expr } {
  const expression = `${metric} < ${limit}`;
  const m = metric.length;
  const ast: Expr = {
    kind: 'compare',
    op: '<',
    left: { kind: 'metric', name: metric, text: metric, start: 0, end: m },
    right: { kind: 'number', value: limit, text: String(limit), start: m + 3, end: expression.length },
    start: 0,
    end: expression.length,
  };
  return { expression, ast };
}

export function parseEnsure(raw: unknown, path: Path = ['config', 'ensure']): ParsedThresholds {
  const thresholds: Threshold[] = [];
  const issues: ThresholdIssue[] = [];
  if (raw === undefined) return { thresholds, issues };
  const where = pathText(path);
  if (raw === null) {
    issues.push({ severity: 'warning', path, message: `${where} is empty: no check is declared` });
    return { thresholds, issues };
  }
  if (!isRecord(raw)) {
    issues.push({ severity: 'error', path, message: `${where} must be a mapping with thresholds, conditions or maxErrorRate, got ${describe(raw)}` });
    return { thresholds, issues };
  }
  const add = (id: string, at: Path, name: string, check: Check): void => {
    thresholds.push({ id, name, source: 'ensure', checks: [check], abortOnFail: false, delayAbortEvalMs: 0, onMissing: 'fail', path: at });
  };

  for (const key of Object.keys(raw)) {
    if ((KNOWN_KEYS as readonly string[]).includes(key)) continue;
    const hint = suggestWord(key, KNOWN_KEYS);
    issues.push({ severity: 'warning', path: [...path, key], message: `unknown key '${key}' in ${where} is ignored (as Artillery ignores it)`, ...(hint === undefined ? {} : { hint }) });
  }

  // thresholds: [{ metric: max }] — metric < max, strict.
  if (raw.thresholds !== undefined) {
    const at: Path = [...path, 'thresholds'];
    if (!Array.isArray(raw.thresholds)) {
      issues.push({ severity: 'error', path: at, message: `${where}.thresholds must be a list like [{ ws.rtt.p99: 250 }], got ${describe(raw.thresholds)}` });
    } else {
      raw.thresholds.forEach((entry: unknown, i: number) => {
        const ep: Path = [...at, i];
        const keys = isRecord(entry) ? Object.keys(entry) : [];
        if (!isRecord(entry) || keys.length === 0) {
          issues.push({ severity: 'error', path: ep, message: `${pathText(ep)} must be a mapping of one metric to its limit, like { ws.rtt.p99: 250 }, got ${describe(entry)}` });
          return;
        }
        const metric = keys[0]!;
        for (const extra of keys.slice(1)) {
          issues.push({ severity: 'warning', path: [...ep, extra], message: `${pathText(ep)} checks only its first metric, as Artillery does: '${extra}' is ignored`, hint: 'give each metric its own list entry' });
        }
        const limit = numberOf(entry[metric]);
        if (limit === undefined) {
          issues.push({ severity: 'error', path: [...ep, metric], message: `${pathText([...ep, metric])} must be a number (the value ${metric} must stay under), got ${describe(entry[metric])}` });
          return;
        }
        const { expression, ast } = lessThan(metric, limit);
        add(pathText(ep), ep, expression, { level: 'critical', expression, ast });
      });
    }
  }

  // conditions: [{ expression, strict }] — the expression must hold; strict: false → warning.
  if (raw.conditions !== undefined) {
    const at: Path = [...path, 'conditions'];
    if (!Array.isArray(raw.conditions)) {
      issues.push({ severity: 'error', path: at, message: `${where}.conditions must be a list like [{ expression: 'ws.rtt.p99 < 250' }], got ${describe(raw.conditions)}` });
    } else {
      raw.conditions.forEach((entry: unknown, i: number) => {
        const ep: Path = [...at, i];
        if (!isRecord(entry)) {
          issues.push({ severity: 'error', path: ep, message: `${pathText(ep)} must be a mapping like { expression: 'ws.rtt.p99 < 250', strict: true }, got ${describe(entry)}` });
          return;
        }
        let ok = true;
        for (const key of Object.keys(entry)) {
          if (key === 'expression' || key === 'strict') continue;
          const hint = suggestWord(key, ['expression', 'strict']);
          issues.push({ severity: 'error', path: [...ep, key], message: `unknown key '${key}' in ${pathText(ep)}`, ...(hint === undefined ? {} : { hint }) });
          ok = false;
        }
        let level: Level = 'critical';
        if (entry.strict !== undefined) {
          if (typeof entry.strict !== 'boolean') {
            issues.push({ severity: 'error', path: [...ep, 'strict'], message: `${pathText(ep)}.strict must be true or false, got ${describe(entry.strict)}` });
            ok = false;
          } else if (!entry.strict) level = 'warning';
        }
        if (typeof entry.expression !== 'string') {
          issues.push({
            severity: 'error',
            path: entry.expression === undefined ? ep : [...ep, 'expression'],
            message: entry.expression === undefined ? `${pathText(ep)} needs an expression, like 'ws.rtt.p99 < 250'` : `${pathText(ep)}.expression must be a string like 'ws.rtt.p99 < 250', got ${describe(entry.expression)}`,
          });
          return;
        }
        const check = parseCheck(level, entry.expression, [...ep, 'expression'], issues);
        if (check && ok) add(pathText(ep), ep, check.expression, check);
      });
    }
  }

  // Legacy min/max/median/p95/p99: Artillery checks http.response_time.<key> < parseInt(value).
  for (const key of LEGACY_KEYS) {
    if (raw[key] === undefined) continue;
    const at: Path = [...path, key];
    const v = raw[key];
    const limit = typeof v === 'number' || typeof v === 'string' ? parseInt(String(v), 10) : NaN;
    if (Number.isNaN(limit)) {
      issues.push({ severity: 'error', path: at, message: `${where}.${key} must be a number of milliseconds, got ${describe(v)}` });
      continue;
    }
    const { expression, ast } = lessThan(`${LEGACY_LATENCY_METRIC}.${key}`, limit);
    add(`${where}.${key}`, at, expression, { level: 'critical', expression, ast });
  }

  // maxErrorRate: the percentage of virtual users that did not complete.
  if (raw.maxErrorRate !== undefined) {
    const at: Path = [...path, 'maxErrorRate'];
    const limit = numberOf(raw.maxErrorRate);
    if (limit === undefined) {
      issues.push({ severity: 'error', path: at, message: `${where}.maxErrorRate must be a number (a percentage of virtual users), got ${describe(raw.maxErrorRate)}` });
    } else {
      const check = parseCheck('critical', `${MAX_ERROR_RATE_SUBJECT} <= ${limit}`, at, issues);
      if (check) {
        add(`${where}.maxErrorRate`, at, `maxErrorRate ${limit}%`, { ...check, subject: { label: 'virtual users not completed', unit: 'percent' } });
      }
    }
  }
  return { thresholds, issues };
}
