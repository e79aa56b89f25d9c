/**
 * Chaos (issue 7): the reference server runs as its own process (`wsload serve --port 0`), a load
 * run (`wsload run`, then `wsload stress`, the real process from dist/) is pointed at it, and the
 * server is killed with SIGKILL in the middle. The run must end on its schedule, exit 1 ("the target
 * went away", docs/exit-codes.md), write its JSON report marked partial, and its counts must add up
 * exactly: every message sent was answered, timed out, left unanswered or lost with its connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bounded } from '../server/helpers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'wsload.js');

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'engine', 'target-watch.js'))) throw new Error('dist/ is missing or stale: run `npm run build` first');
});

const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number>;
}

function wsload(args: string[]): Child {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const exited = new Promise<number>((done) => proc.on('exit', (code, signal) => done(code ?? (signal === 'SIGKILL' ? 137 : 128))));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Resolves once the server at `url` counts `n` open connections (its /healthz), within 5 s. */
function connected(url: string, n: number, what: string): Promise<void> {
  const health = url.replace(/^ws/, 'http').replace(/\/ws$/, '/healthz');
  return bounded((async () => {
    for (;;) {
      const body = await fetch(health).then((res) => res.json() as Promise<{ connections: number }>, () => ({ connections: 0 }));
      if (body.connections >= n) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  })(), 5000, what);
}

/** The reference server in its own process; resolves with its URL once it listens. */
async function referenceServer(): Promise<{ url: string; child: Child }> {
  const child = wsload(['serve', '--port', '0', '--host', '127.0.0.1', '--heartbeat', '0']);
  const url = await bounded(new Promise<string>((done, fail) => {
    const poll = setInterval(() => {
      const m = /listening on (ws:\/\/\S+)/.exec(child.stdout());
      if (m) { clearInterval(poll); done(m[1]!); }
      if (child.proc.exitCode !== null) { clearInterval(poll); fail(new Error(`serve exited: ${child.stderr()}`)); }
    }, 10);
  }), 5000, 'wsload serve listening');
  return { url, child };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsload-chaos-'));
  dirs.push(dir);
  return dir;
}

describe('the target is killed mid-run', () => {
  it('wsload run: ends on schedule, exit 1, JSON partial, sent = replied + timed out + unanswered + lost', async () => {
    const { url, child: server } = await referenceServer();
    const dir = await tempDir();
    const script = join(dir, 'chaos.yml');
    // 8 users over 2 s, each 20 pings 100 ms apart (~2 s): about 4 s if nothing goes wrong.
    await writeFile(script, `config:
  target: "${url}"
  phases:
    - { duration: 2, arrivalRate: 4 }
scenarios:
  - engine: ws
    flow:
      - loop:
          - send:
              payload: { type: ping }
              match: { json: "$.type", value: pong }
              timeout: 1
          - think: 0.1
        count: 20
`);
    const file = join(dir, 'r.json');
    const started = performance.now();
    const run = wsload(['run', script, '-q', '--json', file]);
    // Kill it once users are connected and pinging (the server's health check counts them).
    await connected(url, 3, 'users connected');
    expect(run.proc.exitCode, `the run ended early: ${run.stderr()}`).toBeNull();
    server.proc.kill('SIGKILL');
    const code = await bounded(run.exited, 8000, 'wsload run exit');
    const elapsed = performance.now() - started;

    expect(code, run.stderr()).toBe(1);
    expect(run.stderr()).toMatch(/^error: the target went away during the run \(.+\): the figures cover only the part before it, the report is marked partial\n$/);
    expect(elapsed, 'process start-up included').toBeLessThan(8000);
    const r = JSON.parse(await readFile(file, 'utf8'));
    // On schedule: the 2 s of arrivals, then the users that lost their connection end at once.
    expect(r.durationSec).toBeLessThan(3);
    expect(r).toMatchObject({ command: 'run', aborted: false, partial: true, verdict: { exitCode: 1 } });
    expect(r.metrics.counters['target.lost']).toBe(1);

    const m = r.messages;
    // Every ping carries an id and awaits its pong: each one sent is accounted for, exactly.
    expect(m.sent).toBe(m.correlated);
    expect(m.correlated, JSON.stringify(m)).toBe(m.replied + m.timedOut + m.unanswered + m.lost);
    expect(m.replied).toBeGreaterThan(0);
    // Lost: the pings in flight when the server died — with 100 ms between pings often none, and at most
    // one per user whose connection was open (each awaits its pong before the next).
    expect(m.lost, 'at most one ping in flight per connected user').toBeLessThanOrEqual(r.connections.successful);
    // The kinds are named: connections dropped without a close frame (or reset), later ones refused.
    const kinds = Object.keys(r.errors);
    expect(kinds.some((k) => k === 'connection_closed_1006' || k === 'connection_reset'), JSON.stringify(r.errors)).toBe(true);
    for (const k of kinds) expect(['connection_closed_1006', 'connection_reset', 'connect_refused', 'reply_timeout']).toContain(k);
    const v = r.vusers;
    expect(v.created).toBe(v.completed + v.failed + v.interrupted);
    expect(v.failed).toBeGreaterThan(0);
    expect(r.connections.attempted).toBe(r.connections.successful + r.connections.failed);
  });

  it('wsload stress: ends at once, exit 1, JSON partial, sent = received + timed out + lost', async () => {
    const { url, child: server } = await referenceServer();
    const file = join(await tempDir(), 'r.json');
    const started = performance.now();
    const stress = wsload(['stress', '--url', url, '-c', '20', '-m', '1000000', '-q', '--json', file]);
    // Kill it once all 20 connections are open and busy (the server's health check counts them).
    await connected(url, 20, 'stress connected');
    await new Promise((r) => setTimeout(r, 200));
    server.proc.kill('SIGKILL');
    const code = await bounded(stress.exited, 8000, 'wsload stress exit');
    expect(code, stress.stderr()).toBe(1);
    expect(performance.now() - started, 'process start-up included').toBeLessThan(8000);
    expect(stress.stderr()).toMatch(/^error: the target went away during the run/);
    const r = JSON.parse(await readFile(file, 'utf8'));
    expect(r).toMatchObject({ command: 'stress', aborted: false, partial: true, verdict: { exitCode: 1 }, connections: { successful: 20, dropped: 20 } });
    expect(r.messages.sent).toBe(r.messages.received + r.messages.timedOut + r.messages.lost);
    expect(r.messages.received).toBeGreaterThan(0);
    for (const k of Object.keys(r.errors)) expect(['connection_closed_1006', 'connection_reset']).toContain(k);
  });
});
