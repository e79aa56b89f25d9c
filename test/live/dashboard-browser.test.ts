/**
 * The live dashboard in headless Chromium (Debian's, through playwright-core), during real runs
 * against the embedded reference server: the charts draw and gain points, a page opened mid-run gets
 * the history first, the final verdict and the HTML report appear, the Stop button ends a run early
 * with a partial report and exit 130. No console error, no request leaves 127.0.0.1; screenshots
 * go to test-artifacts/.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { SERIES_COLORS } from '../../src/report/html.js';
import { chartPixels, launchChromium, openPage, type WatchedPage } from '../helpers/browser.js';

const ARTIFACTS = resolve('test-artifacts');
const SCRIPT = 'test/fixtures/live/dashboard.yml';

let dir: string;
let browser: Browser;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsload-dashboard-'));
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Running {
  /** Resolves with the exit code once the command returns. */
  done: Promise<number>;
  url: string;
  stderr(): string;
  stdout(): string;
}

/** `wsload <args…>` in-process; resolves once the dashboard's URL is printed. */
async function start(args: string[]): Promise<Running> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  const printed = new Promise<string>((resolveUrl, reject) => {
    err.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const m = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(stderr);
      if (m) resolveUrl(m[1]!);
    });
    setTimeout(() => reject(new Error(`no dashboard URL on stderr: ${stderr}`)), 10_000).unref();
  });
  const done = main(['node', 'wsload', ...args], { stdout: out, stderr: err, env: {}, handleSignals: false });
  const url = await Promise.race([printed, done.then((code) => { throw new Error(`exited ${code} first: ${stderr}`); })]);
  return { done, url, stderr: () => stderr, stdout: () => stdout };
}

const open = (url: string, width = 1600): Promise<WatchedPage> => openPage(browser, url, { width, height: 1000 });

const points = (page: Page): Promise<number> => page.evaluate(() => Number(document.body.getAttribute('data-points') ?? 0));

async function waitForPoints(page: Page, atLeast: number): Promise<number> {
  await page.waitForFunction((n) => Number(document.body.getAttribute('data-points') ?? 0) >= n, atLeast, { timeout: 10_000 });
  return points(page);
}

/** The colours of each chart's first series (VUs often cover connections, so either counts). */
const FIRST_SERIES: Record<string, string[]> = { latency: [SERIES_COLORS.p50], throughput: [SERIES_COLORS.sent, SERIES_COLORS.received], concurrency: [SERIES_COLORS.connections, SERIES_COLORS.vusers] };

describe('live dashboard in Chromium', () => {
  it('follows a run: charts gain points, a late page gets the history, the final verdict and report appear', async () => {
    const json = join(dir, 'run.json');
    const run = await start(['run', SCRIPT, '--serve', '--dashboard', '0', '--dashboard-linger', '60', '--json', json]);
    const origin = new URL(run.url).origin;
    const { page, problems, requests } = await open(run.url);
    let late: WatchedPage | undefined;
    try {
      await page.waitForSelector('body[data-charts="4"]');
      const first = await waitForPoints(page, 1);
      expect(await page.textContent('#status-text')).toBe('running');
      expect(await page.textContent('#phase')).toMatch(/^phase (Warm up \(1\/2\)|Steady \(2\/2\))$/);
      const second = await waitForPoints(page, first + 1);
      const third = await waitForPoints(page, second + 1);
      expect(third).toBeGreaterThan(first);

      // Opened mid-run: the history so far arrives at once, in the first message.
      late = await open(run.url, 1280);
      await late.page.waitForSelector('body[data-charts="4"]');
      expect(await points(late.page)).toBeGreaterThanOrEqual(third);

      const charts = await chartPixels(page, FIRST_SERIES);
      expect(charts.map((c) => c.chart)).toEqual(['latency', 'throughput', 'concurrency', 'errors']);
      for (const c of charts) {
        expect(c.width, c.chart).toBeGreaterThan(300);
        expect(c.inked, c.chart).toBeGreaterThan(1000);
      }
      for (const c of charts.slice(0, 3)) expect(c.colored, `${c.chart}: pixels of its series`).toBeGreaterThan(20);
      expect(await page.$$eval('#segs .seg span', (s) => s.map((x) => x.textContent))).toEqual(['Warm up', 'Steady']);
      expect(await page.$$eval('#verdicts tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.firstChild?.textContent))).toEqual(['ws.rtt.p99', 'ws.rtt.avg']);
      expect(await page.$$eval('#parameters th', (ths) => ths.map((t) => t.textContent))).toContain('script');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-running.png'), fullPage: true });

      // The end: the final verdict, the report offered and served.
      await page.waitForSelector('body[data-state="ended"]', { timeout: 15_000 });
      expect(await page.getAttribute('body', 'data-verdict')).toBe('passed');
      expect(await page.textContent('#final')).toBe('✔ passed — thresholds: 2 met, 0 warnings, 0 critical');
      expect(await page.isVisible('#report')).toBe(true);
      const served = await page.evaluate(async () => {
        const r = await fetch(document.getElementById('report')!.getAttribute('href')!);
        return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
      });
      expect(served.status).toBe(200);
      expect(served.type).toBe('text/html; charset=utf-8');
      expect(served.text).toContain('wsload run report');
      expect(run.stderr()).toContain(`dashboard: ${run.url} stays up for 1m (HTML report: ${run.url}report.html)\n`);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

      // Lingering until the page's Close button.
      expect(await page.textContent('#stop')).toBe('Close dashboard');
      await page.click('#stop');
      expect(await run.done).toBe(0);
      await page.waitForSelector('body[data-state="closed"]');
      const report = JSON.parse(await readFile(json, 'utf8')) as { aborted: boolean; verdict: { status: string } };
      expect(report.aborted).toBe(false);
      expect(report.verdict.status).toBe('passed');

      expect(problems).toEqual([]);
      expect(late.problems).toEqual([]);
      for (const r of [...requests, ...late.requests]) expect(r.startsWith(`${origin}/`), r).toBe(true);
    } finally {
      await late?.page.close();
      await page.close();
      await Promise.race([run.done, new Promise((r) => setTimeout(r, 3000))]);
    }
  });

  it('Stop test ends a stress run early as Ctrl-C does: partial report, exit 130', async () => {
    const json = join(dir, 'stress.json');
    const run = await start(['stress', '--serve', '-c', '10', '-m', '1000000', '--dashboard', '--json', json]);
    const origin = new URL(run.url).origin;
    const { page, problems, requests } = await open(run.url);
    try {
      await page.waitForSelector('body[data-charts="4"]');
      await waitForPoints(page, 2);
      await page.click('#stop');
      await page.waitForSelector('body[data-state="stopping"], body[data-state="ended"], body[data-state="closed"]');
      expect(await run.done).toBe(130);
      // The end arrives before the dashboard closes (no linger off a terminal).
      await page.waitForSelector('body[data-state="closed"]');
      expect(await page.textContent('#final')).toMatch(/^– Stopped early — interrupted: no thresholds judged$|^. Stopped early — /);
      const report = JSON.parse(await readFile(json, 'utf8')) as { aborted: boolean; partial: boolean; verdict: { exitCode: number } };
      expect(report).toMatchObject({ aborted: true, partial: true, verdict: { exitCode: 130 } });
      expect(run.stdout()).toContain('WEBSOCKET STRESS TEST RESULTS');
      expect(problems).toEqual([]);
      for (const r of requests) expect(r.startsWith(`${origin}/`), r).toBe(true);
    } finally {
      await page.close();
    }
  });
});
