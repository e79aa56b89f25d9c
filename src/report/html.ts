/**
 * The HTML report: one self-contained, offline file (uPlot and its CSS inlined, the report's data
 * embedded as JSON, no external URL) with the summary, verdicts, tables and charts over time.
 * Tables are rendered here, so they read and print without JavaScript; the charts are drawn in the
 * page from the embedded series. Pure apart from reading uPlot from the installed package.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CHARTS_JS } from './charts-client.js';
import type { WsloadReport } from './document.js';
import {
  errorRows,
  fmtDuration,
  fmtInt,
  latencyRows,
  mainFigures,
  parameterRows,
  phaseBands,
  reportTarget,
  STATUS_MARK,
  STATUS_TEXT,
  stepErrorRows,
  verdictActual,
  verdictChecks,
  verdictHeadline,
} from './figures.js';

export interface UplotAssets {
  js: string;
  css: string;
}

let assets: UplotAssets | undefined;

/** uPlot's browser build and stylesheet, read once from the installed package (the dashboard serves them too). */
export function uplotAssets(): UplotAssets {
  if (assets !== undefined) return assets;
  const require = createRequire(import.meta.url);
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')
    // Keep the attribution, drop the URL: the file must contain no external address at all.
    .replace(/^\/\*! https?:\/\/github\.com\/leeoniya\/uPlot \(v([\d.]+)\) \*\//, '/*! uPlot v$1 (MIT), by Leon Sorokin: github.com/leeoniya/uPlot */');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  assets = { js, css };
  return assets;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON that is safe inside `<script type="application/json">`: `<` is written as `\u003c` (so no
 * `</script>` or `<!--` can end or confuse the element) and the line separators U+2028/2029 are escaped.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Keep `</style` and `</script` out of inlined assets (neither uPlot file has them; this is a guard). */
const inlineSafe = (text: string, tag: 'script' | 'style'): string => text.replace(new RegExp(`</${tag}`, 'gi'), `<\\/${tag}`);

const e = escapeHtml;

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

function num2(x: number): string {
  return x.toFixed(2);
}

function section(id: string, title: string, body: string, note = ''): string {
  return `<section id="${id}"><h2>${e(title)}</h2>${note ? `<p class="note">${note}</p>` : ''}${body}</section>`;
}

const HEADLINE_MARK = { passed: STATUS_MARK.met, warning: STATUS_MARK.warning, failed: STATUS_MARK.critical, none: STATUS_MARK.not_judged } as const;

function headerHtml(r: WsloadReport): string {
  const target = reportTarget(r);
  const headline = verdictHeadline(r);
  const banners: string[] = [];
  if (r.aborted) banners.push('<div class="banner banner-bad" role="alert"><strong>Interrupted.</strong> The run was stopped early; the figures are partial results.</div>');
  else if (r.partial) banners.push('<div class="banner banner-bad" role="alert"><strong>Partial results.</strong> The figures do not cover the whole planned run (e.g. the target was unreachable).</div>');
  if (r.mergedFrom !== undefined) banners.push(`<div class="banner banner-info">Merged from ${r.mergedFrom} reports of parts of one run; thresholds are judged again on the whole.</div>`);
  const meta = [
    `<span><b>Started</b> ${e(when(r.startedAt))}</span>`,
    `<span><b>Duration</b> ${e(fmtDuration(r.durationSec))}</span>`,
    ...(typeof r.script === 'string' ? [`<span><b>Script</b> ${e(r.script)}</span>`] : []),
    ...(typeof r.environment === 'string' ? [`<span><b>Environment</b> ${e(r.environment)}</span>`] : []),
    `<span><b>wsload</b> ${e(r.version)}</span>`,
  ];
  return `<header class="top">
<div class="kicker">wsload ${e(r.command)} report</div>
<h1>${target !== undefined ? e(target) : `wsload ${e(r.command)}`}</h1>
<div class="meta">${meta.join('')}</div>
<div class="verdict verdict-${headline.status}"><span class="mark">${HEADLINE_MARK[headline.status]}</span> ${e(headline.text)}</div>
${banners.join('\n')}
</header>`;
}

function cardsHtml(r: WsloadReport): string {
  const groups = new Map<string, string[]>();
  for (const f of mainFigures(r)) {
    const row = `<div class="fig${f.tone ? ` fig-${f.tone}` : ''}"><span class="fig-label" title="${e(f.label)}">${e(f.short)}</span><span class="fig-value">${e(f.value)}</span></div>`;
    const list = groups.get(f.group);
    if (list) list.push(row);
    else groups.set(f.group, [row]);
  }
  const cards = [...groups].map(([name, rows]) => `<div class="card"><div class="card-title">${e(name)}</div>${rows.join('')}</div>`);
  return `<div class="cards">${cards.join('')}</div>`;
}

function verdictTableHtml(r: WsloadReport): string {
  if (r.thresholds.length === 0) return '<p class="empty">No thresholds were judged for this run.</p>';
  const rows = r.thresholds.map((v) => {
    const checks = verdictChecks(v).map((c) => {
      const state = c.holds === true ? 'holds' : c.holds === false ? 'crossed' : 'unknown';
      return `<div class="chk chk-${state}"><span class="lvl">${e(c.level)}</span> <code>${e(c.expression)}</code></div>`;
    });
    return `<tr class="st-${v.status}">
<td class="mark" title="${STATUS_TEXT[v.status]}">${STATUS_MARK[v.status]}</td>
<td class="st">${STATUS_TEXT[v.status]}</td><td>${e(v.name)}${v.metric && v.metric !== v.name ? `<div class="sub"><code>${e(v.metric)}</code></div>` : ''}</td>
<td>${checks.join('')}</td><td class="num">${e(verdictActual(v))}</td><td>${e(v.message)}</td></tr>`;
  });
  return `<div class="tw"><table class="verdicts"><thead><tr><th></th><th>status</th><th>threshold</th><th>levels</th><th class="num">actual</th><th>detail</th></tr></thead>
<tbody>${rows.join('')}</tbody></table></div>`;
}

function latencyTableHtml(r: WsloadReport): string {
  const rows = latencyRows(r).map(({ name, metric, figures: f }) => {
    const cells = f.count === 0
      ? '<td class="num" colspan="7">no samples</td>'
      : [f.avg, f.min, f.p50, f.p95, f.p99, f.p999, f.max].map((x) => `<td class="num">${num2(x)}</td>`).join('');
    return `<tr><td>${e(name)}</td><td><code>${e(metric)}</code></td><td class="num">${fmtInt(f.count)}</td>${cells}</tr>`;
  });
  return `<div class="tw"><table><thead><tr><th>step / type</th><th>metric</th><th class="num">count</th><th class="num">avg</th><th class="num">min</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">max</th></tr></thead>
<tbody>${rows.join('')}</tbody></table></div>`;
}

function errorsHtml(r: WsloadReport): string {
  const rows = errorRows(r.errors);
  let html = rows.length === 0
    ? '<p class="empty">No errors.</p>'
    : `<div class="tw"><table><thead><tr><th>kind</th><th>meaning</th><th class="num">count</th><th class="num">share</th></tr></thead><tbody>${rows
      .map((x) => `<tr><td><code>${e(x.kind)}</code></td><td>${e(x.label)}</td><td class="num">${fmtInt(x.count)}</td><td class="num">${x.share.toFixed(1)} %</td></tr>`)
      .join('')}</tbody></table></div>`;
  const bySteps = stepErrorRows(r);
  if (bySteps.length > 0) {
    html += `<h3>By step</h3><div class="tw"><table><thead><tr><th>step</th><th>kind</th><th>meaning</th><th class="num">count</th></tr></thead><tbody>${bySteps
      .map((x) => `<tr><td>${e(x.step)}</td><td><code>${e(x.kind)}</code></td><td>${e(x.label)}</td><td class="num">${fmtInt(x.count)}</td></tr>`)
      .join('')}</tbody></table></div>`;
  }
  return html;
}

function parametersHtml(r: WsloadReport): string {
  const rows = parameterRows(r).map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${e(v)}</td></tr>`);
  const phases = phaseBands(r);
  let html = `<div class="tw"><table class="params"><tbody>${rows.join('')}</tbody></table></div>`;
  if (phases.length > 0) {
    html += `<h3>Phases</h3><div class="tw"><table><thead><tr><th>phase</th><th class="num">from</th><th class="num">to</th></tr></thead><tbody>${phases
      .map((p) => `<tr><td>${e(p.name)}</td><td class="num">${p.startSec.toFixed(1)} s</td><td class="num">${p.endSec.toFixed(1)} s</td></tr>`)
      .join('')}</tbody></table></div>`;
  }
  return html;
}

/** Series colours, one per quantity, the same in every chart and legend. */
export const SERIES_COLORS = {
  p50: '#2563eb',
  p95: '#d97706',
  p99: '#dc2626',
  max: '#64748b',
  sent: '#0891b2',
  received: '#16a34a',
  connections: '#7c3aed',
  vusers: '#db2777',
  arrivals: '#94a3b8',
  errors: '#dc2626',
} as const;

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  note: string;
}

const CHARTS: ChartSpec[] = [
  { id: 'latency', title: 'Round-trip latency', unit: 'ms', note: 'Percentiles of the replies received in each interval (ws.rtt).' },
  { id: 'throughput', title: 'Throughput', unit: 'messages/s', note: 'Requests sent and replies received per second.' },
  { id: 'concurrency', title: 'Active connections', unit: 'open at interval end', note: 'Open connections at the end of each interval; arrivals per second on the right axis.' },
  { id: 'errors', title: 'Errors', unit: 'per interval', note: 'Errors of every kind counted in each interval.' },
];

function chartsHtml(r: WsloadReport): string {
  if (r.series.length === 0) {
    return '<p class="empty">No time series: the run ended before its first interval was closed, so there is nothing to chart. The figures above cover the whole run.</p>';
  }
  const hasVus = r.series.some((p) => p.activeVusers !== undefined);
  const figures = CHARTS.map((c) => {
    const title = c.id === 'concurrency' && hasVus ? 'Active connections and VUs' : c.title;
    return `<figure class="chart" data-chart="${c.id}"><figcaption><span class="chart-title">${e(title)}</span> <span class="unit">${e(c.unit)}</span><span class="chart-note">${e(c.note)}</span></figcaption><div class="plot"></div></figure>`;
  });
  const phaseNote = phaseBands(r).length > 0 ? '<p class="note">Shaded bands mark the phases, named at the top of each chart.</p>' : '';
  return `${phaseNote}<div class="charts">${figures.join('')}</div><p class="note hint no-print">Drag across a chart to zoom, double-click to reset; click a legend entry to hide or show its series.</p>`;
}

/** The report's stylesheet; the live dashboard builds on it so both look alike. */
export const REPORT_CSS = `
:root{--fg:#0f172a;--muted:#475569;--faint:#94a3b8;--line:#e2e8f0;--bg:#f8fafc;--card:#fff;--accent:#4f46e5;
--good:#15803d;--good-bg:#f0fdf4;--warn:#b45309;--warn-bg:#fffbeb;--bad:#b91c1c;--bad-bg:#fef2f2}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 48px}
h1{font-size:26px;line-height:1.25;margin:2px 0 8px;word-break:break-all;font-weight:650}
h2{font-size:18px;margin:0 0 12px;font-weight:650}
h3{font-size:15px;margin:18px 0 8px;color:var(--muted)}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:18px 0}
.top{border-left:4px solid var(--accent);padding:4px 0 4px 16px;margin-bottom:8px}
.kicker{text-transform:uppercase;letter-spacing:.08em;font-size:12px;font-weight:600;color:var(--accent)}
.meta{display:flex;flex-wrap:wrap;gap:4px 20px;color:var(--muted);font-size:14px}
.meta b{color:var(--fg);font-weight:600;margin-right:4px}
.verdict{display:inline-flex;gap:8px;align-items:center;margin-top:12px;padding:5px 12px;border-radius:999px;font-weight:600;font-size:14px;border:1px solid}
.verdict .mark{font-size:15px}
.verdict-passed{color:var(--good);background:var(--good-bg);border-color:#bbf7d0}
.verdict-warning{color:var(--warn);background:var(--warn-bg);border-color:#fde68a}
.verdict-failed{color:var(--bad);background:var(--bad-bg);border-color:#fecaca}
.verdict-none{color:var(--muted);background:#f1f5f9;border-color:var(--line)}
.banner{margin-top:12px;padding:10px 14px;border-radius:8px;font-size:14px}
.banner-bad{background:var(--warn-bg);border:1px solid #fcd34d;color:#78350f}
.banner-info{background:#eff6ff;border:1px solid #bfdbfe;color:#1e3a8a}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px 8px;background:#fff}
.card-title{font-size:12px;text-transform:uppercase;letter-spacing:.06em;font-weight:600;color:var(--accent);margin-bottom:4px}
.fig{display:flex;justify-content:space-between;align-items:baseline;gap:12px;padding:3px 0;border-top:1px solid #f1f5f9}
.fig:first-of-type{border-top:none}
.fig-label{font-size:13px;color:var(--muted);white-space:nowrap}
.fig-value{font-size:17px;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}
.fig-bad .fig-value{color:var(--bad)}
.fig-good .fig-value{color:var(--good)}
table{border-collapse:collapse;width:100%;font-size:14px;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line)}
td.num,th.num{text-align:right;white-space:nowrap}
.params th{width:220px;color:var(--muted);font-weight:500}
.params td{word-break:break-all}
.verdicts td.mark{font-size:16px;width:28px;text-align:center}
.tw{overflow-x:auto}
@media (min-width:900px){.verdicts td:last-child{min-width:240px}}
tr.st-met td.mark{color:var(--good)}
tr.st-warning td.mark{color:var(--warn)}
tr.st-critical td.mark{color:var(--bad)}
tr.st-critical{background:var(--bad-bg)}
tr.st-warning{background:var(--warn-bg)}
tr.st-not_judged td{color:var(--muted)}
.verdicts td.st{white-space:nowrap}
.sub{margin-top:2px}
.sub code{color:var(--muted);font-size:12px}
.chk{white-space:nowrap;line-height:1.6}
.chk .lvl{display:inline-block;min-width:54px;font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.chk-crossed code{color:var(--bad);font-weight:600}
.chk-holds code{color:var(--good)}
.note{color:var(--muted);font-size:13px;margin:-4px 0 12px}
.empty{color:var(--muted);font-style:italic;margin:4px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:18px}
.chart{margin:0;min-width:0}
.chart figcaption{margin-bottom:4px}
.chart-title{font-weight:650}
.unit{color:var(--muted);font-size:13px}
.chart-note{display:block;color:var(--faint);font-size:12px}
.plot{width:100%;min-height:300px}
.uplot{font-family:inherit}
.u-legend{font-size:12.5px}
.u-legend .u-marker{border-radius:2px}
footer{color:var(--faint);font-size:12px;text-align:center;margin-top:24px}
@media (max-width:640px){main{padding:16px 12px}.charts{grid-template-columns:1fr}.params th{width:auto}}
@media print{
  @page{margin:14mm}
  body{background:#fff;font-size:10pt}
  h1{font-size:17pt}
  table{font-size:8.5pt}
  th,td{padding:3pt 5pt}
  code{font-size:8pt}
  .params th{width:30%}
  .verdicts td:last-child{min-width:35%}
  main{max-width:none;padding:0}
  section{border:none;border-radius:0;padding:0;margin:0 0 14pt;break-inside:auto}
  .charts{display:block}
  .chart{break-inside:avoid;margin:0 0 12pt}
  .plot{min-height:0}
  .uplot,.uplot canvas,.u-wrap{max-width:100%!important}
  .card{break-inside:avoid}
  tr{break-inside:avoid}
  .tw{overflow:visible}
  .no-print,.u-cursor-x,.u-cursor-y,.u-cursor-pt,.u-select{display:none!important}
  .banner,.verdict,tr.st-critical,tr.st-warning{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
`;

/**
 * The page's chart code: plain ES5-style JavaScript, run by the browser against the embedded data;
 * the charts themselves are `CHARTS_JS`, shared with the live dashboard.
 */
const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var report = JSON.parse(document.getElementById('wsload-data').textContent);
  var C = JSON.parse(document.getElementById('wsload-colors').textContent);
  var series = report.series || [];
  if (series.length === 0 || typeof uPlot === 'undefined') { document.body.setAttribute('data-charts', 'none'); return; }
  var PRINT_WIDTH = 680;
  var view = wsloadCharts.mount(document.querySelectorAll('figure.chart'), C, {
    series: series, phases: report.phases || [], intervalMs: report.metrics && report.metrics.intervalMs
  });
  var charts = view.charts;
  var pending = 0;
  function onResize() { cancelAnimationFrame(pending); pending = requestAnimationFrame(function () { view.resize(); }); }
  if (typeof ResizeObserver !== 'undefined') {
    var ro = new ResizeObserver(onResize);
    charts.forEach(function (c) { ro.observe(c.el); });
  } else {
    window.addEventListener('resize', onResize);
  }
  // Printing: charts one per row, at a width that fits an A4/Letter page.
  window.addEventListener('beforeprint', function () { view.resize(PRINT_WIDTH); });
  window.addEventListener('afterprint', function () { view.resize(); });
  document.body.setAttribute('data-charts', String(charts.length));
})();
`;

/** Render the report as one self-contained HTML page. */
export function renderHtml(report: WsloadReport): string {
  const { js, css } = uplotAssets();
  const target = reportTarget(report);
  const title = `wsload ${report.command}${target ? ` · ${target}` : ''} · ${when(report.startedAt)}`;
  const body = [
    headerHtml(report),
    section('summary', 'Summary', cardsHtml(report)),
    section('thresholds', 'Thresholds', verdictTableHtml(report)),
    section('charts', 'Over time', chartsHtml(report), report.series.length > 0 ? `One point per ${report.metrics.intervalMs} ms interval.` : ''),
    section('latency', 'Latency by step', latencyTableHtml(report), 'Milliseconds; round trips per message type, every message, and the WebSocket handshake.'),
    section('errors', 'Errors', errorsHtml(report)),
    section('parameters', 'Parameters', parametersHtml(report)),
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="wsload ${e(report.version)}">
<title>${e(title)}</title>
<link rel="icon" href="data:,">
<style>${inlineSafe(css, 'style')}</style>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${body}
<footer>Generated by wsload ${e(report.version)} from a ${e(report.schema)} report. Self-contained: this file needs no network.</footer>
</main>
<script type="application/json" id="wsload-data">${embedJson(report)}</script>
<script type="application/json" id="wsload-colors">${embedJson(SERIES_COLORS)}</script>
<script>${inlineSafe(js, 'script')}</script>
<script>${CHARTS_JS}</script>
<script>${CLIENT_JS}</script>
</body>
</html>
`;
}
