/**
 * What the human-facing renderers (HTML, Markdown) show, taken once from a report document so
 * both show the same figures with the same labels and formatting. Pure.
 */
import type { LatencyFigures } from './latency-figures.js';
import { errorKindsByCount, errorLabel } from './stress-text.js';
import { formatValue, overall } from '../thresholds/index.js';
import type { ReportPhase, Verdict, WsloadReport } from './document.js';

/** One headline figure (the seed's summary block, as cards or a table row). */
export interface Figure {
  /** The card it belongs to: Run, Virtual users, Connections, Messages, Latency. */
  group: string;
  label: string;
  /** The label inside its group's card, where the group names the rest ("Attempted"). */
  short: string;
  value: string;
  /** Draws the eye: an error count above 0, a success rate below 100 %. */
  tone?: 'good' | 'bad';
}

const counter = (r: WsloadReport, name: string): number => r.metrics.counters[name] ?? 0;

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fmtMs = (x: number): string => `${x.toFixed(2)} ms`;
export const fmtPct = (x: number): string => `${x.toFixed(2)} %`;

export function fmtDuration(sec: number): string {
  if (sec < 60) return `${sec.toFixed(2)} s`;
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  return m < 60 ? `${m} min ${s.toFixed(0)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function totalErrors(errors: Record<string, number>): number {
  let n = 0;
  for (const k in errors) n += errors[k]!;
  return n;
}

/** The target the run was pointed at: `run`'s target, or `stress`'s URL. */
export function reportTarget(r: WsloadReport): string | undefined {
  if (typeof r.target === 'string') return r.target;
  const url = r.options?.url;
  return typeof url === 'string' ? url : undefined;
}

const bad = (cond: boolean): { tone?: 'bad' } => (cond ? { tone: 'bad' } : {});

/** The seed's summary block as figures, grouped, plus the VU counts of a `run`. */
export function mainFigures(r: WsloadReport): Figure[] {
  const attempted = counter(r, 'connections.attempted');
  const successful = counter(r, 'connections.successful');
  const failed = counter(r, 'connections.failed');
  const received = counter(r, 'messages.received');
  const rate = attempted > 0 ? (successful / attempted) * 100 : 0;
  const perSecond = typeof r.messages?.perSecond === 'number' ? r.messages.perSecond
    : r.durationSec > 0 ? received / r.durationSec : 0;
  const errors = totalErrors(r.errors);
  const out: Figure[] = [
    { group: 'Run', label: 'Duration', short: 'Duration', value: fmtDuration(r.durationSec) },
    { group: 'Run', label: 'Errors', short: 'Errors', value: fmtInt(errors), tone: errors > 0 ? 'bad' : 'good' },
  ];
  if ('vusers.created' in r.metrics.counters) {
    out.push(
      { group: 'Virtual users', label: 'VUs created', short: 'Created', value: fmtInt(counter(r, 'vusers.created')) },
      { group: 'Virtual users', label: 'VUs completed', short: 'Completed', value: fmtInt(counter(r, 'vusers.completed')) },
      { group: 'Virtual users', label: 'VUs failed', short: 'Failed', value: fmtInt(counter(r, 'vusers.failed')), ...bad(counter(r, 'vusers.failed') > 0) },
    );
  }
  out.push(
    { group: 'Connections', label: 'Connections attempted', short: 'Attempted', value: fmtInt(attempted) },
    { group: 'Connections', label: 'Connections successful', short: 'Successful', value: fmtInt(successful) },
    { group: 'Connections', label: 'Connections failed', short: 'Failed', value: fmtInt(failed), ...bad(failed > 0) },
    { group: 'Connections', label: 'Success rate', short: 'Success rate', value: fmtPct(rate), tone: attempted > 0 && successful === attempted ? 'good' : 'bad' },
    { group: 'Messages', label: 'Messages sent', short: 'Sent', value: fmtInt(counter(r, 'messages.sent')) },
    { group: 'Messages', label: 'Messages received', short: 'Received', value: fmtInt(received) },
    { group: 'Messages', label: 'Messages/sec', short: 'Per second', value: perSecond.toFixed(2) },
  );
  const l = r.latency;
  const na = l.count === 0;
  out.push(
    { group: 'Latency', label: 'Latency Average', short: 'Average', value: na ? 'n/a' : fmtMs(l.avg) },
    { group: 'Latency', label: 'Latency P50', short: 'P50', value: na ? 'n/a' : fmtMs(l.p50) },
    { group: 'Latency', label: 'Latency P95', short: 'P95', value: na ? 'n/a' : fmtMs(l.p95) },
    { group: 'Latency', label: 'Latency P99', short: 'P99', value: na ? 'n/a' : fmtMs(l.p99) },
  );
  return out;
}

/** One row of the per-step latency table. */
export interface LatencyRow {
  name: string;
  /** The histogram it comes from (`ws.rtt.ping`). */
  metric: string;
  figures: LatencyFigures;
}

/** Every message type, then all messages, connect time and (for `run`) session length. */
export function latencyRows(r: WsloadReport): LatencyRow[] {
  const rows: LatencyRow[] = Object.keys(r.latencyByType).sort()
    .map((type) => ({ name: type, metric: `ws.rtt.${type}`, figures: r.latencyByType[type]! }));
  rows.push({ name: 'all messages', metric: 'ws.rtt', figures: r.latency });
  rows.push({ name: 'connect', metric: 'ws.connect', figures: r.connect });
  if (r.sessionLength !== undefined && typeof r.sessionLength === 'object') {
    rows.push({ name: 'session length', metric: 'vusers.session_length', figures: r.sessionLength });
  }
  return rows;
}

export interface ErrorRow {
  kind: string;
  label: string;
  count: number;
  /** Share of all errors, %. */
  share: number;
}

/** Errors by kind, most frequent first (ties by kind). */
export function errorRows(errors: Record<string, number>): ErrorRow[] {
  const total = totalErrors(errors);
  return errorKindsByCount(errors).map((kind) => ({ kind, label: errorLabel(kind), count: errors[kind]!, share: total > 0 ? (errors[kind]! / total) * 100 : 0 }));
}

export interface StepErrorRow {
  step: string;
  kind: string;
  label: string;
  count: number;
}

/** `run`'s errors by step (`errorsByStep: {step: {kind: n}}`), in step order as written. */
export function stepErrorRows(r: WsloadReport): StepErrorRow[] {
  const by = r.errorsByStep;
  if (by === undefined || typeof by !== 'object') return [];
  const rows: StepErrorRow[] = [];
  for (const [step, kinds] of Object.entries(by)) {
    if (typeof kinds !== 'object' || kinds === null) continue;
    for (const row of errorRows(kinds)) rows.push({ step, kind: row.kind, label: row.label, count: row.count });
  }
  return rows;
}

/** The run's parameters as label/value pairs: `stress`'s options, or `run`'s script, environment, target. */
export function parameterRows(r: WsloadReport): Array<[string, string]> {
  const rows: Array<[string, string]> = [['command', `wsload ${r.command}`], ['wsload version', r.version]];
  const show = (v: unknown): string => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  if (typeof r.script === 'string') rows.push(['script', r.script]);
  if ('environment' in r) rows.push(['environment', show(r.environment)]);
  if (typeof r.target === 'string') rows.push(['target', r.target]);
  if (r.options && typeof r.options === 'object') {
    for (const [k, v] of Object.entries(r.options)) rows.push([k, show(v)]);
  }
  rows.push(['started', r.startedAt]);
  rows.push(['interval', `${r.metrics.intervalMs} ms`]);
  if (r.mergedFrom !== undefined) rows.push(['merged from', `${r.mergedFrom} reports`]);
  return rows;
}

export { STATUS_MARK, STATUS_TEXT } from '../thresholds/index.js';

/**
 * The overall verdict in words, for headings: the report's own (as its command decided it, with
 * `--strict` and aborts) or, for a report without one, what the verdicts add up to.
 */
export function verdictHeadline(r: WsloadReport): { status: 'passed' | 'warning' | 'failed' | 'none'; text: string } {
  if (r.thresholds.length === 0) return { status: 'none', text: 'no thresholds judged' };
  const o = r.verdict ?? overall(r.thresholds);
  const word = o.status === 'failed' ? 'FAILED' : o.status === 'warning' ? 'passed with warnings' : 'passed';
  return { status: o.status, text: `${word} — ${o.summary}` };
}

/** A verdict's measured value with its unit (`612.3 ms`, `99.5%`), or `—`. */
export function verdictActual(v: Verdict): string {
  return v.actual === undefined ? '—' : formatValue(v.actual, v.unit);
}

/** A threshold's checks, one per level: `{level, expression, holds}` (holds undefined: not evaluated). */
export function verdictChecks(v: Verdict): Array<{ level: string; expression: string; holds: boolean | undefined }> {
  return v.checks.map((c) => ({ level: c.level, expression: c.expression, holds: c.holds }));
}

/**
 * The threshold's expressions as one line: a lone critical check is just its expression;
 * otherwise each with its level (`ws.rtt.p99 < 100ms (target), ws.rtt.p99 <= 500ms (critical)`).
 */
export function verdictExpressions(v: Verdict): string {
  const only = v.checks.length === 1 ? v.checks[0]! : undefined;
  if (only !== undefined && only.level === 'critical') return only.expression;
  return v.checks.map((c) => `${c.expression} (${c.level})`).join(', ');
}

/**
 * A name for the threshold that shows its expressions on its metric, stable from run to run:
 * `ws.rtt.p99<10` (a `--threshold` is its own name), `ws.rtt.ping: p(95)<50` (an expression on
 * its metric), `P99 latency: ws.rtt.p99 < 100ms (target), ws.rtt.p99 <= 500ms (critical)`.
 */
export function verdictTitle(v: Verdict): string {
  const exprs = verdictExpressions(v);
  if (v.checks.length === 0) return v.name;
  if (v.checks.every((c) => v.name.includes(c.expression))) return exprs;
  if (v.metric !== undefined && !v.checks.every((c) => c.expression.includes(v.metric!))) return `${v.metric}: ${exprs}`;
  return `${v.name}: ${exprs}`;
}

/** Phases the charts can mark: named, with a start before their end. */
export function phaseBands(r: WsloadReport): ReportPhase[] {
  return (r.phases ?? []).filter((p) => typeof p.startSec === 'number' && typeof p.endSec === 'number' && p.endSec >= p.startSec);
}
