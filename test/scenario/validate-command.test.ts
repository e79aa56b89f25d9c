import { Command } from 'commander';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/validate.js';
import { createContext } from '../../src/cli/context.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const ctx = createContext({ stdout, stderr, env: {} });
  const program = new Command('wsload')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) });
  register(program, ctx);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) });
  try {
    await program.parseAsync(['node', 'wsload', 'validate', ...args]);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && String(err.code).startsWith('commander.'))) throw err;
  }
  return { out: stdout.text, err: stderr.text, code: ctx.exitCode() };
}

const SEED = 'test/fixtures/scripts/seed/artillery_websocket.yml';

describe('wsload validate', () => {
  it('says OK with a summary and exits 0 for a valid script', async () => {
    expect(await run(SEED, '-e', 'staging')).toEqual({
      out: `${SEED}: OK — 1 scenario, 5 phases, total duration 44m\n`,
      err: '',
      code: 0,
    });
  });

  it('prints every problem as file:line:col: error: message — hint, then a summary, and exits 2', async () => {
    const r = await run('test/fixtures/scripts/typos.yml');
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe("test/fixtures/scripts/typos.yml:6:17: error: phases[1].duration must be a positive number or a duration like '30s', got 'abc'");
    expect(lines[4]).toBe("test/fixtures/scripts/typos.yml:25:9: error: unknown step 'sned' — did you mean 'send'?");
    expect(lines[11]).toBe('test/fixtures/scripts/typos.yml: 10 errors, 1 warning');
    expect(r.code).toBe(2);
  });

  it('reports an unknown environment', async () => {
    const r = await run(SEED, '--environment', 'prod');
    expect(r.out).toBe(
      `${SEED}:10:3: error: environment 'prod' is not defined in config.environments — defined: localhost, staging\n${SEED}: 1 error\n`,
    );
    expect(r.code).toBe(2);
  });

  it('prints JSON with --json', async () => {
    const r = await run(SEED, '--json', '-t', 'ws://127.0.0.1:1/ws');
    expect(JSON.parse(r.out)).toEqual({
      file: SEED,
      ok: true,
      errors: 0,
      warnings: 0,
      problems: [],
      summary: { target: 'ws://127.0.0.1:1/ws', scenarios: [{ name: 'Basic connectivity', weight: 1, steps: 6 }], phases: 1, totalDurationMs: 10_000 },
    });
    const bad = JSON.parse((await run('test/fixtures/scripts/typos.yml', '--json')).out) as { ok: boolean; problems: unknown[] };
    expect(bad.ok).toBe(false);
    expect(bad.problems[0]).toEqual({
      severity: 'error',
      message: "phases[1].duration must be a positive number or a duration like '30s', got 'abc'",
      file: 'test/fixtures/scripts/typos.yml',
      line: 6,
      col: 17,
    });
  });

  it('reports a missing script and exits 2', async () => {
    expect(await run('nope.yml')).toEqual({ out: 'nope.yml: error: script not found: nope.yml\n', err: '', code: 2 });
  });

  it('has help with examples', async () => {
    const r = await run('--help');
    expect(r.out).toContain('$ wsload validate artillery_websocket.yml -e staging');
    expect(r.out).toContain('-e, --environment <name>');
  });
});
