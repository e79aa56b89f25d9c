/**
 * `wsload run` in-process through `main`: the shipped scenario runs green against the embedded
 * server, a bad script is refused before any connection, an unreachable target is one line and exit 1.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/cli/context.js';
import { buildProgram, VERSION } from '../../src/cli/main.js';
import { startLabServer, type LabServer } from '../fixtures/run/lab-server.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { cli as wsload, sink, type CliRun } from '../helpers/cli.js';
import { closedPort } from '../helpers/test-servers.js';

const cleanup = closeAfterEach();
const lab = (): Promise<LabServer> => cleanup.track(startLabServer());
const tempDir = (): Promise<string> => cleanup.tempDir('wsload-run-');
/** `wsload run <args…>` in-process. */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => wsload(['run', ...args], env);

describe('wsload run scenarios/ymera.yml -e quick --serve', () => {
  it('runs the seed scenario green: 100 users, every message timed, no error', async () => {
    const dir = await tempDir();
    const file = join(dir, 'report.json');
    const r = await cli(['scenarios/ymera.yml', '-e', 'quick', '--serve', '--json', file]);
    expect(r.stderr).toMatch(/^wsload run: scenarios\/ymera\.yml \(env quick\): 1 scenario, 1 phase, 10s, 100 arrivals → ws:\/\/127\.0\.0\.1:\d+\/ws \(embedded reference server\)\n/);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual(['='.repeat(40), 'WSLOAD RUN RESULTS', '='.repeat(40)]);
    expect(r.stdout).toContain('Script: scenarios/ymera.yml (environment: quick)\n');
    expect(r.stdout).toContain('Phases: Quick test (10s, 100 arrivals)\n');
    expect(r.stdout).toContain('VUs created: 100\nVUs completed: 100\nVUs failed: 0\nVUs skipped: 0\n');
    // Per user: 2 subscribes, 20 × (ping + agent message), unsubscribe, disconnect.
    expect(r.stdout).toContain('Messages sent: 4400\nMessages received: 4400\n');
    expect(r.stdout).toContain('Replies timed: 4400 of 4400 (timed out 0, unanswered 0, lost 0)\n');
    expect(r.stdout).toMatch(/\n {2}ws\.rtt\.agent_message +2000 /);
    expect(r.stdout).toMatch(/\n {2}ws\.rtt\.ping +2000 /);
    expect(r.stdout).toContain('\nErrors encountered: none\n');

    const report = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
    expect(report).toMatchObject({
      tool: 'wsload',
      command: 'run',
      version: VERSION,
      script: 'scenarios/ymera.yml',
      environment: 'quick',
      aborted: false,
      partial: false,
      options: { serve: true, graceMs: 1000, correlationField: 'id', drainTimeoutMs: 30000, bufferLimit: 1000 },
      vusers: { created: 100, completed: 100, failed: 0, skipped: 0, interrupted: 0, drained: 0 },
      messages: { sent: 4400, received: 4400, correlated: 4400, replied: 4400, timedOut: 0, unanswered: 0, lost: 0 },
      errors: {},
      errorsByStep: {},
    });
    expect(report.target).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(Object.keys(report.latencyByType).sort()).toEqual(['agent_message', 'disconnect', 'ping', 'subscribe', 'unsubscribe']);
    expect(report.latency.count).toBe(4400);
    expect(report.connect.count).toBe(100);
    expect(report.sessionLength.count).toBe(100);
    expect(report.custom.histograms['agent_message.latency'].count).toBe(2000);
    expect(report.phases).toEqual([expect.objectContaining({ name: 'Quick test', kind: 'constant', plannedArrivals: 100, vusersCreated: 100 })]);
    expect(report.metrics.counters['vusers.created']).toBe(100);
    expect(report.metrics.intervals.length).toBeGreaterThanOrEqual(10);
  });
});

describe('refusals and failures', () => {
  it('a bad script: every problem, exit 2, and not one connection opened', async () => {
    const l = await lab();
    const r = await cli(['test/fixtures/run/bad.yml', '-t', l.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "test/fixtures/run/bad.yml:10:9: error: unknown step 'sned' — did you mean 'send'?\n" +
        'error: test/fixtures/run/bad.yml: 1 error; nothing was sent\n',
    );
    expect(r.stdout).toBe('');
    expect(l.accepted).toBe(0);
  });

  it('an unreachable target: one line with a hint, exit 1, the report still written', async () => {
    const port = await closedPort();
    const dir = await tempDir();
    const file = join(dir, 'r.json');
    const r = await cli(['test/fixtures/run/hello.yml', '-q', '-t', `ws://127.0.0.1:${port}/ws`, '--json', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`error: cannot connect to ws://127.0.0.1:${port}/ws: connect ECONNREFUSED 127.0.0.1:${port} — is the server running? try --serve\n`);
    const report = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
    expect(report).toMatchObject({ partial: true, aborted: false, vusers: { created: 2, failed: 2 }, errors: { connect_refused: 2 } });
  });

  it('runs a script against --target with the summary on stdout and --json - on stdout', async () => {
    const l = await lab();
    const r = await cli(['test/fixtures/run/hello.yml', '-q', '-t', l.url, '--json', '-']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(report).toMatchObject({ target: l.url, vusers: { created: 2, completed: 2 }, latencyByType: { echo: { count: 2 } } });
    expect(r.stderr).toContain('WSLOAD RUN RESULTS');
  });

  it('Ctrl-C: a short grace, the partial summary, --json marked aborted, exit code 130', async () => {
    const l = await lab();
    const file = join(await tempDir(), 'r.json');
    const out = sink();
    const err = sink();
    const ctx = createContext({ stdout: out.stream, stderr: err.stream, env: {} });
    const program = buildProgram(ctx);
    setTimeout(() => ctx.interrupt('SIGINT'), 300);
    const started = performance.now();
    // slow.yml's users wait for an echo the lab delays by 10 s: they are in flight at Ctrl-C.
    await program.parseAsync(['node', 'wsload', 'run', 'test/fixtures/run/slow.yml', '-q', '-t', l.url, '--json', file]);
    expect(performance.now() - started, 'stopped within the 2 s grace').toBeLessThan(3500);
    expect(ctx.exitCode()).toBe(130);
    expect(out.text()).toMatch(/^={40}\nWSLOAD RUN RESULTS\n={40}\n\(interrupted: partial results\)\nScript: /);
    expect(out.text()).toContain('VUs interrupted: 2\n');
    const report = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
    expect(report).toMatchObject({ aborted: true, partial: true, errors: {}, vusers: { created: 2, interrupted: 2 }, messages: { correlated: 2, lost: 2 } });
  });

  it('a bad --drain-timeout is a usage error', async () => {
    const r = await cli(['test/fixtures/run/hello.yml', '--drain-timeout', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --drain-timeout must be a duration (e.g. 30s, 500ms, 0), got "soon"\n');
  });

  it('a bad --local-address is the usage error stress gives: one line, exit 2, nothing sent', async () => {
    const l = await lab();
    const r = await cli(['test/fixtures/run/hello.yml', '-t', l.url, '--local-address', 'nonsense']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --local-address: "nonsense" is not an IP address — give addresses or ranges, e.g. --local-address 127.0.0.1-127.0.0.8\n');
    expect(r.stdout).toBe('');
    expect(l.accepted).toBe(0);
  });

  it.runIf(process.platform === 'linux')('--local-address: the users connect from those addresses', async () => {
    const l = await lab();
    const r = await cli(['test/fixtures/run/hello.yml', '-q', '-t', l.url, '--local-address', '127.0.0.2-3']);
    expect(r.code).toBe(0);
    expect([...l.remoteAddresses].sort()).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it('--help shows the examples', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: wsload run [options] <script>');
    expect(r.stdout).toContain('$ wsload run scenarios/ymera.yml -e quick --serve');
    expect(r.stdout).toContain('--drain-timeout <ms>');
    expect(r.stdout).toContain('--local-address <list>');
    expect(r.stdout).toContain('$ wsload run big.yml -t ws://127.0.0.1:8000/ws --local-address 127.0.0.1-127.0.0.8');
  });
});
