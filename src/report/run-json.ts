/**
 * A script run as a machine-readable report (`wsload run --json FILE`), documented field by field in
 * docs/run.md. Pure: builds an object; the CLI writes it.
 */
import type { ErrorSample, PhaseResult } from '../engine/run.js';
import type { MetricsSnapshot } from '../metrics/index.js';
import type { LatencyFigures } from './latency-figures.js';
import type { RunSummary } from './run-summary.js';

/** How the run was set up. */
export interface RunJsonOptions {
  /** The embedded reference server was the target (`--serve`). */
  serve: boolean;
  drainTimeoutMs: number;
  graceMs: number;
  /** The correlation field, or null when correlation was off. */
  correlationField: string | null;
  bufferLimit: number;
}

export interface RunJsonReport {
  tool: 'wsload';
  command: 'run';
  version: string;
  /** The script path as given. */
  script: string;
  /** The environment applied (`-e`), or null. */
  environment: string | null;
  /** The target the users connected to, or null when none did. */
  target: string | null;
  /** The run was interrupted (Ctrl-C). */
  aborted: boolean;
  /** The figures do not cover the whole planned run (interrupted, or the target was unreachable). */
  partial: boolean;
  /** ISO 8601. */
  startedAt: string;
  durationSec: number;
  options: RunJsonOptions;
  scenarios: Array<{ name: string; weight: number }>;
  vusers: RunSummary['vusers'];
  connections: RunSummary['connections'];
  messages: RunSummary['messages'];
  latency: LatencyFigures;
  latencyByType: Record<string, LatencyFigures>;
  connect: LatencyFigures;
  sessionLength: LatencyFigures;
  errors: Record<string, number>;
  errorsByStep: Record<string, Record<string, number>>;
  errorSamples: Record<string, ErrorSample>;
  custom: RunSummary['custom'];
  phases: PhaseResult[];
  metrics: MetricsSnapshot;
}

export interface RunJsonInput {
  version: string;
  script: string;
  environment: string | undefined;
  target: string | undefined;
  aborted: boolean;
  partial: boolean;
  options: RunJsonOptions;
  scenarios: ReadonlyArray<{ name: string; weight: number }>;
  summary: RunSummary;
  snapshot: MetricsSnapshot;
}

export function buildRunJson(input: RunJsonInput): RunJsonReport {
  const s = input.summary;
  return {
    tool: 'wsload',
    command: 'run',
    version: input.version,
    script: input.script,
    environment: input.environment ?? null,
    target: input.target ?? null,
    aborted: input.aborted,
    partial: input.partial,
    startedAt: new Date(input.snapshot.startTime).toISOString(),
    durationSec: Math.round(s.durationSec * 1000) / 1000,
    options: input.options,
    scenarios: input.scenarios.map((x) => ({ name: x.name, weight: x.weight })),
    vusers: s.vusers,
    connections: s.connections,
    messages: s.messages,
    latency: s.latency,
    latencyByType: s.latencyByType,
    connect: s.connect,
    sessionLength: s.sessionLength,
    errors: s.errors,
    errorsByStep: s.errorsByStep,
    errorSamples: s.errorSamples,
    custom: s.custom,
    phases: s.phases,
    metrics: input.snapshot,
  };
}
