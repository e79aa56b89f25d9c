/**
 * `wsload stress --rate R[/conn] [--duration D]`: rate mode's flags, resolved for
 * `resolveStressOptions` (docs/stress.md, "Rate mode"). Pure: problems go into the caller's list.
 */
import { defaultRateInflight, type RatePer } from '../engine/stress.js';
import { parseDurationMs } from '../scenario/duration.js';

/** Highest `--rate` accepted (messages per second, in total or per connection). */
export const MAX_RATE = 10_000_000;

export interface RateFlags {
  rate?: string;
  duration?: string;
  /** Given explicitly (`-m`): with `--duration`, the smaller bound wins. */
  messages?: string;
  /** Given explicitly: rate mode's default window is then not used. */
  inflight?: string;
}

export interface RateBase {
  connections: number;
  /** Messages per connection as resolved without rate mode (flag, preset, environment, default). */
  messages: number;
  inflight: number;
  replyTimeoutMs: number;
}

export interface RateResolution {
  messages: number;
  inflight: number;
  /** True when `--duration` decided the message count. */
  messagesFromDuration: boolean;
  /** The engine's rate options; empty in the closed loop (so its options stay as they were). */
  options: { rate: number; ratePer: RatePer } | Record<string, never>;
}

/** `500`, `500/s` (in total) or `50/conn` (per connection); undefined when malformed or out of range. */
export function parseRate(raw: string): { rate: number; ratePer: RatePer } | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|conn|connection))?$/i.exec(raw.trim());
  if (!m) return undefined;
  const rate = Number(m[1]);
  if (!(rate > 0) || rate > MAX_RATE) return undefined;
  const per = m[2]?.toLowerCase();
  return { rate, ratePer: per === 'conn' || per === 'connection' ? 'connection' : 'run' };
}

/**
 * Rate mode's effect on the plan. Message count: `--duration D` gives each connection
 * ceil(per-connection rate × D) messages, overriding the preset, MESSAGES and the default; with an
 * explicit `-m` as well, the smaller of the two. Window: `--inflight`, else `defaultRateInflight`.
 */
export function resolveRateFlags(flags: RateFlags, base: RateBase, problems: string[]): RateResolution {
  const closed: RateResolution = { messages: base.messages, inflight: base.inflight, messagesFromDuration: false, options: {} };
  let durationMs: number | undefined;
  if (flags.duration !== undefined) {
    const text = flags.duration.trim();
    // A unit is required: elsewhere bare digits mean ms (--reply-timeout) or seconds (scripts).
    durationMs = /[a-z]/i.test(text) ? parseDurationMs(text) : undefined;
    if (durationMs === undefined || !Number.isFinite(durationMs) || durationMs < 1) {
      problems.push(`--duration must be a duration with a unit (e.g. 30s, 500ms, 2m), got "${flags.duration}"`);
      durationMs = undefined;
    }
  }
  if (flags.rate === undefined) {
    if (flags.duration !== undefined) problems.push('--duration needs --rate (the closed loop sends as fast as replies come; -m bounds it)');
    return closed;
  }
  const parsed = parseRate(flags.rate);
  if (parsed === undefined) {
    problems.push(`--rate must be messages per second above 0 (at most ${MAX_RATE}), in total (500) or per connection (50/conn), got "${flags.rate}"`);
    return closed;
  }
  const perConnection = parsed.ratePer === 'connection' ? parsed.rate : parsed.rate / base.connections;
  let messages = base.messages;
  let messagesFromDuration = false;
  if (durationMs !== undefined) {
    const byDuration = Math.max(1, Math.ceil(perConnection * (durationMs / 1000) - 1e-9));
    if (flags.messages === undefined || byDuration < base.messages) {
      messages = byDuration;
      messagesFromDuration = true;
    }
  }
  const inflight = flags.inflight === undefined ? defaultRateInflight(perConnection, base.replyTimeoutMs) : base.inflight;
  return { messages, inflight, messagesFromDuration, options: parsed };
}
