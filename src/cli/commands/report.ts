/**
 * `wsload report`: re-render a JSON report (docs/reports.md) as HTML, JUnit XML or Markdown, and
 * merge the reports of parts of one run. Rendering is not judging: the exit code is 0 whenever the
 * outputs were written.
 */
import type { Command } from 'commander';
import type { ErrorSample, PhaseResult } from '../../engine/run.js';
import type { MetricsSnapshot } from '../../metrics/index.js';
import type { BaseReport, WsloadReport } from '../../report/document.js';
import type { ReportTargets } from '../../report/write.js';
import type { CliContext } from '../context.js';

interface ReportFlags {
  output?: string;
  html?: string;
  junit?: string;
  markdown?: string;
  merge: string[];
  strict?: boolean;
}

const EXAMPLES = `
Examples:
  $ wsload report run.json --html run.html         the HTML report (one offline file)
  $ wsload report run.json --junit thresholds.xml  each threshold a JUnit test case
  $ wsload report run.json                         the Markdown summary on stdout
  $ wsload report part1.json --merge part2.json --merge part3.json -o whole.json --html whole.html
                                                   merge the reports of parts of one run

Exit codes: 0 written, 1 an output could not be written, 2 a bad flag or a file that is not a
wsload report. Docs: docs/reports.md`;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function register(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description('re-render a JSON report as HTML, JUnit XML or Markdown; merge reports of parts of one run')
    .argument('<report.json>', 'a JSON report written by wsload stress/run (-o/--json)')
    .option('-o, --output <file>', 'write the (merged) JSON report to <file> (- for stdout)')
    .option('--html <file>', 'write the HTML report to <file> (- for stdout)')
    .option('--junit <file>', 'write the thresholds as JUnit XML to <file> (- for stdout)')
    .option('--markdown <file>', 'write the Markdown summary to <file> (- for stdout; the default when no output is given)')
    .option('--merge <file>', 'add the report of another part of the same run (repeatable)', collect, [])
    .option('--strict', 'warnings fail their JUnit test cases')
    .addHelpText('after', EXAMPLES)
    .action(async (file: string, flags: ReportFlags) => {
      await reportCommand(file, flags, ctx);
    });
}

async function reportCommand(file: string, flags: ReportFlags, ctx: CliContext): Promise<void> {
  // Loaded when the command runs, not when it is registered.
  const [{ mergeErrorsByStep, mergeReports, readReport }, { summarizeRun }, { checkReportTargets, stdoutTargets, writeReports }] = await Promise.all([
    import('../../report/document.js'),
    import('../../report/run-summary.js'),
    import('../../report/write.js'),
  ]);
  const targets: ReportTargets = {
    ...(flags.output !== undefined ? { json: flags.output } : {}),
    ...(flags.html !== undefined ? { html: flags.html } : {}),
    ...(flags.junit !== undefined ? { junit: flags.junit } : {}),
    ...(flags.markdown !== undefined ? { markdown: flags.markdown } : {}),
  };
  if (Object.keys(targets).length === 0) targets.markdown = '-';
  await checkReportTargets(targets);

  const reports: WsloadReport[] = [];
  for (const f of [file, ...flags.merge]) reports.push(await readReport(f));
  const report = reports.length > 1
    ? mergeReports(reports, reports[0]!.command === 'run' ? { summarize: (snapshot, parts) => summarizeRunParts(snapshot, parts, { summarizeRun, mergeErrorsByStep }) } : {})
    : reports[0]!;
  const written = await writeReports(report, targets, { stdout: ctx.stdout, ...(flags.strict ? { strict: true } : {}) });
  // Say what was written, unless stdout carries a report.
  const log = stdoutTargets(targets).length > 0 ? ctx.stderr : ctx.stdout;
  for (const f of written) log.write(`wrote ${f}\n`);
}

/** What `summarizeRunParts` needs from the modules the command loads when it runs. */
interface RunPartsLib {
  summarizeRun: typeof import('../../report/run-summary.js').summarizeRun;
  mergeErrorsByStep: typeof import('../../report/document.js').mergeErrorsByStep;
}

const numberOr = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

/** `run`'s summary of merged parts: the snapshot's figures plus what lives outside it (drained VUs, error samples). */
function summarizeRunParts(snapshot: MetricsSnapshot, parts: readonly WsloadReport[], lib: RunPartsLib): Partial<BaseReport> {
  const { summarizeRun, mergeErrorsByStep } = lib;
  const first = parts[0]!;
  const errorSamples: Record<string, ErrorSample> = {};
  // The first part's sample of a kind wins.
  for (const p of [...parts].reverse()) Object.assign(errorSamples, (p.errorSamples ?? {}) as Record<string, ErrorSample>);
  const o = first.options ?? {};
  const s = summarizeRun({
    snapshot,
    aborted: parts.some((p) => p.aborted),
    drained: parts.reduce((n, p) => n + numberOr(p.vusers?.drained, 0), 0),
    target: typeof first.target === 'string' ? first.target : undefined,
    errorsByStep: mergeErrorsByStep(parts) ?? {},
    errorSamples,
    phases: (first.phases ?? []) as unknown as PhaseResult[],
    firstConnectError: undefined,
    settings: {
      graceMs: numberOr(o.graceMs, 0),
      correlationField: typeof o.correlationField === 'string' ? o.correlationField : null,
      drainTimeoutMs: numberOr(o.drainTimeoutMs, 0),
      bufferLimit: numberOr(o.bufferLimit, 0),
    },
  });
  return {
    vusers: s.vusers,
    connections: s.connections,
    messages: s.messages,
    latencyByType: s.latencyByType,
    sessionLength: s.sessionLength,
    errorsByStep: s.errorsByStep,
    errorSamples: s.errorSamples,
    custom: s.custom,
  };
}
