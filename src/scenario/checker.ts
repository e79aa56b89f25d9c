/**
 * The validator's toolbox: report a problem at a path, check a value's type, refuse unknown keys with
 * a did-you-mean. Messages name the path the way users read it (`phases[1].duration`).
 */
import type { SourceLocation } from '../errors.js';
import { ProblemList } from './problems.js';
import { formatPath, type Path } from './path.js';
import type { Locator } from './source.js';
import { didYouMean } from './suggest.js';

export class Checker {
  readonly problems: ProblemList;
  readonly locator: Locator;

  constructor(locator: Locator, problems: ProblemList = new ProblemList()) {
    this.locator = locator;
    this.problems = problems;
  }

  at(path: Path): SourceLocation {
    return this.locator.at(path);
  }

  error(path: Path, message: string, hint?: string): void {
    this.problems.error(this.locator.at(path), message, hint);
  }

  /** An error placed on the key rather than the value (unknown keys, wrong kind of step). */
  errorAtKey(path: Path, message: string, hint?: string): void {
    this.problems.error(this.locator.keyAt(path), message, hint);
  }

  warn(path: Path, message: string, hint?: string): void {
    this.problems.warn(this.locator.at(path), message, hint);
  }

  warnAtKey(path: Path, message: string, hint?: string): void {
    this.problems.warn(this.locator.keyAt(path), message, hint);
  }

  /**
   * Refuses keys not in `known`. A key close to a known one is a typo (error with a hint); with
   * `lenient`, other unknown keys only warn (Artillery and its plugins accept extra keys there).
   */
  unknownKeys(path: Path, obj: Record<string, unknown>, known: readonly string[], what: string, lenient = false): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const hint = didYouMean(key, known);
      // Config paths read as users write them in messages: phases[2], not config.phases[2].
      const where = formatPath(path[0] === 'config' ? path.slice(1) : path);
      const message = `unknown ${what} '${key}'${where ? ` in ${where}` : ''}`;
      if (lenient && hint === undefined) this.warnAtKey([...path, key], `${message}; it is ignored`);
      else this.errorAtKey([...path, key], message, hint);
    }
  }
}

/** "a string", "a list", "null": for "must be …, got …" messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 37)}...` : value}'`;
  return String(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
