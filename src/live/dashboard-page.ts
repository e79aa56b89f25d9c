/**
 * The live dashboard's page: HTML (the report's stylesheet plus a few live parts), and the browser
 * code that follows the run over Server-Sent Events and draws the report's own charts
 * (src/report/charts-client.ts). Pure strings; src/live/dashboard.ts serves them.
 */
import { escapeHtml as e, embedJson, REPORT_CSS, SERIES_COLORS } from '../report/html.js';
import type { LiveMeta } from './feed.js';

/** Paths the page loads, all from the dashboard itself. */
export const ASSET_PATHS = {
  uplotJs: '/assets/uPlot.iife.min.js',
  uplotCss: '/assets/uPlot.min.css',
  chartsJs: '/assets/charts.js',
  dashboardJs: '/assets/dashboard.js',
} as const;

const CHARTS = [
  { id: 'latency', title: 'Round-trip latency', unit: 'ms', note: 'Percentiles of the replies received in each interval (ws.rtt).' },
  { id: 'throughput', title: 'Throughput', unit: 'messages/s', note: 'Requests sent and replies received per second.' },
  { id: 'concurrency', title: 'Active connections', unit: 'open at interval end', note: 'Open connections at the end of each interval; arrivals per second on the right axis.' },
  { id: 'errors', title: 'Errors', unit: 'per interval', note: 'Errors of every kind counted in each interval.' },
] as const;

const TILES: ReadonlyArray<{ id: string; label: string; vus?: boolean }> = [
  { id: 'arrivals', label: 'Arrivals' },
  { id: 'connections', label: 'Connections' },
  { id: 'vusers', label: 'Active VUs', vus: true },
  { id: 'sent', label: 'Sent' },
  { id: 'received', label: 'Received' },
  { id: 'p50', label: 'P50' },
  { id: 'p99', label: 'P99' },
  { id: 'errors', label: 'Errors' },
];

const DASHBOARD_CSS = `
main.live{max-width:1720px;padding:20px 24px 32px}
.headrow{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:10px 24px}
.headrow h1{margin:2px 0 4px}
.actions{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.pill{display:inline-flex;align-items:center;gap:8px;padding:5px 12px;border-radius:999px;font-weight:600;font-size:14px;border:1px solid var(--line);background:#f1f5f9;color:var(--muted)}
.dot{width:9px;height:9px;border-radius:50%;background:currentColor}
body[data-state=running] #status{color:var(--good);background:var(--good-bg);border-color:#bbf7d0}
body[data-state=running] #status .dot{animation:pulse 1.6s ease-in-out infinite}
body[data-state=stopping] #status{color:var(--warn);background:var(--warn-bg);border-color:#fde68a}
@keyframes pulse{0%,100%{opacity:1}50%{opacity:.25}}
@media (prefers-reduced-motion:reduce){body[data-state=running] #status .dot{animation:none}}
button,.button{font:inherit;font-size:14px;font-weight:600;padding:6px 16px;border-radius:8px;cursor:pointer;text-decoration:none;display:inline-block;line-height:1.5}
#stop{color:#fff;background:#dc2626;border:1px solid #b91c1c}
#stop:hover{background:#b91c1c}
#stop:disabled{background:#f1f5f9;color:var(--muted);border-color:var(--line);cursor:default}
#stop.close{background:#fff;color:var(--fg);border-color:var(--line)}
.button{color:#fff;background:var(--accent);border:1px solid #4338ca}
.button:hover{background:#4338ca}
#final{margin-top:10px}
.progress{margin:14px 0 0}
.bar{position:relative;height:26px;border-radius:7px;background:#e2e8f0;overflow:hidden}
.segs{display:flex;height:100%}
.bar .seg{height:100%;border-right:2px solid #f8fafc;position:relative;min-width:2px;background:#e0e7ff}
.bar .seg.alt{background:#e2e8f0}
.bar .seg span{position:absolute;left:8px;top:3px;font-size:12px;font-weight:600;color:#334155;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:calc(100% - 12px);z-index:2}
.bar .fill{position:absolute;left:0;top:0;bottom:0;background:linear-gradient(90deg,#818cf8,#4f46e5);opacity:.55;transition:width .8s linear;z-index:1}
.progress-text{display:flex;flex-wrap:wrap;justify-content:space-between;gap:4px 18px;margin-top:6px;font-size:14px;color:var(--muted);font-variant-numeric:tabular-nums}
.progress-text b{color:var(--fg)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:16px 0 0}
.tile{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.tile .label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;font-weight:600;color:var(--muted)}
.tile .value{font-size:28px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.2;white-space:nowrap}
.tile .unit{font-size:14px;font-weight:500;color:var(--muted);margin-left:3px}
.tile .sub{font-size:12px;color:var(--faint);white-space:nowrap}
.tile.bad .value{color:var(--bad)}
.layout{display:grid;grid-template-columns:minmax(0,1fr) minmax(320px,420px);gap:0 18px;align-items:start}
.layout section{margin:16px 0 0}
.side table{font-size:13.5px}
.side th,.side td{padding:5px 8px}
#thresholds td.mark{font-size:16px;width:24px;text-align:center}
#thresholds .msg,#errors .msg{color:var(--muted);font-size:12.5px}
#thresholds .verdicts td:last-child{min-width:0;font-weight:600}
.side td:first-child{word-break:normal}
.conn{font-size:13px;color:var(--muted)}
[hidden]{display:none!important}
@media (max-width:1100px){.layout{grid-template-columns:1fr}}
`;

function chartFigures(meta: LiveMeta): string {
  return CHARTS.map((c) => {
    const title = c.id === 'concurrency' && meta.vusers ? 'Active connections and VUs' : c.title;
    return `<figure class="chart" data-chart="${c.id}"><figcaption><span class="chart-title">${e(title)}</span> <span class="unit">${e(c.unit)}</span><span class="chart-note">${e(c.note)}</span></figcaption><div class="plot"></div></figure>`;
  }).join('');
}

/** The page for a run; the figures arrive over `/events`. */
export function renderDashboardPage(meta: LiveMeta, version: string): string {
  const what = `wsload ${meta.command}`;
  const tiles = TILES.filter((t) => !t.vus || meta.vusers)
    .map((t) => `<div class="tile" id="tile-${t.id}"><div class="label">${e(t.label)}</div><div class="value">–</div><div class="sub">&nbsp;</div></div>`)
    .join('');
  const params = meta.parameters.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${e(v)}</td></tr>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="wsload ${e(version)}">
<title>${e(what)} · live · ${e(meta.target)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSET_PATHS.uplotCss}">
<style>${REPORT_CSS}${DASHBOARD_CSS}</style>
</head>
<body data-state="connecting">
<main class="live">
<header class="top">
<div class="kicker">${e(what)} · live dashboard</div>
<div class="headrow">
<h1>${e(meta.target)}</h1>
<div class="actions">
<span class="pill" id="status"><span class="dot"></span><span id="status-text">connecting…</span></span>
<a class="button" id="report" href="/report.html" target="_blank" rel="noopener" hidden>Open HTML report</a>
<button type="button" id="stop" title="End the run now, as Ctrl-C does: reports are written and marked aborted">Stop test</button>
</div>
</div>
<div class="meta">${meta.script !== undefined ? `<span><b>Script</b> ${e(meta.script)}</span>` : ''}<span><b>Started</b> <span id="started">–</span></span><span class="conn" id="conn"></span></div>
<div class="verdict verdict-none" id="final" hidden><span class="mark"></span> <span class="text"></span></div>
<div class="progress"><div class="bar" id="bar"><div class="segs" id="segs"></div><div class="fill" id="fill"></div></div>
<div class="progress-text"><span id="elapsed"></span><span id="phase"></span><span id="remaining"></span></div></div>
</header>
<div class="tiles">${tiles}</div>
<div class="layout">
<div>
<section id="charts"><h2>Over time</h2><p class="note">One point per ${meta.intervalMs ?? 1000} ms interval; shaded bands mark the phases. Drag across a chart to zoom, double-click to reset.</p><div class="charts">${chartFigures(meta)}</div></section>
</div>
<div class="side">
<section id="thresholds"><h2>Thresholds</h2><div id="verdicts"><p class="empty">No thresholds are judged for this run.</p></div></section>
<section id="errors"><h2>Errors by kind</h2><div id="error-table"><p class="empty">No errors.</p></div></section>
<section id="parameters"><h2>Parameters</h2><div class="tw"><table class="params"><tbody>${params}</tbody></table></div></section>
</div>
</div>
<footer>wsload ${e(version)} · live dashboard · updates every second · everything is served by wsload itself</footer>
</main>
<script type="application/json" id="wsload-colors">${embedJson(SERIES_COLORS)}</script>
<script type="application/json" id="wsload-meta">${embedJson(meta)}</script>
<script src="${ASSET_PATHS.uplotJs}"></script>
<script src="${ASSET_PATHS.chartsJs}"></script>
<script src="${ASSET_PATHS.dashboardJs}"></script>
</body>
</html>
`;
}

/**
 * The page's code: follows `/events` (`hello` with the history so far, then `point`, `status`,
 * `end`), fills the tiles, progress bar, tables and charts, and sends Stop / Close.
 */
export const DASHBOARD_JS = String.raw`
(function () {
  'use strict';
  var C = JSON.parse(document.getElementById('wsload-colors').textContent);
  var meta = JSON.parse(document.getElementById('wsload-meta').textContent);
  var body = document.body;
  function $(id) { return document.getElementById(id); }
  var ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function int(n) { return Math.round(n).toLocaleString('en-US'); }
  function rate(n) { return n >= 100 ? int(n) : n.toFixed(1); }
  function clock(ms) {
    var t = Math.max(0, Math.round(ms / 1000)), h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60), s = t % 60;
    return (h > 0 ? h + ':' + (m < 10 ? '0' : '') + m : m) + ':' + (s < 10 ? '0' : '') + s;
  }
  var MARK = { met: '✔', warning: '▲', critical: '✖', not_judged: '–' };
  var WORD = { met: 'met', warning: 'warning', critical: 'critical', not_judged: 'not judged' };
  var HEAD = { passed: '✔', warning: '▲', failed: '✖', none: '–' };

  var series = [], phases = [], view = null, ended = null, state = null;
  var xEnd = meta.plan.kind === 'phases' ? meta.plan.durationMs / 1000 : 0;

  function tile(id, value, unit, sub, bad) {
    var el = $('tile-' + id);
    if (!el) return;
    el.querySelector('.value').innerHTML = esc(value) + (unit ? '<span class="unit">' + esc(unit) + '</span>' : '');
    el.querySelector('.sub').textContent = sub || '\u00a0';
    el.className = 'tile' + (bad ? ' bad' : '');
  }

  function setStatus(s, text) {
    body.setAttribute('data-state', s);
    $('status-text').textContent = text;
  }

  // The progress bar: filled to the progress; a run's planned phases as labelled segments.
  var segsDrawn = '';
  function drawBar(st) {
    if (meta.plan.kind === 'phases' && xEnd > 0) {
      var html = phases.map(function (p, i) {
        var w = Math.max(0, Math.min(p.endSec, xEnd) - Math.max(p.startSec, 0)) / xEnd * 100;
        return '<div class="seg' + (i % 2 === 0 ? '' : ' alt') + '" style="width:' + w.toFixed(3) + '%"><span>' + esc(p.name) + '</span></div>';
      }).join('');
      if (html !== segsDrawn) { $('segs').innerHTML = html; segsDrawn = html; }
    }
    var pct = st && st.progress != null ? st.progress * 100 : 0;
    $('fill').style.width = pct.toFixed(2) + '%';
  }

  function drawState(st) {
    state = st;
    var planned = st.plannedMs != null ? ' / ' + clock(st.plannedMs) : '';
    var pct = st.progress != null ? ' · ' + Math.floor(st.progress * 100) + '%' : '';
    $('elapsed').innerHTML = '<b>' + clock(st.elapsedMs) + '</b>' + esc(planned) + esc(pct);
    var phase = st.phase != null ? st.phase + (st.phaseNumber != null && st.phaseCount > 1 ? ' (' + st.phaseNumber + '/' + st.phaseCount + ')' : '') : '';
    $('phase').innerHTML = phase ? 'phase <b>' + esc(phase) + '</b>' : '';
    $('remaining').textContent = st.remainingMs != null && !ended ? (st.remainingEstimated ? '~' : '') + clock(st.remainingMs) + ' left' : '';
    drawBar(st);
    tile('arrivals', rate(st.arrivalsPerSec), '/s', 'last interval');
    tile('connections', int(st.activeConnections), '', 'open now');
    if (st.activeVusers != null) tile('vusers', int(st.activeVusers), '', 'active now');
    tile('sent', rate(st.sentPerSec), '/s', int(st.messagesSent) + ' in total');
    tile('received', rate(st.receivedPerSec), '/s', int(st.messagesReceived) + ' in total');
    tile('p50', st.p50Ms == null ? '–' : st.p50Ms.toFixed(2), st.p50Ms == null ? '' : 'ms', 'last interval');
    tile('p99', st.p99Ms == null ? '–' : st.p99Ms.toFixed(2), st.p99Ms == null ? '' : 'ms', 'last interval');
    tile('errors', int(st.errorsTotal), '', st.errors > 0 ? '+' + int(st.errors) + ' in the last interval' : 'in total', st.errorsTotal > 0);
  }

  function drawVerdicts(rows) {
    if (!rows || rows.length === 0) { $('verdicts').innerHTML = '<p class="empty">No thresholds are judged for this run.</p>'; return; }
    $('verdicts').innerHTML = '<div class="tw"><table class="verdicts"><thead><tr><th></th><th>threshold</th><th class="num">' + (ended ? 'final' : 'now') + '</th></tr></thead><tbody>' +
      rows.map(function (v) {
        return '<tr class="st-' + v.status + '"><td class="mark" title="' + WORD[v.status] + '">' + MARK[v.status] + '</td><td>' + esc(v.name) +
          '<div class="msg">' + esc(v.detail) + '</div></td><td class="num">' + esc(v.actual) + '</td></tr>';
      }).join('') + '</tbody></table></div>';
  }

  function drawErrors(rows) {
    if (!rows || rows.length === 0) { $('error-table').innerHTML = '<p class="empty">No errors.</p>'; return; }
    $('error-table').innerHTML = '<div class="tw"><table><thead><tr><th>kind</th><th class="num">count</th><th class="num">share</th></tr></thead><tbody>' +
      rows.map(function (x) {
        return '<tr><td><code>' + esc(x.kind) + '</code><div class="msg">' + esc(x.label) + '</div></td><td class="num">' + int(x.count) + '</td><td class="num">' + x.share.toFixed(1) + ' %</td></tr>';
      }).join('') + '</tbody></table></div>';
  }

  function drawCharts() {
    var model = { series: series, phases: phases, intervalMs: meta.intervalMs || 1000, xEnd: xEnd, hasVus: meta.vusers };
    if (view === null && typeof uPlot !== 'undefined' && typeof wsloadCharts !== 'undefined') {
      view = wsloadCharts.mount(document.querySelectorAll('figure.chart'), C, model);
      var pending = 0;
      var onResize = function () { cancelAnimationFrame(pending); pending = requestAnimationFrame(function () { view.resize(); }); };
      if (typeof ResizeObserver !== 'undefined') {
        var ro = new ResizeObserver(onResize);
        view.charts.forEach(function (c) { ro.observe(c.el); });
      } else {
        window.addEventListener('resize', onResize);
      }
      body.setAttribute('data-charts', String(view.charts.length));
    } else if (view !== null) {
      view.update(model);
    }
    body.setAttribute('data-points', String(series.length));
  }

  function apply(d) {
    if (d.phases) phases = d.phases;
    if (d.state) drawState(d.state);
    if (d.verdicts) drawVerdicts(d.verdicts);
    if (d.errors) drawErrors(d.errors);
    drawCharts();
  }

  function showEnd(d) {
    ended = d.end;
    var f = $('final');
    f.className = 'verdict verdict-' + ended.status;
    f.querySelector('.mark').textContent = HEAD[ended.status];
    f.querySelector('.text').textContent = (ended.aborted ? 'Stopped early — ' : '') + ended.text;
    f.hidden = false;
    body.setAttribute('data-verdict', ended.status);
    setStatus('ended', ended.aborted ? 'stopped' : 'finished');
    if (d.reportUrl) { $('report').href = d.reportUrl; $('report').hidden = false; }
    var stop = $('stop');
    stop.disabled = false;
    stop.className = 'close';
    stop.textContent = 'Close dashboard';
    stop.title = 'Stop serving this page; the command then exits';
    $('remaining').textContent = '';
    if (state) drawState(state);
  }

  $('stop').addEventListener('click', function () {
    var stop = $('stop');
    var closing = ended !== null;
    stop.disabled = true;
    fetch(closing ? '/close' : '/stop', { method: 'POST', headers: { 'X-Wsload': closing ? 'close' : 'stop' } })
      .then(function (r) {
        if (!r.ok) { stop.disabled = false; return; }
        if (closing) { stop.textContent = 'Closed'; return; }
        stop.textContent = 'Stopping…';
        setStatus('stopping', 'stopping…');
      })
      .catch(function () { stop.disabled = false; });
  });

  var es = new EventSource('/events');
  es.addEventListener('hello', function (ev) {
    var d = JSON.parse(ev.data);
    series = d.series;
    if (d.end) ended = d.end;
    $('started').textContent = new Date(d.startedAt).toLocaleString();
    $('conn').textContent = '';
    if (!d.end) setStatus(d.status, d.status === 'stopping' ? 'stopping…' : 'running');
    apply(d);
    if (d.end) showEnd(d);
  });
  es.addEventListener('point', function (ev) {
    var d = JSON.parse(ev.data);
    series[d.index] = d.point;
    apply(d);
  });
  es.addEventListener('status', function (ev) {
    var d = JSON.parse(ev.data);
    if (d.status === 'stopping' && !ended) { setStatus('stopping', 'stopping…'); $('stop').disabled = true; $('stop').textContent = 'Stopping…'; }
  });
  es.addEventListener('end', function (ev) {
    var d = JSON.parse(ev.data);
    series = d.series;
    ended = d.end;
    apply(d);
    showEnd(d);
  });
  es.onerror = function () {
    if (ended) { es.close(); $('conn').textContent = 'wsload has closed the dashboard'; $('stop').hidden = true; body.setAttribute('data-state', 'closed'); }
    else $('conn').textContent = 'connection lost: reconnecting…';
  };
})();
`;
