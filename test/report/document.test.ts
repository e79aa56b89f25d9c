/**
 * The report document: enrichment keeps every field of the command's JSON, the loader refuses
 * what is not a wsload report with one exact line, and merging recomputes from merged snapshots.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WsloadError } from '../../src/errors.js';
import { initHistograms } from '../../src/metrics/index.js';
import { enrichReport, mergeReports, parseReport, placePhases, readReport, REPORT_SCHEMA } from '../../src/report/document.js';
import { buildStressJson } from '../../src/report/stress-json.js';
import { summarizeStress } from '../../src/report/stress-summary.js';
import { syntheticReport, syntheticSnapshot } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  await initHistograms();
  dir = await mkdtemp(join(tmpdir(), 'wsload-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function legacyStressJson() {
  const snapshot = syntheticSnapshot();
  return buildStressJson({
    version: '0.1.0', aborted: false, partial: false,
    options: { url: 'ws://x.invalid/ws', connections: 10, messages: 17, batch: 100, inflight: 1, replyTimeoutMs: 1, connectTimeoutMs: 1, preset: null, serve: false },
    summary: summarizeStress(snapshot), snapshot,
  });
}

/** The one line a bad file gets, and its exit code. */
function failure(text: string, file = 'run.json'): [string, number] {
  try {
    parseReport(text, file);
  } catch (err) {
    if (err instanceof WsloadError) return [err.toLine(), err.exitCode];
    throw err;
  }
  throw new Error('expected a failure');
}

describe('enrichReport', () => {
  it('adds schema, series, thresholds, verdict and phases, keeping every field of the command JSON', () => {
    const base = legacyStressJson();
    const report = syntheticReport();
    for (const key of Object.keys(base)) expect(report).toHaveProperty(key);
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.series).toHaveLength(3);
    expect(report.thresholds.map((v) => v.status)).toEqual(['critical', 'warning', 'met', 'not_judged']);
    expect(report.verdict).toEqual({
      status: 'failed', exitCode: 3, counts: { met: 1, warning: 1, critical: 1, not_judged: 1 },
      summary: 'thresholds: 1 met, 1 warning, 1 critical, 1 not judged',
    });
    expect(report.phases).toEqual([{ name: 'ramp', startSec: 0, endSec: 1 }, { name: 'steady', startSec: 1, endSec: 2.5 }]);
  });

  it('takes the exit code the command decided, and strict', () => {
    const report = enrichReport(legacyStressJson(), { verdicts: [], exitCode: 130, strict: true });
    expect(report.verdict).toMatchObject({ status: 'passed', exitCode: 130, strict: true });
  });

  it("places run's phase results on the time axis and leaves out phases that never started", () => {
    const phases = placePhases([
      { index: 0, name: 'warm-up', kind: 'ramp', durationMs: 5000, startedAtMs: 3, endedAtMs: 5004 },
      { index: 1, name: null, kind: 'pause', durationMs: 2000, startedAtMs: 5004, endedAtMs: null },
      { index: 2, name: 'burst', kind: 'count', durationMs: 4000, startedAtMs: null, endedAtMs: null },
    ]);
    expect(phases?.map((p) => [p.name, p.startSec, p.endSec, p.kind])).toEqual([
      ['warm-up', 0.003, 5.004, 'ramp'],
      ['phase 2', 5.004, 7.004, 'pause'],
    ]);
    expect(placePhases([{ name: 'a', durationSec: 2 }, { name: 'b', durationMs: 500 }])?.map((p) => [p.startSec, p.endSec]))
      .toEqual([[0, 2], [2, 2.5]]);
    expect(placePhases([{ name: 'no time' }])).toBeUndefined();
  });
});

describe('parseReport / readReport', () => {
  it('reads its own output back unchanged', () => {
    const report = syntheticReport();
    expect(parseReport(JSON.stringify(report), 'r.json')).toEqual(report);
  });

  it('brings an issue-2 stress report (no schema) up to wsload-report/1', () => {
    const legacy = legacyStressJson();
    const report = parseReport(JSON.stringify(legacy), 'old.json');
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.series).toHaveLength(3);
    expect(report.thresholds).toEqual([]);
    expect(report.verdict).toBeUndefined();
  });

  it('says in one line what is wrong with a file that is not a usable report (exit 2)', () => {
    const good = JSON.parse(JSON.stringify(syntheticReport())) as Record<string, unknown>;
    const metrics = good.metrics as Record<string, unknown>;
    expect(failure('{"tool":')).toEqual(['run.json: not valid JSON (Unexpected end of JSON input)', 2]);
    expect(failure('{"name":"left-pad"}')).toEqual(['run.json: not a wsload report (no "tool": "wsload")', 2]);
    expect(failure('[1,2]')).toEqual(['run.json: not a wsload report (no "tool": "wsload")', 2]);
    expect(failure(JSON.stringify({ ...good, schema: 'wsload-report/2' })))
      .toEqual(['run.json: report schema wsload-report/2 is newer than this wsload reads (wsload-report/1); upgrade wsload', 2]);
    expect(failure(JSON.stringify({ ...good, schema: 'k6-summary' }))).toEqual(['run.json: unknown report schema "k6-summary"', 2]);
    expect(failure(JSON.stringify({ ...good, metrics: undefined }))).toEqual(['run.json: corrupt wsload report: "metrics" is missing', 2]);
    expect(failure(JSON.stringify({ ...good, metrics: { ...metrics, intervals: [{ index: 0 }] } })))
      .toEqual(['run.json: corrupt wsload report: metrics.intervals[0] is not an interval', 2]);
    expect(failure(JSON.stringify({ ...good, metrics: { ...metrics, histograms: { 'ws.rtt': 'bm90IGhkcg==' } } })))
      .toEqual(['run.json: corrupt wsload report: histogram "ws.rtt" cannot be decoded', 2]);
    expect(failure(JSON.stringify({ ...good, thresholds: 'none' }))).toEqual(['run.json: corrupt wsload report: "thresholds" is not an array', 2]);
  });

  it('names the file it cannot read', async () => {
    const missing = join(dir, 'nope.json');
    await expect(readReport(missing)).rejects.toThrow(`${missing}: cannot read the report: no such file`);
    const file = join(dir, 'ok.json');
    await writeFile(file, JSON.stringify(syntheticReport()));
    expect((await readReport(file)).command).toBe('stress');
  });
});

describe('mergeReports', () => {
  it('adds the parts and recomputes every figure from the merged snapshot', () => {
    const a = syntheticReport();
    const b = syntheticReport();
    const merged = mergeReports([a, b]);
    expect(merged.mergedFrom).toBe(2);
    expect(merged.connections).toMatchObject({ attempted: 20, successful: 20, successRate: 100 });
    expect(merged.messages).toMatchObject({ sent: 346, received: 340, timedOut: 6 });
    expect(merged.errors).toEqual({ reply_timeout: 6 });
    expect(merged.latency.count).toBe(340);
    expect(merged.latency.p50).toBe(a.latency.p50);
    expect(merged.latencyByType.ping!.count).toBe(240);
    expect(merged.series.map((p) => [p.t, p.sentPerSec, p.activeConnections, p.errors])).toEqual([[1, 200, 20, 0], [2, 106, 16, 6], [2.5, 80, 0, 0]]);
    // Thresholds judge a whole run: the writer judges the merged report again.
    expect(merged.thresholds).toEqual([]);
    expect(merged.verdict).toBeUndefined();
  });

  it('refuses to merge reports of different commands', () => {
    const run = { ...syntheticReport(), command: 'run' };
    expect(() => mergeReports([syntheticReport(), run])).toThrow('cannot merge a stress report with a run report');
  });
});
