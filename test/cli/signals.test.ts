/**
 * The real process (`node bin/wsload.js …`, the built dist/: `npm run build` first): Ctrl-C on
 * `stress` and `run` (SIGINT sent by pid: exit 130, every report written with `aborted: true`,
 * within a bound), a second Ctrl-C during the grace (exit 130 at once), and the open-file limit
 * (a plan over `ulimit -n` refused in one line; EMFILE during a run named in one line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLabServer } from '../fixtures/run/lab-server.js';
import { eventually, startTestServer } from '../helpers/test-servers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'wsload.js');

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'diagnose.js'))) throw new Error('dist/ is missing or stale: run `npm run build` first');
});

const closers: Array<() => Promise<void>> = [];
const children = new Set<ChildProcess>();
afterEach(async () => {
  // Only the processes this file started, by pid, if still running.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const close of closers.splice(0)) await close();
});

interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal) and the time it exited (performance.now()). */
  exited: Promise<{ code: number; at: number }>;
}

function start(command: string, args: string[]): Child {
  const proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const exited = new Promise<{ code: number; at: number }>((done) => {
    proc.on('exit', (code, signal) => done({ code: code ?? (signal === 'SIGKILL' ? 137 : 128), at: performance.now() }));
  });
  return { proc, stdout: () => out, stderr: () => err, exited };
}

const wsload = (args: string[]): Child => start(process.execPath, [BIN, ...args]);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsload-signals-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Fails the test instead of hanging it when the child does not exit within `ms`. */
async function exitWithin(c: Child, ms: number): Promise<{ code: number; at: number }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms; stderr: ${c.stderr()}`)), ms); });
  try {
    return await Promise.race([c.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('Ctrl-C on the real process', () => {
  it('stress: arrivals stop, in-flight replies get the grace, the JSON says aborted, exit 130', async () => {
    const srv = await startTestServer({ replyDelayMs: 2 });
    closers.push(() => srv.close());
    const file = join(await tempDir(), 'r.json');
    const c = wsload(['stress', '--url', srv.url, '-c', '3', '-m', '1000000', '-q', '--json', file]);
    expect(await eventually(() => srv.stats.requests > 30, 5000), `no traffic; stderr: ${c.stderr()}`).toBe(true);
    const sentAt = performance.now();
    c.proc.kill('SIGINT');
    const { code, at } = await exitWithin(c, 5000);
    expect(code, c.stderr()).toBe(130);
    expect(at - sentAt, 'grace (1 s) + disconnect, well under the bounds').toBeLessThan(3000);
    expect(c.stdout()).toContain('(interrupted: partial results)');
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(report).toMatchObject({ command: 'stress', aborted: true, partial: true, verdict: { exitCode: 130 } });
    expect(report.messages.sent).toBe(report.messages.received + report.messages.timedOut + report.messages.lost);
    expect(srv.stats.disconnects, 'every connection still disconnected').toBe(3);
  });

  it('run: arrivals stop, users in flight get the grace, the JSON says aborted, exit 130', async () => {
    const lab = await startLabServer();
    closers.push(() => lab.close());
    const file = join(await tempDir(), 'r.json');
    // slow.yml: 2 users whose echo the lab delays 10 s: in flight at Ctrl-C, stopped after the 2 s grace.
    const c = wsload(['run', 'test/fixtures/run/slow.yml', '-t', lab.url, '-q', '--json', file]);
    expect(await eventually(() => lab.frames.length >= 2, 5000), `users not started; stderr: ${c.stderr()}`).toBe(true);
    const sentAt = performance.now();
    c.proc.kill('SIGINT');
    const { code, at } = await exitWithin(c, 6000);
    expect(code, c.stderr()).toBe(130);
    expect(at - sentAt, 'the 2 s grace, then a bounded stop').toBeLessThan(3500);
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(report).toMatchObject({ command: 'run', aborted: true, partial: true, vusers: { created: 2, interrupted: 2 }, messages: { correlated: 2, lost: 2 } });
  });

  it.each(['stress', 'run'] as const)('%s: a second Ctrl-C during the grace exits 130 at once', async (command) => {
    let args: string[];
    let started: () => boolean;
    if (command === 'stress') {
      // A server that never answers: in-flight requests wait out the whole 1 s grace.
      const srv = await startTestServer({ silent: true });
      closers.push(() => srv.close());
      args = ['stress', '--url', srv.url, '-c', '2', '-m', '10', '-q'];
      started = () => srv.stats.requests >= 2;
    } else {
      const lab = await startLabServer();
      closers.push(() => lab.close());
      args = ['run', 'test/fixtures/run/slow.yml', '-t', lab.url, '-q'];
      started = () => lab.frames.length >= 2;
    }
    const c = wsload(args);
    expect(await eventually(started, 5000), c.stderr()).toBe(true);
    c.proc.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 150));
    expect(c.proc.exitCode, 'still in its grace after the first Ctrl-C').toBeNull();
    const secondAt = performance.now();
    c.proc.kill('SIGINT');
    const { code, at } = await exitWithin(c, 3000);
    expect(code).toBe(130);
    expect(at - secondAt).toBeLessThan(1000);
    expect(c.stderr()).toContain('Interrupted again: exiting now.');
  });
});

describe('a reader that goes away', () => {
  it('stress … | head -c 1: no EPIPE crash, the JSON report still written', async () => {
    const srv = await startTestServer();
    closers.push(() => srv.close());
    const file = join(await tempDir(), 'r.json');
    const c = start('sh', ['-c', `"${process.execPath}" "${BIN}" stress --url ${srv.url} -c 2 -m 50 --json "${file}" | head -c 1 >/dev/null`]);
    await exitWithin(c, 10_000);
    expect(c.stderr()).not.toMatch(/EPIPE|Error:/);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ command: 'stress', messages: { sent: 100, received: 100 } });
  });
});

describe('the open-file limit', () => {
  it('stress -c 400 under ulimit -n 256: refused before any connection, one line with the fix, exit 2', async () => {
    const srv = await startTestServer();
    closers.push(() => srv.close());
    // Once `--workers` exists, a run over the limit may be spread over processes instead: pin it to one.
    const help = wsload(['stress', '--help']);
    await exitWithin(help, 10_000);
    const workers = help.stdout().includes('--workers') ? ' --workers 1' : '';
    const c = start('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${BIN}" stress --url ${srv.url} -c 400 -m 1 -q${workers}`]);
    const { code } = await exitWithin(c, 10_000);
    expect(code, c.stderr()).toBe(2);
    if (workers === '') {
      expect(c.stderr()).toBe("error: 400 connections need about 500 file descriptors but this process may open 256 (ulimit -n): raise it with 'ulimit -n 65536' or open at most 156 connections\n");
    } else {
      expect(c.stderr()).toMatch(/^error: .*ulimit -n.*\n$/);
    }
    expect(c.stdout()).toBe('');
    expect(srv.stats.accepted, 'not one connection opened').toBe(0);
  });

  it('run: connections refused by EMFILE are counted as fd_limit and named in one line', async () => {
    const lab = await startLabServer();
    closers.push(() => lab.close());
    const dir = await tempDir();
    const script = join(dir, 'many.yml');
    // 120 users holding their connection 1 s, at once: more than 64 descriptors.
    await writeFile(script, `config:\n  target: "${lab.url}"\n  phases:\n    - { duration: 0.2, arrivalCount: 120 }\nscenarios:\n  - engine: ws\n    flow:\n      - send: hi\n      - think: 1\n`);
    const file = join(dir, 'r.json');
    const c = start('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${BIN}" run "${script}" -q --json "${file}"`]);
    const { code } = await exitWithin(c, 15_000);
    const report = JSON.parse(await readFile(file, 'utf8'));
    const failed = report.errors.fd_limit as number;
    expect(failed, c.stderr()).toBeGreaterThan(0);
    expect(report.partial).toBe(true);
    expect(c.stderr()).toContain(`warning: ${failed} connection${failed === 1 ? '' : 's'} failed: this process ran out of file descriptors (ulimit -n is 64) — raise the limit with 'ulimit -n 65536'`);
    // Only one line about it, not one per connection.
    expect(c.stderr().match(/file descriptors/g)).toHaveLength(1);
    expect([0, 3]).toContain(code);
  });
});
