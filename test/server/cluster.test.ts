/**
 * `wsload serve --workers N` (cluster mode) as real processes: `node bin/wsload.js serve --workers 2
 * --port 0` run as a child, its workers forked by node:cluster. Needs `npm run build` (`npm test` runs
 * it in pretest): cluster workers run the compiled dist/server/cluster-worker.js.
 * Every wait is bounded; every process started here (the primary, and its workers by the pids /healthz
 * reports) is killed in afterEach if it is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/serve.js';
import { createContext } from '../../src/cli/context.js';
import { WsloadError } from '../../src/errors.js';
import { bounded, capture, cleanupClients, connect, refusedHandshake, sleep, waitUntil, type Client } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_MS = 10_000;
const WAIT_MS = 5_000;
const LISTENING = /^wsload reference server listening on (ws:\/\/127\.0\.0\.1:(\d+)\/ws) \(health: (http:\/\/127\.0\.0\.1:\2\/healthz)\) with (\d+) workers\n/;

interface Health {
  status: string;
  connections: number;
  messagesReceived: number;
  workers: Array<{ worker: number; pid: number; status: string; connections: number; messagesReceived: number }>;
  expectedWorkers: number;
}

const started: ChildProcess[] = [];
const workerPids = new Set<number>();

afterEach(() => {
  cleanupClients();
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const pid of workerPids) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  workerPids.clear();
});

beforeAll(() => {
  if (!existsSync(`${ROOT}dist/server/cluster-worker.js`)) {
    throw new Error('dist/ is not built: run `npm run build` first (`npm test` does it in pretest)');
  }
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start `wsload serve --port 0 <args>` as a child and wait for its listening line. */
async function serve(args: string[], detached = false) {
  const child = spawn(process.execPath, ['bin/wsload.js', 'serve', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached });
  started.push(child);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const out = capture(child.stdout!, START_MS);
  const err = capture(child.stderr!, START_MS);
  const m = await out.waitFor(LISTENING).catch((e: Error) => { throw new Error(`${e.message}; stderr: ${err.text()}`); });
  const [, url, , healthUrl, workers] = m;
  const s = {
    child, exited, out, err, url: url!, healthUrl: healthUrl!, workers: Number(workers),
    metricsUrl: healthUrl!.replace('/healthz', '/metrics'),
    async health(): Promise<Health> {
      const res = await fetch(s.healthUrl, { signal: AbortSignal.timeout(WAIT_MS) });
      expect(res.status).toBe(200);
      const h = (await res.json()) as Health;
      for (const w of h.workers) workerPids.add(w.pid);
      return h;
    },
  };
  return s;
}

/** Subscribe every client to `channel` and wait for each `subscribed`. */
async function subscribeAll(clients: Client[], channel: string): Promise<void> {
  await Promise.all(clients.map(async (c, i) => {
    expect(JSON.parse(await c.request({ type: 'subscribe', id: `s${i}`, channel }))).toMatchObject({ type: 'subscribed', channel });
  }));
}

describe('wsload serve --workers 2 (real processes)', () => {
  it('one URL on --port 0; 20 connections spread over both workers; publish reaches every worker; /metrics sums; SIGTERM → 1001, exit 0', async () => {
    const s = await serve(['--workers', '2', '--heartbeat', '0']);
    expect(s.workers).toBe(2);

    const clients: Client[] = [];
    for (let i = 0; i < 20; i++) clients.push(await connect(s.url));
    expect(await clients[0]!.request({ type: 'ping', id: 1 })).toBe('{"type":"pong","id":1}');

    // Connections are handed out round-robin: both workers hold some, and /healthz sums them.
    const health = await s.health();
    expect(health).toMatchObject({ status: 'ok', connections: 20, expectedWorkers: 2 });
    expect(health.workers.map((w) => w.worker)).toEqual([1, 2]);
    expect(health.workers.every((w) => w.connections > 0 && w.status === 'ok')).toBe(true);
    expect(health.workers.reduce((sum, w) => sum + w.connections, 0)).toBe(20);
    expect(new Set(health.workers.map((w) => w.pid)).size).toBe(2);

    // A publish on one worker reaches the subscribers on both; the receipt counts them all.
    await subscribeAll(clients, 'news');
    const publisher = clients[7]!;
    publisher.send({ type: 'publish', id: 'p1', channel: 'news', data: { n: 1 } });
    const message = '{"type":"message","channel":"news","data":{"n":1}}';
    // A subscribed publisher sees its own message before the receipt, as in a single process.
    expect(await publisher.next()).toBe(message);
    expect(JSON.parse(await publisher.next())).toEqual({ type: 'published', id: 'p1', channel: 'news', recipients: 20 });
    for (const c of clients) {
      if (c !== publisher) expect(await c.next()).toBe(message);
    }

    // /metrics: one exposition, summed over the workers.
    const metrics = await (await fetch(s.metricsUrl, { signal: AbortSignal.timeout(WAIT_MS) })).text();
    const lines = metrics.split('\n');
    for (const line of [
      'wsload_server_connections 20',
      'wsload_server_connections_total 20',
      'wsload_server_channels 2', // one channel, subscribed on both workers: a sum over the workers
      'wsload_server_fanout_messages_total 20',
      'wsload_server_messages_received_total{type="subscribe"} 20',
      'wsload_server_messages_received_total{type="publish"} 1',
      'wsload_server_messages_received_total{type="ping"} 1',
      'wsload_server_replies_sent_total 22',
      'wsload_server_reply_latency_seconds_count 22',
    ]) expect(lines).toContain(line);
    expect(lines.filter((l) => l === '# TYPE wsload_server_connections gauge')).toHaveLength(1);

    s.child.kill('SIGTERM');
    const closes = await bounded(Promise.all(clients.map((c) => c.closed)), WAIT_MS, 'every client closed');
    expect(closes.every((c) => c.code === 1001 && c.reason === 'server shutting down')).toBe(true);
    expect(await bounded(s.exited, WAIT_MS, 'primary exit after SIGTERM')).toEqual({ code: 0, signal: null });
    for (const w of health.workers) await waitUntil(() => !isAlive(w.pid), WAIT_MS, `worker ${w.pid} gone`);
    expect(s.out.text().replace(LISTENING, '')).toBe('shutting down…\n');
    expect(s.err.text()).toBe('');
  });

  it('--max-connections is the total, split between the workers', async () => {
    const s = await serve(['--workers', '2', '--max-connections', '4', '--quiet']);
    for (let i = 0; i < 4; i++) await connect(s.url);
    const health = await s.health();
    expect(health.workers.map((w) => w.connections)).toEqual([2, 2]);
    // Each worker holds its share (2 of 4): one more handshake gets 503, whichever worker it reaches.
    expect((await refusedHandshake(s.url)).status).toBe(503);
    s.child.kill('SIGTERM');
    expect((await bounded(s.exited, WAIT_MS, 'exit')).code).toBe(0);
  });

  it('a worker that stops answering: the publish receipt comes after the 1 s gather timeout with what was counted', async () => {
    const s = await serve(['--workers', '2', '--quiet', '--heartbeat', '0']);
    const a = await connect(s.url);
    const b = await connect(s.url);
    await subscribeAll([a, b], 'room');
    const before = await s.health();
    expect(before.workers.map((w) => w.connections)).toEqual([1, 1]);

    // Freeze one worker; the client still answered by a ping is on the other one.
    const frozen = before.workers[0]!.pid;
    process.kill(frozen, 'SIGSTOP');
    try {
      const pings = [a, b].map(async (c) => {
        c.send({ type: 'ping', id: 'alive?' });
        return c.next(1_000).then(() => c, () => undefined);
      });
      const live = (await Promise.all(pings)).find((c) => c !== undefined);
      expect(live).toBeDefined();
      const t0 = performance.now();
      live!.send({ type: 'publish', id: 'late', channel: 'room', data: 1 });
      expect(await live!.next()).toBe('{"type":"message","channel":"room","data":1}');
      expect(JSON.parse(await live!.next(3_000))).toEqual({ type: 'published', id: 'late', channel: 'room', recipients: 1 });
      const waited = performance.now() - t0;
      expect(waited).toBeGreaterThan(900);
      expect(waited).toBeLessThan(2_500);
    } finally {
      process.kill(frozen, 'SIGCONT');
    }
    s.child.kill('SIGTERM');
    expect((await bounded(s.exited, WAIT_MS, 'exit')).code).toBe(0);
  });

  it('Ctrl-C (SIGINT to the whole process group) closes every client with 1001 and exits 0', async () => {
    // Its own process group, as a terminal would make it, so the signal reaches the workers too.
    const s = await serve(['--workers', '2', '--quiet'], true);
    const clients = [await connect(s.url), await connect(s.url)];
    const health = await s.health();
    expect(health.workers.map((w) => w.connections)).toEqual([1, 1]);
    process.kill(-s.child.pid!, 'SIGINT');
    const closes = await bounded(Promise.all(clients.map((c) => c.closed)), WAIT_MS, 'every client closed');
    expect(closes.map((c) => c.code)).toEqual([1001, 1001]);
    expect(await bounded(s.exited, WAIT_MS, 'primary exit after SIGINT')).toEqual({ code: 0, signal: null });
    for (const w of health.workers) await waitUntil(() => !isAlive(w.pid), WAIT_MS, `worker ${w.pid} gone`);
    expect(s.err.text()).toBe('');
  });

  it('a worker that dies is logged and restarted on the same port', async () => {
    const s = await serve(['--workers', '2', '--quiet']);
    const before = await s.health();
    const victim = before.workers[1]!;
    process.kill(victim.pid, 'SIGKILL');
    await s.err.waitFor(/worker 2 \(pid \d+\) exited unexpectedly with signal SIGKILL; its connections are lost; restarting it\n/, WAIT_MS);
    let after: Health | undefined;
    const deadline = performance.now() + WAIT_MS;
    while (performance.now() < deadline) {
      after = await s.health();
      if (after.workers.length === 2 && after.workers[1]!.pid !== victim.pid) break;
      await sleep(100);
    }
    expect(after!.workers.map((w) => w.worker)).toEqual([1, 2]);
    expect(after!.workers[1]!.pid).not.toBe(victim.pid);
    // Both workers serve the printed URL again.
    const c1 = await connect(s.url);
    const c2 = await connect(s.url);
    expect(await c1.request({ type: 'ping', id: 1 })).toBe('{"type":"pong","id":1}');
    expect(await c2.request({ type: 'ping', id: 2 })).toBe('{"type":"pong","id":2}');
    expect((await s.health()).workers.map((w) => w.connections)).toEqual([1, 1]);
    s.child.kill('SIGTERM');
    expect((await bounded(s.exited, WAIT_MS, 'exit')).code).toBe(0);
  });
});

/** Inodes of the TCP sockets listening on `port` (/proc/net/tcp{,6}, state 0A). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (Number.parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** Whether process `pid` holds one of the sockets `inodes` (its /proc/PID/fd links). */
function holdsSocket(pid: number, inodes: Set<string>): boolean {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}

describe.runIf(process.platform === 'linux')('wsload serve --workers 2 --balance', () => {
  it.each([
    ['round-robin', false],
    ['kernel', true],
  ] as const)('%s: the workers hold the listening socket themselves: %s; every connection is served and publish reaches all', async (balance, workersListen) => {
    const s = await serve(['--workers', '2', '--heartbeat', '0', '--quiet', '--balance', balance]);
    const port = Number(new URL(s.url).port);
    const clients: Client[] = [];
    for (let i = 0; i < 12; i++) clients.push(await connect(s.url));
    const health = await s.health();
    expect(health).toMatchObject({ status: 'ok', connections: 12, expectedWorkers: 2 });
    expect(health.workers.reduce((sum, w) => sum + w.connections, 0)).toBe(12);

    // round-robin: only the primary has the listening socket and hands connections over; kernel: each
    // worker accepts from the shared socket itself.
    const inodes = listeningInodes(port);
    expect(inodes.size, `a listening socket on port ${port}`).toBeGreaterThan(0);
    expect(holdsSocket(s.child.pid!, inodes), 'the primary holds the listening socket').toBe(true);
    for (const w of health.workers) expect(holdsSocket(w.pid, inodes), `worker ${w.worker} holds the listening socket`).toBe(workersListen);

    // Wherever the kernel put them, a publish reaches every subscriber.
    await subscribeAll(clients, 'k');
    clients[0]!.send({ type: 'publish', id: 'p', channel: 'k', data: 1 });
    const message = '{"type":"message","channel":"k","data":1}';
    expect(await clients[0]!.next()).toBe(message);
    expect(JSON.parse(await clients[0]!.next())).toEqual({ type: 'published', id: 'p', channel: 'k', recipients: 12 });
    for (const c of clients.slice(1)) expect(await c.next()).toBe(message);

    s.child.kill('SIGTERM');
    expect(await bounded(s.exited, WAIT_MS, 'primary exit after SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('an unknown --balance is a usage error naming the choices (exit 2, nothing forked)', async () => {
    const child = spawn(process.execPath, ['bin/wsload.js', 'serve', '--port', '0', '--workers', '2', '--balance', 'random'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child);
    const err = capture(child.stderr!, START_MS);
    const code = await bounded(new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))), START_MS, 'exit');
    expect(code).toBe(2);
    expect(err.text()).toMatch(/--balance <mode>' argument 'random' is invalid\. Allowed choices are round-robin, kernel/);
  });
});

describe('wsload serve --workers 2: start failures', () => {
  it('a port in use fails the start like a single process: exit 2, the error on stderr, nothing on stdout', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const child = spawn(process.execPath, ['bin/wsload.js', 'serve', '--workers', '2', '--port', String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      started.push(child);
      const out = capture(child.stdout!, START_MS);
      const err = capture(child.stderr!, START_MS);
      const code = await bounded(new Promise<number | null>((resolve) => child.once('exit', resolve)), START_MS, 'exit on a port in use');
      expect(code).toBe(2);
      expect(err.text()).toBe(`error: port ${port} is in use on 127.0.0.1 — pick another with --port, or --port 0 for a free one\n`);
      expect(out.text()).toBe('');
    } finally {
      blocker.close();
    }
  });
});

describe('wsload serve --workers (flag checks, in-process)', () => {
  it.each([
    [['--workers', '0'], '--workers must be an integer 1-256 or "auto", got "0"'],
    [['--workers', 'two'], '--workers must be an integer 1-256 or "auto", got "two"'],
    [['--workers', '3', '--max-connections', '2'], '--max-connections (2) must be at least --workers (3): the limit is split between the workers'],
  ])('%j is a usage error (nothing forked)', async (flags, message) => {
    const program = new Command('wsload').exitOverride();
    register(program, createContext({ stdout: new PassThrough(), stderr: new PassThrough(), env: {} }));
    const err = await program.parseAsync(['node', 'wsload', 'serve', ...flags]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WsloadError);
    expect(err).toMatchObject({ code: 'WSLOAD_USAGE', message });
  });
});
