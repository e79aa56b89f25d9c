/**
 * `wsload serve`: in-process through commander with a test context (flags, output, shutdown on
 * interrupt), through `main` for the exit code of a bad flag, and as a real child process stopped with
 * SIGTERM (signal handling and a clean exit 0; needs `npm run build`, which `npm test` runs first).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { AUTH_TOKEN_ENV, register } from '../../src/cli/commands/serve.js';
import { createContext } from '../../src/cli/context.js';
import { WsloadError } from '../../src/errors.js';
import { bounded, capture } from './helpers.js';

const WAIT_MS = 5_000;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LISTENING = /^wsload reference server listening on (ws:\/\/127\.0\.0\.1:(\d+)\/ws) \(health: http:\/\/127\.0\.0\.1:\2\/healthz\)\n/;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

/** Open a client, send one ping, return the reply text and the close the server sends later. */
async function pingOnce(url: string): Promise<{ reply: string; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  cleanups.push(() => ws.terminate());
  ws.on('error', () => { /* surfaced by the bounded waits */ });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await bounded(new Promise((resolve) => ws.once('open', resolve)), WAIT_MS, 'open');
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve((data as Buffer).toString())));
  ws.send('{"type":"ping","id":1}');
  return { reply: await bounded(reply, WAIT_MS, 'pong'), closed };
}

function inProcess() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const ctx = createContext({ stdout, stderr, env: {} });
  const program = new Command('wsload').exitOverride();
  register(program, ctx);
  return { ctx, program, out: capture(stdout, WAIT_MS), err: capture(stderr, WAIT_MS) };
}

describe('wsload serve (in-process)', () => {
  it('prints the URL, serves, and on interrupt closes clients with 1001 and returns', async () => {
    const { ctx, program, out } = inProcess();
    const run = program.parseAsync(['node', 'wsload', 'serve', '--port', '0', '--heartbeat', '0', '--quiet']);
    cleanups.push(() => ctx.interrupt());
    const [, url] = await out.waitFor(LISTENING);
    const client = await pingOnce(url!);
    expect(client.reply).toBe('{"type":"pong","id":1}');
    ctx.interrupt('SIGTERM');
    await bounded(run, WAIT_MS, 'serve action to return');
    expect(await bounded(client.closed, WAIT_MS, 'client close')).toBe(1001);
    expect(out.text().replace(LISTENING, '')).toBe('shutting down…\n');
  });

  it.each([
    [['--port', 'abc'], '--port must be an integer 0-65535, got "abc"'],
    [['--port', '70000'], '--port must be an integer 0-65535, got "70000"'],
    [['--max-payload', '0'], '--max-payload must be a positive integer (bytes), got "0"'],
    [['--heartbeat', '1.5'], '--heartbeat must be an integer >= 0 (ms; 0 = off), got "1.5"'],
    [['--reply-delay', '10ms'], '--reply-delay must be an integer >= 0 (ms), got "10ms"'],
    [['--path', 'ws'], '--path must start with "/", got "ws"'],
    [['--max-connections', '0'], '--max-connections must be a positive integer, got "0"'],
    [['--max-subscriptions', '-1'], '--max-subscriptions must be a positive integer, got "-1"'],
    [['--max-channel-length', 'x'], '--max-channel-length must be a positive integer, got "x"'],
    [['--rate-limit', '1.5'], '--rate-limit must be an integer >= 0 (messages/s; 0 = off), got "1.5"'],
    [['--max-buffered-bytes', '4MiB'], '--max-buffered-bytes must be a positive integer (bytes), got "4MiB"'],
    [['--handshake-timeout', '0'], '--handshake-timeout must be a positive integer (ms), got "0"'],
    [['--idle-timeout', '1e3'], '--idle-timeout must be an integer >= 0 (ms; 0 = off), got "1e3"'],
    [['--auth-token', ' '], '--auth-token must not be empty'],
    [['--allowed-origin', 'app.example.com'], '--allowed-origin must be scheme://host[:port] with http or https, got "app.example.com"'],
    [['--tls-cert', 'cert.pem'], '--tls-cert needs --tls-key'],
    [['--tls-key', 'key.pem'], '--tls-key needs --tls-cert'],
    [['--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'], '--tls-cert: cannot read "/nonexistent/cert.pem" (ENOENT)'],
  ])('rejects %j with a usage error', async (flags, message) => {
    const { program } = inProcess();
    const err = await program.parseAsync(['node', 'wsload', 'serve', ...flags]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WsloadError);
    expect(err).toMatchObject({ code: 'WSLOAD_USAGE', message });
  });

  it('--help lists every flag and the examples', async () => {
    let help = '';
    const program = new Command('wsload').exitOverride().configureOutput({ writeOut: (s) => { help += s; } });
    register(program, createContext({ stdout: new PassThrough(), stderr: new PassThrough(), env: {} }));
    await expect(program.parseAsync(['node', 'wsload', 'serve', '--help'])).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
    for (const flag of [
      '--host <host>', '--port <n>', '--path <p>', '--max-payload <bytes>', '--heartbeat <ms>', '--reply-delay <ms>',
      '--max-connections <n>', '--max-subscriptions <n>', '--max-channel-length <n>', '--rate-limit <msgs/s>',
      '--max-buffered-bytes <bytes>', '--handshake-timeout <ms>', '--idle-timeout <ms>', '--auth-token <token>',
      '--allowed-origin <origin>', '--tls-cert <file>', '--tls-key <file>', '--no-metrics', '--workers <n|auto>', '--quiet',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('Examples:\n  $ wsload serve ');
  });
});

describe('wsload serve (in-process, hardening flags)', () => {
  /** Run `serve` with `flags` and `env`, return its URL and a stop function. */
  async function serve(flags: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string; port: number; stop(): Promise<void> }> {
    const stdout = new PassThrough();
    const ctx = createContext({ stdout, stderr: new PassThrough(), env });
    const program = new Command('wsload').exitOverride();
    register(program, ctx);
    const out = capture(stdout, WAIT_MS);
    const run = program.parseAsync(['node', 'wsload', 'serve', '--port', '0', '--heartbeat', '0', '--quiet', ...flags]);
    cleanups.push(() => ctx.interrupt());
    const [, url, port] = await out.waitFor(/listening on (wss?:\/\/127\.0\.0\.1:(\d+)\/ws) /);
    return { url: url!, port: Number(port), stop: async () => { ctx.interrupt(); await bounded(run, WAIT_MS, 'serve to stop'); } };
  }

  /** The HTTP status a handshake was refused with, or 101 if it was accepted. */
  async function handshakeStatus(url: string, headers: Record<string, string> = {}): Promise<number | undefined> {
    const ws = new WebSocket(url, { headers });
    cleanups.push(() => ws.terminate());
    ws.on('error', () => { /* a refusal */ });
    return bounded(new Promise<number | undefined>((resolve) => {
      ws.once('open', () => resolve(101));
      ws.once('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    }), WAIT_MS, 'handshake');
  }

  it(`reads the token from ${AUTH_TOKEN_ENV}; --auth-token wins over it`, async () => {
    const fromEnv = await serve([], { [AUTH_TOKEN_ENV]: 'from-env' });
    expect(await handshakeStatus(fromEnv.url)).toBe(401);
    expect(await handshakeStatus(fromEnv.url, { Authorization: 'Bearer from-env' })).toBe(101);
    await fromEnv.stop();
    const fromFlag = await serve(['--auth-token', 'from-flag'], { [AUTH_TOKEN_ENV]: 'from-env' });
    expect(await handshakeStatus(fromFlag.url, { Authorization: 'Bearer from-env' })).toBe(401);
    expect(await handshakeStatus(`${fromFlag.url}?token=from-flag`)).toBe(101);
    await fromFlag.stop();
  });

  it('--allowed-origin is repeatable and takes comma lists; --max-connections caps handshakes; --no-metrics', async () => {
    const s = await serve(['--allowed-origin', 'https://a.example,https://b.example', '--allowed-origin', 'http://c.example:8080', '--max-connections', '3', '--no-metrics']);
    for (const origin of ['https://a.example', 'https://b.example', 'http://c.example:8080']) expect(await handshakeStatus(s.url, { Origin: origin })).toBe(101);
    expect(await handshakeStatus(s.url, { Origin: 'https://d.example' })).toBe(403);
    expect(await handshakeStatus(s.url)).toBe(503);
    expect((await fetch(`http://127.0.0.1:${s.port}/metrics`, { signal: AbortSignal.timeout(WAIT_MS) })).status).toBe(404);
    await s.stop();
  });

  it.skipIf(!hasOpenssl())('--tls-cert/--tls-key serve wss:// and print it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsload-serve-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 10_000 });
    const s = await serve(['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')]);
    expect(s.url).toMatch(/^wss:\/\//);
    const ws = new WebSocket(s.url, { rejectUnauthorized: false });
    cleanups.push(() => ws.terminate());
    await bounded(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), WAIT_MS, 'wss open');
    const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve((d as Buffer).toString())));
    ws.send('{"type":"ping","id":1}');
    expect(await bounded(reply, WAIT_MS, 'pong over wss')).toBe('{"type":"pong","id":1}');
    await s.stop();
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

describe('wsload serve (via main)', () => {
  it('a bad flag prints the error and exits 2', async () => {
    const { main } = await import('../../src/cli/main.js');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const err = capture(stderr, WAIT_MS);
    const code = await main(['node', 'wsload', 'serve', '--port', 'abc'], { stdout, stderr, env: {}, handleSignals: false });
    expect(code).toBe(2);
    expect(err.text()).toBe('error: --port must be an integer 0-65535, got "abc"\n');
  });
});

describe('wsload serve (child process)', () => {
  it('runs from bin/wsload.js and exits 0 on SIGTERM', async () => {
    if (!existsSync(`${ROOT}dist/cli/commands/serve.js`)) {
      throw new Error('dist/ is not built: run `npm run build` first (`npm test` does it in pretest)');
    }
    const child = spawn(process.execPath, ['bin/wsload.js', 'serve', '--port', '0', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const out = capture(child.stdout, WAIT_MS);
    const err = capture(child.stderr, WAIT_MS);
    const [, url] = await out.waitFor(LISTENING).catch((e: Error) => { throw new Error(`${e.message}; stderr: ${err.text()}`); });
    const client = await pingOnce(url!);
    expect(client.reply).toBe('{"type":"pong","id":1}');
    child.kill('SIGTERM');
    expect(await bounded(exited, WAIT_MS, 'child exit after SIGTERM')).toBe(0);
    expect(await bounded(client.closed, WAIT_MS, 'client close')).toBe(1001);
    expect(out.text().replace(LISTENING, '')).toBe('shutting down…\n');
    expect(err.text()).toBe('');
  });
});
