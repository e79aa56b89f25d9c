import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { initHistograms } from '../../src/metrics/index.js';
import { parseThresholdArg } from '../../src/thresholds/cli.js';
import { parseEnsure } from '../../src/thresholds/ensure.js';
import { evaluate, evaluateThreshold, overall } from '../../src/thresholds/evaluate.js';
import { buildThresholdSet, thresholdsFromConfig } from '../../src/thresholds/set.js';
import { parseSlo } from '../../src/thresholds/slo.js';
import type { Threshold, Verdict } from '../../src/thresholds/types.js';
import { createMetricView, type MetricView } from '../../src/thresholds/view.js';
import { snapshot, type Run } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

/** n values: 98 % at `low`, 2 % at `high` — so p95 = low and p99 = high. */
const spread = (low: number, high: number, n = 1000): number[] => [...Array<number>(n * 0.98).fill(low), ...Array<number>(n * 0.02).fill(high)];

/** A run of virtual users, as `wsload run` records it. */
const scriptRun: Run = {
  counters: {
    'vusers.created': 100,
    'vusers.completed': 98,
    'vusers.failed': 2,
    'connections.attempted': 100,
    'connections.successful': 99,
    'messages.sent': 2000,
    'messages.received': 1990,
  },
  errors: { reply_timeout: 10 },
  rtt: { ping: spread(40, 300) },
  durationMs: 10_000,
};
const view: MetricView = createMetricView(snapshot(scriptRun));

const judge = (ts: Threshold[], v: MetricView = view): Verdict[] => evaluate(buildThresholdSet({ script: ts }), v);

describe('config.slo', () => {
  const yaml = `
config:
  slo:
    ws.rtt.ping:
      - "p(95)<50"                                  # critical
      - { warning: "p(99)<100", critical: "p(99)<250" }
      - { threshold: "p(99)<500", abortOnFail: true, delayAbortEval: "10s" }
    connections.success_rate: ["rate>0.99"]
`;
  const parsed = parseSlo((parseYaml(yaml) as { config: { slo: unknown } }).config.slo);

  it('reads the documented shape into thresholds, one per entry', () => {
    expect(parsed.issues).toEqual([]);
    expect(
      parsed.thresholds.map((t) => ({ id: t.id, name: t.name, metric: t.metric, levels: t.checks.map((c) => `${c.level}: ${c.expression}`), abort: t.abortOnFail, delay: t.delayAbortEvalMs, path: t.path })),
    ).toEqual([
      { id: 'slo["ws.rtt.ping"][0]', name: 'ws.rtt.ping.p95', metric: 'ws.rtt.ping', levels: ['critical: p(95)<50'], abort: false, delay: 0, path: ['config', 'slo', 'ws.rtt.ping', 0] },
      {
        id: 'slo["ws.rtt.ping"][1]',
        name: 'ws.rtt.ping.p99',
        metric: 'ws.rtt.ping',
        levels: ['warning: p(99)<100', 'critical: p(99)<250'],
        abort: false,
        delay: 0,
        path: ['config', 'slo', 'ws.rtt.ping', 1],
      },
      { id: 'slo["ws.rtt.ping"][2]', name: 'ws.rtt.ping.p99', metric: 'ws.rtt.ping', levels: ['critical: p(99)<500'], abort: true, delay: 10_000, path: ['config', 'slo', 'ws.rtt.ping', 2] },
      {
        id: 'slo["connections.success_rate"][0]',
        name: 'connections.success_rate',
        metric: 'connections.success_rate',
        levels: ['critical: rate>0.99'],
        abort: false,
        delay: 0,
        path: ['config', 'slo', 'connections.success_rate', 0],
      },
    ]);
  });

  it('judges each entry: p95 40 ms, p99 300 ms, 99 % of connections', () => {
    expect(judge(parsed.thresholds).map((v) => [v.status, v.message])).toEqual([
      ['met', 'ws.rtt.ping.p95 = 40.031 ms passes < 50 ms'],
      ['critical', 'ws.rtt.ping.p99 = 300.031 ms crosses critical >= 250 ms'],
      ['met', 'ws.rtt.ping.p99 = 300.031 ms passes < 500 ms'],
      ['critical', 'connections.success_rate = 99% crosses critical <= 99%'],
    ]);
  });

  it('gives the target / warning / critical verdicts of a three-level entry', () => {
    const { thresholds, issues } = parseSlo({ 'ws.rtt.ping': { target: 'p(99)<250', warning: 'p(99)<400', critical: 'p(99)<1s' } });
    expect(issues).toEqual([]);
    const at = (high: number): Verdict => evaluateThreshold(thresholds[0]!, createMetricView(snapshot({ rtt: { ping: spread(10, high) } })));
    expect(at(200)).toMatchObject({ status: 'met', decidedBy: 'target', message: 'ws.rtt.ping.p99 = 200.063 ms meets target < 250 ms' });
    expect(at(300)).toMatchObject({ status: 'warning', decidedBy: 'target', message: 'ws.rtt.ping.p99 = 300.031 ms misses target < 250 ms' });
    expect(at(500)).toMatchObject({ status: 'warning', decidedBy: 'warning', message: 'ws.rtt.ping.p99 = 500.223 ms crosses warning >= 400 ms' });
    expect(at(1500)).toMatchObject({ status: 'critical', decidedBy: 'critical', message: 'ws.rtt.ping.p99 = 1500.159 ms crosses critical >= 1000 ms' });
  });

  it('takes a single string or mapping instead of a list, level prefixes, names and compound expressions', () => {
    const { thresholds, issues } = parseSlo({
      'ws.rtt': 'warning: p(95) < 30',
      'messages.received': { threshold: 'rate > 100', name: 'replies per second' },
      'ws.rtt.ping': ['abort: max < 2s', 'avg < 100 and p(99.9) < 1s'],
      'errors.total': 'count == 0',
    });
    expect(issues).toEqual([]);
    expect(thresholds.map((t) => [t.id, t.name, t.checks[0]!.level, t.abortOnFail])).toEqual([
      ['slo["ws.rtt"]', 'ws.rtt.p95', 'warning', false],
      ['slo["messages.received"]', 'replies per second', 'critical', false],
      ['slo["ws.rtt.ping"][0]', 'ws.rtt.ping.max', 'critical', true],
      ['slo["ws.rtt.ping"][1]', 'ws.rtt.ping: avg < 100 and p(99.9) < 1s', 'critical', false],
      ['slo["errors.total"]', 'errors.total.count', 'critical', false],
    ]);
    expect(judge(thresholds).map((v) => [v.status, v.message])).toEqual([
      ['warning', 'ws.rtt.p95 = 40.031 ms crosses warning >= 30 ms'],
      ['met', 'messages.received.rate = 199/s passes > 100/s'],
      ['met', 'ws.rtt.ping.max = 300.031 ms passes < 2000 ms'],
      ['met', "'avg < 100 and p(99.9) < 1s' holds: ws.rtt.ping.avg = 45.214 ms, ws.rtt.ping.p999 = 300.031 ms"],
      ['critical', 'errors.total.count = 10 crosses critical != 0'],
    ]);
  });

  it('does not judge a metric the run did not produce, and says why', () => {
    const { thresholds } = parseSlo({ 'ws.rtt.subscribe': ['p(95)<50'], 'vusers.failed_rate': ['rate<1%'] });
    const v = judge(thresholds, createMetricView(snapshot({ rtt: { ping: [1] } })));
    expect(v.map((x) => [x.status, x.message])).toEqual([
      ['not_judged', "ws.rtt.subscribe.p95 not judged: no values were recorded in 'ws.rtt.subscribe'"],
      ['not_judged', 'vusers.failed_rate not judged: vusers.created was not measured (this run has no virtual users)'],
    ]);
    expect(overall(v)).toMatchObject({ status: 'passed', exitCode: 0, counts: { not_judged: 2 } });
  });

  it('reports every problem with its path, and a column for expressions', () => {
    const { thresholds, issues } = parseSlo({
      'ws.rtt.ping': [
        'p(95)<<50',
        42,
        { threshold: 'p(99)<500', critical: 'p(99)<400' },
        { warning: 100 },
        { abortOnFailure: true, threshold: 'p(99)<500' },
        {},
        { warning: 'p(99)<100', abortOnFail: true },
        { threshold: 'p(99)<500', abortOnFail: 'yes', delayAbortEval: 'soon' },
        { threshold: 'p(99)<500', delayAbortEval: '10s' },
        'warning:  p(95)<<50',
        { critical: 'p(99) < 100', name: '' },
      ],
      'ws rtt': ['p(95)<1'],
      'ws.connect': [],
    });
    expect(thresholds.map((t) => t.id)).toEqual(['slo["ws.rtt.ping"][8]']);
    expect(issues).toEqual([
      { severity: 'error', path: ['config', 'slo', 'ws.rtt.ping', 0], message: "threshold 'p(95)<<50': unexpected '<' at column 7", column: 7 },
      {
        severity: 'error',
        path: ['config', 'slo', 'ws.rtt.ping', 1],
        message: `slo["ws.rtt.ping"][1] must be a threshold like 'p(95)<200' or a mapping like { warning: 'p(99)<100', critical: 'p(99)<250' }, got 42`,
      },
      {
        severity: 'error',
        path: ['config', 'slo', 'ws.rtt.ping', 2],
        message: `slo["ws.rtt.ping"][2] has both threshold and critical: threshold is k6's name for the critical level, keep one`,
      },
      { severity: 'error', path: ['config', 'slo', 'ws.rtt.ping', 3, 'warning'], message: `slo["ws.rtt.ping"][3].warning must be a threshold like 'p(95)<200', got 100` },
      { severity: 'error', path: ['config', 'slo', 'ws.rtt.ping', 4, 'abortOnFailure'], message: `unknown key 'abortOnFailure' in slo["ws.rtt.ping"][4]`, hint: "did you mean 'abortOnFail'?" },
      { severity: 'error', path: ['config', 'slo', 'ws.rtt.ping', 5], message: `slo["ws.rtt.ping"][5] needs at least one of target, warning, critical or threshold` },
      {
        severity: 'error',
        path: ['config', 'slo', 'ws.rtt.ping', 6, 'abortOnFail'],
        message: `slo["ws.rtt.ping"][6].abortOnFail needs a critical level (threshold or critical): only a critical crossing stops a run`,
      },
      { severity: 'error', path: ['config', 'slo', 'ws.rtt.ping', 7, 'abortOnFail'], message: `slo["ws.rtt.ping"][7].abortOnFail must be true or false, got 'yes'` },
      {
        severity: 'error',
        path: ['config', 'slo', 'ws.rtt.ping', 7, 'delayAbortEval'],
        message: `slo["ws.rtt.ping"][7].delayAbortEval must be a duration like '10s' or a number of seconds, got 'soon'`,
      },
      { severity: 'warning', path: ['config', 'slo', 'ws.rtt.ping', 7, 'delayAbortEval'], message: `slo["ws.rtt.ping"][7].delayAbortEval has no effect without abortOnFail: true` },
      { severity: 'warning', path: ['config', 'slo', 'ws.rtt.ping', 8, 'delayAbortEval'], message: `slo["ws.rtt.ping"][8].delayAbortEval has no effect without abortOnFail: true` },
      { severity: 'error', path: ['config', 'slo', 'ws.rtt.ping', 9], message: "threshold 'warning:  p(95)<<50': unexpected '<' at column 17", column: 17 },
      { severity: 'error', path: ['config', 'slo', 'ws.rtt.ping', 10, 'name'], message: `slo["ws.rtt.ping"][10].name must be a non-empty string, got ''` },
      { severity: 'error', path: ['config', 'slo', 'ws rtt'], message: `slo key 'ws rtt' is not a metric name like 'ws.rtt.ping' or 'connections.success_rate'` },
      { severity: 'warning', path: ['config', 'slo', 'ws.connect'], message: `slo["ws.connect"] is an empty list: nothing is checked` },
    ]);
  });

  it('refuses an slo that is not a mapping, and warns about an empty one', () => {
    expect(parseSlo(['p(95)<50']).issues).toEqual([
      { severity: 'error', path: ['config', 'slo'], message: "slo must be a mapping of metric names to thresholds, like { ws.rtt.ping: ['p(95)<50'] }, got a list" },
    ]);
    expect(parseSlo(null).issues).toEqual([{ severity: 'warning', path: ['config', 'slo'], message: 'slo is empty: no threshold is declared' }]);
    expect(parseSlo(undefined)).toEqual({ thresholds: [], issues: [] });
  });
});

describe('config.ensure (Artillery)', () => {
  it('thresholds: metric < value, strict — at the value itself the check fails', () => {
    const { thresholds, issues } = parseEnsure({ thresholds: [{ 'ws.rtt.p99': 250 }, { 'ws.rtt.p95': '50' }, { 'vusers.failed': 2 }, { 'messages.received': 1990 }] });
    expect(issues).toEqual([]);
    expect(thresholds.map((t) => [t.id, t.name, t.checks[0]!.level])).toEqual([
      ['ensure.thresholds[0]', 'ws.rtt.p99 < 250', 'critical'],
      ['ensure.thresholds[1]', 'ws.rtt.p95 < 50', 'critical'],
      ['ensure.thresholds[2]', 'vusers.failed < 2', 'critical'],
      ['ensure.thresholds[3]', 'messages.received < 1990', 'critical'],
    ]);
    expect(judge(thresholds).map((v) => [v.status, v.message])).toEqual([
      ['critical', 'ws.rtt.p99 = 300.031 ms crosses critical >= 250 ms'],
      ['met', 'ws.rtt.p95 = 40.031 ms passes < 50 ms'],
      ['critical', 'vusers.failed = 2 crosses critical >= 2'],
      ['critical', 'messages.received = 1990 crosses critical >= 1990'],
    ]);
  });

  it('conditions: the expression must hold; strict: false turns a failure into a warning', () => {
    const { thresholds, issues } = parseEnsure({
      conditions: [
        { expression: 'ws.rtt.p99 < 100 and vusers.failed == 0' },
        { expression: 'ws.rtt.p99 < 100 and vusers.failed == 0', strict: false },
        { expression: 'vusers.created >= 100 or ws.rtt.p99 < 1', strict: true },
        { expression: 'not messages.received < 1000' },
      ],
    });
    expect(issues).toEqual([]);
    expect(judge(thresholds).map((v) => [v.id, v.status, v.message])).toEqual([
      ['ensure.conditions[0]', 'critical', "'ws.rtt.p99 < 100 and vusers.failed == 0' fails (critical): ws.rtt.p99 = 300.031 ms, vusers.failed = 2"],
      ['ensure.conditions[1]', 'warning', "'ws.rtt.p99 < 100 and vusers.failed == 0' fails (warning): ws.rtt.p99 = 300.031 ms, vusers.failed = 2"],
      ['ensure.conditions[2]', 'met', "'vusers.created >= 100 or ws.rtt.p99 < 1' holds: vusers.created = 100, ws.rtt.p99 = 300.031 ms"],
      ['ensure.conditions[3]', 'met', "'not messages.received < 1000' holds: messages.received = 1990"],
    ]);
  });

  it('fails a check on a metric the run did not produce, as Artillery does', () => {
    const { thresholds } = parseEnsure({
      thresholds: [{ 'http.response_time.p99': 250 }],
      conditions: [{ expression: 'errors.ETIMEDOUT == 0', strict: false }],
    });
    const v = judge(thresholds);
    expect(v.map((x) => [x.status, x.message])).toEqual([
      ['critical', "http.response_time.p99 < 250 fails (critical): unknown metric 'http.response_time.p99' (wsload's round-trip histogram is 'ws.rtt', e.g. 'ws.rtt.p99')"],
      ['warning', "errors.ETIMEDOUT == 0 fails (warning): unknown metric 'errors.ETIMEDOUT'"],
    ]);
    expect(overall(v)).toMatchObject({ status: 'failed', exitCode: 3 });
  });

  it('maxErrorRate: the % of virtual users that did not complete must stay at or under it', () => {
    const rate = (max: number, run: Run = scriptRun): Verdict => {
      const { thresholds, issues } = parseEnsure({ maxErrorRate: max });
      expect(issues).toEqual([]);
      return evaluateThreshold(thresholds[0]!, createMetricView(snapshot(run)));
    };
    expect(rate(1)).toMatchObject({
      id: 'ensure.maxErrorRate',
      name: 'maxErrorRate 1%',
      status: 'critical',
      actual: 2,
      unit: 'percent',
      critical: '(vusers.created - vusers.completed) / vusers.created * 100 <= 1',
      message: 'virtual users not completed = 2% crosses critical > 1%',
    });
    expect(rate(2)).toMatchObject({ status: 'met', message: 'virtual users not completed = 2% passes <= 2%' });
    expect(rate(5, { counters: { 'vusers.created': 0, 'vusers.completed': 0 } })).toMatchObject({
      status: 'critical',
      message: "(vusers.created - vusers.completed) / vusers.created * 100 <= 5 fails (critical): vusers.created is 0, so '(vusers.created - vusers.completed) / vusers.created' has no value",
    });
  });

  it('legacy p95 / p99 / max / min / median keys: ws.rtt.<key> < parseInt(value)', () => {
    const { thresholds, issues } = parseEnsure({ p95: 50, p99: '250.9', max: 1000, min: 40, median: 41 });
    expect(issues).toEqual([]);
    expect(judge(thresholds).map((v) => [v.id, v.status, v.message])).toEqual([
      ['ensure.min', 'critical', 'ws.rtt.min = 40 ms crosses critical >= 40 ms'],
      ['ensure.max', 'met', 'ws.rtt.max = 300.031 ms passes < 1000 ms'],
      ['ensure.median', 'met', 'ws.rtt.median = 40.031 ms passes < 41 ms'],
      ['ensure.p95', 'met', 'ws.rtt.p95 = 40.031 ms passes < 50 ms'],
      ['ensure.p99', 'critical', 'ws.rtt.p99 = 300.031 ms crosses critical >= 250 ms'],
    ]);
  });

  it('reports problems with their paths; unknown keys are ignored with a warning, as Artillery ignores them', () => {
    const { thresholds, issues } = parseEnsure({
      thresholds: [{ 'ws.rtt.p99': 250, 'ws.rtt.p95': 100 }, 'ws.rtt.p99: 250', { 'ws.rtt.p99': 'fast' }],
      conditions: [{ expression: 'ws.rtt.p99 <' }, { expresion: 'a < 1' }, { expression: 'a < 1', strict: 'no' }, { expression: 5 }],
      p95: 'soon',
      maxErrorRate: '1%',
      maxErrorRat: 1,
    });
    expect(thresholds.map((t) => t.id)).toEqual(['ensure.thresholds[0]']);
    expect(issues).toEqual([
      { severity: 'warning', path: ['config', 'ensure', 'maxErrorRat'], message: 'unknown key \'maxErrorRat\' in ensure is ignored (as Artillery ignores it)', hint: "did you mean 'maxErrorRate'?" },
      {
        severity: 'warning',
        path: ['config', 'ensure', 'thresholds', 0, 'ws.rtt.p95'],
        message: "ensure.thresholds[0] checks only its first metric, as Artillery does: 'ws.rtt.p95' is ignored",
        hint: 'give each metric its own list entry',
      },
      { severity: 'error', path: ['config', 'ensure', 'thresholds', 1], message: "ensure.thresholds[1] must be a mapping of one metric to its limit, like { ws.rtt.p99: 250 }, got 'ws.rtt.p99: 250'" },
      {
        severity: 'error',
        path: ['config', 'ensure', 'thresholds', 2, 'ws.rtt.p99'],
        message: `ensure.thresholds[2]["ws.rtt.p99"] must be a number (the value ws.rtt.p99 must stay under), got 'fast'`,
      },
      { severity: 'error', path: ['config', 'ensure', 'conditions', 0, 'expression'], message: "threshold 'ws.rtt.p99 <': expected a number or a metric at column 13", column: 13 },
      { severity: 'error', path: ['config', 'ensure', 'conditions', 1, 'expresion'], message: 'unknown key \'expresion\' in ensure.conditions[1]', hint: "did you mean 'expression'?" },
      { severity: 'error', path: ['config', 'ensure', 'conditions', 1], message: "ensure.conditions[1] needs an expression, like 'ws.rtt.p99 < 250'" },
      { severity: 'error', path: ['config', 'ensure', 'conditions', 2, 'strict'], message: "ensure.conditions[2].strict must be true or false, got 'no'" },
      { severity: 'error', path: ['config', 'ensure', 'conditions', 3, 'expression'], message: "ensure.conditions[3].expression must be a string like 'ws.rtt.p99 < 250', got 5" },
      { severity: 'error', path: ['config', 'ensure', 'p95'], message: "ensure.p95 must be a number of milliseconds, got 'soon'" },
      { severity: 'error', path: ['config', 'ensure', 'maxErrorRate'], message: "ensure.maxErrorRate must be a number (a percentage of virtual users), got '1%'" },
    ]);
    expect(parseEnsure('fast').issues).toEqual([{ severity: 'error', path: ['config', 'ensure'], message: "ensure must be a mapping with thresholds, conditions or maxErrorRate, got 'fast'" }]);
  });
});

describe('a script with both, and building the set', () => {
  it('reads config.slo and config.ensure, or plugins.ensure when there is no config.ensure', () => {
    const both = thresholdsFromConfig({ slo: { 'ws.rtt': ['p(95)<50'] }, ensure: { p99: 100 }, plugins: { ensure: { p95: 1 } } });
    expect(both.thresholds.map((t) => t.id)).toEqual(['slo["ws.rtt"][0]', 'ensure.p99']);
    const plugin = thresholdsFromConfig({ plugins: { ensure: { p95: 1 }, 'metrics-by-endpoint': {} } });
    expect(plugin.thresholds.map((t) => [t.id, t.path])).toEqual([['plugins.ensure.p95', ['config', 'plugins', 'ensure', 'p95']]]);
    // `plugins: { ensure: {} }` only turns the plugin on.
    expect(thresholdsFromConfig({ plugins: { ensure: {} } })).toEqual({ thresholds: [], issues: [] });
  });

  it('applies the defaults only when nothing is declared, unless asked', () => {
    const script = parseSlo({ 'ws.rtt': ['p(95)<50'] }).thresholds;
    const cli = [parseThresholdArg('ws.rtt.p99<100', 0)];
    const ids = (s: ReturnType<typeof buildThresholdSet>): string[] => s.thresholds.map((t) => t.id);
    expect(buildThresholdSet()).toMatchObject({ defaultsApplied: true });
    expect(ids(buildThresholdSet())).toHaveLength(6);
    expect(ids(buildThresholdSet({ script, cli }))).toEqual(['slo["ws.rtt"][0]', 'cli[0]']);
    expect(buildThresholdSet({ cli }).defaultsApplied).toBe(false);
    expect(ids(buildThresholdSet({ cli, defaults: 'always' }))).toEqual([
      'cli[0]',
      'default.connection_success_rate',
      'default.message_throughput',
      'default.p50_latency',
      'default.p95_latency',
      'default.p99_latency',
      'default.error_rate',
    ]);
    expect(ids(buildThresholdSet({ defaults: 'never' }))).toEqual([]);
    expect(() => buildThresholdSet({ cli: [...cli, ...cli] })).toThrow("duplicate threshold id 'cli[0]'");
  });

  it('judges --threshold values, with units and levels', () => {
    const verdicts = evaluate(
      buildThresholdSet({ cli: ['ws.rtt.ping.p99<100', 'warning:ws.rtt.p95<30', 'target:connections.success_rate>99.5%', 'errors.rate<1%', 'ws.rtt.p(99.9) < 1s', 'ws.rtt.pp99<100'].map(parseThresholdArg) }),
      view,
    );
    expect(verdicts.map((v) => [v.status, v.message])).toEqual([
      ['critical', 'ws.rtt.ping.p99 = 300.031 ms crosses critical >= 100 ms'],
      ['warning', 'ws.rtt.p95 = 40.031 ms crosses warning >= 30 ms'],
      ['warning', 'connections.success_rate = 99% misses target > 99.5%'],
      ['met', 'errors.rate = 0.476% passes < 1%'],
      ['met', 'ws.rtt.p999 = 300.031 ms passes < 1000 ms'],
      ['not_judged', "ws.rtt.pp99 not judged: unknown metric 'ws.rtt.pp99' (did you mean 'ws.rtt.p99'?)"],
    ]);
    expect(overall(verdicts)).toMatchObject({ status: 'failed', exitCode: 3, summary: 'thresholds: 2 met, 2 warnings, 1 critical, 1 not judged' });
  });
});
