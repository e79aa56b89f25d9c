/**
 * `wsload compare base.json new.json`: a table of each headline metric's change with a verdict per
 * row; exit 3 when a metric regressed past the tolerance (docs/reports.md, docs/exit-codes.md).
 */
import type { Command } from 'commander';
import { ExitCode, usageError } from '../../errors.js';
import type { CompareRow } from '../../report/compare.js';
import type { WsloadReport } from '../../report/document.js';
import type { CliContext } from '../context.js';

/** Exit code when a metric regressed past the tolerance: the same as a crossed critical threshold. */
export const COMPARE_REGRESSED_EXIT = ExitCode.ThresholdCritical;
export const DEFAULT_TOLERANCE_PCT = 10;

interface CompareFlags {
  tolerance?: string;
  json?: boolean;
}

const EXAMPLES = `
Examples:
  $ wsload compare main.json branch.json                 a table; exit 3 if a metric got >10 % worse
  $ wsload compare main.json branch.json --tolerance 5%
  $ wsload compare main.json branch.json --json          the rows as JSON on stdout

Exit codes: 0 nothing regressed past the tolerance, 3 something did, 2 a bad flag or a file that
is not a wsload report. Docs: docs/reports.md`;

/** "10%", "10", "2.5 %" → 10, 10, 2.5; undefined when not a percentage from 0 to 1000. */
export function parseTolerance(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(raw);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return n <= 1000 ? n : undefined;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('compare')
    .description('compare two JSON reports metric by metric; exit 3 when one regressed past the tolerance')
    .argument('<base.json>', 'the reference report')
    .argument('<new.json>', 'the report to judge against it')
    .option('--tolerance <pct>', `how much worse a metric may get before it counts as regressed (default ${DEFAULT_TOLERANCE_PCT}%)`)
    .option('--json', 'print the rows as JSON instead of a table')
    .addHelpText('after', EXAMPLES)
    .action(async (baseFile: string, nextFile: string, flags: CompareFlags) => {
      await compareCommand(baseFile, nextFile, flags, ctx);
    });
}

function partialNote(file: string, r: WsloadReport): string | undefined {
  if (r.aborted) return `note: ${file} is from an interrupted run (partial results)`;
  if (r.partial) return `note: ${file} has partial results`;
  return undefined;
}

async function compareCommand(baseFile: string, nextFile: string, flags: CompareFlags, ctx: CliContext): Promise<void> {
  const tolerancePct = flags.tolerance === undefined ? DEFAULT_TOLERANCE_PCT : parseTolerance(flags.tolerance);
  if (tolerancePct === undefined) throw usageError(`--tolerance must be a percentage from 0 to 1000 (e.g. 10%), got "${flags.tolerance}"`);
  // Loaded when the command runs, not when it is registered.
  const [{ compareReports, formatChange, formatCompareText, regressions }, { readReport }] = await Promise.all([
    import('../../report/compare.js'),
    import('../../report/document.js'),
  ]);
  const base = await readReport(baseFile);
  const next = await readReport(nextFile);

  for (const note of [partialNote(baseFile, base), partialNote(nextFile, next)]) if (note) ctx.stderr.write(`${note}\n`);
  if (base.command !== next.command) ctx.stderr.write(`note: comparing a ${base.command} report with a ${next.command} report\n`);

  const rows = compareReports(base, next, { tolerancePct });
  const regressed = regressions(rows);
  if (flags.json) {
    ctx.stdout.write(`${JSON.stringify({ base: baseFile, new: nextFile, tolerancePct, regressed: regressed.length, rows }, null, 2)}\n`);
  } else {
    const c = ctx.colors;
    ctx.stdout.write(`wsload compare: ${baseFile} → ${nextFile} (tolerance ${tolerancePct}%)\n\n`);
    ctx.stdout.write(formatCompareText(rows, c));
    ctx.stdout.write(`\n${summaryLine(regressed, tolerancePct, c.red, c.green, formatChange)}\n`);
  }
  if (regressed.length > 0) ctx.setExitCode(COMPARE_REGRESSED_EXIT);
}

function summaryLine(regressed: CompareRow[], tolerancePct: number, red: (s: string) => string, green: (s: string) => string, change: (r: CompareRow) => string): string {
  if (regressed.length === 0) return green(`no metric regressed past the ${tolerancePct}% tolerance`);
  // A regressed row has both sides (a missing side is `n/a`), so its change is a percentage or `new`.
  const list = regressed.map((r) => `${r.label} (${change(r)})`);
  return red(`${regressed.length} metric${regressed.length === 1 ? '' : 's'} regressed past the ${tolerancePct}% tolerance: ${list.join(', ')}`);
}
