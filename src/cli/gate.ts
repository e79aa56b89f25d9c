/**
 * What `stress` and `run` share once a run has a snapshot: judge it by thresholds, print the
 * verdicts, write every report asked for (JSON, HTML, JUnit, Markdown, $GITHUB_STEP_SUMMARY) from the
 * same final document, and decide the exit code. Also the embedded reference server both commands
 * start for `--serve`. The flags are in ./gate-options.ts (re-exported here): commands register them
 * without loading this module, which their actions import when they run.
 */
import { ExitCode } from '../errors.js';
import { IntervalAccumulator, type IntervalSample, type MetricsSnapshot } from '../metrics/index.js';
import { enrichReport, type BaseReport, type WsloadReport } from '../report/document.js';
import { checkReportTargets, stdoutTargets, writeReports, type ReportTargets } from '../report/write.js';
import type { RunningServer } from '../server/index.js';
import {
  buildThresholdSet,
  createAbortWatcher,
  createMetricView,
  evaluate,
  overall,
  parseCliThresholds,
  type AbortDecision,
  type Threshold,
  type ThresholdSet,
  type Verdict,
  verdictLine,
  type ViewContext,
} from '../thresholds/index.js';
import type { CliContext } from './context.js';
import type { Live } from './live.js';
import { endOnOutcome, type OutcomeContext, type OutcomeSummary, type RunOutcome } from './outcome.js';

import { jsonTarget, type GateFlags } from './gate-options.js';

export { addGateOptions, type GateFlags } from './gate-options.js';

export interface Gate {
  set: ThresholdSet;
  targets: ReportTargets;
  strict: boolean;
  /** Where the summary goes: stderr when a report is written to stdout. */
  summaryStream: CliContext['stdout'];
}

/**
 * Check the gate's flags before anything is sent: threshold expressions (exit 2 on a bad one) and
 * report destinations (a missing directory is refused now, not after a 44-minute run).
 */
export async function prepareGate(flags: GateFlags, ctx: CliContext, script: readonly Threshold[] = []): Promise<Gate> {
  const cli = parseCliThresholds(flags.threshold ?? []);
  const set = buildThresholdSet({ script, cli, defaults: flags.defaultThresholds ? 'always' : 'auto' });
  const json = jsonTarget(flags);
  const targets: ReportTargets = {};
  if (json !== undefined) targets.json = json;
  if (flags.html !== undefined) targets.html = flags.html;
  if (flags.junit !== undefined) targets.junit = flags.junit;
  if (flags.markdown !== undefined) targets.markdown = flags.markdown;
  const summary = ctx.env.GITHUB_STEP_SUMMARY;
  if (summary !== undefined && summary !== '') targets.githubStepSummary = summary;
  await checkReportTargets(targets);
  return { set, targets, strict: flags.strict === true, summaryStream: stdoutTargets(targets).length > 0 ? ctx.stderr : ctx.stdout };
}

/** The verdict table for the terminal (plain text; colours only through `ctx.colors`). */
export function formatVerdicts(verdicts: readonly Verdict[], ctx: Pick<CliContext, 'colors'>, opts: { defaults: boolean; strict: boolean; abort?: AbortDecision }): string {
  if (verdicts.length === 0) return '';
  const c = ctx.colors;
  const lines = [`Thresholds${opts.defaults ? " (the seed's performance targets)" : ''}:`];
  const width = Math.max(...verdicts.map((v) => v.name.length));
  for (const v of verdicts) lines.push(verdictLine(v, width, c));
  const o = overall(verdicts, { strict: opts.strict, ...(opts.abort ? { aborted: true } : {}) });
  const head = o.status === 'failed' ? c.red(c.bold('FAILED')) : o.status === 'warning' ? c.yellow(c.bold('PASSED with warnings')) : c.green(c.bold('PASSED'));
  lines.push(`Verdict: ${head} — ${o.summary}${opts.strict ? ' (strict: warnings fail)' : ''}`);
  if (opts.abort) lines.push(`Run stopped early: ${opts.abort.message}`);
  return `${lines.join('\n')}\n`;
}

export interface FinishInput {
  base: BaseReport;
  snapshot: MetricsSnapshot;
  view?: ViewContext;
  /** The run was cut short by Ctrl-C. */
  interrupted: boolean;
  /** How the run ended (src/cli/outcome.ts): unreachable (nothing to judge), nothing connected, target lost. */
  outcome: RunOutcome;
  /** Set when a threshold with abortOnFail stopped the run. */
  abort: AbortDecision | undefined;
}

/**
 * Judge, print the verdicts, write every report, and return the exit code thresholds ask for
 * (0 or 3; an interrupted run keeps 130 and is still judged and written).
 */
export async function finishGate(gate: Gate, input: FinishInput, ctx: CliContext): Promise<{ exitCode: number; report: WsloadReport }> {
  const { unreachable, noneConnected, targetLost } = input.outcome;
  const runFailed = noneConnected || targetLost;
  const judge = !unreachable;
  const verdicts = judge ? evaluate(gate.set, createMetricView(input.snapshot, input.view ?? {})) : [];
  if (judge) {
    const text = formatVerdicts(verdicts, ctx, { defaults: gate.set.defaultsApplied, strict: gate.strict, ...(input.abort ? { abort: input.abort } : {}) });
    if (text) gate.summaryStream.write(`\n${text}`);
  }
  const o = overall(verdicts, { strict: gate.strict, ...(input.abort ? { aborted: true } : {}) });
  const exitCode = input.interrupted && !input.abort ? ExitCode.Interrupted : o.exitCode;
  const report = enrichReport(input.base, {
    verdicts,
    strict: gate.strict,
    ...(input.abort ? { abortedByThreshold: true } : {}),
    exitCode: unreachable || (runFailed && !input.interrupted) ? ExitCode.RunFailed : exitCode,
  });
  await writeReports(report, gate.targets, { stdout: ctx.stdout, strict: gate.strict });
  return { exitCode, report };
}

/**
 * How `stress` and `run` end once the engine has returned: judge, print the verdicts and write every
 * report (the dashboard shows them and may linger), then end on the run's outcome — one thrown line
 * for an unreachable target, no connection or a lost target — or with the exit code thresholds ask for.
 */
export async function concludeRun(live: Live, gate: Gate, input: FinishInput, summary: OutcomeSummary, closing: OutcomeContext, ctx: CliContext): Promise<void> {
  const { exitCode } = await live.finish(finishGate(gate, input, ctx));
  endOnOutcome(input.outcome, summary, closing, ctx);
  ctx.setExitCode(exitCode);
}

/**
 * Abort-on-fail: when a threshold with `abortOnFail` is declared, judge the run so far after every
 * interval (from the interval samples, as reports see them) and stop the run once the threshold has
 * stayed crossed (docs/thresholds.md). Returns no hook when nothing asks for it: no cost then.
 */
export function watchAbort(gate: Gate, abort: AbortController, view: ViewContext = {}): { onInterval?: (sample: IntervalSample) => void; decision(): AbortDecision | undefined } {
  const watcher = createAbortWatcher(gate.set);
  if (watcher.watching === 0) return { decision: () => undefined };
  const acc = new IntervalAccumulator();
  return {
    onInterval(sample) {
      if (watcher.decision !== undefined) return;
      acc.add(sample);
      const snapshot = acc.snapshot();
      const decision = watcher.feed(createMetricView(snapshot, view), snapshot.endTime - snapshot.startTime);
      if (decision !== undefined) {
        acc.destroy();
        abort.abort(decision);
      }
    },
    decision: () => watcher.decision,
  };
}

/**
 * The embedded reference server for `--serve`: loopback, a free port, and no limits that a load
 * test would trip over (the defaults protect a real deployment, not a benchmark target).
 */
export async function startEmbeddedServer(): Promise<RunningServer> {
  // Loaded only for --serve: the server brings prom-client and its own modules.
  const { startServer } = await import('../server/index.js');
  return startServer({ host: '127.0.0.1', port: 0, maxConnections: 1_000_000, rateLimit: 0, idleTimeoutMs: 0 });
}
