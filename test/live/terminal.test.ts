/**
 * The live terminal view: frames rendered to exact strings (with and without colour), the one-line
 * form for logs, the TTY area redrawn in place and cleared, one line per 10 s off a TTY, and
 * through `main`: --quiet prints nothing live, a TTY gets frames that are gone before the summary.
 */
import { describe, expect, it } from 'vitest';
import type { LiveState } from '../../src/live/feed.js';
import { fitLine, formatClock, formatLiveLine, lineView, renderFrame, ttyView } from '../../src/live/terminal.js';
import type { Verdict } from '../../src/thresholds/index.js';
import { startServer } from '../../src/server/index.js';
import { cli, sink, type CliRun } from '../helpers/cli.js';

function verdict(status: Verdict['status'], name: string, message: string, extra: Partial<Verdict> = {}): Verdict {
  return { id: name, name, source: 'cli', status, unit: 'ms', checks: [], values: {}, message, abortOnFail: false, ...extra };
}

const RUN_STATE: LiveState = {
  command: 'run',
  target: 'ws://127.0.0.1:8000/ws',
  status: 'running',
  elapsedMs: 24_000,
  plannedMs: 60_000,
  progress: 0.4,
  remainingMs: 36_000,
  remainingEstimated: false,
  phase: 'Ramp up',
  phaseNumber: 2,
  phaseCount: 3,
  arrivalsPerSec: 10,
  activeConnections: 98,
  activeVusers: 97,
  sentPerSec: 1960,
  receivedPerSec: 1958.5,
  p50Ms: 1.2,
  p99Ms: 3.456,
  errors: 1,
  errorsTotal: 2,
  messagesSent: 12_345,
  messagesReceived: 12_340,
  verdicts: [
    verdict('met', 'P99 latency', 'ws.rtt.p99 = 3.456 ms meets target < 100 ms'),
    verdict('critical', 'ws.rtt.p50<1', 'ws.rtt.p50 = 1.2 ms crosses critical >= 1 ms'),
    verdict('not_judged', 'Throughput', 'not judged', { reason: 'fewer than 1000 messages sent' }),
  ],
};

const STRESS_STATE: LiveState = {
  ...RUN_STATE,
  command: 'stress',
  plannedMs: undefined,
  progress: 0.125,
  remainingMs: 65_000,
  remainingEstimated: true,
  phase: 'messaging',
  phaseNumber: undefined,
  phaseCount: undefined,
  activeVusers: undefined,
  errors: 0,
  errorsTotal: 0,
  verdicts: [],
};

describe('renderFrame', () => {
  it('draws a run: progress, phase, load, last-interval latency, errors, each verdict', () => {
    expect(renderFrame(RUN_STATE, { width: 100, color: false })).toBe([
      'wsload run → ws://127.0.0.1:8000/ws',
      '████████████░░░░░░░░░░░░░░░░░░  40%  0:24 / 1:00  Ramp up (2/3)',
      'arrivals 10.0/s · connections 98 · VUs 97',
      'messages 1,960/s sent · 1,959/s received',
      'latency  p50 1.20 ms · p99 3.46 ms  (last interval)',
      'errors   2 (+1)',
      'thresholds 1 met · 0 warnings · 1 critical · 1 not judged',
      '  ✔ met        P99 latency   ws.rtt.p99 = 3.456 ms meets target < 100 ms',
      '  ✖ critical   ws.rtt.p50<1  ws.rtt.p50 = 1.2 ms crosses critical >= 1 ms',
      '  – not judged Throughput    fewer than 1000 messages sent',
      '',
    ].join('\n'));
  });

  it('draws stress: work done, the time left estimated, the stage; no VUs, no thresholds', () => {
    expect(renderFrame(STRESS_STATE, { width: 100, color: false })).toBe([
      'wsload stress → ws://127.0.0.1:8000/ws',
      '████░░░░░░░░░░░░░░░░░░░░░░░░░░  12%  0:24 · ~1:05 left  messaging',
      'arrivals 10.0/s · connections 98',
      'messages 1,960/s sent · 1,959/s received',
      'latency  p50 1.20 ms · p99 3.46 ms  (last interval)',
      'errors   0',
      '',
    ].join('\n'));
  });

  it('colours with ANSI codes when asked, and cuts every line to the width so none wraps', () => {
    const frame = renderFrame({ ...RUN_STATE, status: 'stopping' }, { width: 40, color: true });
    const lines = frame.split('\n').slice(0, -1);
    const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
    expect(lines.map(plain)).toEqual([
      'wsload run → ws://127.0.0.1:8000/ws  st',
      '████████████░░░░░░░░░░░░░░░░░░  40%  0:',
      'arrivals 10.0/s · connections 98 · VUs ',
      'messages 1,960/s sent · 1,959/s receive',
      'latency  p50 1.20 ms · p99 3.46 ms  (la',
      'errors   2 (+1)',
      'thresholds 1 met · 0 warnings · 1 criti',
      '  ✔ met        P99 latency   ws.rtt.p99',
      '  ✖ critical   ws.rtt.p50<1  ws.rtt.p50',
      '  – not judged Throughput    fewer than',
    ]);
    expect(lines[0]).toBe('\x1b[1mwsload run\x1b[22m → ws://127.0.0.1:8000/ws  \x1b[33mst\x1b[0m');
    expect(lines[5]).toBe('\x1b[31merrors   2 (+1)\x1b[39m');
    expect(lines[8]).toBe('  \x1b[31m✖ critical  \x1b[39m ws.rtt.p50<1  ws.rtt.p50\x1b[0m');
  });

  it('shows at most 8 threshold lines, then how many more', () => {
    const many = Array.from({ length: 10 }, (_, i) => verdict('met', `t${i}`, 'ok'));
    const frame = renderFrame({ ...STRESS_STATE, verdicts: many }, { width: 80, color: false });
    expect(frame.split('\n').slice(6)).toEqual([
      'thresholds 10 met · 0 warnings · 0 critical',
      '  ✔ met        t0  ok', '  ✔ met        t1  ok', '  ✔ met        t2  ok', '  ✔ met        t3  ok',
      '  ✔ met        t4  ok', '  ✔ met        t5  ok', '  ✔ met        t6  ok',
      '  … 3 more',
      '',
    ]);
  });

  it('formats clocks and cuts coloured lines cleanly', () => {
    expect([0, 7_400, 725_000, 3_723_000].map(formatClock)).toEqual(['0:00', '0:07', '12:05', '1:02:03']);
    expect(fitLine('\x1b[31mabcdef\x1b[39m', 3)).toBe('\x1b[31mabc\x1b[0m');
    expect(fitLine('abc', 3)).toBe('abc');
  });
});

describe('formatLiveLine', () => {
  it('is one plain line with totals, for logs', () => {
    expect(formatLiveLine(RUN_STATE)).toBe('[24s/60s 40%] Ramp up · arrivals 10.0/s · connections 98 open · VUs 97 active · messages 12345 sent 12340 received (1959/s) · p50 1.20ms p99 3.46ms · errors 2 · thresholds 1 met, 0 warnings, 1 critical, 1 not judged\n');
    expect(formatLiveLine({ ...STRESS_STATE, p50Ms: undefined, status: 'stopping' })).toBe('[24s 12%] messaging · arrivals 10.0/s · connections 98 open · messages 12345 sent 12340 received (1959/s) · stopping\n');
  });
});

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('lineView (not a TTY)', () => {
  it('prints one line each time another interval of run time has passed', async () => {
    const out = sink();
    const view = lineView(out.stream, { everyMs: 10_000 });
    for (let s = 1; s <= 25; s++) view.update({ ...STRESS_STATE, elapsedMs: s * 1000 + 3 });
    view.log('a log step');
    view.close();
    view.update({ ...STRESS_STATE, elapsedMs: 40_000 });
    await flush();
    expect(out.text().split('\n').map((l) => l.slice(0, 9))).toEqual(['[10s 12%]', '[20s 12%]', 'a log ste', '']);
  });

  it('catches up without a burst when intervals arrive late', async () => {
    const out = sink();
    const view = lineView(out.stream, { everyMs: 1000 });
    for (const ms of [500, 1_200, 5_300, 5_900, 6_100]) view.update({ ...STRESS_STATE, elapsedMs: ms });
    await flush();
    expect(out.text().split('\n').map((l) => l.split(']')[0])).toEqual(['[1s 12%', '[5s 12%', '[6s 12%', '']);
  });
});

describe('ttyView', () => {
  it('redraws the area in place, prints log lines above it, and clears it', async () => {
    const out = sink(true);
    const view = ttyView(out.stream, { color: false, width: () => 100 });
    const small: LiveState = { ...STRESS_STATE, verdicts: [] };
    const lines = renderFrame(small, { width: 100, color: false });
    view.update(small);
    view.update(small);
    view.log('log: hello');
    view.close();
    view.update(small);
    await flush();
    expect(out.text()).toBe(`${lines}\x1b[6A\r\x1b[J${lines}\x1b[6A\r\x1b[Jlog: hello\n${lines}\x1b[6A\r\x1b[J`);
  });
});

describe('through main', () => {
  /** Replies 10 ms late, so 250 requests a connection take at least 2.5 s: two intervals or more. */
  async function stress(args: string[], tty: boolean): Promise<CliRun> {
    const server = await startServer({ host: '127.0.0.1', port: 0, replyDelayMs: 10 });
    try {
      return await cli(['stress', '--url', server.url, ...args], {}, { tty });
    } finally {
      await server.close();
    }
  }

  it('--quiet prints nothing live, even on a terminal', async () => {
    const r = await stress(['-c', '5', '-m', '50', '--quiet'], true);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('WEBSOCKET STRESS TEST RESULTS');
  });

  it('on a terminal: a status area redrawn each interval, erased before the summary', async () => {
    const r = await stress(['-c', '5', '-m', '250', '--threshold', 'ws.rtt.p99<1000'], true);
    expect(r.code).toBe(0);
    const [start, ...frames] = r.stderr.split('\x1b[J');
    expect(start).toMatch(/^wsload stress: 5 connections × 250 messages → ws:\/\/127\.0\.0\.1:\d+\/ws\n/);
    // The first frame at once, then one per interval, the last one erased.
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames[frames.length - 1]).toBe('');
    expect(r.stderr).toContain('thresholds \x1b[32m1 met');
    expect(r.stderr.endsWith('\x1b[J')).toBe(true);
    expect(r.stdout.startsWith('========')).toBe(true);
  });
});
