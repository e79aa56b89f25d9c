/**
 * `wsload run <script>`: runs an Artillery v2 WebSocket script (docs/run.md). Loads and checks it
 * (refusing it before any connection when it has errors), optionally starts the reference server as
 * the target, runs it with a progress line, prints the summary, writes the JSON report and decides the
 * exit code.
 */
import type { Command } from 'commander';
import type { RunResult } from '../../engine/run.js';
import { parseWorkers } from '../workers-option.js';
import { usageError, WsloadError } from '../../errors.js';
import type { RunSummary } from '../../report/run-summary.js';
import { formatDurationMs } from '../../scenario/duration.js';
import { formatProblem, ScriptError } from '../../scenario/problems.js';
import type { LoadOptions, ScriptPlan } from '../../scenario/types.js';
import { compilePlan } from '../../schedule/phases.js';
import type { BaseReport } from '../../report/document.js';
import type { RunningServer } from '../../server/index.js';
import type { CliContext } from '../context.js';
import type { Gate } from '../gate.js';
import { parseMsFlag } from '../duration-option.js';
import { addGateOptions, gateFlagProblems, type GateFlags } from '../gate-options.js';
import { addLiveOptions, resolveLiveFlags, runLiveMeta, startLive, type Live, type LiveFlags } from '../live.js';

export interface RunFlags extends GateFlags, LiveFlags {
  environment?: string;
  target?: string;
  serve?: boolean;
  quiet?: boolean;
  /** Worker processes (`--workers`); absent: decided by the plan's peak arrival rate (docs/workers.md). */
  workers?: string;
  drainTimeout?: string;
  /** Source addresses (`--local-address 127.0.0.1-127.0.0.8`): each new user binds the next one. */
  localAddress?: string;
}

export const RUN_DEFAULTS = {
  drainTimeoutMs: 30_000,
} as const;

const EXAMPLES = `
Examples:
  $ wsload run scenarios/ymera.yml -e quick --serve
                                    the seed's scenario for 10 s against the embedded reference server
  $ wsload run scenarios/ymera.yml -e localhost
                                    a modest profile against ws://localhost:8000/ws
  $ STAGING_WS_URL=wss://host/ws wsload run scenarios/ymera.yml -e staging --json staging.json
                                    the full five-phase staging profile (44 min), every figure in staging.json
  $ wsload run artillery_websocket.yml -t ws://127.0.0.1:8000/ws
                                    any Artillery v2 script with engine: ws, against another target
  $ wsload run big.yml -t ws://127.0.0.1:8000/ws --local-address 127.0.0.1-127.0.0.8
                                    each new virtual user connects from the next of 8 source addresses

The summary goes to stdout; the start line, progress lines, script warnings and log steps to stderr.
Exit codes: 0 run completed (errors are in the summary), 1 target unreachable, no virtual user
could connect or the target went away mid-run, 2 bad flag or script (nothing was sent), 3 a
critical threshold crossed, 130 interrupted (partial results printed and written).
Docs: docs/run.md`;

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('run')
    .description('run an Artillery v2 WebSocket script, timing the round trip of every message')
    .argument('<script>', 'the script: YAML (.yml, .yaml) or JSON')
    .option('-e, --environment <name>', 'apply config.environments.<name> (its phases replace the top-level ones)')
    .option('-t, --target <url>', 'override the target URL (beats config and environment)')
    .option('--serve', 'start the embedded reference server on a free 127.0.0.1 port and use it as the target (--target is ignored)')
    .option('-q, --quiet', 'no start line, warnings or live progress on stderr, only the summary')
    .option('--workers <n>', 'worker processes to spread arrivals over (auto: one per core; default: decided by the peak arrival rate, see docs/workers.md; 1 runs in this process)')
    .option('--drain-timeout <ms>', `after the last phase, stop virtual users still running after this long (default ${RUN_DEFAULTS.drainTimeoutMs / 1000}s; bare digits are ms)`)
    .option('--local-address <list>', 'source addresses, a comma list or a range such as 127.0.0.1-127.0.0.8, each new virtual user binding the next (chosen automatically for loopback targets past 20,000 users open at once)');
  addLiveOptions(addGateOptions(cmd))
    .addHelpText('after', EXAMPLES)
    .action(async (script: string, flags: RunFlags) => {
      await runCommand(script, flags, ctx, program.version() ?? '0.0.0');
    });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function load(script: string, options: LoadOptions, ctx: CliContext): Promise<ScriptPlan> {
  // The script loader (YAML, tsx for TypeScript processors) is loaded by the commands that read scripts.
  const { loadScript } = await import('../../scenario/load.js');
  try {
    return await loadScript(script, options);
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    // Every problem, like `wsload validate`, then one line from main: nothing was sent.
    for (const p of err.problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    const errors = err.problems.filter((p) => p.severity === 'error').length;
    throw new WsloadError('WSLOAD_SCRIPT', `${script}: ${plural(errors, 'error')}; nothing was sent`);
  }
}

/** Close kinds of a connection lost under a running flow. */
const DROP_KIND = /^(connection_closed_\d+|connection_reset|protocol_error)$/;

/**
 * Did the run do less than planned (docs/run.md, "Partial runs")? Interrupted, users stopped by the
 * drain timeout, or users whose connection could not open or was lost, so their flow was not run.
 */
export function isPartialRun(aborted: boolean, s: RunSummary): boolean {
  return aborted || s.vusers.drained > 0 || s.connections.failed > 0 || Object.entries(s.errors).some(([k, n]) => n > 0 && DROP_KIND.test(k));
}

async function runCommand(script: string, flags: RunFlags, ctx: CliContext, version: string): Promise<void> {
  // What a run needs, loaded when one runs (registering the command loads none of it).
  const [
    { runScriptDistributed },
    { parseLocalAddresses },
    { readOpenFileLimit },
    { buildRunJson },
    { summarizeRun },
    { formatRunText, runErrorLabel },
    { concludeRun, prepareGate, startEmbeddedServer, watchAbort },
    { runOutcome },
  ] = await Promise.all([
    import('../../workers/coordinator.js'),
    import('../../workers/plan.js'),
    import('../../workers/limits.js'),
    import('../../report/run-json.js'),
    import('../../report/run-summary.js'),
    import('../../report/run-text.js'),
    import('../gate.js'),
    import('../outcome.js'),
  ]);
  const problems: string[] = [];
  let drainMs: number = RUN_DEFAULTS.drainTimeoutMs;
  if (flags.drainTimeout !== undefined) {
    // Bare digits are ms (as stress' timeouts), units allowed ("30s", "500ms"); 0 allowed.
    const ms = parseMsFlag(flags.drainTimeout, 0);
    if (ms === undefined) problems.push(`--drain-timeout must be a duration (e.g. 30s, 500ms, 0), got "${flags.drainTimeout}"`);
    else drainMs = ms;
  }
  let localAddresses: string[] | undefined;
  if (flags.localAddress !== undefined) {
    try {
      localAddresses = parseLocalAddresses(flags.localAddress);
    } catch (err) {
      if (!(err instanceof WsloadError)) throw err;
      problems.push(err.toLine());
    }
  }
  problems.push(...gateFlagProblems(flags));
  if (problems.length > 0) throw usageError(problems.join('; '));
  const dashboard = resolveLiveFlags(flags);

  // The embedded server listens before the script is loaded (its URL is the target); it is only
  // listening: no connection is opened until the script has loaded cleanly.
  let server: RunningServer | undefined;
  if (flags.serve) server = await startEmbeddedServer();
  const workers = parseWorkers(flags.workers);
  let result: RunResult & { distribution?: { partial: boolean } };
  let plan: ScriptPlan;
  let gate: Gate;
  let abortOnFail: ReturnType<typeof watchAbort> = { decision: () => undefined };
  let live: Live | undefined;
  // How the script is loaded: here, and again by each worker process (the plan holds functions).
  const scriptTarget = server?.url ?? flags.target;
  const loadOptions: LoadOptions = {
    ...(flags.environment !== undefined ? { environment: flags.environment } : {}),
    ...(scriptTarget !== undefined ? { target: scriptTarget } : {}),
    env: ctx.env,
  };
  try {
    plan = await load(script, loadOptions, ctx);
    // Thresholds (the script's, then --threshold) and report destinations: checked before any connection.
    gate = await prepareGate(flags, ctx, plan.thresholds);
    if (!flags.quiet) {
      for (const w of plan.warnings) ctx.stderr.write(`${formatProblem(w)}\n`);
      const env = plan.environment === undefined ? '' : ` (env ${plan.environment})`;
      const arrivals = compilePlan(plan.phases).arrivals;
      const note = server === undefined ? '' : ` (embedded reference server${flags.target !== undefined ? '; --target ignored' : ''})`;
      ctx.stderr.write(
        `wsload run: ${script}${env}: ${plural(plan.scenarios.length, 'scenario')}, ${plural(plan.phases.length, 'phase')}, ${formatDurationMs(plan.totalDurationMs)}, ${plural(arrivals, 'arrival')} → ${plan.target ?? 'each scenario\'s connect target'}${note}\n`,
      );
    }
    if (plan.scenarios.some((s) => s.connect.proxy !== undefined) && !flags.quiet) {
      ctx.stderr.write('warning: config.ws.proxy is not supported by wsload yet; connections go direct\n');
    }
    const abort = new AbortController();
    void ctx.interrupted.then(() => abort.abort());
    abortOnFail = watchAbort(gate, abort, { offeredRatePerSec: 'unknown' });
    // The live view (terminal, --dashboard) reads the same interval samples as abort-on-fail.
    const watch = await startLive(ctx, dashboard, {
      meta: runLiveMeta(plan, script, { target: plan.target, serve: flags.serve === true, drainTimeoutMs: drainMs }),
      thresholds: gate.set,
      view: { offeredRatePerSec: 'unknown' },
      quiet: flags.quiet === true,
      version,
    });
    live = watch;
    const onInterval = abortOnFail.onInterval;
    // Worker processes load the script again themselves, with the same options.
    result = await runScriptDistributed(script, loadOptions, { drainTimeoutMs: drainMs, env: ctx.env }, {
      ...(workers !== undefined ? { workers } : {}),
      ...(localAddresses !== undefined ? { localAddresses } : {}),
      plan,
      signal: abort.signal,
      onInterval: (sample) => {
        onInterval?.(sample);
        watch.onInterval(sample);
      },
      // Log steps print above the live status area.
      log: (line) => watch.log(line),
    });
  } catch (err) {
    await live?.close();
    throw err;
  } finally {
    live?.endRun();
    await server?.close();
  }

  const summary = summarizeRun(result);
  const target = result.target;
  const outcome = runOutcome(result.aborted, summary, result.snapshot);
  const { unreachable, targetLost } = outcome;
  const scenarios = plan.scenarios.map((s) => ({ name: s.name, weight: s.weight }));
  // Unreachable: one clear line and no summary (main prints the error).
  if (!unreachable) {
    gate.summaryStream.write(formatRunText(summary, { script, environment: plan.environment, target, scenarios, interrupted: result.aborted }));
  }
  const base = buildRunJson({
    version,
    script,
    environment: plan.environment,
    target,
    aborted: result.aborted,
    partial: unreachable || targetLost || result.distribution?.partial === true || isPartialRun(result.aborted, summary),
    options: { serve: flags.serve === true, ...result.settings },
    scenarios,
    summary,
    snapshot: result.snapshot,
  });
  // A script's offered message rate is not known in advance: throughput is not judged by default.
  await concludeRun(live!, gate, {
    base: base as unknown as BaseReport,
    snapshot: result.snapshot,
    view: { offeredRatePerSec: 'unknown' },
    interrupted: result.aborted,
    outcome,
    abort: abortOnFail.decision(),
  }, summary, {
    command: 'run',
    url: target,
    targetName: target ?? 'the target',
    served: server !== undefined,
    firstConnectError: result.firstConnectError,
    noneConnectedLine: 'no virtual user could connect',
    errorLabel: runErrorLabel,
    fdLimit: readOpenFileLimit()?.soft,
  }, ctx);
}
