/**
 * `wsload serve`: in-process through commander with a test context (flags, output, shutdown on
 * interrupt), through `main` for the exit code of a bad flag, and as a real child process stopped with
 * SIGTERM (signal handling and a clean exit 0; needs `npm run build`, which `npm test` runs first).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { register } from '../../src/cli/commands/serve.js';
import { createContext } from '../../src/cli/context.js';
import { WsloadError } from '../../src/errors.js';

const WAIT_MS = 5_000;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LISTENING = /^wsload reference server listening on (ws:\/\/127\.0\.0\.1:(\d+)\/ws) \(health: http:\/\/127\.0\.0\.1:\2\/healthz\)\n/;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

/** Reject with `what` if `promise` has not settled within `ms`. */
async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A stream that remembers everything written to it; `waitFor` resolves once the text matches. */
function capture(stream: NodeJS.ReadableStream): { text(): string; waitFor(re: RegExp): Promise<RegExpMatchArray> } {
  let text = '';
  const waiters: Array<() => void> = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    for (const w of waiters.splice(0)) w();
  });
  return {
    text: () => text,
    waitFor(re) {
      return bounded(new Promise<RegExpMatchArray>((resolve) => {
        const check = (): void => {
          const m = text.match(re);
          if (m) resolve(m);
          else waiters.push(check);
        };
        check();
      }), WAIT_MS, `output matching ${String(re)}; got ${JSON.stringify(text)}`);
    },
  };
}

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
  return { ctx, program, out: capture(stdout), err: capture(stderr) };
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
    for (const flag of ['--host <host>', '--port <n>', '--path <p>', '--max-payload <bytes>', '--heartbeat <ms>', '--reply-delay <ms>', '--quiet']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('Examples:\n  $ wsload serve ');
  });
});

describe('wsload serve (via main)', () => {
  it('a bad flag prints the error and exits 2', async () => {
    const { main } = await import('../../src/cli/main.js');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const err = capture(stderr);
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
    const out = capture(child.stdout);
    const err = capture(child.stderr);
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
