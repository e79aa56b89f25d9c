/**
 * The stress run as a machine-readable report (`wsload stress --json FILE`), documented field by
 * field in docs/stress.md. Pure: builds an object; the CLI writes it.
 */
import type { MetricsSnapshot } from '../metrics/index.js';
import type { LatencyFigures } from './latency-figures.js';
import type { RateFigures, StressSummary } from './stress-summary.js';

/** The options as the run used them, plus how they were chosen. */
export interface StressJsonOptions {
  url: string;
  connections: number;
  messages: number;
  batch: number;
  inflight: number;
  replyTimeoutMs: number;
  connectTimeoutMs: number;
  /** Rate mode only: the `--rate` value and what it counts (`run`: in total, `connection`: each). */
  rate?: number;
  ratePer?: 'run' | 'connection';
  /** The preset named on the command line, if any. */
  preset: string | null;
  /** True when the run targeted the embedded reference server (`--serve`). */
  serve: boolean;
}

export interface StressJsonReport {
  tool: 'wsload';
  command: 'stress';
  /** wsload's version. */
  version: string;
  /** The run was interrupted (Ctrl-C). */
  aborted: boolean;
  /** The figures do not cover the whole planned run (interrupted, or the target was unreachable). */
  partial: boolean;
  /** ISO 8601, when the run started. */
  startedAt: string;
  durationSec: number;
  options: StressJsonOptions;
  connections: StressSummary['connections'];
  messages: StressSummary['messages'];
  /** Rate mode only: `{target, achieved, behind, behindWindow, maxLagMs}`. */
  rate?: RateFigures;
  /** `ws.rtt`; in rate mode corrected (from the intended send time). */
  latency: LatencyFigures;
  /** Rate mode only: `ws.rtt.raw` (from the actual send time). */
  latencyRaw?: LatencyFigures;
  latencyByType: Record<string, LatencyFigures>;
  connect: LatencyFigures;
  errors: Record<string, number>;
  metrics: MetricsSnapshot;
}

export interface StressJsonInput {
  version: string;
  aborted: boolean;
  partial: boolean;
  options: StressJsonOptions;
  summary: StressSummary;
  snapshot: MetricsSnapshot;
}

export function buildStressJson(input: StressJsonInput): StressJsonReport {
  const { summary: s, snapshot } = input;
  return {
    tool: 'wsload',
    command: 'stress',
    version: input.version,
    aborted: input.aborted,
    partial: input.partial,
    startedAt: new Date(snapshot.startTime).toISOString(),
    durationSec: Math.round(s.durationSec * 1000) / 1000,
    options: input.options,
    connections: s.connections,
    messages: s.messages,
    ...(s.rate === undefined ? {} : { rate: s.rate }),
    latency: s.latency,
    ...(s.latencyRaw === undefined ? {} : { latencyRaw: s.latencyRaw }),
    latencyByType: s.latencyByType,
    connect: s.connect,
    errors: s.errors,
    metrics: snapshot,
  };
}
