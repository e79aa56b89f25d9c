/**
 * `wsload compare`: each headline metric of two reports side by side, its change and a verdict
 * that knows which direction is better. Every figure is computed from the reports' snapshots, the
 * same way for both. Pure.
 */
import { summarizeEncoded, type LatencySummary, type MetricsSnapshot } from '../metrics/index.js';
import { rttTypes, type WsloadReport } from './document.js';

export type CompareVerdict = 'better' | 'same' | 'worse (within tolerance)' | 'regressed' | 'n/a';

export interface CompareRow {
  /** Stable key (`ws.rtt.p95`, `ws.rtt.ping.p99`, `throughput`, …). */
  metric: string;
  /** What a person reads (`p95 ws.rtt`). */
  label: string;
  unit: 'ms' | 'msg/s' | '%';
  higherIsBetter: boolean;
  base: number | null;
  next: number | null;
  /** (next − base) / base × 100; null when base is 0 and next is not, or a side is missing. */
  changePct: number | null;
  verdict: CompareVerdict;
}

export interface CompareOptions {
  /** A change for the worse up to this many percent is `worse (within tolerance)`; beyond it `regressed`. */
  tolerancePct: number;
}

/** Changes smaller than this (either way) are `same`. */
export const SAME_PCT = 1;
/** Absolute differences below these are `same` whatever the percentage: timer and scheduling noise. */
export const NOISE_FLOOR: Readonly<Record<CompareRow['unit'], number>> = { 'ms': 1, '%': 0.1, 'msg/s': 0 };

const PERCENTILES = ['p50', 'p95', 'p99', 'max'] as const;

const round = (x: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

function histogram(snapshot: MetricsSnapshot, name: string): LatencySummary | undefined {
  const encoded = snapshot.histograms[name];
  if (encoded === undefined) return undefined;
  const s = summarizeEncoded(encoded);
  return s.count > 0 ? s : undefined;
}

const counter = (s: MetricsSnapshot, name: string): number => s.counters[name] ?? 0;

/** Replies received per second over the whole run. */
export function throughputOf(s: MetricsSnapshot): number | null {
  const sec = (s.endTime - s.startTime) / 1000;
  return sec > 0 ? round(counter(s, 'messages.received') / sec, 2) : null;
}

/** Successful handshakes / attempted, %. */
export function successRateOf(s: MetricsSnapshot): number | null {
  const attempted = counter(s, 'connections.attempted');
  return attempted > 0 ? round((counter(s, 'connections.successful') / attempted) * 100, 3) : null;
}

/** Errors of every kind per operation attempted (handshakes + requests sent), %. */
export function errorRateOf(s: MetricsSnapshot): number | null {
  const ops = counter(s, 'connections.attempted') + counter(s, 'messages.sent');
  if (ops === 0) return null;
  let errors = 0;
  for (const k in s.errors) errors += s.errors[k]!;
  return round((errors / ops) * 100, 3);
}

/** Judge one row. */
export function judge(base: number | null, next: number | null, higherIsBetter: boolean, unit: CompareRow['unit'], tolerancePct: number): Pick<CompareRow, 'changePct' | 'verdict'> {
  if (base === null || next === null) return { changePct: null, verdict: 'n/a' };
  const delta = next - base;
  const changePct = base !== 0 ? round((delta / Math.abs(base)) * 100, 2) : delta === 0 ? 0 : null;
  if (Math.abs(delta) <= NOISE_FLOOR[unit] || (changePct !== null && Math.abs(changePct) < SAME_PCT)) return { changePct, verdict: 'same' };
  const worse = higherIsBetter ? delta < 0 : delta > 0;
  if (!worse) return { changePct, verdict: 'better' };
  const worsePct = changePct === null ? Infinity : Math.abs(changePct);
  return { changePct, verdict: worsePct <= tolerancePct ? 'worse (within tolerance)' : 'regressed' };
}

/**
 * The rows: throughput; p50/p95/p99/max of `ws.rtt` and of each `ws.rtt.<type>` either report has;
 * connect p95; connection success rate; error rate.
 */
export function compareReports(base: WsloadReport, next: WsloadReport, opts: CompareOptions): CompareRow[] {
  const a = base.metrics;
  const b = next.metrics;
  const rows: CompareRow[] = [];
  const add = (metric: string, label: string, unit: CompareRow['unit'], higherIsBetter: boolean, x: number | null, y: number | null): void => {
    rows.push({ metric, label, unit, higherIsBetter, base: x, next: y, ...judge(x, y, higherIsBetter, unit, opts.tolerancePct) });
  };
  add('throughput', 'throughput (received)', 'msg/s', true, throughputOf(a), throughputOf(b));
  const types = [...new Set([...rttTypes(a), ...rttTypes(b)])].sort();
  for (const name of ['ws.rtt', ...types.map((t) => `ws.rtt.${t}`)]) {
    const x = histogram(a, name);
    const y = histogram(b, name);
    for (const p of PERCENTILES) add(`${name}.${p}`, `${p} ${name}`, 'ms', false, x ? x[p] : null, y ? y[p] : null);
  }
  const ca = histogram(a, 'ws.connect');
  const cb = histogram(b, 'ws.connect');
  add('ws.connect.p95', 'p95 ws.connect', 'ms', false, ca ? ca.p95 : null, cb ? cb.p95 : null);
  add('connections.success_rate', 'connection success rate', '%', true, successRateOf(a), successRateOf(b));
  add('errors.rate', 'error rate', '%', false, errorRateOf(a), errorRateOf(b));
  return rows;
}

/** Rows that regressed past the tolerance. */
export function regressions(rows: readonly CompareRow[]): CompareRow[] {
  return rows.filter((r) => r.verdict === 'regressed');
}

/** The formatters the text table needs (picocolors' `Colors` fits). */
export interface CompareColors {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

function value(x: number | null, unit: CompareRow['unit']): string {
  if (x === null) return '—';
  return unit === 'ms' ? `${x.toFixed(2)} ms` : unit === '%' ? `${x.toFixed(2)} %` : `${x.toFixed(2)}/s`;
}

/** A row's change as the table and the regression list show it: `+12.5 %`, `new` (from 0), `—` (a side missing). */
export function formatChange(r: CompareRow): string {
  if (r.base === null || r.next === null) return '—';
  if (r.changePct === null) return 'new';
  return `${r.changePct > 0 ? '+' : ''}${r.changePct.toFixed(1)} %`;
}

/** The comparison as an aligned text table, one row per metric, ending with a newline. */
export function formatCompareText(rows: readonly CompareRow[], colors: CompareColors): string {
  const head = ['metric', 'base', 'new', 'change', 'verdict'];
  const cells = rows.map((r) => [r.label, value(r.base, r.unit), value(r.next, r.unit), formatChange(r), r.verdict]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const paint = (verdict: CompareVerdict, text: string): string =>
    verdict === 'regressed' ? colors.red(colors.bold(text))
      : verdict === 'worse (within tolerance)' ? colors.yellow(text)
        : verdict === 'better' ? colors.green(text)
          : verdict === 'n/a' ? colors.dim(text) : text;
  const line = (c: string[]): string => c.map((x, i) => (i === 0 || i === 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [colors.bold(line(head)), colors.dim(widths.map((w) => '─'.repeat(w)).join('  '))];
  rows.forEach((r, i) => {
    const c = cells[i]!;
    const text = line(c);
    // Colour only the verdict column, so the alignment never depends on escape codes.
    const cut = text.length - c[4]!.length;
    out.push(text.slice(0, cut) + paint(r.verdict, text.slice(cut)));
  });
  return `${out.join('\n')}\n`;
}
