/**
 * The report and threshold flags of the commands that run load (`stress`, `run`). Apart from
 * ./gate.ts so that registering the commands loads no threshold, report or metrics code: the
 * actions import ./gate.ts when they run.
 */
import type { Command } from 'commander';

/** Flags added by `addGateOptions`. */
export interface GateFlags {
  json?: string;
  output?: string;
  html?: string;
  junit?: string;
  markdown?: string;
  threshold?: string[];
  strict?: boolean;
  defaultThresholds?: boolean;
}

/** The JSON report's file: `-o/--output`, else `--json`. */
export function jsonTarget(flags: GateFlags): string | undefined {
  return flags.output ?? flags.json;
}

/** What is wrong with the gate's flags as given, for the command's one usage error (before anything starts). */
export function gateFlagProblems(flags: GateFlags): string[] {
  const json = jsonTarget(flags);
  return json !== undefined && json.trim() === '' ? ['--json needs a file name (or - for stdout)'] : [];
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The report and threshold flags, identical on every command that runs load. */
export function addGateOptions(cmd: Command): Command {
  return cmd
    .option('-o, --output <file>', 'write the JSON report to <file> (same as --json; - for stdout)')
    .option('--json <file>', 'write the JSON report to <file> (- for stdout; the summary then goes to stderr)')
    .option('--html <file>', 'write a self-contained HTML report (charts, verdicts) to <file>')
    .option('--junit <file>', 'write JUnit XML to <file>: one test case per threshold')
    .option('--markdown <file>', 'write a Markdown summary to <file> (also appended to $GITHUB_STEP_SUMMARY when set)')
    .option('--threshold <expr>', "judge the run by EXPR, e.g. 'ws.rtt.p99<100' or 'warning:ws.rtt.p95<50' (repeatable; docs/thresholds.md)", collect)
    .option('--strict', 'warnings fail the run too (exit 3)')
    .option('--default-thresholds', "also apply the seed's performance targets when thresholds are declared");
}
