/**
 * `wsload run <script>`: runs an Artillery v2 WebSocket script (docs/run.md). Loads and checks it
 * (refusing it before any connection when it has errors), optionally starts the reference server as
 * the target, runs it with a progress line, prints the summary, writes the JSON report and decides the
 * exit code.
 */
import type { Command } from 'commander';
import { UNREACHABLE_KINDS } from '../../engine/connection.js';
import { runScript, type RunProgress, type RunResult } from '../../engine/run.js';
import { usageError, WsloadError } from '../../errors.js';
import { buildRunJson } from '../../report/run-json.js';
import { summarizeRun, type RunSummary } from '../../report/run-summary.js';
import { formatRunText, runErrorLabel } from '../../report/run-text.js';
import { formatDurationMs, parseDurationMs } from '../../scenario/duration.js';
import { loadScript } from '../../scenario/load.js';
import { formatProblem, ScriptError } from '../../scenario/problems.js';
import type { ScriptPlan } from '../../scenario/types.js';
import { compilePlan } from '../../schedule/phases.js';
import type { BaseReport } from '../../report/document.js';
import type { RunningServer } from '../../server/index.js';
import type { CliContext } from '../context.js';
import { addGateOptions, finishGate, prepareGate, startEmbeddedServer, watchAbort, type GateFlags } from '../gate.js';

export interface RunFlags extends GateFlags {
  environment?: string;
  target?: string;
  serve?: boolean;
  quiet?: boolean;
  drainTimeout?: string;
}

export const RUN_DEFAULTS = {
  drainTimeoutMs: 30_000,
} as const;

/** Seconds between progress lines. */
const PROGRESS_EVERY_S = 5;
/** Node timers cannot wait longer. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** `--drain-timeout`: bare digits are ms (as stress' timeouts), units allowed ("30s", "500ms"); 0 allowed. */
function drainTimeoutMs(raw: string): number | undefined {
  const text = raw.trim();
  const ms = /^\d+$/.test(text) ? Number(text) : /[a-z]/i.test(text) ? parseDurationMs(text) : undefined;
  return ms !== undefined && Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIMEOUT_MS ? Math.round(ms) : undefined;
}

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

The summary goes to stdout; the start line, progress lines, script warnings and log steps to stderr.
Exit codes: 0 run completed (errors are in the summary), 1 target unreachable or no virtual user
could connect, 2 bad flag or script (nothing was sent), 130 interrupted (partial results printed
and written).
Docs: docs/run.md`;

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('run')
    .description('run an Artillery v2 WebSocket script, timing the round trip of every message')
    .argument('<script>', 'the script: YAML (.yml, .yaml) or JSON')
    .option('-e, --environment <name>', 'apply config.environments.<name> (its phases replace the top-level ones)')
    .option('-t, --target <url>', 'override the target URL (beats config and environment)')
    .option('--serve', 'start the embedded reference server on a free 127.0.0.1 port and use it as the target (--target is ignored)')
    .option('-q, --quiet', 'no start line, warnings or progress lines on stderr')
    .option('--drain-timeout <ms>', `after the last phase, stop virtual users still running after this long (default ${RUN_DEFAULTS.drainTimeoutMs / 1000}s; bare digits are ms)`);
  addGateOptions(cmd)
    .addHelpText('after', EXAMPLES)
    .action(async (script: string, flags: RunFlags) => {
      await runCommand(script, flags, ctx, program.version() ?? '0.0.0');
    });
}

/** One progress line for stderr (with its newline). */
export function formatRunProgress(p: RunProgress): string {
  const sec = Math.round(p.elapsedMs / 1000);
  const total = Math.round(p.totalMs / 1000);
  const phase = p.phaseIndex === undefined ? 'draining' : (p.phaseName ?? `phase ${p.phaseIndex + 1}`);
  const v = p.vusers;
  const latency = p.p50Ms === undefined ? '' : ` · p50 ${p.p50Ms.toFixed(2)}ms p99 ${(p.p99Ms ?? 0).toFixed(2)}ms`;
  const skipped = v.skipped > 0 ? ` ${v.skipped} skipped` : '';
  const errors = p.errors > 0 ? ` · errors ${p.errors}` : '';
  return `[${sec}s/${total}s] ${phase} · vusers ${v.created} created ${v.active} active ${v.completed} completed ${v.failed} failed${skipped} · ${Math.round(p.messagesPerSec)} msg/s${latency}${errors}\n`;
}

/** True when no user connected and every handshake failure says the target could not be reached. */
function isUnreachable(s: RunSummary): boolean {
  const c = s.connections;
  if (c.attempted === 0 || c.successful > 0) return false;
  let unreachable = 0;
  for (const kind of UNREACHABLE_KINDS) unreachable += s.errors[kind] ?? 0;
  return unreachable === c.failed;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function load(script: string, flags: RunFlags, target: string | undefined, ctx: CliContext): Promise<ScriptPlan> {
  try {
    return await loadScript(script, {
      ...(flags.environment !== undefined ? { environment: flags.environment } : {}),
      ...(target !== undefined ? { target } : {}),
      env: ctx.env,
    });
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    // Every problem, like `wsload validate`, then one line from main: nothing was sent.
    for (const p of err.problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    const errors = err.problems.filter((p) => p.severity === 'error').length;
    throw new WsloadError('WSLOAD_SCRIPT', `${script}: ${plural(errors, 'error')}; nothing was sent`);
  }
}

async function runCommand(script: string, flags: RunFlags, ctx: CliContext, version: string): Promise<void> {
  const problems: string[] = [];
  let drainMs: number = RUN_DEFAULTS.drainTimeoutMs;
  if (flags.drainTimeout !== undefined) {
    const ms = drainTimeoutMs(flags.drainTimeout);
    if (ms === undefined) problems.push(`--drain-timeout must be a duration (e.g. 30s, 500ms, 0), got "${flags.drainTimeout}"`);
    else drainMs = ms;
  }
  const json = flags.output ?? flags.json;
  if (json !== undefined && json.trim() === '') problems.push('--json needs a file name (or - for stdout)');
  if (problems.length > 0) throw usageError(problems.join('; '));

  // The embedded server listens before the script is loaded (its URL is the target); it is only
  // listening: no connection is opened until the script has loaded cleanly.
  let server: RunningServer | undefined;
  if (flags.serve) server = await startEmbeddedServer();
  let result: RunResult;
  let plan: ScriptPlan;
  let gate: Awaited<ReturnType<typeof prepareGate>>;
  let abortOnFail: ReturnType<typeof watchAbort> = { decision: () => undefined };
  try {
    plan = await load(script, flags, server?.url ?? flags.target, ctx);
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
    let lastPrinted = 0;
    const onProgress = flags.quiet ? undefined : (p: RunProgress): void => {
      const sec = Math.round(p.elapsedMs / 1000);
      if (sec - lastPrinted < PROGRESS_EVERY_S) return;
      lastPrinted = sec;
      ctx.stderr.write(formatRunProgress(p));
    };
    result = await runScript(plan, { drainTimeoutMs: drainMs, env: ctx.env }, {
      signal: abort.signal,
      ...(abortOnFail.onInterval ? { onInterval: abortOnFail.onInterval } : {}),
      log: (line) => ctx.stderr.write(`${line}\n`),
      ...(onProgress ? { onProgress } : {}),
    });
  } finally {
    await server?.close();
  }

  const summary = summarizeRun(result);
  const target = result.target;
  const unreachable = !result.aborted && isUnreachable(summary);
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
    partial: result.aborted || unreachable,
    options: { serve: flags.serve === true, ...result.settings },
    scenarios,
    summary,
    snapshot: result.snapshot,
  });
  // A script's offered message rate is not known in advance: throughput is not judged by default.
  const { exitCode } = await finishGate(gate, {
    base: base as unknown as BaseReport,
    snapshot: result.snapshot,
    view: { offeredRatePerSec: 'unknown' },
    interrupted: result.aborted,
    ...(abortOnFail.decision() ? { abort: abortOnFail.decision()! } : {}),
    unreachable,
  }, ctx);

  if (unreachable) {
    const reason = result.firstConnectError?.message ?? 'no connection could be opened';
    throw new WsloadError('WSLOAD_UNREACHABLE', `cannot connect to ${target ?? 'the target'}: ${reason}`,
      server === undefined ? { hint: 'is the server running? try --serve' } : {});
  }
  if (!result.aborted && summary.connections.attempted > 0 && summary.connections.successful === 0) {
    const kinds = Object.entries(summary.errors).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${runErrorLabel(k)}: ${n}`);
    throw new WsloadError('WSLOAD_RUN_FAILED', `no virtual user could connect (${kinds.join(', ')})`);
  }
  ctx.setExitCode(exitCode);
}
