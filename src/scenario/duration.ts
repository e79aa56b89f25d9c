/**
 * Durations as scripts write them: a number of seconds (Artillery's unit) or a string such as
 * "500ms", "30s", "5m", "5min", "1h", "1h30m". Everything is converted to milliseconds once, at load.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
};

const PART = /(\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|hr|h)/y;

/**
 * Parses a duration; numbers and bare numeric strings are seconds. Returns undefined when the value
 * is not a duration (the caller reports it with its location).
 */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  // Numbers from environment variables arrive as strings: Artillery casts them to seconds.
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = PART.lastIndex;
    while (text[pos] === ' ') pos++;
  }
  return total;
}

/** "44m", "1h 5m 3s", "500ms": for summaries. */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}
