/**
 * Helpers shared by the declaration parsers (slo, ensure): one expression string into a check,
 * with its problem recorded at its path; how paths and subjects read in messages.
 */
import { formatPath, type Path } from '../scenario/path.js';
import { closest } from '../scenario/suggest.js';
import { metricRefs, parseExpression, refName, ThresholdSyntaxError, type Expr } from './expression.js';
import type { Check, Level, ThresholdIssue } from './types.js';

/** How a path reads in a message: `slo["ws.rtt.ping"][1].warning` (without the leading `config`). */
export function pathText(path: Path): string {
  return formatPath(path[0] === 'config' ? path.slice(1) : path);
}

/** The plain subject of a single comparison (`ws.rtt.ping.p95`), if the expression is one. */
export function comparisonSubject(e: Expr): string | undefined {
  if (e.kind !== 'compare') return undefined;
  const refs = metricRefs(e);
  return refs.length === 1 ? refName(refs[0]!) : undefined;
}

/** Parse one expression string into a check, or record why it does not parse. */
export function parseCheck(
  level: Level,
  text: string,
  path: Path,
  issues: ThresholdIssue[],
  options: { metric?: string; offset?: number; source?: string } = {},
): Check | undefined {
  const lead = text.length - text.trimStart().length;
  const expression = text.trim();
  try {
    const ast = parseExpression(expression, {
      ...(options.metric === undefined ? {} : { metric: options.metric }),
      source: options.source ?? text,
      offset: (options.offset ?? 0) + lead,
    });
    return { level, expression, ast };
  } catch (err) {
    if (!(err instanceof ThresholdSyntaxError)) throw err;
    issues.push({ severity: 'error', path, message: err.message, ...(err.column === undefined ? {} : { column: err.column }) });
    return undefined;
  }
}

/** "did you mean 'abortOnFail'?" for a typo or a longer/shorter form of a known word (`abortOnFailure`, `warn`). */
export function suggestWord(word: string, known: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const near = closest(word, known) ?? known.find((k) => k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase()));
  return near === undefined ? undefined : `did you mean '${near}'?`;
}
