/**
 * The charts over time, as browser code shared by the HTML report and the live dashboard so both
 * look alike: latency percentiles, throughput each way, active connections (and VUs) with arrivals,
 * errors, all on one time axis from the run's start with the phases as shaded bands. Plain ES5-style
 * JavaScript in a string; it defines `wsloadCharts.mount(figures, colors, model)` and needs uPlot.
 */

/**
 * `wsloadCharts.mount(figures, colors, model)` draws one uPlot per `figure.chart[data-chart]` and
 * returns `{ charts, update(model), resize(width?) }`. `model`: `{ series, phases, intervalMs,
 * xEnd?, hasVus? }` — `series` are report `SeriesPoint`s; `xEnd` (s) keeps the axis at least that
 * long (a live run's planned length); `hasVus` defaults to whether any point has `activeVusers`.
 */
export const CHARTS_JS = String.raw`
var wsloadCharts = (function () {
  'use strict';
  function fixed(d) { return function (u, v) { return v == null ? '–' : v.toFixed(d); }; }
  var axisStyle = { stroke: '#475569', grid: { stroke: '#eef2f7', width: 1 }, ticks: { stroke: '#cbd5e1', width: 1 }, font: '12px system-ui, sans-serif', labelFont: '12px system-ui, sans-serif' };
  function axis(o) { var a = {}; for (var k in axisStyle) a[k] = axisStyle[k]; for (var j in o) a[j] = o[j]; return a; }
  // Counts have whole-number ticks.
  var INT_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
  // Points are drawn while there are too few to make a line.
  function few(u) { return u.data[0].length < 3; }
  function zeroUp(u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; }

  function line(label, color, get, extra) {
    var s = { label: label, stroke: color, width: 2, value: fixed(2), points: { show: few, size: 6, fill: color }, spanGaps: false };
    for (var k in extra || {}) s[k] = extra[k];
    return { s: s, get: get };
  }
  function rtt(k) { return function (p) { return p.rtt ? p.rtt[k] : null; }; }

  function specsFor(C, hasVus) {
    return {
      latency: { unit: 'ms', lines: [
        line('p50', C.p50, rtt('p50')), line('p95', C.p95, rtt('p95')), line('p99', C.p99, rtt('p99')),
        line('max', C.max, rtt('max'), { dash: [5, 4], width: 1.5, show: false })
      ] },
      throughput: { unit: 'msg/s', lines: [
        line('sent/s', C.sent, function (p) { return p.sentPerSec; }),
        line('received/s', C.received, function (p) { return p.receivedPerSec; }, { dash: [6, 3] })
      ] },
      concurrency: { unit: 'open', int: true, right: 'arrivals/s', lines: [
        line('connections', C.connections, function (p) { return p.activeConnections; }, { value: fixed(0), fill: 'rgba(124,58,237,0.08)' })
      ].concat(hasVus ? [line('VUs', C.vusers, function (p) { return p.activeVusers === undefined ? null : p.activeVusers; }, { value: fixed(0) })] : [])
       .concat([line('arrivals/s', C.arrivals, function (p) { return p.durationSec > 0 ? Math.round(p.arrivals / p.durationSec * 100) / 100 : p.arrivals; }, { scale: 'right', width: 1.5, dash: [2, 3] })]) },
      errors: { unit: 'errors', int: true, lines: [
        line('errors', C.errors, function (p) { return p.errors; }, { value: fixed(0), fill: 'rgba(220,38,38,0.55)', width: 0,
          paths: uPlot.paths.bars({ size: [0.7, 48], align: 0 }), points: { show: false } })
      ] }
    };
  }

  function size(el) {
    var w = Math.max(260, Math.floor(el.clientWidth || 600));
    return { width: w, height: Math.round(Math.min(300, Math.max(200, w * 0.5))) };
  }

  function mount(figures, C, model) {
    var state = { series: [], phases: [], step: 1, xEnd: 0 };
    function take(m) {
      state.series = m.series || [];
      state.phases = (m.phases || []).filter(function (p) { return typeof p.startSec === 'number' && typeof p.endSec === 'number' && p.endSec >= p.startSec; });
      state.step = (m.intervalMs || 1000) / 1000;
      state.xEnd = m.xEnd || 0;
    }
    take(model);
    var hasVus = model.hasVus !== undefined ? model.hasVus : state.series.some(function (p) { return p.activeVusers !== undefined; });
    var specs = specsFor(C, hasVus);

    // The same x range on every chart, from the run's start, so the charts line up one under another.
    function xRange() {
      var s = state.series, end = s.length > 0 ? s[s.length - 1].t : 0;
      end = Math.max(end, state.xEnd, state.phases.reduce(function (m, p) { return Math.max(m, p.endSec); }, 0));
      return [0, Math.max(end, state.step) + state.step / 2];
    }

    // Phases: shaded bands behind the series, a line at each start, the name at the top.
    function drawPhases(u) {
      var phases = state.phases;
      if (phases.length === 0) return;
      var ctx = u.ctx, b = u.bbox, dpr = window.devicePixelRatio || 1;
      ctx.save();
      ctx.beginPath(); ctx.rect(b.left, b.top, b.width, b.height); ctx.clip();
      ctx.font = (11 * dpr) + 'px system-ui, sans-serif';
      // uPlot leaves the alignment of the last axis it drew: a redraw must not inherit it.
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      phases.forEach(function (p, i) {
        var x0 = u.valToPos(p.startSec, 'x', true), x1 = u.valToPos(p.endSec, 'x', true);
        ctx.fillStyle = i % 2 === 0 ? 'rgba(79,70,229,0.06)' : 'rgba(100,116,139,0.08)';
        ctx.fillRect(x0, b.top, Math.max(1, x1 - x0), b.height);
        ctx.strokeStyle = 'rgba(79,70,229,0.45)'; ctx.lineWidth = dpr; ctx.setLineDash([4 * dpr, 3 * dpr]);
        ctx.beginPath(); ctx.moveTo(Math.round(x0) + 0.5, b.top); ctx.lineTo(Math.round(x0) + 0.5, b.top + b.height); ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = '#4338ca';
        ctx.fillText(p.name, x0 + 4 * dpr, b.top + 3 * dpr, Math.max(0, x1 - x0 - 6 * dpr));
      });
      ctx.restore();
    }

    function dataFor(spec) {
      var s = state.series;
      return [s.map(function (p) { return p.t; })].concat(spec.lines.map(function (l) { return s.map(l.get); }));
    }

    var charts = [];
    Array.prototype.forEach.call(figures, function (fig) {
      var id = fig.getAttribute('data-chart');
      var spec = specs[id];
      if (!spec) return;
      var el = fig.querySelector('.plot');
      var dims = size(el);
      var opts = {
        width: dims.width, height: dims.height,
        padding: [14, spec.right ? 4 : 16, 0, 4],
        legend: { live: true },
        cursor: { drag: { x: true, y: false }, points: { size: 7 } },
        scales: { x: { time: false, range: xRange }, y: { range: zeroUp }, right: { range: zeroUp } },
        axes: [
          axis({ label: 'time since start (s)', labelSize: 22, values: function (u, vals) { return vals.map(function (v) { return v + ' s'; }); } }),
          axis(spec.int ? { label: spec.unit, labelSize: 22, size: 56, incrs: INT_INCRS } : { label: spec.unit, labelSize: 22, size: 56 })
        ].concat(spec.right ? [axis({ scale: 'right', side: 1, label: spec.right, labelSize: 22, size: 52, grid: { show: false } })] : []),
        series: [{ label: 'time', value: function (u, v) { return v == null ? '–' : v.toFixed(1) + ' s'; } }].concat(spec.lines.map(function (l) { return l.s; })),
        hooks: { drawClear: [drawPhases] }
      };
      charts.push({ id: id, spec: spec, el: el, u: new uPlot(opts, dataFor(spec), el) });
    });

    return {
      charts: charts,
      /** New points (and phases): redraw every chart. */
      update: function (m) {
        take(m);
        charts.forEach(function (c) { c.u.setData(dataFor(c.spec)); });
      },
      /** Fit the charts to their boxes, or to a fixed width (printing). */
      resize: function (width) {
        charts.forEach(function (c) {
          var d = width ? { width: width, height: Math.round(width * 0.42) } : size(c.el);
          if (d.width !== c.u.width || d.height !== c.u.height) c.u.setSize(d);
        });
      }
    };
  }
  return { mount: mount };
})();
`;
