/**
 * A GitHub-flavoured Markdown summary of a report, for `$GITHUB_STEP_SUMMARY` (and any wiki or PR
 * comment): the verdict line, the main figures, thresholds, per-step latency and errors. Pure.
 */
import type { WsloadReport } from './document.js';
import {
  errorRows,
  fmtDuration,
  fmtInt,
  latencyRows,
  mainFigures,
  reportTarget,
  STATUS_MARK,
  STATUS_TEXT,
  stepErrorRows,
  verdictActual,
  verdictChecks,
  verdictHeadline,
} from './figures.js';

/** Escape text for a table cell (pipes, line breaks) and for inline Markdown. */
export function mdCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/[|*`[\]]/g, (c) => `\\${c}`)
    // `_` only where it could open or close emphasis (GFM ignores it inside words: agent_message).
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_')
    // `<` only where it could open an HTML tag or comment.
    .replace(/<(?=[A-Za-z/!?])/g, '\\<')
    .replace(/\r?\n/g, ' ');
}

/** Inline code that survives backticks in the text. */
const code = (text: string): string => {
  const fence = text.includes('`') ? '``' : '`';
  return `${fence}${text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}${fence}`;
};

function table(head: string[], rows: string[][], align: Array<'l' | 'r'>): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

const HEADLINE_ICON = { passed: '✅', warning: '⚠️', failed: '❌', none: 'ℹ️' } as const;

export function renderMarkdown(report: WsloadReport): string {
  const target = reportTarget(report);
  const headline = verdictHeadline(report);
  const lines: string[] = [];
  lines.push(`### ${HEADLINE_ICON[headline.status]} wsload ${mdCell(report.command)}${target ? ` — ${code(target)}` : ''}`);
  lines.push('');
  lines.push(`**${mdCell(headline.text)}** · ${fmtDuration(report.durationSec)} · started ${report.startedAt} · wsload ${mdCell(report.version)}`);
  if (report.aborted) lines.push('', '> **Interrupted:** the run was stopped early; these are partial results.');
  else if (report.partial) lines.push('', '> **Partial results:** the figures do not cover the whole planned run.');
  if (report.mergedFrom !== undefined) lines.push('', `> Merged from ${report.mergedFrom} reports of parts of one run.`);

  lines.push('', '#### Summary', '');
  lines.push(...table(['figure', 'value'], mainFigures(report).map((f) => [f.label, f.tone === 'bad' && f.value !== '0' ? `**${f.value}**` : f.value]), ['l', 'r']));

  if (report.thresholds.length > 0) {
    lines.push('', '#### Thresholds', '');
    lines.push(...table(['', 'status', 'threshold', 'levels', 'actual', 'detail'], report.thresholds.map((v) => [
      STATUS_MARK[v.status], STATUS_TEXT[v.status], mdCell(v.name),
      verdictChecks(v).map((c) => `${c.level} ${code(c.expression)}`).join('<br>'), mdCell(verdictActual(v)), mdCell(v.message),
    ]), ['l', 'l', 'l', 'l', 'r', 'l']));
  }

  lines.push('', '#### Latency by step (ms)', '');
  lines.push(...table(['step / type', 'count', 'avg', 'p50', 'p95', 'p99', 'max'], latencyRows(report).map(({ name, figures: f }) => {
    const cells = f.count === 0 ? ['—', '—', '—', '—', '—'] : [f.avg, f.p50, f.p95, f.p99, f.max].map((x) => x.toFixed(2));
    return [mdCell(name), fmtInt(f.count), ...cells];
  }), ['l', 'r', 'r', 'r', 'r', 'r', 'r']));

  const errors = errorRows(report.errors);
  lines.push('', '#### Errors', '');
  if (errors.length === 0) lines.push('None.');
  else lines.push(...table(['kind', 'meaning', 'count'], errors.map((x) => [code(x.kind), mdCell(x.label), fmtInt(x.count)]), ['l', 'l', 'r']));
  const bySteps = stepErrorRows(report);
  if (bySteps.length > 0) {
    lines.push('', '**By step**', '');
    lines.push(...table(['step', 'kind', 'count'], bySteps.map((x) => [mdCell(x.step), code(x.kind), fmtInt(x.count)]), ['l', 'l', 'r']));
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
