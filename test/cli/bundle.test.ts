/**
 * The launcher runs the esbuild bundle (dist/bundle/, `npm run build` → scripts/bundle.mjs), not the
 * ~150 modules of dist/: the three processes wsload starts (the CLI, a load worker, a `serve --workers`
 * worker) are CommonJS bundles, each run by a small module of the same name through V8's code cache
 * (scripts/bundle-loader.mjs), forked by path from inside the bundle; hdr-histogram-js's WebAssembly
 * module is embedded already inflated. Real processes, a real server on 127.0.0.1. The cache files are
 * the build's own (dist/bundle/*.cache): these tests remove and recreate them, as a first run would.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'wsload.js');
const BUNDLE = join(ROOT, 'dist', 'bundle');

let dir: string;
beforeAll(async () => {
  if (!existsSync(join(BUNDLE, 'wsload.js'))) throw new Error('dist/bundle/ is missing: run `npm run build` first (tsc, then scripts/bundle.mjs)');
  dir = await mkdtemp(join(tmpdir(), 'wsload-bundle-'));
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

function wsload(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000, env: { ...process.env, NO_COLOR: '1', ...env } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      res({ code, stdout, stderr });
    });
  });
}

/** The code-cache files in dist/bundle/ whose names start with `prefix`. */
function caches(prefix: string): string[] {
  return readdirSync(BUNDLE).filter((f) => f.startsWith(prefix) && f.endsWith('.cache'));
}

describe('the bundled CLI', () => {
  it('is what bin/wsload.js loads, and it reports the package version', async () => {
    const launcher = readFileSync(BIN, 'utf8');
    expect(launcher, 'bin/wsload.js should import the bundle').toContain("from '../dist/bundle/wsload.js'");
    expect(launcher.split('\n', 1)[0], 'no node flags in the shebang (they cost Node its code cache)').toBe('#!/usr/bin/env node');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await wsload(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('has an entry for each process it forks, each with its CommonJS bundle', () => {
    for (const entry of ['wsload', 'worker', 'cluster-worker']) {
      expect(existsSync(join(BUNDLE, `${entry}.js`)), `dist/bundle/${entry}.js should exist`).toBe(true);
      expect(existsSync(join(BUNDLE, `${entry}.cjs`)), `dist/bundle/${entry}.cjs should exist`).toBe(true);
    }
  });

  it("a command's first run saves its code cache, later runs use it, and a damaged cache is replaced", async () => {
    // Named by the bundle's content hash, written into the stub by the build (V8 checks only the length).
    const hash = /load\('wsload', [^,]+, '([0-9a-f]{16})'\)/.exec(readFileSync(join(BUNDLE, 'wsload.js'), 'utf8'))?.[1];
    expect(hash, 'the stub passes the bundle hash').toBeDefined();
    const cache = join(BUNDLE, `wsload.cjs.validate.${hash}.cache`);
    for (const f of caches('wsload.cjs.validate.')) rmSync(join(BUNDLE, f), { force: true });
    // A cache of an earlier build of the bundle: never read, removed once the new one is written.
    const stale = join(BUNDLE, 'wsload.cjs.validate.0123456789abcdef.cache');
    writeFileSync(stale, Buffer.alloc(64, 1));
    const script = join(ROOT, 'test', 'fixtures', 'run', 'hello.yml');
    const first = await wsload(['validate', script]);
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(cache), 'the first run of `validate` writes its cache').toBe(true);
    expect(existsSync(stale), "the earlier build's cache is gone").toBe(false);
    const made = statSync(cache).mtimeMs;
    const second = await wsload(['validate', script]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(statSync(cache).mtimeMs, 'an accepted cache is not rewritten').toBe(made);
    // Garbage in the cache: V8 rejects it, the command still works, and the cache is made anew.
    writeFileSync(cache, Buffer.alloc(4096, 7));
    const third = await wsload(['validate', script]);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toBe(first.stdout);
    expect(readFileSync(cache).equals(Buffer.alloc(4096, 7)), 'the damaged cache was replaced').toBe(false);
    // WSLOAD_NO_CODE_CACHE: neither read nor written.
    rmSync(cache, { force: true });
    const none = await wsload(['validate', script], { WSLOAD_NO_CODE_CACHE: '1' });
    expect(none.code, none.stderr).toBe(0);
    expect(existsSync(cache)).toBe(false);
  });

  it('loads processors (ES module and TypeScript) from a cached run: import() goes through the loader', async () => {
    // A user whose processor function failed to load or run would fail: completed 2, failed 0 is the proof.
    await writeFile(join(dir, 'proc.ts'), "export function mark(context: { vars: Record<string, unknown> }, _events: unknown, done: () => void): void { context.vars.marked = 'ts'; done(); }\n");
    for (const [processor, fn] of [[join(ROOT, 'test', 'fixtures', 'run', 'processor.mjs'), 'setVars'], [join(dir, 'proc.ts'), 'mark']] as const) {
      const script = join(dir, `proc-${fn}.yml`);
      await writeFile(script, [
        'config:',
        '  target: "ws://127.0.0.1:1/ws"',
        `  processor: "${processor}"`,
        '  phases:',
        '    - { duration: 0.05, arrivalCount: 2 }',
        'scenarios:',
        '  - name: p',
        '    engine: ws',
        '    flow:',
        `      - function: ${fn}`,
        '      - send: { payload: { type: ping }, match: { json: "$.type", value: pong } }',
        '',
      ].join('\n'));
      for (const attempt of ['compiles and saves the cache', 'runs from the cache']) {
        const out = join(dir, `proc-${fn}.json`);
        const r = await wsload(['run', script, '--serve', '--quiet', '--json', out]);
        expect(r.code, `${fn}, ${attempt}: ${r.stderr}`).toBe(0);
        const report = JSON.parse(await readFile(out, 'utf8')) as { vusers: { completed: number; failed: number } };
        expect(report.vusers, `${fn}, ${attempt}`).toMatchObject({ completed: 2, failed: 0 });
      }
    }
    expect(caches('wsload.cjs.run.')).toHaveLength(1);
  });

  it('embeds the inflated hdr-histogram WebAssembly module instead of inflating it at start-up', () => {
    const all = readdirSync(BUNDLE).filter((f) => f.endsWith('.cjs')).map((f) => readFileSync(join(BUNDLE, f), 'utf8')).join('\n');
    expect(all).toContain('__wsloadHdrWasm()');
    expect(all).not.toContain('pako.inflate(base64.toByteArray(generated_wasm_1.BINARY))');
  });

  it('runs stress across two worker processes forked from the bundle, every message timed', async () => {
    const json = join(dir, 'workers.json');
    const r = await wsload(['stress', '--serve', '-c', '20', '-m', '3', '--workers', '2', '--quiet', '--json', json]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as { connections: { successful: number }; messages: { sent: number; received: number }; latency: { count: number } };
    expect(report.connections.successful).toBe(20);
    expect(report.messages.sent).toBe(60);
    expect(report.messages.received).toBe(60);
    expect(report.latency.count, 'one latency sample per round trip, merged from both workers').toBe(60);
  });

  it('serves with --workers 2 (cluster workers forked from the bundle) and answers a stress run', async () => {
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--workers', '2', '--heartbeat', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((res, rej) => {
        let out = '';
        const timer = setTimeout(() => rej(new Error(`serve --workers 2 did not start within 15 s: ${out}`)), 15_000);
        server.stdout.setEncoding('utf8');
        server.stdout.on('data', (d: string) => {
          out += d;
          const m = /listening on (ws:\/\/127\.0\.0\.1:\d+\/ws)/.exec(out);
          if (m) { clearTimeout(timer); res(m[1]!); }
        });
        server.once('exit', (code) => { clearTimeout(timer); rej(new Error(`serve exited with ${code}: ${out}`)); });
      });
      const r = await wsload(['stress', '--url', url, '-c', '10', '-m', '2', '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('Messages received: 20');
    } finally {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    }
  });
});
