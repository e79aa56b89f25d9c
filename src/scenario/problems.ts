/**
 * What the loader reports: every problem found in a script, each at file:line:col, gathered before
 * anything is thrown (validation that stops at the first problem wastes the user's time).
 */
import { formatLocation, WsloadError, type SourceLocation } from '../errors.js';

export type Severity = 'error' | 'warning';

export interface Problem {
  readonly severity: Severity;
  /** One line, no trailing period: "phases[1].duration must be …". */
  readonly message: string;
  readonly location: SourceLocation;
  /** A suggestion shown after the message: "did you mean 'send'?". */
  readonly hint?: string;
}

/** `file:line:col: error: message — hint`, the format compilers and editors understand. */
export function formatProblem(p: Problem): string {
  return `${formatLocation(p.location)}: ${p.severity}: ${p.message}${p.hint ? ` — ${p.hint}` : ''}`;
}

/** Orders problems by file position, errors before warnings at the same place. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) =>
      a.location.file.localeCompare(b.location.file) ||
      a.location.line - b.location.line ||
      a.location.col - b.location.col ||
      (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1),
  );
}

/** Thrown by `loadScript` when a script has at least one error; carries every problem (warnings too). */
export class ScriptError extends WsloadError {
  readonly problems: readonly Problem[];
  readonly file: string;

  constructor(file: string, problems: readonly Problem[]) {
    const sorted = sortProblems(problems);
    const errors = sorted.filter((p) => p.severity === 'error');
    const first = errors[0] ?? sorted[0];
    // One line for callers that print only the error: the first problem, and how many follow.
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''}: run 'wsload validate ${file}')` : '';
    super('WSLOAD_SCRIPT', first ? `${first.message}${more}` : `${file}: invalid script`, {
      ...(first ? { location: first.location } : {}),
      ...(first?.hint ? { hint: first.hint } : {}),
    });
    this.name = 'ScriptError';
    this.file = file;
    this.problems = Object.freeze(sorted);
  }
}

/** Collects problems while a script is checked. */
export class ProblemList {
  readonly items: Problem[] = [];

  error(location: SourceLocation, message: string, hint?: string): void {
    this.items.push(hint === undefined ? { severity: 'error', message, location } : { severity: 'error', message, location, hint });
  }

  warn(location: SourceLocation, message: string, hint?: string): void {
    this.items.push(hint === undefined ? { severity: 'warning', message, location } : { severity: 'warning', message, location, hint });
  }

  get errorCount(): number {
    return this.items.reduce((n, p) => n + (p.severity === 'error' ? 1 : 0), 0);
  }
}
