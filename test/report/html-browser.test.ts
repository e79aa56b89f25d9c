/**
 * The HTML report opened in headless Chromium (Debian's, through playwright-core): built from a real
 * ~3 s `wsload stress` run, every chart draws, nothing is logged as an error, nothing but the file
 * itself is requested, and a screenshot is kept in test-artifacts/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHistograms } from '../../src/metrics/index.js';
import { enrichReport, readReport, type WsloadReport } from '../../src/report/document.js';
import { renderHtml, SERIES_COLORS } from '../../src/report/html.js';
import { renderJunit } from '../../src/report/junit.js';
import { startServer } from '../../src/server/index.js';
import * as T from '../../src/thresholds/index.js';
import { chartPixels, launchChromium, openPage, type WatchedPage } from '../helpers/browser.js';
import { cli } from '../helpers/cli.js';
import { syntheticReport } from './fixtures.js';

const ARTIFACTS = resolve('test-artifacts');

let dir: string;
let browser: Browser;
let report: WsloadReport;

beforeAll(async () => {
  await initHistograms();
  dir = await mkdtemp(join(tmpdir(), 'wsload-html-'));
  const json = join(dir, 'stress.json');
  const server = await startServer({ host: '127.0.0.1', port: 0, replyDelayMs: 10 });
  try {
    const run = await cli(['stress', '--url', server.url, '-c', '20', '-m', '300', '-q', '--json', json]);
    expect(run.code).toBe(0);
  } finally {
    await server.close();
  }
  const base = await readReport(json);
  // Real verdicts (the seed's defaults plus two of ours, one crossed); phases so the bands are drawn.
  const set = T.buildThresholdSet({ cli: [T.parseThresholdArg('ws.rtt.ping.p99<5', 0), T.parseThresholdArg('warning:ws.rtt.p50<10', 1)], defaults: 'always' });
  report = enrichReport(base, {
    verdicts: T.evaluate(set, T.createMetricView(base.metrics)),
    phases: [{ name: 'connect', startSec: 0, endSec: 0.2 }, { name: 'request/reply', startSec: 0.2, endSec: base.durationSec }],
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The report written to `name` and opened from the file, once its charts are set up. */
async function open(html: string, name: string, width = 1366): Promise<WatchedPage & { url: string }> {
  const file = join(dir, name);
  await writeFile(file, html);
  const url = pathToFileURL(file).href;
  const opened = await openPage(browser, url, { width, height: 900 });
  await opened.page.waitForSelector('body[data-charts]');
  return { ...opened, url };
}

describe('HTML report in Chromium', () => {
  it('draws every chart from a real run, with no console error and no request but the file', async () => {
    expect(report.series.length).toBeGreaterThanOrEqual(3);
    const html = renderHtml(report);
    expect(html).not.toMatch(/https?:\/\//);
    const { page, problems, requests, url } = await open(html, 'report.html');
    try {
      expect(await page.getAttribute('body', 'data-charts')).toBe('4');
      const charts = await chartPixels(page, { latency: [SERIES_COLORS.p50], throughput: [SERIES_COLORS.sent], concurrency: [SERIES_COLORS.connections] });
      expect(charts.map((c) => c.chart)).toEqual(['latency', 'throughput', 'concurrency', 'errors']);
      for (const c of charts) {
        expect(c.width, c.chart).toBeGreaterThan(200);
        expect(c.height, c.chart).toBeGreaterThan(100);
        expect(c.inked, c.chart).toBeGreaterThan(1000);
      }
      for (const c of charts.slice(0, 3)) expect(c.colored, `${c.chart}: pixels of its first series`).toBeGreaterThan(20);
      // Legends name the series; the tables are there.
      const legends = await page.$$eval('figure.chart .u-legend th', (ths) => ths.map((t) => t.textContent?.trim()));
      for (const label of ['p50', 'p95', 'p99', 'sent/s', 'received/s', 'connections', 'arrivals/s', 'errors']) expect(legends).toContain(label);
      expect(await page.textContent('h1')).toBe(report.options!.url);
      expect(await page.$$eval('#thresholds tbody tr', (rows) => rows.length)).toBe(report.thresholds.length);
      expect(await page.textContent('#thresholds tr.st-critical')).toContain('ws.rtt.ping.p99<5');
      expect(await page.$$eval('#latency tbody tr td:first-child', (tds) => tds.map((t) => t.textContent))).toEqual(['agent_message', 'ping', 'all messages', 'connect']);

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'report-html.png'), fullPage: true });
      await writeFile(join(ARTIFACTS, 'report.html'), html);

      // Responsive: a narrower window gives narrower charts, still inside the page.
      await page.setViewportSize({ width: 700, height: 900 });
      await page.waitForFunction(() => [...document.querySelectorAll('figure.chart canvas')].every((c) => c.getBoundingClientRect().width < 680));
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(700);
      // Printable: charts fit the page width.
      await page.emulateMedia({ media: 'print' });
      await page.evaluate(() => window.dispatchEvent(new Event('beforeprint')));
      const printWidths = await page.$$eval('figure.chart canvas', (cs) => cs.map((c) => c.getBoundingClientRect().right));
      const pageWidth = await page.evaluate(() => document.documentElement.clientWidth);
      for (const w of printWidths) expect(w).toBeLessThanOrEqual(pageWidth);

      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
    } finally {
      await page.close();
    }
  });

  it('works without a series, and shows an interrupted run as partial', async () => {
    const base = syntheticReport({ verdicts: false });
    const empty: WsloadReport = { ...base, series: [], aborted: true, partial: true, metrics: { ...base.metrics, intervals: [] } };
    const { page, problems, requests, url } = await open(renderHtml(empty), 'empty.html');
    try {
      expect(await page.getAttribute('body', 'data-charts')).toBe('none');
      expect(await page.$$('canvas')).toHaveLength(0);
      expect(await page.textContent('#charts .empty')).toContain('No time series');
      expect(await page.textContent('.banner')).toContain('Interrupted.');
      expect(await page.textContent('#thresholds')).toContain('No thresholds were judged for this run.');
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
    } finally {
      await page.close();
    }
  });

  it('keeps the embedded data intact when it contains </script> and other markup', async () => {
    const base = syntheticReport();
    const tricky = { ...base, options: { ...base.options, url: 'ws://x.invalid/</script><script>window.pwned=1</script><!--' } };
    const { page, problems } = await open(renderHtml(tricky), 'tricky.html');
    try {
      expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
      const embedded = await page.evaluate(() => JSON.parse(document.getElementById('wsload-data')!.textContent!) as { options: { url: string } });
      expect(embedded.options.url).toBe(tricky.options.url);
      expect(await page.textContent('h1')).toBe(tricky.options.url);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('writes JUnit XML that a real XML parser accepts', async () => {
    const page = await browser.newPage();
    try {
      const xml = renderJunit(report);
      const result = await page.evaluate((text) => {
        const doc = new DOMParser().parseFromString(text, 'application/xml');
        const error = doc.querySelector('parsererror');
        const suite = doc.querySelector('testsuite');
        return { error: error?.textContent ?? null, tests: suite?.getAttribute('tests'), cases: doc.querySelectorAll('testcase').length };
      }, xml);
      expect(result).toEqual({ error: null, tests: String(report.thresholds.length), cases: report.thresholds.length });
    } finally {
      await page.close();
    }
  });
});
