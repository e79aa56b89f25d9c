/**
 * How threshold figures read in messages: one unit per value, numbers without float noise
 * (`612.3 ms`, `94.5%`, `1250/s`).
 */

/**
 * What a value measures, which decides how it is printed:
 * `ms` latency · `ratio` a fraction 0..1 printed as a percentage · `percent` already 0..100 ·
 * `per_second` a rate · `count` a counter · `number` anything else (arithmetic).
 */
export type ValueUnit = 'ms' | 'ratio' | 'percent' | 'per_second' | 'count' | 'number';

/** Up to three decimals, trailing zeros dropped; tiny non-zero values keep two significant digits. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const fixed = Number(n.toFixed(3));
  if (fixed === 0 && n !== 0) return String(Number(n.toPrecision(2)));
  return String(fixed);
}

export function formatValue(value: number, unit: ValueUnit): string {
  switch (unit) {
    case 'ms':
      return `${formatNumber(value)} ms`;
    case 'ratio':
      return `${formatNumber(value * 100)}%`;
    case 'percent':
      return `${formatNumber(value)}%`;
    case 'per_second':
      return `${formatNumber(value)}/s`;
    case 'count':
    case 'number':
      return formatNumber(value);
  }
}

/** `3 s`, `1.5 s`, `250 ms`: how long something lasted, in messages. */
export function formatSpan(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${formatNumber(Math.round(ms / 100) / 10)} s`;
}
