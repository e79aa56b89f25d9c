/**
 * `config.slo`: per-metric thresholds in k6's style, with wsload's levels.
 *
 * ```yaml
 * slo:
 *   ws.rtt.ping:
 *     - "p(95)<50"                                          # critical
 *     - "warning: p(95)<30"                                 # one level, by prefix
 *     - { target: "p(99)<50", warning: "p(99)<100", critical: "p(99)<250" }
 *     - { threshold: "p(99)<500", abortOnFail: true, delayAbortEval: "10s" }
 *   connections.success_rate: ["rate>0.99"]
 * ```
 * Input is whatever the YAML held (`unknown`); every problem is reported with its path.
 */
import { describe, isRecord } from '../scenario/checker.js';
import { parseDurationMs } from '../scenario/duration.js';
import type { Path } from '../scenario/source.js';
import { comparisonSubject, parseCheck, pathText, suggestWord } from './checks.js';
import type { Check, Level, ParsedThresholds, Threshold, ThresholdIssue } from './types.js';

const METRIC_NAME = /^[A-Za-z_$][\w$]*(\.[\w$]+)*$/;
const ENTRY_KEYS = ['target', 'warning', 'critical', 'threshold', 'abortOnFail', 'delayAbortEval', 'name'] as const;
const LEVEL_PREFIX = /^\s*(target|warning|critical|abort)\s*:/;

export function parseSlo(raw: unknown, path: Path = ['config', 'slo']): ParsedThresholds {
  const thresholds: Threshold[] = [];
  const issues: ThresholdIssue[] = [];
  if (raw === undefined) return { thresholds, issues };
  if (raw === null) {
    issues.push({ severity: 'warning', path, message: `${pathText(path)} is empty: no threshold is declared` });
    return { thresholds, issues };
  }
  if (!isRecord(raw)) {
    issues.push({
      severity: 'error',
      path,
      message: `${pathText(path)} must be a mapping of metric names to thresholds, like { ws.rtt.ping: ['p(95)<50'] }, got ${describe(raw)}`,
    });
    return { thresholds, issues };
  }
  for (const [metric, value] of Object.entries(raw)) {
    const at: Path = [...path, metric];
    if (!METRIC_NAME.test(metric)) {
      issues.push({ severity: 'error', path: at, message: `${pathText(path)} key '${metric}' is not a metric name like 'ws.rtt.ping' or 'connections.success_rate'` });
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length === 0) issues.push({ severity: 'warning', path: at, message: `${pathText(at)} is an empty list: nothing is checked` });
      value.forEach((entry, i) => {
        const t = parseEntry(metric, entry, [...at, i], issues);
        if (t) thresholds.push(t);
      });
    } else {
      const t = parseEntry(metric, value, at, issues);
      if (t) thresholds.push(t);
    }
  }
  return { thresholds, issues };
}

function parseEntry(metric: string, entry: unknown, path: Path, issues: ThresholdIssue[]): Threshold | undefined {
  const id = pathText(path);
  if (typeof entry === 'string') {
    let level: Level = 'critical';
    let abortOnFail = false;
    let body = entry;
    let offset = 0;
    const m = LEVEL_PREFIX.exec(entry);
    if (m) {
      abortOnFail = m[1] === 'abort';
      level = m[1] === 'abort' ? 'critical' : (m[1] as Level);
      offset = m[0].length;
      body = entry.slice(offset);
    }
    const check = parseCheck(level, body, path, issues, { metric, offset, source: entry });
    if (!check) return undefined;
    return build(id, metric, [check], { abortOnFail, delayAbortEvalMs: 0, path });
  }
  if (!isRecord(entry)) {
    issues.push({
      severity: 'error',
      path,
      message: `${id} must be a threshold like 'p(95)<200' or a mapping like { warning: 'p(99)<100', critical: 'p(99)<250' }, got ${describe(entry)}`,
    });
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(entry)) {
    if ((ENTRY_KEYS as readonly string[]).includes(key)) continue;
    const hint = suggestWord(key, ENTRY_KEYS);
    issues.push({ severity: 'error', path: [...path, key], message: `unknown key '${key}' in ${id}`, ...(hint === undefined ? {} : { hint }) });
    ok = false;
  }
  if (entry.threshold !== undefined && entry.critical !== undefined) {
    issues.push({ severity: 'error', path, message: `${id} has both threshold and critical: threshold is k6's name for the critical level, keep one` });
    ok = false;
  }
  const checks: Check[] = [];
  const levels: Array<[Level, string]> = [
    ['target', 'target'],
    ['warning', 'warning'],
    ['critical', entry.threshold !== undefined ? 'threshold' : 'critical'],
  ];
  for (const [level, key] of levels) {
    const v = entry[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') {
      issues.push({ severity: 'error', path: [...path, key], message: `${pathText([...path, key])} must be a threshold like 'p(95)<200', got ${describe(v)}` });
      ok = false;
      continue;
    }
    const check = parseCheck(level, v, [...path, key], issues, { metric });
    if (check) checks.push(check);
    else ok = false;
  }
  if (checks.length === 0 && ok) {
    issues.push({ severity: 'error', path, message: `${id} needs at least one of target, warning, critical or threshold` });
    ok = false;
  }

  let abortOnFail = false;
  if (entry.abortOnFail !== undefined) {
    if (typeof entry.abortOnFail !== 'boolean') {
      issues.push({ severity: 'error', path: [...path, 'abortOnFail'], message: `${id}.abortOnFail must be true or false, got ${describe(entry.abortOnFail)}` });
      ok = false;
    } else abortOnFail = entry.abortOnFail;
  }
  if (abortOnFail && entry.threshold === undefined && entry.critical === undefined) {
    issues.push({ severity: 'error', path: [...path, 'abortOnFail'], message: `${id}.abortOnFail needs a critical level (threshold or critical): only a critical crossing stops a run` });
    ok = false;
  }
  let delayAbortEvalMs = 0;
  if (entry.delayAbortEval !== undefined) {
    const ms = parseDurationMs(entry.delayAbortEval);
    if (ms === undefined || ms < 0) {
      issues.push({ severity: 'error', path: [...path, 'delayAbortEval'], message: `${id}.delayAbortEval must be a duration like '10s' or a number of seconds, got ${describe(entry.delayAbortEval)}` });
      ok = false;
    } else delayAbortEvalMs = ms;
    if (entry.abortOnFail !== true) {
      issues.push({ severity: 'warning', path: [...path, 'delayAbortEval'], message: `${id}.delayAbortEval has no effect without abortOnFail: true` });
    }
  }
  let name: string | undefined;
  if (entry.name !== undefined) {
    if (typeof entry.name === 'string' && entry.name.trim() !== '') name = entry.name.trim();
    else {
      issues.push({ severity: 'error', path: [...path, 'name'], message: `${id}.name must be a non-empty string, got ${describe(entry.name)}` });
      ok = false;
    }
  }
  if (!ok) return undefined;
  return build(id, metric, checks, { abortOnFail, delayAbortEvalMs, path, ...(name === undefined ? {} : { name }) });
}

function build(id: string, metric: string, checks: Check[], o: { abortOnFail: boolean; delayAbortEvalMs: number; path: Path; name?: string }): Threshold {
  const subjects = new Set(checks.map((c) => comparisonSubject(c.ast)));
  const only = subjects.size === 1 ? [...subjects][0] : undefined;
  const name = o.name ?? only ?? `${metric}: ${checks.map((c) => c.expression).join(', ')}`;
  return {
    id,
    name,
    source: 'slo',
    metric,
    checks,
    abortOnFail: o.abortOnFail,
    delayAbortEvalMs: o.delayAbortEvalMs,
    onMissing: 'not_judged',
    path: o.path,
  };
}
