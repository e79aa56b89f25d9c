/**
 * How verdicts read wherever they are listed (the summary's verdict table, the live terminal view,
 * the dashboard, the HTML and Markdown reports): each status's mark and word, the counts by
 * status, the detail shown beside a verdict, and the terminal's verdict line. Pure, and free of
 * the parser and evaluator, so that the live view can load it cheaply.
 */
import type { Verdict, VerdictStatus } from './types.js';

export const STATUS_MARK: Readonly<Record<VerdictStatus, string>> = { met: '✔', warning: '▲', critical: '✖', not_judged: '–' };
export const STATUS_TEXT: Readonly<Record<VerdictStatus, string>> = { met: 'met', warning: 'warning', critical: 'critical', not_judged: 'not judged' };

/** Verdicts by status. */
export function countVerdicts(verdicts: readonly Verdict[]): Record<VerdictStatus, number> {
  const counts: Record<VerdictStatus, number> = { met: 0, warning: 0, critical: 0, not_judged: 0 };
  for (const v of verdicts) counts[v.status]++;
  return counts;
}

/** What a verdict line says after the threshold's name: why it was not judged, else its message. */
export function verdictDetail(v: Verdict): string {
  return v.status === 'not_judged' && v.reason ? v.reason : v.message;
}

/** The colours `verdictLine` paints a status with (picocolors' `Colors` fits). */
export interface StatusColors {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  dim(s: string): string;
}

/** One verdict as the terminal lists it: `  ✔ met        <name padded to width>  <detail>`. */
export function verdictLine(v: Verdict, width: number, c: StatusColors): string {
  const paint = v.status === 'met' ? c.green : v.status === 'warning' ? c.yellow : v.status === 'critical' ? c.red : c.dim;
  return `  ${paint(`${STATUS_MARK[v.status]} ${STATUS_TEXT[v.status].padEnd(10)}`)} ${v.name.padEnd(width)}  ${verdictDetail(v)}`;
}
