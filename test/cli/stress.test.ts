/**
 * `wsload stress` in-process through `main` (exit codes, exact output) against real servers on
 * 127.0.0.1, and the pure option resolution (presets are checked there, never run heavy).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStressOptions } from '../../src/cli/commands/stress.js';
import { createContext } from '../../src/cli/context.js';
import { buildProgram, VERSION } from '../../src/cli/main.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { cli as wsload, sink, type CliRun } from '../helpers/cli.js';
import { closedPort, startRejectingServer, startTestServer, type TestServer, type TestServerOptions } from '../helpers/test-servers.js';

const cleanup = closeAfterEach();
const server = (opts: TestServerOptions = {}): Promise<TestServer> => cleanup.track(startTestServer(opts));
const tempDir = (): Promise<string> => cleanup.tempDir('wsload-stress-');
/** `wsload stress <args…>` in-process. */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => wsload(['stress', ...args], env);

const NUM = String.raw`\d+\.\d{2}`;
/** The seed's block for a clean run of `c` connections × `m` messages. */
function cleanBlock(c: number, m: number): RegExp {
  return new RegExp([
    '^={40}',
    'WEBSOCKET STRESS TEST RESULTS',
    '={40}',
    `Duration: ${NUM}s`,
    `Connections attempted: ${c}`,
    `Connections successful: ${c}`,
    'Connections failed: 0',
    'Success rate: 100\\.00%',
    `Messages sent: ${c * m}`,
    `Messages received: ${c * m}`,
    `Messages/sec: ${NUM}`,
    '',
    'Latency Statistics:',
    `  Average: ${NUM}ms`,
    `  P50: ${NUM}ms`,
    `  P95: ${NUM}ms`,
    `  P99: ${NUM}ms`,
    '',
    'Errors encountered: none',
    // The seed's block, then the verdicts of the seed's performance targets.
    "={40}\n\nThresholds \\(the seed's performance targets\\):\n",
  ].join('\n'));
}

describe('wsload stress output', () => {
  it('prints exactly the seed\'s block on stdout, a start line on stderr, and exits 0', async () => {
    const srv = await server();
    const r = await cli(['--url', srv.url, '-c', '3', '-m', '4']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(cleanBlock(3, 4));
    expect(r.stderr).toBe(`wsload stress: 3 connections × 4 messages → ${srv.url}\n`);
    expect(srv.stats.disconnects).toBe(3);
  });

  it('prints nothing on stderr with --quiet', async () => {
    const srv = await server();
    const r = await cli(['--url', srv.url, '-c', '2', '-m', '2', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(cleanBlock(2, 2));
  });

  it('lists errors by kind with their labels; an error rate past the critical 5 % exits 3', async () => {
    const srv = await server({ dropAfter: 2, dropMode: 'close1011' });
    const r = await cli(['--url', srv.url, '-c', '2', '-m', '3', '-q']);
    expect(r.code, 'one error in 5 messages + 2 handshakes crosses the critical error rate').toBe(3);
    expect(r.stdout).toMatch(/✖ critical +Error rate +errors\.rate = 14\.2\d*% crosses critical > 5%/);
    expect(r.stdout).toMatch(/Verdict: FAILED — thresholds: \d+ met, \d+ warnings?, 1 critical/);
    expect(r.stdout).toContain('Messages sent: 5\nMessages received: 4\n');
    expect(r.stdout).toContain('Errors encountered:\n  Connection closed mid-run (1011 internal error): 1\n====');
  });
});

describe('wsload stress configuration', () => {
  it('reads WS_URL, CONNECTIONS and MESSAGES from the environment', async () => {
    const srv = await server();
    const r = await cli([], { WS_URL: srv.url, CONNECTIONS: '4', MESSAGES: '3' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`wsload stress: 4 connections × 3 messages → ${srv.url}\n`);
    expect(r.stdout).toMatch(cleanBlock(4, 3));
  });

  it('--mix picks what is sent: pings only, agent messages only; anything else exits 2', async () => {
    const srv = await server();
    const dir = await tempDir();
    for (const [mix, type, other] of [['ping', 'ping', 'agent_message'], ['agent', 'agent_message', 'ping']] as const) {
      const file = join(dir, `${mix}.json`);
      const r = await cli(['--url', srv.url, '-c', '2', '-m', '3', '-q', '--mix', mix, '-o', file]);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(await readFile(file, 'utf8'));
      expect(report.latencyByType[type].count).toBe(6);
      expect(report.latencyByType[other].count).toBe(0);
      expect(report.options.mix).toBe(mix);
    }
    const bad = await cli(['--url', srv.url, '--mix', 'pong']);
    expect(bad).toMatchObject({ code: 2, stderr: 'error: --mix must be one of mixed, ping, agent, got "pong"\n' });
  });

  it('lets flags beat the environment', async () => {
    const srv = await server();
    const r = await cli(['--url', srv.url, '-c', '2', '--messages', '1', '-q'], { WS_URL: 'ws://127.0.0.1:1/nowhere', CONNECTIONS: '50', MESSAGES: '50' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(cleanBlock(2, 1));
  });

  it('resolves presets: flag > preset > environment > default', () => {
    const env = { CONNECTIONS: '7', MESSAGES: '8' };
    expect(resolveStressOptions({}, {}).options).toMatchObject({ url: 'ws://localhost:8000/ws', connections: 100, messages: 10, batch: 100, replyTimeoutMs: 10_000, connectTimeoutMs: 10_000 });
    expect(resolveStressOptions({ preset: 'quick' }, {}).options).toMatchObject({ connections: 100, messages: 10 });
    expect(resolveStressOptions({ preset: 'medium' }, {}).options).toMatchObject({ connections: 500, messages: 20 });
    expect(resolveStressOptions({ preset: 'heavy' }, env).options).toMatchObject({ connections: 1000, messages: 50 });
    expect(resolveStressOptions({ preset: 'heavy', connections: '5' }, env).options).toMatchObject({ connections: 5, messages: 50 });
    expect(resolveStressOptions({}, env).options).toMatchObject({ connections: 7, messages: 8 });
    const plan = resolveStressOptions({ preset: 'heavy', messages: '2' }, env);
    expect(plan.sources).toEqual({ url: 'default', connections: 'preset', messages: 'flag' });
    expect(plan.preset).toBe('heavy');
  });

  it('parses timeouts as milliseconds or with a unit', () => {
    expect(resolveStressOptions({ replyTimeout: '200', connectTimeout: '2s' }, {}).options).toMatchObject({ replyTimeoutMs: 200, connectTimeoutMs: 2000 });
    expect(resolveStressOptions({ replyTimeout: '1500ms' }, {}).options.replyTimeoutMs).toBe(1500);
  });

  it.each([
    [['-c', 'abc'], {}, '-c/--connections must be an integer from 1 to 1000000, got "abc"'],
    [['-c', '0'], {}, '-c/--connections must be an integer from 1 to 1000000, got "0"'],
    [['-m', '-1'], {}, '-m/--messages must be an integer from 0 to 1000000000, got "-1"'],
    [['--preset', 'huge'], {}, '--preset must be one of quick, medium, heavy, got "huge"'],
    [['--url', 'http://127.0.0.1:8000/ws'], {}, '--url must be a ws:// or wss:// URL, got "http://127.0.0.1:8000/ws"'],
    [['--reply-timeout', 'soon'], {}, '--reply-timeout must be a duration of at least 1 ms (e.g. 500, 500ms, 10s), got "soon"'],
    [['--batch', '0', '--inflight', 'x'], {}, '--batch must be an integer from 1 to 1000000, got "0"; --inflight must be an integer from 1 to 1000, got "x"'],
    [[], { CONNECTIONS: 'many' }, 'CONNECTIONS must be an integer from 1 to 1000000, got "many"'],
    [[], { WS_URL: 'localhost:8000' }, 'WS_URL must be a ws:// or wss:// URL, got "localhost:8000"'],
  ])('%j %j → exit 2: %s', async (args, env, message) => {
    const r = await cli(args, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: ${message}\n`);
    expect(r.stdout).toBe('');
  });

  it('leaves unknown options to commander (exit 2)', async () => {
    const r = await cli(['--conections', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown option '--conections'");
  });

  it('shows examples for the seed\'s modes in --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const text of ['--preset quick', '--preset medium', '--preset heavy', 'CONNECTIONS=250 MESSAGES=30 WS_URL=', '--serve', '--json']) {
      expect(r.stdout).toContain(text);
    }
  });
});

describe('wsload stress --json', () => {
  it('writes every figure, matching the text output', async () => {
    const srv = await server();
    const file = join(await tempDir(), 'report.json');
    const r = await cli(['--url', srv.url, '-c', '3', '-m', '4', '--json', file, '-q']);
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(report).toMatchObject({
      tool: 'wsload',
      command: 'stress',
      version: VERSION,
      aborted: false,
      partial: false,
      options: { url: srv.url, connections: 3, messages: 4, batch: 100, inflight: 1, replyTimeoutMs: 10_000, connectTimeoutMs: 10_000, preset: null, serve: false },
      connections: { attempted: 3, successful: 3, failed: 0, dropped: 0, completed: 3, successRate: 100 },
      messages: { sent: 12, received: 12, timedOut: 0, lost: 0, unanswered: 0, unsolicited: 0, late: 0 },
      errors: {},
    });
    expect(new Date(report.startedAt).toISOString()).toBe(report.startedAt);
    expect(report.durationSec).toBeGreaterThan(0);
    for (const l of [report.latency, report.latencyByType.ping, report.latencyByType.agent_message, report.connect]) {
      expect(Object.keys(l).sort()).toEqual(['avg', 'count', 'max', 'min', 'p50', 'p95', 'p99', 'p999']);
    }
    expect(report.latency.count).toBe(12);
    expect(report.latencyByType.ping.count + report.latencyByType.agent_message.count).toBe(12);
    expect(report.metrics.version).toBe(1);
    expect(report.metrics.counters['messages.received']).toBe(12);
    expect(report.metrics.histograms['ws.rtt']).toEqual(expect.any(String));
    const p50 = /P50: (\d+\.\d{2})ms/.exec(r.stdout)![1];
    expect(report.latency.p50.toFixed(2)).toBe(p50);
  });

  it('with "-" writes the JSON to stdout and the summary to stderr', async () => {
    const srv = await server();
    const r = await cli(['--url', srv.url, '-c', '2', '-m', '2', '--json', '-', '-q']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).messages.received).toBe(4);
    expect(r.stderr).toMatch(cleanBlock(2, 2));
  });

  it('refuses a --json path in a missing directory before running', async () => {
    const file = join(await tempDir(), 'missing', 'report.json');
    const r = await cli(['--url', 'ws://127.0.0.1:1/ws', '--json', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --json: directory ".*missing" does not exist\n$/);
  });
});

describe('wsload stress failures', () => {
  it('an unreachable target: one line with the hint, exit 1, a partial --json report', async () => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/ws`;
    const file = join(await tempDir(), 'r.json');
    const r = await cli(['--url', url, '-c', '3', '-q', '--json', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`error: cannot connect to ${url}: connect ECONNREFUSED 127.0.0.1:${port} — is the server running? try --serve\n`);
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(report).toMatchObject({ aborted: false, partial: true, errors: { connect_refused: 3 } });
  });

  it('every handshake rejected: the summary, then exit 1 with the reason', async () => {
    const rejecting = await startRejectingServer(503);
    cleanup.defer(() => rejecting.close());
    const r = await cli(['--url', rejecting.url, '-c', '3', '-m', '2', '-q']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Connections failed: 3\nSuccess rate: 0.00%\n');
    expect(r.stdout).toContain('  Average: n/a\n');
    expect(r.stdout).toContain('Errors encountered:\n  Handshake rejected (HTTP 503): 3\n');
    expect(r.stderr).toBe('error: no connection succeeded (Handshake rejected (HTTP 503): 3)\n');
  });

  it('Ctrl-C: partial summary, --json marked aborted, exit code 130', async () => {
    const srv = await server({ replyDelayMs: 2 });
    const file = join(await tempDir(), 'r.json');
    const out = sink();
    const err = sink();
    const ctx = createContext({ stdout: out.stream, stderr: err.stream, env: {} });
    const program = buildProgram(ctx);
    setTimeout(() => ctx.interrupt('SIGINT'), 300);
    const started = performance.now();
    await program.parseAsync(['node', 'wsload', 'stress', '--url', srv.url, '-c', '3', '-m', '100000', '-q', '--json', file]);
    expect(performance.now() - started, 'stopped promptly').toBeLessThan(3000);
    expect(ctx.exitCode()).toBe(130);
    expect(out.text()).toMatch(/^={40}\nWEBSOCKET STRESS TEST RESULTS\n={40}\n\(interrupted: partial results\)\nDuration: /);
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(report).toMatchObject({ aborted: true, partial: true, errors: {} });
    expect(report.messages.sent).toBeLessThan(300_000);
    expect(report.messages.sent).toBe(report.messages.received + report.messages.lost + report.messages.timedOut);
    expect(srv.stats.disconnects, 'every connection still disconnected').toBe(3);
  });
});

describe('wsload stress --serve', () => {
  it('runs against the embedded reference server on a free port and stops it after', async () => {
    const r = await cli(['--serve', '-c', '5', '-m', '4', '--url', 'ws://127.0.0.1:1/ignored']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^wsload stress: 5 connections × 4 messages → ws:\/\/127\.0\.0\.1:\d+\/ws \(embedded reference server; --url ignored\)\n$/);
    expect(r.stdout).toMatch(cleanBlock(5, 4));
  });
});

// Live progress (status area, 10-s lines, --quiet): test/live/terminal.test.ts.
