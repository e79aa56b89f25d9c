/**
 * `wsload validate <script>`: loads a script the way `run` will (environment, payloads, processor) and
 * reports every problem at file:line:col, one per line, like a compiler. Nothing is sent.
 */
import type { Command } from 'commander';
import { ExitCode, WsloadError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { formatDurationMs } from '../../scenario/duration.js';
import { ScriptError, sortProblems, type Problem } from '../../scenario/problems.js';
import type { ScriptPlan } from '../../scenario/types.js';

interface ValidateFlags {
  environment?: string;
  target?: string;
  json?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check a script (Artillery v2, engine: ws) and report every problem at file:line:col')
    .argument('<script>', 'the script: YAML (.yml, .yaml) or JSON')
    .option('-e, --environment <name>', 'apply config.environments.<name> first')
    .option('-t, --target <url>', 'override the target URL (beats config and environment)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ wsload validate scenarios/chat.yml
  $ wsload validate artillery_websocket.yml -e staging
  $ wsload validate script.yml --json | jq '.problems[]'

Output: one line per problem, "file:line:col: error: message — hint", then a summary.
Exit codes: 0 the script is valid (warnings allowed), 2 it has errors.
Docs: docs/scripts.md`,
    )
    .action(async (script: string, flags: ValidateFlags) => {
      const result = await check(script, flags, ctx.env);
      if (flags.json) ctx.stdout.write(`${JSON.stringify(toJson(script, result), null, 2)}\n`);
      else printText(ctx, script, result);
      if (result.problems.some((p) => p.severity === 'error') || result.failure) ctx.setExitCode(ExitCode.Usage);
    });
}

interface CheckResult {
  plan?: ScriptPlan;
  problems: readonly Problem[];
  /** A failure with no place in the file (missing script, unsupported file type). */
  failure?: WsloadError;
}

async function check(script: string, flags: ValidateFlags, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  // The script loader (YAML, tsx) is loaded when a script is read, not when the command is registered.
  const { loadScript } = await import('../../scenario/load.js');
  try {
    const plan = await loadScript(script, {
      ...(flags.environment !== undefined ? { environment: flags.environment } : {}),
      ...(flags.target !== undefined ? { target: flags.target } : {}),
      env,
    });
    return { plan, problems: plan.warnings };
  } catch (err) {
    if (err instanceof ScriptError) return { problems: sortProblems(err.problems) };
    if (err instanceof WsloadError) return { problems: [], failure: err };
    throw err;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function printText(ctx: CliContext, script: string, r: CheckResult): void {
  const c = ctx.colors;
  if (r.failure) {
    ctx.stdout.write(`${script}: ${c.red('error:')} ${r.failure.message.startsWith(script) ? r.failure.message.slice(script.length + 2) : r.failure.message}${r.failure.hint ? ` — ${r.failure.hint}` : ''}\n`);
    return;
  }
  for (const p of r.problems) {
    const where = `${p.location.file}:${p.location.line}:${p.location.col}:`;
    const level = p.severity === 'error' ? c.red('error:') : c.yellow('warning:');
    ctx.stdout.write(`${c.bold(where)} ${level} ${p.message}${p.hint ? ` — ${p.hint}` : ''}\n`);
  }
  const errors = r.problems.filter((p) => p.severity === 'error').length;
  const warnings = r.problems.length - errors;
  if (r.plan) {
    const plan = r.plan;
    const extra = warnings > 0 ? `, ${plural(warnings, 'warning')}` : '';
    ctx.stdout.write(
      `${script}: ${c.green('OK')} — ${plural(plan.scenarios.length, 'scenario')}, ${plural(plan.phases.length, 'phase')}, total duration ${formatDurationMs(plan.totalDurationMs)}${extra}\n`,
    );
  } else {
    ctx.stdout.write(`${script}: ${c.red(plural(errors, 'error'))}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}\n`);
  }
}

function toJson(script: string, r: CheckResult): unknown {
  const problems = r.failure
    ? [{ severity: 'error', message: r.failure.message, ...(r.failure.hint ? { hint: r.failure.hint } : {}), file: script, line: null, col: null }]
    : r.problems.map((p) => ({ severity: p.severity, message: p.message, ...(p.hint ? { hint: p.hint } : {}), file: p.location.file, line: p.location.line, col: p.location.col }));
  const errors = problems.filter((p) => p.severity === 'error').length;
  return {
    file: script,
    ok: errors === 0,
    errors,
    warnings: problems.length - errors,
    problems,
    ...(r.plan
      ? {
          summary: {
            ...(r.plan.environment !== undefined ? { environment: r.plan.environment } : {}),
            ...(r.plan.target !== undefined ? { target: r.plan.target } : {}),
            scenarios: r.plan.scenarios.map((s) => ({ name: s.name, weight: s.weight, steps: s.steps.length })),
            phases: r.plan.phases.length,
            totalDurationMs: r.plan.totalDurationMs,
          },
        }
      : {}),
  };
}
