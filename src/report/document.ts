/**
 * The versioned report document (`wsload-report/1`) that `stress` and `run` write as JSON and every
 * other output (HTML, JUnit, Markdown, `compare`) is rendered from. It is the command's own JSON
 * report (docs/stress.md, docs/run.md) plus the schema tag, the time series, the threshold
 * verdicts and the phases. Field by field in docs/reports.md.
 */
import { readFile } from 'node:fs/promises';
import { WsloadError } from '../errors.js';
import {
  decodeHistogram,
  mergeSnapshots,
  summarizeEncoded,
  type MetricsSnapshot,
} from '../metrics/index.js';
import { overall, type Outcome, type Verdict, type VerdictStatus } from '../thresholds/index.js';
import { buildSeries, type SeriesPoint } from './series.js';
import { latencyFigures, type LatencyFigures } from './latency-figures.js';
import { summarizeStress } from './stress-summary.js';

/** The schema tag. The number is the major version: it changes only when a field is removed or changes meaning. */
export const REPORT_SCHEMA = 'wsload-report/1';
export const REPORT_SCHEMA_MAJOR = 1;

export type { Verdict, VerdictStatus };

/** A phase of the run on the report's time axis (seconds since the run's start). */
export interface ReportPhase {
  name: string;
  startSec: number;
  endSec: number;
  /** A command may add its own fields (planned arrivals, …); they are kept. */
  [field: string]: unknown;
}

/** The run's overall verdict, as `overall()` of src/thresholds decides it. */
export interface ReportVerdict {
  /** `failed`: a critical level was crossed (or a warning under `--strict`, or a threshold aborted the run). */
  status: Outcome['status'];
  /** The exit code the command returned (when the writer did not say: the one the thresholds call for). */
  exitCode: number;
  /** Verdicts by status. */
  counts: Record<VerdictStatus, number>;
  /** `thresholds: 4 met, 1 warning, 0 critical`. */
  summary: string;
  /** Warnings failed the run (`--strict`). */
  strict?: boolean;
  /** A threshold with `abortOnFail` stopped the run. */
  abortedByThreshold?: boolean;
}

/**
 * What every command's JSON report has in common (the issue-2 fields), plus the optional
 * command-specific parts renderers know how to show. Anything else a command adds is kept as is.
 */
export interface BaseReport {
  tool: 'wsload';
  command: string;
  version: string;
  aborted: boolean;
  partial: boolean;
  startedAt: string;
  durationSec: number;
  latency: LatencyFigures;
  latencyByType: Record<string, LatencyFigures>;
  connect: LatencyFigures;
  errors: Record<string, number>;
  metrics: MetricsSnapshot;
  /** `stress`: the options as used. */
  options?: Record<string, unknown>;
  connections?: Record<string, number>;
  messages?: Record<string, number>;
  /** `run`: the script, its environment and target. */
  script?: string;
  environment?: string | null;
  target?: string;
  vusers?: Record<string, number>;
  sessionLength?: LatencyFigures;
  /** `run`: errors by step, then kind. */
  errorsByStep?: Record<string, Record<string, number>>;
  phases?: ReadonlyArray<Record<string, unknown>>;
  [field: string]: unknown;
}

/** The report document, schema `wsload-report/1`. */
export interface WsloadReport extends BaseReport {
  schema: typeof REPORT_SCHEMA;
  series: SeriesPoint[];
  thresholds: Verdict[];
  verdict?: ReportVerdict;
  phases?: ReportPhase[];
  /** Set by `mergeReports`: how many reports of parts of one run this one adds up. */
  mergedFrom?: number;
}

export interface EnrichOptions {
  verdicts?: Verdict[];
  /** Phases on the time axis; when absent, the base report's own `phases` are placed if they can be. */
  phases?: ReportPhase[];
  /** Warnings fail the run. */
  strict?: boolean;
  /** A threshold with `abortOnFail` stopped the run: failed, whatever the final verdicts say. */
  abortedByThreshold?: boolean;
  /** The exit code the command is about to return, when it knows better (interrupted, unreachable). */
  exitCode?: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Place a command's own phase list on the time axis (seconds since the run's start): entries with
 * `startSec`/`endSec` are kept; `run`'s phase results (`startedAtMs`/`endedAtMs`, ms since the
 * start) are converted, and phases that never started are left out; entries with only a duration
 * (`durationSec` or `durationMs`) are laid back to back from 0. Undefined when nothing can be placed.
 */
export function placePhases(list: ReadonlyArray<Record<string, unknown>> | undefined): ReportPhase[] | undefined {
  if (list === undefined || list.length === 0) return undefined;
  const out: ReportPhase[] = [];
  let cursor = 0;
  for (const [i, p] of list.entries()) {
    const name = typeof p.name === 'string' && p.name !== '' ? p.name : `phase ${i + 1}`;
    const durationSec = num(p.durationSec) ?? (num(p.durationMs) !== undefined ? num(p.durationMs)! / 1000 : undefined);
    let start = num(p.startSec);
    let end = num(p.endSec);
    if (start === undefined || end === undefined) {
      if ('startedAtMs' in p) {
        const startedMs = num(p.startedAtMs);
        if (startedMs === undefined) continue; // never started (the run ended first)
        start = startedMs / 1000;
        const endedMs = num(p.endedAtMs);
        end = endedMs !== undefined ? endedMs / 1000 : start + (durationSec ?? 0);
      } else {
        if (durationSec === undefined) return undefined;
        start = cursor;
        end = cursor + durationSec;
      }
    }
    cursor = end;
    out.push({ ...p, name, startSec: Math.round(start * 1000) / 1000, endSec: Math.round(end * 1000) / 1000 });
  }
  return out.length > 0 ? out : undefined;
}

/**
 * Turn a command's JSON report into the report document: add the schema tag, the series from
 * `metrics.intervals`, the verdicts and the phases. Every field of `base` is kept.
 */
export function enrichReport(base: BaseReport, opts: EnrichOptions = {}): WsloadReport {
  const thresholds = opts.verdicts ?? (Array.isArray(base.thresholds) ? (base.thresholds as Verdict[]) : []);
  const phases = opts.phases ?? placePhases(base.phases);
  const { phases: _ownPhases, ...rest } = base;
  const report: WsloadReport = {
    schema: REPORT_SCHEMA,
    ...rest,
    tool: 'wsload',
    series: buildSeries(base.metrics),
    thresholds,
  };
  if (phases !== undefined) report.phases = phases;
  else if (_ownPhases !== undefined) (report as BaseReport).phases = _ownPhases; // unplaceable: kept untouched
  if (opts.verdicts !== undefined || opts.exitCode !== undefined) {
    const o = overall(thresholds, { ...(opts.strict ? { strict: true } : {}), ...(opts.abortedByThreshold ? { aborted: true } : {}) });
    report.verdict = {
      status: o.status,
      exitCode: opts.exitCode ?? o.exitCode,
      counts: { ...o.counts },
      summary: o.summary,
      ...(opts.strict ? { strict: true } : {}),
      ...(opts.abortedByThreshold ? { abortedByThreshold: true } : {}),
    };
  } else if (base.verdict !== undefined) {
    report.verdict = base.verdict as ReportVerdict;
  }
  return report;
}

/** A report file that cannot be read as a wsload report: one line, naming the file. */
function badReport(file: string, what: string): WsloadError {
  return new WsloadError('WSLOAD_CONFIG', `${file}: ${what}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkSnapshot(file: string, m: unknown): MetricsSnapshot {
  if (!isObject(m)) throw badReport(file, 'corrupt wsload report: "metrics" is missing');
  if (m.version !== 1) throw badReport(file, `corrupt wsload report: metrics.version is ${JSON.stringify(m.version)}, expected 1`);
  for (const key of ['startTime', 'endTime', 'intervalMs'] as const) {
    if (num(m[key]) === undefined) throw badReport(file, `corrupt wsload report: metrics.${key} is not a number`);
  }
  for (const key of ['counters', 'gauges', 'errors', 'histograms'] as const) {
    if (!isObject(m[key])) throw badReport(file, `corrupt wsload report: metrics.${key} is not an object`);
  }
  if (!Array.isArray(m.intervals)) throw badReport(file, 'corrupt wsload report: metrics.intervals is not an array');
  for (const [i, s] of (m.intervals as unknown[]).entries()) {
    if (!isObject(s) || num(s.index) === undefined || num(s.start) === undefined || !isObject(s.counters)
      || !isObject(s.gauges) || !isObject(s.errors) || !isObject(s.histograms)) {
      throw badReport(file, `corrupt wsload report: metrics.intervals[${i}] is not an interval`);
    }
  }
  for (const [name, encoded] of Object.entries(m.histograms as Record<string, unknown>)) {
    try {
      if (typeof encoded !== 'string') throw new TypeError('not a string');
      decodeHistogram(encoded).destroy();
    } catch {
      throw badReport(file, `corrupt wsload report: histogram "${name}" cannot be decoded`);
    }
  }
  return m as unknown as MetricsSnapshot;
}

/**
 * Validate parsed JSON as a report. Reports written before the schema tag existed (issue-2
 * `stress --json`) are accepted and brought up to `wsload-report/1`; a newer major is refused.
 */
export function parseReport(text: string, file: string): WsloadReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw badReport(file, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(data) || data.tool !== 'wsload') throw badReport(file, 'not a wsload report (no "tool": "wsload")');
  if (data.schema !== undefined) {
    const m = typeof data.schema === 'string' ? /^wsload-report\/(\d+)$/.exec(data.schema) : null;
    if (m === null) throw badReport(file, `unknown report schema ${JSON.stringify(data.schema)}`);
    const major = Number(m[1]);
    if (major !== REPORT_SCHEMA_MAJOR) {
      throw badReport(file, major > REPORT_SCHEMA_MAJOR
        ? `report schema ${data.schema} is newer than this wsload reads (${REPORT_SCHEMA}); upgrade wsload`
        : `report schema ${data.schema} is not supported (this wsload reads ${REPORT_SCHEMA})`);
    }
  }
  if (typeof data.command !== 'string') throw badReport(file, 'corrupt wsload report: "command" is missing');
  if (num(data.durationSec) === undefined) throw badReport(file, 'corrupt wsload report: "durationSec" is not a number');
  checkSnapshot(file, data.metrics);
  const base = data as unknown as BaseReport;
  if (data.schema === undefined || !Array.isArray(data.series)) return enrichReport(base);
  if (!Array.isArray(data.thresholds)) throw badReport(file, 'corrupt wsload report: "thresholds" is not an array');
  return data as unknown as WsloadReport;
}

/** Read and validate a report file; every failure is one `WsloadError` line naming the file (exit 2). */
export async function readReport(file: string): Promise<WsloadReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new WsloadError('WSLOAD_CONFIG', `${file}: cannot read the report: ${why}`, { cause: err });
  }
  return parseReport(text, file);
}

function figuresOf(snapshot: MetricsSnapshot, name: string): LatencyFigures {
  const encoded = snapshot.histograms[name];
  return latencyFigures(encoded === undefined ? undefined : summarizeEncoded(encoded));
}

/** Message types measured in a snapshot (`ws.rtt.<type>`), sorted. */
export function rttTypes(snapshot: MetricsSnapshot): string[] {
  // A stress rate-mode snapshot (it has `rate.target`) keeps raw round trips in `ws.rtt.raw`: not a type.
  const rateMode = Object.hasOwn(snapshot.gauges, 'rate.target');
  return Object.keys(snapshot.histograms)
    .filter((n) => n.startsWith('ws.rtt.') && !(rateMode && n === 'ws.rtt.raw'))
    .map((n) => n.slice('ws.rtt.'.length)).sort();
}

/** The summary fields every command has, recomputed from a snapshot. */
function commonSummary(snapshot: MetricsSnapshot): Pick<BaseReport, 'startedAt' | 'durationSec' | 'latency' | 'latencyByType' | 'connect' | 'errors'> {
  const latencyByType: Record<string, LatencyFigures> = {};
  for (const type of rttTypes(snapshot)) latencyByType[type] = figuresOf(snapshot, `ws.rtt.${type}`);
  return {
    startedAt: new Date(snapshot.startTime).toISOString(),
    durationSec: Math.round(snapshot.endTime - snapshot.startTime) / 1000,
    latency: figuresOf(snapshot, 'ws.rtt'),
    latencyByType,
    connect: figuresOf(snapshot, 'ws.connect'),
    errors: { ...snapshot.errors },
  };
}

export interface MergeOptions {
  /**
   * Recompute the command's own summary fields from the merged snapshot (and the parts, for
   * figures that live outside it). `stress` is built in; `wsload report` passes `run`'s. Without
   * one, the fields every command has are recomputed and the command-specific ones that come from
   * the snapshot are dropped rather than left stale.
   */
  summarize?: (snapshot: MetricsSnapshot, parts: readonly WsloadReport[]) => Partial<BaseReport>;
}

/** Command-specific summary fields that come from the snapshot and so go stale in a merge. */
const SNAPSHOT_DERIVED = ['connections', 'messages', 'vusers', 'sessionLength', 'custom', 'rate', 'latencyRaw'] as const;

/** `errorsByStep` of every part, added step by step and kind by kind; undefined when no part has it. */
export function mergeErrorsByStep(parts: readonly BaseReport[]): Record<string, Record<string, number>> | undefined {
  if (!parts.some((p) => p.errorsByStep !== undefined)) return undefined;
  const out: Record<string, Record<string, number>> = {};
  for (const p of parts) {
    for (const [step, kinds] of Object.entries(p.errorsByStep ?? {})) {
      const into = (out[step] ??= {});
      for (const [kind, n] of Object.entries(kinds)) into[kind] = (into[kind] ?? 0) + n;
    }
  }
  return out;
}

/**
 * Merge the reports of parts of one run (worker processes, or one test split over machines): the
 * snapshots merge exactly and every figure is recomputed from the merged snapshot. Verdicts are
 * not carried over — thresholds judge a whole run, so a merged report is judged again by its
 * writer (`thresholds: []`, no `verdict` until then). Parameters and phases are the first part's.
 */
export function mergeReports(reports: readonly WsloadReport[], opts: MergeOptions = {}): WsloadReport {
  const first = reports[0];
  if (first === undefined) throw new RangeError('mergeReports needs at least one report');
  for (const r of reports) {
    if (r.command !== first.command) {
      throw new WsloadError('WSLOAD_USAGE', `cannot merge a ${first.command} report with a ${r.command} report`);
    }
  }
  let snapshot: MetricsSnapshot;
  try {
    snapshot = mergeSnapshots(reports.map((r) => r.metrics));
  } catch (err) {
    throw new WsloadError('WSLOAD_USAGE', `cannot merge these reports: ${(err as Error).message}`, { cause: err });
  }
  const summarize = opts.summarize ?? (first.command === 'stress' ? stressSummaryFields : undefined);
  const merged: BaseReport = { ...first };
  for (const key of SNAPSHOT_DERIVED) delete merged[key];
  delete merged.verdict;
  const errorsByStep = mergeErrorsByStep(reports);
  Object.assign(merged, commonSummary(snapshot), errorsByStep ? { errorsByStep } : {}, summarize ? summarize(snapshot, reports) : {}, {
    aborted: reports.some((r) => r.aborted),
    partial: reports.some((r) => r.partial),
    metrics: snapshot,
  });
  const report = enrichReport(merged, { ...(first.phases ? { phases: first.phases } : {}) });
  report.thresholds = [];
  report.mergedFrom = reports.reduce((n, r) => n + (r.mergedFrom ?? 1), 0);
  return report;
}

function stressSummaryFields(snapshot: MetricsSnapshot): Partial<BaseReport> {
  const s = summarizeStress(snapshot);
  return { connections: s.connections, messages: s.messages, latencyByType: s.latencyByType, ...(s.rate === undefined ? {} : { rate: s.rate, latencyRaw: s.latencyRaw }) };
}
