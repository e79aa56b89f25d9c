/**
 * What a command needs from the outside world, passed in so commands can be run in-process by tests:
 * streams, environment, colour decision, and a way to set the exit code.
 */
import pc from 'picocolors';

export interface CliContext {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Colours only on a TTY and never with NO_COLOR (https://no-color.org). */
  color: boolean;
  colors: ReturnType<typeof pc.createColors>;
  /** The exit code `main` returns once the command's action has resolved. */
  setExitCode(code: number): void;
  /**
   * Resolves on the first SIGINT/SIGTERM (or when a test calls `ctx.interrupt()`); long-running
   * commands race their work against it. A second signal exits at once (handled in main).
   */
  interrupted: Promise<NodeJS.Signals>;
  interrupt(signal?: NodeJS.Signals): void;
}

export function createContext(opts: Partial<Pick<CliContext, 'stdout' | 'stderr' | 'env'>> = {}): CliContext & { exitCode(): number } {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  const color = Boolean((stdout as { isTTY?: boolean }).isTTY) && !('NO_COLOR' in env && env.NO_COLOR !== '') && env.TERM !== 'dumb';
  let code = 0;
  let fire!: (s: NodeJS.Signals) => void;
  const interrupted = new Promise<NodeJS.Signals>((resolve) => { fire = resolve; });
  return {
    stdout,
    stderr,
    env,
    color,
    colors: pc.createColors(color),
    setExitCode(c: number) { code = c; },
    exitCode: () => code,
    interrupted,
    interrupt(signal: NodeJS.Signals = 'SIGINT') { fire(signal); },
  };
}
