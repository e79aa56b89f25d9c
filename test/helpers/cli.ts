/**
 * `wsload <args…>` in-process through `main`, with its stdout and stderr captured: how the CLI tests
 * run a command (no signal handlers, the environment given in full).
 */
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface Sink {
  /** Pass it as stdout or stderr; `isTTY`/`columns` are set when it plays a terminal. */
  stream: PassThrough & { isTTY?: boolean; columns?: number };
  /** Everything written so far. */
  text(): string;
}

/** A stream that keeps everything written to it; with `tty`, a 120-column terminal. */
export function sink(tty = false): Sink {
  const stream: Sink['stream'] = new PassThrough();
  if (tty) {
    stream.isTTY = true;
    stream.columns = 120;
  }
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => { text += c; });
  return { stream, text: () => text };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `wsload <args…>` in-process, `env` as its whole environment; resolves once its output is read. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { tty?: boolean } = {}): Promise<CliRun> {
  const out = sink(opts.tty);
  const err = sink(opts.tty);
  const code = await main(['node', 'wsload', ...args], { stdout: out.stream, stderr: err.stream, env, handleSignals: false });
  await new Promise((r) => setImmediate(r));
  return { code, stdout: out.text(), stderr: err.text() };
}
