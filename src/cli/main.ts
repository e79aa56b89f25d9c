/**
 * The command line: the only place that reads argv, talks to the terminal and decides the exit code.
 * Each command lives in ./commands/<name>.ts and exports `register(program, ctx)`.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { ExitCode, WsloadError } from '../errors.js';
import { createContext, type CliContext } from './context.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerStress } from './commands/stress.js';
import { register as registerRun } from './commands/run.js';
import { register as registerValidate } from './commands/validate.js';
import { register as registerReport } from './commands/report.js';
import { register as registerCompare } from './commands/compare.js';

const require = createRequire(import.meta.url);
export const VERSION: string = (require('../../package.json') as { version: string }).version;

export interface MainOptions {
  stdout?: CliContext['stdout'];
  stderr?: CliContext['stderr'];
  env?: NodeJS.ProcessEnv;
  /** Install SIGINT/SIGTERM handlers (true for the real process, false in tests). */
  handleSignals?: boolean;
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('wsload')
    .description('WebSocket load testing: a reference server, a stress tester and a script runner with true per-message latency.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride();
  registerServe(program, ctx);
  registerStress(program, ctx);
  registerRun(program, ctx);
  registerValidate(program, ctx);
  registerReport(program, ctx);
  registerCompare(program, ctx);
  program.addHelpText('after', `
Examples:
  $ wsload stress --serve                      quick stress run against the embedded reference server
  $ wsload serve --port 8000                   run the reference server on ws://127.0.0.1:8000/ws
  $ wsload stress --url ws://localhost:8000/ws -c 500 -m 20
  $ wsload run scenarios/ymera.yml -e quick --serve
                                               the seed's Artillery scenario, every message timed
  $ wsload validate scenarios/ymera.yml        check a script: every problem at file:line:col

Exit codes: 0 ok, 1 run failed (e.g. target unreachable), 2 usage or config error,
3 a threshold's critical level was crossed (or compare found a regression), 130 interrupted.
Docs: docs/README.md`);
  // Subcommands inherit output and error behaviour.
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    }).showSuggestionAfterError(true);
    cmd.showHelpAfterError(`(run 'wsload ${cmd.name()} --help' for usage and examples)`);
  }
  return program;
}

function ignoreOutputError(): void {}

export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  const ctx = createContext({
    ...(opts.stdout ? { stdout: opts.stdout } : {}),
    ...(opts.stderr ? { stderr: opts.stderr } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  const handleSignals = opts.handleSignals ?? true;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      // A second Ctrl-C: leave at once.
      ctx.stderr.write('\nInterrupted again: exiting now.\n');
      process.exit(ExitCode.Interrupted);
    }
    signalled = true;
    ctx.interrupt(signal);
  };
  let signalled = false;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A reader that went away (`wsload stress … | head`): stop printing, but finish the run and write
    // its reports rather than die on EPIPE with a stack trace.
    process.stdout.on('error', ignoreOutputError);
    process.stderr.on('error', ignoreOutputError);
  }
  try {
    const program = buildProgram(ctx);
    if (argv.length <= 2) {
      program.outputHelp();
      return ExitCode.Ok;
    }
    await program.parseAsync(argv);
    return ctx.exitCode();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.Ok;
      // Commander has already printed "error: …" and the hint.
      return ExitCode.Usage;
    }
    if (err instanceof WsloadError) {
      ctx.stderr.write(`${ctx.colors.red('error:')} ${err.toLine()}\n`);
      return err.exitCode;
    }
    throw err;
  } finally {
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
