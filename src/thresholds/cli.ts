/**
 * `--threshold EXPR` (repeatable): `[level:]expression` with full metric names, e.g.
 * `ws.rtt.ping.p99<100` (critical), `warning:ws.rtt.p95<50`, `abort:errors.rate<5%`.
 */
import { usageError } from '../errors.js';
import { suggestWord } from './checks.js';
import { parseExpression, ThresholdSyntaxError } from './expression.js';
import type { Level, Threshold } from './types.js';

const PREFIXES = ['target', 'warning', 'critical', 'abort'] as const;
type Prefix = (typeof PREFIXES)[number];

/** Parse one `--threshold` value; throws `ThresholdSyntaxError` (message: `--threshold '…': …`). */
export function parseThresholdArg(arg: string, index = 0): Threshold {
  const label = '--threshold';
  let level: Level = 'critical';
  let abortOnFail = false;
  let body = arg;
  let offset = 0;
  const m = /^\s*([A-Za-z_]\w*)\s*:/.exec(arg);
  if (m) {
    const word = m[1]!;
    if (!(PREFIXES as readonly string[]).includes(word)) {
      const hint = suggestWord(word, PREFIXES) ?? 'use target, warning, critical or abort';
      throw new ThresholdSyntaxError(label, arg, `unknown level '${word}'`, arg.indexOf(word) + 1, hint);
    }
    const prefix = word as Prefix;
    level = prefix === 'abort' ? 'critical' : prefix;
    abortOnFail = prefix === 'abort';
    offset = m[0].length;
    body = arg.slice(offset);
  }
  // The AST's offsets are into the expression as stored (trimmed); columns still count in `arg`.
  offset += body.length - body.trimStart().length;
  const expression = body.trim();
  const ast = parseExpression(expression, { label, source: arg, offset });
  return {
    id: `cli[${index}]`,
    name: arg.trim(),
    source: 'cli',
    checks: [{ level, expression, ast }],
    abortOnFail,
    delayAbortEvalMs: 0,
    onMissing: 'not_judged',
  };
}

/**
 * Parse every `--threshold` value; throws one usage error (exit 2) naming every bad one,
 * separated by `; `.
 */
export function parseCliThresholds(args: readonly string[]): Threshold[] {
  const out: Threshold[] = [];
  const problems: string[] = [];
  args.forEach((arg, i) => {
    try {
      out.push(parseThresholdArg(arg, i));
    } catch (err) {
      if (!(err instanceof ThresholdSyntaxError)) throw err;
      problems.push(err.message);
    }
  });
  if (problems.length > 0) throw usageError(problems.join('; '));
  return out;
}
