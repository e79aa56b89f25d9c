/**
 * One error class for everything wsload reports to a user, a union of codes, and the
 * process exit codes they map to. Library code throws; only src/cli exits the process.
 */

/** Stable, documented exit codes (docs/exit-codes.md). */
export const ExitCode = {
  /** The run completed (and, once thresholds exist, no critical level was crossed). */
  Ok: 0,
  /** The run could not do its job: target unreachable, every connection failed, internal error. */
  RunFailed: 1,
  /** Usage or configuration error: a bad flag, a bad script. Nothing was sent. */
  Usage: 2,
  /** A critical threshold was crossed (reserved for thresholds, issue 4). */
  ThresholdCritical: 3,
  /** Interrupted by the user (SIGINT); reports were written and marked aborted. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type WsloadErrorCode =
  | 'WSLOAD_USAGE'
  | 'WSLOAD_CONFIG'
  | 'WSLOAD_SCRIPT'
  | 'WSLOAD_UNREACHABLE'
  | 'WSLOAD_RUN_FAILED'
  | 'WSLOAD_INTERNAL';

/** Where in a file a problem is (1-based line and column). */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export function formatLocation(loc: SourceLocation | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.col}` : '';
}

const exitFor: Record<WsloadErrorCode, ExitCode> = {
  WSLOAD_USAGE: ExitCode.Usage,
  WSLOAD_CONFIG: ExitCode.Usage,
  WSLOAD_SCRIPT: ExitCode.Usage,
  WSLOAD_UNREACHABLE: ExitCode.RunFailed,
  WSLOAD_RUN_FAILED: ExitCode.RunFailed,
  WSLOAD_INTERNAL: ExitCode.RunFailed,
};

export class WsloadError extends Error {
  readonly code: WsloadErrorCode;
  readonly location: SourceLocation | undefined;
  /** A short suggestion shown after the message ("try --serve"). */
  readonly hint: string | undefined;

  constructor(code: WsloadErrorCode, message: string, options: { location?: SourceLocation; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WsloadError';
    this.code = code;
    this.location = options.location;
    this.hint = options.hint;
  }

  get exitCode(): ExitCode {
    return exitFor[this.code];
  }

  /** One line for a human: `file:line:col: message (hint)`. */
  toLine(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    return `${where}${this.message}${this.hint ? ` — ${this.hint}` : ''}`;
  }
}

export function usageError(message: string, hint?: string): WsloadError {
  return new WsloadError('WSLOAD_USAGE', message, hint === undefined ? {} : { hint });
}
