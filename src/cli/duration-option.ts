/** Millisecond flags (`stress --reply-timeout/--connect-timeout`, `run --drain-timeout`): one reading for both commands. */
import { parseDurationMs } from '../scenario/duration.js';

/** Node timers cannot wait longer. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * A time in ms: bare digits are milliseconds ("200"), units allowed ("500ms", "10s", "1m").
 * Undefined unless it is from `minMs` to `MAX_TIMER_MS`.
 */
export function parseMsFlag(raw: string, minMs: number): number | undefined {
  const text = raw.trim();
  // parseDurationMs reads a bare number as seconds (Artillery's unit): only hand it values with a unit.
  const ms = /^\d+$/.test(text) ? Number(text) : /[a-z]/i.test(text) ? parseDurationMs(text) : undefined;
  return ms !== undefined && Number.isFinite(ms) && ms >= minMs && ms <= MAX_TIMER_MS ? Math.round(ms) : undefined;
}
