/**
 * A metric view: what threshold expressions read. It resolves names (`messages.sent`,
 * `ws.rtt.ping.p99`, `connections.success_rate`) and k6 aggregates (`p(95)` of `ws.rtt`) to numbers
 * from one `MetricsSnapshot`, computed the way the reports compute them. A name that cannot be
 * resolved gives `undefined` with the reason, never a crash and never a made-up zero.
 */
import { decodeHistogram, summarizeEncoded, type LatencySummary } from '../metrics/histogram.js';
import type { MetricsSnapshot } from '../metrics/snapshot.js';
import { closest } from '../scenario/suggest.js';
import type { Aggregate } from './expression.js';
import type { ValueUnit } from './format.js';

export interface ViewContext {
  /**
   * The message rate the load could offer at most, in messages per second. `undefined`: unbounded
   * (stress's closed loop sends as fast as replies come). `'unknown'`: the caller cannot tell, so
   * throughput is not judged.
   */
  readonly offeredRatePerSec?: number | 'unknown';
}

/** A name resolved: its value, or why there is none. */
export interface Resolved {
  readonly value: number | undefined;
  readonly unit: ValueUnit;
  /** Why `value` is undefined. */
  readonly reason?: string;
}

export interface MetricView {
  readonly snapshot: MetricsSnapshot;
  readonly context: ViewContext;
  /** The run's duration in seconds (`endTime − startTime`). */
  readonly durationSec: number;
  /** A full name: a counter, gauge, derived figure, `errors.<kind>` or `<histogram>.<aggregate>`. */
  resolve(name: string): Resolved;
  /** A k6 aggregate of a metric: `p(95)` / `avg` of a histogram, `count` / `rate` / `value` of a figure. */
  aggregate(metric: string, aggregate: Aggregate): Resolved;
  /** `resolve(name).value`. */
  get(name: string): number | undefined;
  /** Names that resolve in this snapshot (for listings and did-you-mean). */
  names(): string[];
}

/** Artillery's WebSocket engine metric names, read as ours. */
const ALIASES: Readonly<Record<string, string>> = {
  'websocket.messages_sent': 'messages.sent',
  'websocket.send_rate': 'messages.sent.rate',
};

const DERIVED = [
  'connections.success_rate',
  'connections.failure_rate',
  'messages.per_second',
  'messages.throughput',
  'messages.answered_rate',
  'errors.total',
  'errors.rate',
  'vusers.failed_rate',
] as const;

/** Histogram aggregates by suffix; percentiles beyond these are `p` + digits (`p9999` = 99.99). */
const HISTOGRAM_SUFFIXES = ['p50', 'p75', 'p90', 'p95', 'p99', 'p999', 'min', 'max', 'mean', 'avg', 'median', 'med', 'count', 'stddev'] as const;

/** Histograms wsload records: absent from a snapshot only when nothing was recorded in them. */
const KNOWN_HISTOGRAM = /^(ws\.rtt(\.[\w$.-]+)?|ws\.connect|vusers\.session_length)$/;

/** Error kinds documented in docs/stress.md: absent means none happened, so they read as 0. */
const KNOWN_ERROR_KIND =
  /^(connect_refused|connect_timeout|dns_failure|host_unreachable|handshake_rejected_\d+|handshake_invalid|connection_reset|connection_closed_\d+|protocol_error|reply_timeout|server_error_[\w-]+|send_failed|disconnect_timeout|connect_aborted|fd_limit|no_source_port|worker_crashed|error_[\w-]+|unknown_error)$/;

/** `p999` → 99.9, `p95` → 95, `p9999` → 99.99, `p100` → 100. */
export function percentileOfSuffix(suffix: string): number | undefined {
  const m = /^p(\d+)$/.exec(suffix);
  if (!m) return undefined;
  const d = m[1]!;
  if (d === '100') return 100;
  if (d.length <= 2) return Number(d);
  return Number(`${d.slice(0, 2)}.${d.slice(2)}`);
}

const missing = (unit: ValueUnit, reason: string): Resolved => ({ value: undefined, unit, reason });
const ratio = (num: number, den: number): Resolved => ({ value: num / den, unit: 'ratio' });

/** Build a view of a snapshot; `ctx` adds what a snapshot cannot know (the offered load). */
export function createMetricView(snapshot: MetricsSnapshot, ctx: ViewContext = {}): MetricView {
  return new SnapshotView(snapshot, ctx);
}

class SnapshotView implements MetricView {
  readonly durationSec: number;
  private readonly summaries = new Map<string, LatencySummary>();
  private readonly percentiles = new Map<string, number>();

  constructor(readonly snapshot: MetricsSnapshot, readonly context: ViewContext) {
    this.durationSec = Math.max(0, snapshot.endTime - snapshot.startTime) / 1000;
  }

  get(name: string): number | undefined {
    return this.resolve(name).value;
  }

  resolve(name: string): Resolved {
    const alias = ALIASES[name];
    if (alias !== undefined) return this.resolve(alias);
    const derived = this.derived(name);
    if (derived !== undefined) return derived;
    const { counters, gauges, errors, histograms } = this.snapshot;
    if (Object.hasOwn(counters, name)) return { value: counters[name]!, unit: 'count' };
    if (Object.hasOwn(gauges, name)) return { value: gauges[name]!, unit: 'number' };
    if (name.startsWith('errors.')) {
      const kind = name.slice('errors.'.length);
      if (Object.hasOwn(errors, kind)) return { value: errors[kind]!, unit: 'count' };
      if (KNOWN_ERROR_KIND.test(kind)) return { value: 0, unit: 'count' };
    }
    if (Object.hasOwn(histograms, name)) return this.bareHistogram(name);
    const dot = name.lastIndexOf('.');
    if (dot > 0) {
      const base = name.slice(0, dot);
      const suffix = name.slice(dot + 1);
      const agg = suffixAggregate(suffix);
      if (agg !== undefined && this.isHistogram(base)) return this.histogramAggregate(base, agg);
      if ((suffix === 'count' || suffix === 'rate' || suffix === 'value') && this.isScalar(base)) return this.aggregate(base, { kind: suffix });
    }
    const near = closest(name, this.names());
    if (near === undefined && this.isHistogram(name)) return this.bareHistogram(name);
    return this.unknown(name, near);
  }

  aggregate(metric: string, aggregate: Aggregate): Resolved {
    if (this.isHistogram(metric)) return this.histogramAggregate(metric, aggregate);
    const r = this.resolve(metric);
    if (r.value === undefined) return r;
    switch (aggregate.kind) {
      case 'count':
      case 'value':
        return r;
      case 'rate':
        if (r.unit === 'ratio' || r.unit === 'per_second') return r;
        if (r.unit === 'count') {
          if (this.durationSec === 0) return missing('per_second', 'the run lasted 0 s');
          return { value: r.value / this.durationSec, unit: 'per_second' };
        }
        return missing('per_second', `'rate' does not apply to '${metric}'`);
      default: {
        const what = aggregate.kind === 'percentile' ? `p(${aggregate.p})` : aggregate.kind;
        return missing(r.unit, `${what} needs a histogram, and '${metric}' is ${r.unit === 'count' ? 'a counter' : 'a single figure'}`);
      }
    }
  }

  names(): string[] {
    const { counters, gauges, errors, histograms } = this.snapshot;
    const out = new Set<string>([...Object.keys(counters), ...Object.keys(gauges)]);
    for (const d of DERIVED) if (this.derived(d)?.value !== undefined) out.add(d);
    for (const kind of Object.keys(errors)) out.add(`errors.${kind}`);
    for (const h of Object.keys(histograms)) for (const s of HISTOGRAM_SUFFIXES) out.add(`${h}.${s}`);
    return [...out].sort();
  }

  /** Recorded in this snapshot, or one wsload records (so a missing one means "nothing recorded"). */
  private isHistogram(name: string): boolean {
    if (Object.hasOwn(this.snapshot.histograms, name)) return true;
    return KNOWN_HISTOGRAM.test(name) && suffixAggregate(name.slice(name.lastIndexOf('.') + 1)) === undefined;
  }

  private bareHistogram(name: string): Resolved {
    return missing('ms', `'${name}' is a histogram: name an aggregate such as '${name}.p95'`);
  }

  private isScalar(name: string): boolean {
    const { counters, gauges } = this.snapshot;
    return Object.hasOwn(counters, name) || Object.hasOwn(gauges, name) || (DERIVED as readonly string[]).includes(name) || Object.hasOwn(ALIASES, name);
  }

  private histogramAggregate(name: string, aggregate: Aggregate): Resolved {
    const encoded = this.snapshot.histograms[name];
    if (aggregate.kind === 'rate' || aggregate.kind === 'value') {
      return missing('ms', `'${aggregate.kind}' does not apply to histogram '${name}': use p(N), avg, med, min, max or count`);
    }
    if (encoded === undefined) {
      if (aggregate.kind === 'count') return { value: 0, unit: 'count' };
      return missing('ms', `no values were recorded in '${name}'`);
    }
    const s = this.summary(name, encoded);
    switch (aggregate.kind) {
      case 'count':
        return { value: s.count, unit: 'count' };
      case 'avg':
        return { value: s.mean, unit: 'ms' };
      case 'med':
        return { value: s.p50, unit: 'ms' };
      case 'min':
        return { value: s.min, unit: 'ms' };
      case 'max':
        return { value: s.max, unit: 'ms' };
      case 'stddev':
        return { value: s.stddev, unit: 'ms' };
      case 'percentile':
        return { value: this.percentile(name, encoded, s, aggregate.p), unit: 'ms' };
    }
  }

  private summary(name: string, encoded: string): LatencySummary {
    let s = this.summaries.get(name);
    if (!s) this.summaries.set(name, (s = summarizeEncoded(encoded)));
    return s;
  }

  /** The summary's figure where it has one (so verdicts match the reports), else the same computation. */
  private percentile(name: string, encoded: string, s: LatencySummary, p: number): number {
    const named: Record<number, number> = { 50: s.p50, 75: s.p75, 90: s.p90, 95: s.p95, 99: s.p99, 99.9: s.p999, 100: s.max };
    if (named[p] !== undefined) return named[p]!;
    const key = `${name}\u0000${p}`;
    let v = this.percentiles.get(key);
    if (v === undefined) {
      const h = decodeHistogram(encoded);
      try {
        v = Math.round(h.getValueAtPercentile(p)) / 1000;
      } finally {
        h.destroy();
      }
      this.percentiles.set(key, v);
    }
    return v;
  }

  private derived(name: string): Resolved | undefined {
    const c = this.snapshot.counters;
    const counter = (n: string): number | undefined => (Object.hasOwn(c, n) ? c[n] : undefined);
    switch (name) {
      case 'connections.success_rate':
      case 'connections.failure_rate': {
        const attempted = counter('connections.attempted');
        if (attempted === undefined) return missing('ratio', 'connections.attempted was not measured');
        if (attempted === 0) return missing('ratio', 'no connection was attempted');
        const part = counter(name === 'connections.success_rate' ? 'connections.successful' : 'connections.failed') ?? 0;
        return ratio(part, attempted);
      }
      case 'messages.per_second':
      case 'messages.throughput': {
        const received = counter('messages.received');
        if (received === undefined) return missing('per_second', 'messages.received was not measured');
        if (this.durationSec === 0) return missing('per_second', 'the run lasted 0 s');
        return { value: received / this.durationSec, unit: 'per_second' };
      }
      case 'messages.answered_rate': {
        const sent = counter('messages.sent');
        if (sent === undefined) return missing('ratio', 'messages.sent was not measured');
        if (sent === 0) return missing('ratio', 'no message was sent');
        return ratio(counter('messages.received') ?? 0, sent);
      }
      case 'errors.total':
        return { value: this.errorsTotal(), unit: 'count' };
      case 'errors.rate': {
        const sent = counter('messages.sent');
        const attempted = counter('connections.attempted');
        if (sent === undefined && attempted === undefined) return missing('ratio', 'neither messages.sent nor connections.attempted was measured');
        const den = (sent ?? 0) + (attempted ?? 0);
        if (den === 0) return missing('ratio', 'no connection was attempted and no message was sent');
        return ratio(this.errorsTotal(), den);
      }
      case 'vusers.failed_rate': {
        const created = counter('vusers.created');
        if (created === undefined) return missing('ratio', 'vusers.created was not measured (this run has no virtual users)');
        if (created === 0) return missing('ratio', 'no virtual user was created');
        return ratio(counter('vusers.failed') ?? 0, created);
      }
      default:
        return undefined;
    }
  }

  private errorsTotal(): number {
    let total = 0;
    for (const n of Object.values(this.snapshot.errors)) total += n;
    return total;
  }

  private unknown(name: string, near: string | undefined): Resolved {
    let hint = near === undefined ? '' : ` (did you mean '${near}'?)`;
    if (hint === '' && name.startsWith('http.response_time')) hint = " (wsload's round-trip histogram is 'ws.rtt', e.g. 'ws.rtt.p99')";
    return missing('number', `unknown metric '${name}'${hint}`);
  }
}

function suffixAggregate(suffix: string): Aggregate | undefined {
  switch (suffix) {
    case 'min':
    case 'max':
    case 'count':
    case 'stddev':
      return { kind: suffix };
    case 'mean':
    case 'avg':
      return { kind: 'avg' };
    case 'median':
    case 'med':
      return { kind: 'med' };
  }
  const p = percentileOfSuffix(suffix);
  return p === undefined || p > 100 ? undefined : { kind: 'percentile', p };
}
