/**
 * `wsload stress --rate/--duration`: option resolution (pure), and one short rate-mode run through
 * `main` (text and JSON). The engine's behaviour under a stall is in test/engine/stress-rate.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { resolveStressOptions } from '../../src/cli/commands/stress.js';
import { parseRate } from '../../src/cli/rate-options.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { cli as wsload, type CliRun } from '../helpers/cli.js';
import { startTestServer } from '../helpers/test-servers.js';

const { defer } = closeAfterEach();
/** `wsload stress <args…>` in-process. */
const cli = (args: string[]): Promise<CliRun> => wsload(['stress', ...args]);

describe('--rate and --duration resolution', () => {
  it('reads a total rate, or a rate per connection with /conn', () => {
    expect(parseRate('500')).toEqual({ rate: 500, ratePer: 'run' });
    expect(parseRate('500/s')).toEqual({ rate: 500, ratePer: 'run' });
    expect(parseRate('2.5/conn')).toEqual({ rate: 2.5, ratePer: 'connection' });
    for (const bad of ['0', '-5', 'abc', '5/min', '', '1e3']) expect(parseRate(bad), bad).toBeUndefined();
  });

  it('leaves the closed loop exactly as it was without --rate', () => {
    const plan = resolveStressOptions({ connections: '4', messages: '10' }, {});
    expect(plan.options).toEqual({ url: 'ws://localhost:8000/ws', connections: 4, messages: 10, batch: 100, inflight: 1, replyTimeoutMs: 10_000, connectTimeoutMs: 10_000 });
  });

  it('rate mode: default window = per-connection rate × reply timeout, 64 … 1000; --inflight wins', () => {
    expect(resolveStressOptions({ connections: '4', rate: '500' }, {}).options).toMatchObject({ rate: 500, ratePer: 'run', messages: 10, inflight: 1000 });
    expect(resolveStressOptions({ connections: '4', rate: '40', replyTimeout: '5s' }, {}).options).toMatchObject({ inflight: 64 });
    expect(resolveStressOptions({ connections: '4', rate: '50/conn', replyTimeout: '5s' }, {}).options).toMatchObject({ rate: 50, ratePer: 'connection', inflight: 250 });
    expect(resolveStressOptions({ rate: '500', inflight: '8' }, {}).options.inflight).toBe(8);
  });

  it('--duration sets messages per connection = rate per connection × duration; an explicit -m caps it', () => {
    const plan = resolveStressOptions({ connections: '10', rate: '1000', duration: '30s' }, { MESSAGES: '5' });
    expect(plan.options.messages).toBe(3000);
    expect(plan.sources.messages).toBe('duration');
    expect(resolveStressOptions({ connections: '10', rate: '20/conn', duration: '1m' }, {}).options.messages).toBe(1200);
    expect(resolveStressOptions({ preset: 'quick', rate: '1000', duration: '2s' }, {}).options).toMatchObject({ connections: 100, messages: 20 });
    expect(resolveStressOptions({ connections: '10', rate: '1000', duration: '30s', messages: '50' }, {}).options.messages).toBe(50);
    expect(resolveStressOptions({ connections: '10', rate: '1000', duration: '1s', messages: '500' }, {}).options.messages).toBe(100);
    // At least one message each.
    expect(resolveStressOptions({ connections: '10', rate: '1', duration: '1s' }, {}).options.messages).toBe(1);
  });

  it.each([
    [['--rate', '0'], '--rate must be messages per second above 0 (at most 10000000), in total (500) or per connection (50/conn), got "0"'],
    [['--rate', 'fast'], '--rate must be messages per second above 0 (at most 10000000), in total (500) or per connection (50/conn), got "fast"'],
    [['--duration', '30s'], '--duration needs --rate (the closed loop sends as fast as replies come; -m bounds it)'],
    [['--rate', '100', '--duration', '30'], '--duration must be a duration with a unit (e.g. 30s, 500ms, 2m), got "30"'],
  ])('%j → exit 2: %s', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: ${message}\n`);
  });
});

describe('wsload stress --rate', () => {
  it('prints the rate, the sends behind schedule and corrected latency with raw beside; JSON has rate and latencyRaw', async () => {
    const srv = await startTestServer();
    defer(() => srv.close());
    const r = await cli(['--url', srv.url, '-c', '2', '--rate', '200', '--duration', '500ms', '--json', '-', '-q']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\nMessages sent: 100\n/);
    expect(r.stderr).toMatch(/\nMessages\/sec: \d+\.\d{2}\nRate: target 200\.00 msg\/s, achieved \d+\.\d{2} msg\/s\nSends behind schedule: \d+ \(max lag \d+\.\d{2}ms\)\n\nLatency Statistics \(corrected: from each message's intended send time; raw: from its actual send\):\n {2}Average: \d+\.\d{2}ms \(raw \d+\.\d{2}ms\)\n {2}P50: /);
    expect(r.stderr).toMatch(/\n {2}P99\.9: \d+\.\d{2}ms \(raw \d+\.\d{2}ms\)\n {2}Max: \d+\.\d{2}ms \(raw \d+\.\d{2}ms\)\n\nErrors encountered: none\n/);
    const report = JSON.parse(r.stdout);
    expect(report.options).toMatchObject({ connections: 2, messages: 50, rate: 200, ratePer: 'run', inflight: 1000 });
    expect(report.rate).toEqual({ target: 200, achieved: expect.any(Number), behind: expect.any(Number), behindWindow: 0, maxLagMs: expect.any(Number) });
    expect(Math.abs(report.rate.achieved - 200) / 200).toBeLessThanOrEqual(0.05);
    expect(report.latencyRaw.count).toBe(100);
    expect(report.latency.p50).toBeGreaterThanOrEqual(report.latencyRaw.p50);
    expect(Object.keys(report.latencyByType).sort()).toEqual(['agent_message', 'ping']);
    expect(report.metrics.histograms['ws.rtt.raw']).toEqual(expect.any(String));
  });
});
