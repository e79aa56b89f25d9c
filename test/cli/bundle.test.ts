/**
 * The launcher runs the esbuild bundle (dist/bundle/, `npm run build` → scripts/bundle.mjs), not the
 * ~150 modules of dist/: the three processes wsload starts (the CLI, a load worker, a `serve --workers`
 * worker) are bundle entries, forked by path from inside the bundle's chunks, and hdr-histogram-js's
 * WebAssembly module is embedded already inflated. Real processes, a real server on 127.0.0.1.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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

function wsload(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      res({ code, stdout, stderr });
    });
  });
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

  it('has an entry for each process it forks, next to its chunks', () => {
    for (const entry of ['wsload.js', 'worker.js', 'cluster-worker.js']) {
      expect(existsSync(join(BUNDLE, entry)), `dist/bundle/${entry} should exist`).toBe(true);
    }
  });

  it('embeds the inflated hdr-histogram WebAssembly module instead of inflating it at start-up', () => {
    const all = readdirSync(BUNDLE).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(BUNDLE, f), 'utf8')).join('\n');
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
