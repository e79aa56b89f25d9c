/**
 * Thresholds and reports from real runs: servers built to pass and to fail, exit codes, the verdicts
 * in every report format, and thresholds declared by a script.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { cli } from '../helpers/cli.js';

let dir: string;
const servers: RunningServer[] = [];
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'wsload-gate-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function server(replyDelayMs = 0): Promise<RunningServer> {
  const s = await startServer({ port: 0, replyDelayMs });
  servers.push(s);
  return s;
}

describe("the seed's targets judge a stress run", () => {
  it('passes against a fast server: exit 0, every verdict met or not judged', async () => {
    const s = await server();
    const json = join(dir, 'fast.json');
    const r = await cli(['stress', '--url', s.url, '-c', '4', '-m', '5', '-q', '-o', json]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Verdict: PASSED — thresholds: 5 met, 0 warnings, 0 critical, 1 not judged');
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report.schema).toBe('wsload-report/1');
    expect(report.verdict).toMatchObject({ status: 'passed', exitCode: 0 });
    expect(report.thresholds.map((v: { status: string }) => v.status)).toEqual(['met', 'not_judged', 'met', 'met', 'met', 'met']);
  });

  it('fails against a server that delays every reply 120 ms: P50 crosses the critical 100 ms, exit 3', async () => {
    const s = await server(120);
    const junit = join(dir, 'slow.xml');
    const r = await cli(['stress', '--url', s.url, '-c', '2', '-m', '3', '-q', '--junit', junit]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/✖ critical +P50 latency +ws\.rtt\.p50 = 1\d\d\.\d+ ms crosses critical > 100 ms/);
    expect(r.stdout).toContain('Verdict: FAILED');
    const xml = await readFile(junit, 'utf8');
    expect(xml).toMatch(/<testcase classname="wsload\.thresholds" name="P50 latency[^"]*"[^>]*>\s*<failure message="ws\.rtt\.p50 = 1\d\d\.\d+ ms crosses critical &gt; 100 ms"/);
  });

  it('a warning passes, and fails with --strict (exit 3)', async () => {
    const s = await server(30); // P50 ≈ 30 ms: past the 20 ms target, short of the 100 ms critical level
    const loose = await cli(['stress', '--url', s.url, '-c', '2', '-m', '2', '-q']);
    expect(loose.code, loose.stdout).toBe(0);
    expect(loose.stdout).toMatch(/▲ warning +P50 latency/);
    expect(loose.stdout).toContain('Verdict: PASSED with warnings');
    const strict = await cli(['stress', '--url', s.url, '-c', '2', '-m', '2', '-q', '--strict']);
    expect(strict.code).toBe(3);
    expect(strict.stdout).toContain('Verdict: FAILED');
  });
});

describe('--threshold on the command line', () => {
  it('replaces the defaults, is judged exactly, and a bad expression exits 2 before anything is sent', async () => {
    const s = await server(20);
    const ok = await cli(['stress', '--url', s.url, '-c', '2', '-m', '2', '-q', '--threshold', 'ws.rtt.p99<1s', '--threshold', 'messages.received==4']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Verdict: PASSED — thresholds: 2 met, 0 warnings, 0 critical');
    expect(ok.stdout).not.toContain("seed's performance targets");
    const bad = await cli(['stress', '--url', 'ws://127.0.0.1:1/ws', '--threshold', 'ws.rtt.p99<<1']);
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: "error: --threshold 'ws.rtt.p99<<1': unexpected '<' at column 12\n" });
  });
});

describe('abortOnFail', () => {
  it('stops the run once a critical level has stayed crossed, says so, writes the report, exits 3', async () => {
    const s = await server(50); // P50 ≈ 50 ms against an abort level of 10 ms
    const json = join(dir, 'abort.json');
    const started = Date.now();
    // 2 connections × 1000 messages at ~50 ms each would take ~50 s; the abort comes after ~3 s.
    const r = await cli(['stress', '--url', s.url, '-c', '2', '-m', '1000', '-q', '--threshold', 'abort:ws.rtt.p50<10', '-o', json]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(Date.now() - started, 'stopped long before the planned work was done').toBeLessThan(20_000);
    expect(r.stdout).toMatch(/Run stopped early: aborted: ws\.rtt\.p50 crossed critical >= 10 ms for \d+(\.\d+)? s/);
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report.verdict).toMatchObject({ status: 'failed', exitCode: 3, abortedByThreshold: true });
    expect(report.partial).toBe(true);
    expect(report.messages.sent).toBeLessThan(2000);
  });
});

describe('thresholds declared by a script', () => {
  const script = (extra: string) => `config:
  target: "ws://127.0.0.1:1/ws"
  phases:
    - duration: 1
      arrivalCount: 2
${extra}
scenarios:
  - engine: ws
    flow:
      - loop:
          - send:
              payload: { type: ping }
              match: { json: "$.type", value: pong }
        count: 3
`;

  it('config.slo fails the run when the server is slower than declared (exit 3), and --html draws it', async () => {
    const s = await server(25);
    const file = join(dir, 'slo.yml');
    await writeFile(file, script(`  slo:
    ws.rtt.ping:
      - { warning: "p(50)<5", critical: "p(50)<10" }
    vusers.failed: ["count==0"]`));
    const html = join(dir, 'slo.html');
    const r = await cli(['run', file, '-t', s.url, '-q', '--html', html]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/✖ critical +ws\.rtt\.ping\.p50 +ws\.rtt\.ping\.p50 = 2\d\.\d+ ms crosses critical >= 10 ms/);
    expect(r.stdout).toMatch(/✔ met +vusers\.failed\.count +vusers\.failed\.count = 0 passes == 0/);
    const page = await readFile(html, 'utf8');
    expect(page).toContain('ws.rtt.ping');
  });

  it("Artillery's ensure passes as Artillery runs it (exit 0)", async () => {
    const s = await server();
    const file = join(dir, 'ensure.yml');
    await writeFile(file, script(`  ensure:
    thresholds:
      - ws.rtt.p99: 1000
    maxErrorRate: 0`));
    const r = await cli(['run', file, '-t', s.url, '-q']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Verdict: PASSED — thresholds: 2 met, 0 warnings, 0 critical');
  });

  it('a bad slo expression is a script error at its line and column: exit 2, nothing sent', async () => {
    const s = await server();
    const file = join(dir, 'bad-slo.yml');
    await writeFile(file, script(`  slo:
    ws.rtt.ping: ["p(95)<<50"]`));
    const r = await cli(['run', file, '-t', s.url, '-q']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7:19: error: .*unexpected '<'`, 'm'));
    expect(s.connections()).toBe(0);
  });
});

describe('$GITHUB_STEP_SUMMARY', () => {
  it('gets the Markdown summary appended after a run', async () => {
    const s = await server();
    const summary = join(dir, 'step-summary.md');
    await writeFile(summary, '# before\n');
    const r = await cli(['stress', '--url', s.url, '-c', '2', '-m', '2', '-q'], { GITHUB_STEP_SUMMARY: summary });
    expect(r.code).toBe(0);
    const text = await readFile(summary, 'utf8');
    expect(text).toMatch(/^# before\n### ✅ wsload stress — `ws:\/\/127\.0\.0\.1:\d+\/ws`\n/);
  });
});
