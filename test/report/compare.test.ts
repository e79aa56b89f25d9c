/**
 * `wsload compare` and `wsload report` on real reports: two `wsload stress` runs in-process, one
 * against the embedded server and one against a server that answers 30 ms late.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHistograms } from '../../src/metrics/index.js';
import { formatCompareText, judge, type CompareRow } from '../../src/report/compare.js';
import { readReport, REPORT_SCHEMA } from '../../src/report/document.js';
import { writeReports } from '../../src/report/write.js';
import { startServer } from '../../src/server/index.js';
import { cli } from '../helpers/cli.js';

let dir: string;
let fast: string;
let slow: string;

beforeAll(async () => {
  await initHistograms();
  dir = await mkdtemp(join(tmpdir(), 'wsload-compare-'));
  fast = join(dir, 'fast.json');
  slow = join(dir, 'slow.json');
  const a = await cli(['stress', '--serve', '-c', '10', '-m', '20', '-q', '--json', fast]);
  expect(a.code).toBe(0);
  const server = await startServer({ host: '127.0.0.1', port: 0, replyDelayMs: 30 });
  try {
    const b = await cli(['stress', '--url', server.url, '-c', '10', '-m', '20', '-q', '--json', slow]);
    expect(b.code).toBe(0);
  } finally {
    await server.close();
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('judge', () => {
  const t = 10;
  it('knows which way is better', () => {
    expect(judge(10, 20, false, 'ms', t)).toEqual({ changePct: 100, verdict: 'regressed' });
    expect(judge(20, 10, false, 'ms', t)).toEqual({ changePct: -50, verdict: 'better' });
    expect(judge(1000, 500, true, 'msg/s', t)).toEqual({ changePct: -50, verdict: 'regressed' });
    expect(judge(1000, 1500, true, 'msg/s', t)).toEqual({ changePct: 50, verdict: 'better' });
  });
  it('tells worse within tolerance from regressed, and calls small changes the same', () => {
    expect(judge(100, 110, false, 'ms', t)).toEqual({ changePct: 10, verdict: 'worse (within tolerance)' });
    expect(judge(100, 110.1, false, 'ms', t)).toEqual({ changePct: 10.1, verdict: 'regressed' });
    expect(judge(1000, 995, true, 'msg/s', t)).toEqual({ changePct: -0.5, verdict: 'same' });
    // Under the noise floor (1 ms) whatever the percentage.
    expect(judge(0.2, 0.9, false, 'ms', t)).toEqual({ changePct: 350, verdict: 'same' });
  });
  it('handles a zero base and a missing side', () => {
    expect(judge(0, 0, false, '%', t)).toEqual({ changePct: 0, verdict: 'same' });
    expect(judge(0, 2, false, '%', t)).toEqual({ changePct: null, verdict: 'regressed' });
    expect(judge(0, 0.05, false, '%', t)).toEqual({ changePct: null, verdict: 'same' });
    expect(judge(null, 2, false, 'ms', t)).toEqual({ changePct: null, verdict: 'n/a' });
  });
});

describe('formatCompareText', () => {
  it('aligns the columns and colours only the verdict', () => {
    const rows: CompareRow[] = [
      { metric: 'throughput', label: 'throughput (received)', unit: 'msg/s', higherIsBetter: true, base: 1000, next: 500, changePct: -50, verdict: 'regressed' },
      { metric: 'ws.rtt.p50', label: 'p50 ws.rtt', unit: 'ms', higherIsBetter: false, base: 1.5, next: 1.5, changePct: 0, verdict: 'same' },
    ];
    const id = (s: string): string => s;
    const colors = { red: (s: string) => `<r>${s}</r>`, green: id, yellow: id, dim: id, bold: id };
    expect(formatCompareText(rows, colors)).toBe([
      'metric                      base       new   change  verdict',
      '─────────────────────  ─────────  ────────  ───────  ─────────',
      'throughput (received)  1000.00/s  500.00/s  -50.0 %  <r>regressed</r>',
      'p50 ws.rtt               1.50 ms   1.50 ms    0.0 %  same',
      '',
    ].join('\n'));
  });
});

describe('wsload compare', () => {
  it('finds the slower server regressed past the tolerance and exits 3', async () => {
    const r = await cli(['compare', fast, slow]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(3);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`wsload compare: ${fast} → ${slow} (tolerance 10%)`);
    expect(lines.find((l) => l.startsWith('p50 ws.rtt '))).toMatch(/ms\s+\+\d+\.\d %\s+regressed$/);
    expect(lines.find((l) => l.startsWith('throughput (received)'))).toMatch(/-\d+\.\d %\s+regressed$/);
    expect(lines.find((l) => l.startsWith('connection success rate'))).toMatch(/100\.00 %\s+100\.00 %\s+0\.0 %\s+same$/);
    expect(lines.at(-2)).toMatch(/^\d+ metrics regressed past the 10% tolerance: throughput \(received\) \(-\d+\.\d %\), p50 ws\.rtt \(\+\d+\.\d %\), /);
  });

  it('gives the rows as JSON, higher-is-better aware', async () => {
    const r = await cli(['compare', fast, slow, '--json', '--tolerance', '25%']);
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as { tolerancePct: number; regressed: number; rows: CompareRow[] };
    expect(out.tolerancePct).toBe(25);
    const byMetric = new Map(out.rows.map((row) => [row.metric, row]));
    expect([...byMetric.keys()]).toEqual([
      'throughput',
      'ws.rtt.p50', 'ws.rtt.p95', 'ws.rtt.p99', 'ws.rtt.max',
      'ws.rtt.agent_message.p50', 'ws.rtt.agent_message.p95', 'ws.rtt.agent_message.p99', 'ws.rtt.agent_message.max',
      'ws.rtt.ping.p50', 'ws.rtt.ping.p95', 'ws.rtt.ping.p99', 'ws.rtt.ping.max',
      'ws.connect.p95', 'connections.success_rate', 'errors.rate',
    ]);
    for (const m of ['throughput', 'ws.rtt.p50', 'ws.rtt.p99', 'ws.rtt.ping.p50', 'ws.rtt.agent_message.p50']) expect(byMetric.get(m)!.verdict).toBe('regressed');
    expect(byMetric.get('throughput')).toMatchObject({ higherIsBetter: true, unit: 'msg/s' });
    expect(byMetric.get('ws.rtt.p50')!.next).toBeGreaterThanOrEqual(30);
    expect(byMetric.get('connections.success_rate')).toMatchObject({ base: 100, next: 100, verdict: 'same' });
    expect(byMetric.get('errors.rate')).toMatchObject({ base: 0, next: 0, verdict: 'same' });
    expect(out.regressed).toBe(out.rows.filter((row) => row.verdict === 'regressed').length);
  });

  it('calls the faster run better, and exits 0 when nothing regressed', async () => {
    const better = await cli(['compare', slow, fast, '--json']);
    const out = JSON.parse(better.stdout) as { regressed: number; rows: CompareRow[] };
    for (const m of ['throughput', 'ws.rtt.p50', 'ws.rtt.p99', 'ws.rtt.ping.p50', 'ws.rtt.agent_message.p50']) {
      expect(out.rows.find((row) => row.metric === m)!.verdict).toBe('better');
    }
    // Connect times of 10 handshakes are noisy: whether they count decides the code, nothing else.
    expect(better.code).toBe(out.regressed > 0 ? 3 : 0);
    const same = await cli(['compare', fast, fast]);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('\nno metric regressed past the 10% tolerance\n');
    expect(same.stdout.split('\n').slice(4, -3).every((l) => l.endsWith('  same'))).toBe(true);
  });

  it('refuses a bad tolerance and a file that is not a report (exit 2, one line)', async () => {
    const bad = await cli(['compare', fast, slow, '--tolerance', 'ten']);
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: 'error: --tolerance must be a percentage from 0 to 1000 (e.g. 10%), got "ten"\n' });
    const notReport = join(dir, 'package.json');
    await writeFile(notReport, '{"name":"wsload"}');
    const r = await cli(['compare', fast, notReport]);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: `error: ${notReport}: not a wsload report (no "tool": "wsload")\n` });
  });
});

describe('wsload report', () => {
  it('re-renders HTML, JUnit and Markdown from the JSON', async () => {
    const html = join(dir, 'r.html');
    const xml = join(dir, 'r.xml');
    const md = join(dir, 'r.md');
    const r = await cli(['report', fast, '--html', html, '--junit', xml, '--markdown', md]);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `wrote ${html}\nwrote ${xml}\nwrote ${md}\n` });
    const page = await readFile(html, 'utf8');
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).not.toMatch(/https?:\/\//);
    // stress is judged by the seed's six targets; 200 messages are too few to judge throughput.
    expect(await readFile(xml, 'utf8')).toMatch(/<testsuite name="wsload\.thresholds" tests="6" failures="0" errors="0" skipped="1"/);
    expect(await readFile(md, 'utf8')).toMatch(/^### ✅ wsload stress — `ws:\/\/127\.0\.0\.1:\d+\/ws`\n/);
  });

  it('prints the Markdown summary when no output is asked for', async () => {
    const r = await cli(['report', slow]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('| Messages sent | 200 |');
  });

  it('merges the reports of parts of one run', async () => {
    const merged = join(dir, 'merged.json');
    const r = await cli(['report', fast, '--merge', slow, '-o', merged]);
    expect(r.code).toBe(0);
    const report = await readReport(merged);
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.mergedFrom).toBe(2);
    expect(report.messages).toMatchObject({ sent: 400, received: 400 });
    expect(report.connections).toMatchObject({ attempted: 20, successful: 20 });
    expect(report.latency.count).toBe(400);
  });

  it('refuses an output in a missing directory before reading anything', async () => {
    const r = await cli(['report', fast, '--html', join(dir, 'no', 'r.html'), '--junit', '-', '--markdown', '-']);
    expect(r).toMatchObject({
      code: 2,
      stderr: `error: only one report can go to stdout, got --junit - and --markdown -; --html: directory "${join(dir, 'no')}" does not exist\n`,
    });
  });

  it('appends the Markdown summary to $GITHUB_STEP_SUMMARY', async () => {
    const summary = join(dir, 'step-summary.md');
    await writeFile(summary, '# earlier step\n');
    const report = await readReport(fast);
    expect(await writeReports(report, { githubStepSummary: summary })).toEqual([summary]);
    const text = await readFile(summary, 'utf8');
    expect(text.startsWith('# earlier step\n### ✅ wsload stress')).toBe(true);
  });
});
