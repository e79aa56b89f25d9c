/**
 * The dashboard without a browser: its flags, the browser it opens, and its HTTP surface — the
 * history on connect then live points over SSE, Stop and Close guarded against other sites and
 * other host names, the report only once the run has ended.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { get, request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { browserCommand, resolveLiveFlags } from '../../src/cli/live.js';
import { main } from '../../src/cli/main.js';
import { startDashboard, type Dashboard } from '../../src/live/dashboard.js';
import { LiveFeed } from '../../src/live/feed.js';
import { initHistograms } from '../../src/metrics/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { cli, sink } from '../helpers/cli.js';
import { syntheticReport, syntheticSnapshot } from '../report/fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

const { defer, tempDir } = closeAfterEach();

describe('live flags', () => {
  it('are off unless asked for; --open, --dashboard-host and --dashboard-linger imply --dashboard', () => {
    expect(resolveLiveFlags({})).toBeUndefined();
    expect(resolveLiveFlags({ dashboard: true })).toEqual({ host: '127.0.0.1', port: 0, open: false, lingerMs: undefined });
    expect(resolveLiveFlags({ dashboard: '8089', open: true })).toEqual({ host: '127.0.0.1', port: 8089, open: true, lingerMs: undefined });
    expect(resolveLiveFlags({ dashboardHost: '0.0.0.0' })).toEqual({ host: '0.0.0.0', port: 0, open: false, lingerMs: undefined });
    expect(resolveLiveFlags({ dashboardLinger: '30' })?.lingerMs).toBe(30_000);
    expect(resolveLiveFlags({ dashboardLinger: '5m' })?.lingerMs).toBe(300_000);
    expect(resolveLiveFlags({ dashboardLinger: '0' })?.lingerMs).toBe(0);
  });

  it('are checked all at once, before anything is sent (exit 2)', async () => {
    const r = await cli(['stress', '--url', 'ws://127.0.0.1:9/ws', '--dashboard', '70000', '--dashboard-linger', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --dashboard port must be an integer from 0 to 65535, got "70000"; --dashboard-linger must be a number of seconds or a duration (e.g. 0, 30, 5m), got "soon"\n');
  });

  it('say so in one line when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    defer(() => new Promise((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const r = await cli(['stress', '--serve', '-c', '1', '-m', '1', '-q', '--dashboard', String(port)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --dashboard cannot listen on 127.0.0.1:${port}: the port is in use — give another port, or none for a free one\n`);
  });
});

describe('--open', () => {
  it('runs $BROWSER, else the platform opener', () => {
    const url = 'http://127.0.0.1:1/';
    expect(browserCommand(url, { BROWSER: 'firefox' }, 'linux')).toEqual(['firefox', [url]]);
    expect(browserCommand(url, {}, 'linux')).toEqual(['xdg-open', [url]]);
    expect(browserCommand(url, {}, 'darwin')).toEqual(['open', [url]]);
    expect(browserCommand(url, {}, 'win32')).toEqual(['cmd', ['/c', 'start', '""', url]]);
  });

  async function stressWith(env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
    const err = sink();
    const code = await main(['node', 'wsload', 'stress', '--serve', '-c', '2', '-m', '2', '-q', '--open'], { stdout: sink().stream, stderr: err.stream, env, handleSignals: false });
    await new Promise((r) => setTimeout(r, 50));
    return { code, stderr: err.text() };
  }

  it('opens the printed URL in the browser', async () => {
    const dir = await tempDir('wsload-open-');
    const opener = join(dir, 'browser.sh');
    await writeFile(opener, `#!/bin/sh\necho "$1" > "${join(dir, 'opened')}"\n`);
    await chmod(opener, 0o755);
    const r = await stressWith({ BROWSER: opener, PATH: process.env.PATH });
    expect(r.code).toBe(0);
    const url = /^dashboard: (\S+)$/m.exec(r.stderr)![1];
    let opened = '';
    for (let i = 0; i < 50 && opened === ''; i++) {
      opened = await readFile(join(dir, 'opened'), 'utf8').catch(() => '');
      if (opened === '') await new Promise((res) => setTimeout(res, 100));
    }
    expect(opened).toBe(`${url}\n`);
  });

  it('never fails the run when there is no browser', async () => {
    const r = await stressWith({ BROWSER: '/nonexistent/browser' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)\nwarning: could not open a browser \(\/nonexistent\/browser: not found\); open \1 yourself\n$/);
  });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Read SSE events from /events until `count` have come. */
function events(url: string, count: number): Promise<Array<{ event: string; data: Record<string, unknown> }>> {
  return new Promise((resolve, reject) => {
    const got: Array<{ event: string; data: Record<string, unknown> }> = [];
    const req = get(`${url}events`, (res) => {
      let buffer = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        buffer += c;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) got.push({ event, data: JSON.parse(data) as Record<string, unknown> });
          if (got.length === count) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (e) => { if (got.length < count) reject(e); });
  });
}

describe('dashboard server', () => {
  async function serve(): Promise<{ dashboard: Dashboard; feed: LiveFeed; stops: () => number }> {
    const feed = new LiveFeed({ command: 'stress', target: 'ws://127.0.0.1:9/ws', plan: { kind: 'work', connections: 10, messages: 17 }, parameters: [['connections', '10']], vusers: false });
    let stops = 0;
    const dashboard = await startDashboard({ feed, version: '0.0.0-test', onStop: () => { stops++; } });
    defer(async () => {
      await dashboard.close();
      feed.close();
    });
    return { dashboard, feed, stops: () => stops };
  }

  it('serves the page and uPlot from itself, on 127.0.0.1 only by name', async () => {
    const { dashboard } = await serve();
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await call(dashboard.url);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'; script-src 'self'");
    expect(page.body).toContain('<h1>ws://127.0.0.1:9/ws</h1>');
    expect(page.body).not.toMatch(/(src|href)="https?:/);
    for (const asset of ['/assets/uPlot.iife.min.js', '/assets/uPlot.min.css', '/assets/charts.js', '/assets/dashboard.js']) {
      expect((await call(`${dashboard.url}${asset.slice(1)}`)).status, asset).toBe(200);
    }
    // DNS rebinding: a page of another site resolved to 127.0.0.1 sends its own host name.
    expect(await call(dashboard.url, { headers: { Host: 'attacker.example' } })).toMatchObject({ status: 421 });
    expect(await call(`${dashboard.url}nothing`)).toMatchObject({ status: 404 });
    expect(await call(dashboard.url, { method: 'PUT' })).toMatchObject({ status: 405 });
  });

  it('sends the history so far first, then each point as it comes', async () => {
    const { dashboard, feed } = await serve();
    const [a, b, c] = syntheticSnapshot().intervals;
    feed.add(a!);
    feed.add(b!);
    const reading = events(dashboard.url, 2);
    await new Promise((r) => setTimeout(r, 100));
    feed.add(c!);
    const [hello, point] = await reading;
    expect(hello!.event).toBe('hello');
    expect((hello!.data.series as unknown[]).length).toBe(2);
    expect(hello!.data).toMatchObject({ status: 'running', state: { elapsedMs: 2000, messagesSent: 153 }, errors: [{ kind: 'reply_timeout', count: 3 }] });
    expect(point!.event).toBe('point');
    expect(point!.data).toMatchObject({ index: 2, point: { t: 2.5 }, state: { elapsedMs: 2500 } });
  });

  it('stops the run once, only when the page asks, and closes only after the end', async () => {
    const { dashboard, feed, stops } = await serve();
    expect(await call(`${dashboard.url}stop`, { method: 'POST' })).toMatchObject({ status: 403, body: 'missing header X-Wsload: stop\n' });
    expect(await call(`${dashboard.url}close`, { method: 'POST', headers: { 'X-Wsload': 'close' } })).toMatchObject({ status: 409 });
    expect(await call(`${dashboard.url}stop`, { method: 'POST', headers: { 'X-Wsload': 'stop' } })).toMatchObject({ status: 202, body: 'stopping\n' });
    expect(await call(`${dashboard.url}stop`, { method: 'POST', headers: { 'X-Wsload': 'stop' } })).toMatchObject({ status: 202 });
    expect(stops()).toBe(1);
    expect(feed.status).toBe('stopping');
    expect(dashboard.stoppedFromPage).toBe(true);

    expect(await call(`${dashboard.url}report.html`)).toMatchObject({ status: 404, body: 'the report is ready when the run ends\n' });
    const report = syntheticReport();
    dashboard.setReport(report);
    feed.end(report);
    const html = await call(`${dashboard.url}report.html`);
    expect(html.status).toBe(200);
    expect(html.body).toContain('wsload stress report');
    expect(JSON.parse((await call(`${dashboard.url}report.json`)).body)).toMatchObject({ schema: 'wsload-report/1' });
    expect(await call(`${dashboard.url}stop`, { method: 'POST', headers: { 'X-Wsload': 'stop' } })).toMatchObject({ status: 409, body: 'the run has ended\n' });
    // A page opened after the end gets the end at once.
    const [hello] = await events(dashboard.url, 1);
    expect(hello!.data).toMatchObject({ reportUrl: '/report.html', end: { status: 'failed' } });
    expect(await call(`${dashboard.url}close`, { method: 'POST', headers: { 'X-Wsload': 'close' } })).toMatchObject({ status: 202 });
    await dashboard.closeRequested;
  });
});
