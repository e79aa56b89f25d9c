/**
 * The text summary of a script run: a header in the seed's style (the stress block's figures), then
 * the round trip of each message type as a table, connect time and session length, processor metrics,
 * and the errors by kind with the steps they happened at. Pure.
 */
import { formatDurationMs } from '../scenario/duration.js';
import type { LatencyFigures } from './latency-figures.js';
import type { RunSummary } from './run-summary.js';
import { errorKindsByCount, errorLabel, latencyLines, RULE } from './stress-text.js';

const RUN_LABELS: Readonly<Record<string, string>> = {
  match_failed: 'Match failed',
  capture_failed: 'Capture failed',
  function_error: 'Processor function failed',
  wait_timeout: 'Wait timeout (no matching message)',
  drain_timeout: 'Stopped by --drain-timeout',
  invalid_step: 'Invalid step value',
};

/** A human label for an error kind of a run. */
export function runErrorLabel(kind: string): string {
  return RUN_LABELS[kind] ?? errorLabel(kind);
}

export interface RunTextMeta {
  script: string;
  environment: string | undefined;
  target: string | undefined;
  /** Scenario names with their weights. */
  scenarios: ReadonlyArray<{ name: string; weight: number }>;
  /** Adds `(interrupted: partial results)` under the title. */
  interrupted?: boolean;
}

/** A table of latency rows: name, count, avg, p50, p95, p99, max (ms). */
function table(rows: ReadonlyArray<[string, LatencyFigures]>): string[] {
  const width = Math.max(6, ...rows.map(([n]) => n.length)) + 2;
  const num = (x: number): string => x.toFixed(2).padStart(9);
  const head = `  ${'metric'.padEnd(width)}${'count'.padStart(8)}${['avg', 'p50', 'p95', 'p99', 'max'].map((h) => h.padStart(9)).join('')}`;
  return [
    head,
    ...rows.map(([name, l]) => `  ${name.padEnd(width)}${String(l.count).padStart(8)}${[l.avg, l.p50, l.p95, l.p99, l.max].map(num).join('')}`),
  ];
}

function phaseLine(s: RunSummary): string {
  if (s.phases.length === 0) return 'Phases: none';
  const parts = s.phases.map((p) => {
    const name = p.name ?? `phase ${p.index + 1}`;
    return `${name} (${formatDurationMs(p.durationMs)}, ${p.plannedArrivals} arrivals)`;
  });
  return `Phases: ${parts.join(', ')}`;
}

function scenarioLine(meta: RunTextMeta): string {
  const total = meta.scenarios.reduce((a, s) => a + s.weight, 0);
  if (meta.scenarios.length === 1) return `Scenario: ${meta.scenarios[0]!.name}`;
  return `Scenarios: ${meta.scenarios.map((s) => `${s.name} (${total > 0 ? Math.round((s.weight / total) * 100) : 0}%)`).join(', ')}`;
}

/** Errors, most frequent first, each with the steps it happened at and its first message. */
function errorLines(s: RunSummary): string[] {
  const errors = s.errors;
  const kinds = errorKindsByCount(errors);
  if (kinds.length === 0) return ['Errors encountered: none'];
  const lines = ['Errors encountered:'];
  for (const kind of kinds) {
    lines.push(`  ${runErrorLabel(kind)}: ${errors[kind]}`);
    const steps = Object.entries(s.errorsByStep)
      .filter(([, byKind]) => (byKind[kind] ?? 0) > 0)
      .sort((a, b) => b[1][kind]! - a[1][kind]!);
    for (const [loc, byKind] of steps.slice(0, 5)) lines.push(`    at ${loc}: ${byKind[kind]}`);
    if (steps.length > 5) lines.push(`    … and ${steps.length - 5} more steps`);
    const sample = s.errorSamples[kind];
    if (sample !== undefined && sample.message !== '') lines.push(`    first: ${sample.message}`);
  }
  return lines;
}

/** The summary block, ending with a newline. */
export function formatRunText(s: RunSummary, meta: RunTextMeta): string {
  const v = s.vusers;
  const m = s.messages;
  const env = meta.environment === undefined ? '' : ` (environment: ${meta.environment})`;
  const failedNote = v.drained > 0 ? ` (${v.drained} stopped by --drain-timeout)` : '';
  const rows: Array<[string, LatencyFigures]> = Object.keys(s.latencyByType)
    .sort()
    .map((t) => [`ws.rtt.${t}`, s.latencyByType[t]!]);
  if (rows.length > 1) rows.push(['ws.rtt (all)', s.latency]);
  rows.push(['ws.connect', s.connect], ['vusers.session_length', s.sessionLength]);
  const custom = Object.keys(s.custom.histograms).sort().map((n): [string, LatencyFigures] => [n, s.custom.histograms[n]!]);
  const customCounters = Object.entries(s.custom.counters);
  const lines = [
    RULE,
    'WSLOAD RUN RESULTS',
    RULE,
    ...(meta.interrupted ? ['(interrupted: partial results)'] : []),
    `Script: ${meta.script}${env}`,
    ...(meta.target !== undefined ? [`Target: ${meta.target}`] : []),
    scenarioLine(meta),
    phaseLine(s),
    `Duration: ${s.durationSec.toFixed(2)}s`,
    `VUs created: ${v.created}`,
    `VUs completed: ${v.completed}`,
    `VUs failed: ${v.failed}${failedNote}`,
    `VUs skipped: ${v.skipped}`,
    ...(v.interrupted > 0 ? [`VUs interrupted: ${v.interrupted}`] : []),
    `Messages sent: ${m.sent}`,
    `Messages received: ${m.received}`,
    `Messages/sec: ${m.perSecond.toFixed(2)}`,
    `Replies timed: ${m.replied} of ${m.correlated} (timed out ${m.timedOut}, unanswered ${m.unanswered}, lost ${m.lost})`,
    `Unsolicited messages: ${m.unsolicited} (dropped ${m.dropped})`,
    '',
    'Latency Statistics:',
    ...latencyLines(s.latency),
    '',
    'Round trip by message type, connect time, session length (ms):',
    ...table(rows),
    ...(custom.length > 0 || customCounters.length > 0
      ? [
          '',
          'Processor metrics:',
          ...(custom.length > 0 ? table(custom) : []),
          ...customCounters.map(([n, c]) => `  ${n}: ${c}`),
        ]
      : []),
    '',
    ...errorLines(s),
    RULE,
  ];
  return `${lines.join('\n')}\n`;
}
