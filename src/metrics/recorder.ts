/**
 * The per-process metrics recorder: counters, gauges, errors by kind and HDR histograms, with a
 * fixed-interval series. The hot path touches plain fields (`counter.value += 1`,
 * `histogram.record(us)`); once per interval the interval histograms are folded into the totals
 * (../shared/PERF-NOTES.md: record each value once per message, fold once a second).
 */
import { createHistogram, encodeHistogram, type Histogram } from './histogram.js';
import { SNAPSHOT_VERSION, type IntervalSample, type MetricsSnapshot } from './snapshot.js';

/** A monotonically increasing count. Read and write `value` directly on hot paths. */
export class Counter {
  value = 0;
  constructor(readonly name: string) {}
}

/** A value that goes up and down (open connections). */
export class Gauge {
  value = 0;
  constructor(readonly name: string) {}
}

/**
 * Records microsecond values into the current interval's histogram. Made by
 * `MetricsRecorder.histogram`: a parent (`ws.rtt` over `ws.rtt.ping`, …) holds every value of its
 * children, but each value is recorded once, in the child, and the recorder folds the children's
 * interval histograms into the parent's when the interval closes (HDR addition is exact), so the
 * parent costs nothing per value.
 */
export class HistogramHandle {
  /** @internal */ interval: Histogram;
  /** @internal */ total: Histogram;
  /** @internal */ dirty = false;
  /** @internal Handles whose values this one also holds (linked by the recorder). */
  readonly children: HistogramHandle[] = [];

  constructor(readonly name: string, readonly parent?: HistogramHandle) {
    this.interval = createHistogram();
    this.total = createHistogram();
  }

  /** Record one value in microseconds (fractions are rounded; negatives count as 0). */
  record(us: number): void {
    this.interval.recordValue(us > 0 ? Math.round(us) : 0);
    this.dirty = true;
  }

  get count(): number {
    return this.total.totalCount + this.pendingCount();
  }

  /** Values of the current interval, the children's not yet folded in included. */
  private pendingCount(): number {
    let n = this.interval.totalCount;
    for (const c of this.children) n += c.pendingCount();
    return n;
  }
}

export interface RecorderOptions {
  /** Epoch ms the run started at; interval indexes count from it. */
  startTime: number;
  /** Interval length, default 1000 ms. */
  intervalMs?: number;
}

export class MetricsRecorder {
  readonly startTime: number;
  readonly intervalMs: number;
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();
  private readonly histograms = new Map<string, HistogramHandle>();
  /** Handles with a parent, children after their parents (a parent exists before its children). */
  private readonly nested: HistogramHandle[] = [];
  private readonly errors = new Map<string, number>();
  private readonly lastCounters = new Map<string, number>();
  private readonly lastErrors = new Map<string, number>();
  private readonly series: IntervalSample[] = [];
  private intervalStart: number;
  /** Index of the last interval closed, -1 before the first. */
  private lastIndex = -1;
  private closed = false;

  constructor(opts: RecorderOptions) {
    this.startTime = opts.startTime;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.intervalStart = opts.startTime;
  }

  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = new Counter(name)));
    return c;
  }

  gauge(name: string): Gauge {
    let g = this.gauges.get(name);
    if (!g) this.gauges.set(name, (g = new Gauge(name)));
    return g;
  }

  /**
   * A histogram handle; with `parent` (a handle of this recorder), every value also counts in the
   * parent (`ws.rtt`), folded in when the interval closes. An existing name is returned as it is.
   */
  histogram(name: string, parent?: HistogramHandle): HistogramHandle {
    let h = this.histograms.get(name);
    if (!h) {
      this.histograms.set(name, (h = new HistogramHandle(name, parent)));
      if (parent !== undefined) {
        parent.children.push(h);
        this.nested.push(h);
      }
    }
    return h;
  }

  /** Count an error of a kind (`reply_timeout`, `connect_ECONNREFUSED`, `handshake_rejected_503`…). */
  error(kind: string, n = 1): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + n);
  }

  errorCount(kind: string): number {
    return this.errors.get(kind) ?? 0;
  }

  /**
   * Close the current interval at `now` (epoch ms): fold interval histograms into totals and
   * append the interval to the series. Returns it (live views and worker shipping use it).
   */
  tick(now: number): IntervalSample {
    // The interval closed is the one whose end boundary lies nearest `now`: a timer that fires a
    // little early or late still closes the right interval, and indexes never repeat (a repeated
    // index would be taken for another worker's part when merging).
    const nearest = Math.round((now - this.startTime) / this.intervalMs) - 1;
    const index = Math.max(nearest, this.lastIndex + 1);
    this.lastIndex = index;
    const sample: IntervalSample = {
      index,
      start: this.intervalStart,
      durationMs: Math.max(0, now - this.intervalStart),
      counters: {},
      gauges: {},
      errors: {},
      histograms: {},
    };
    for (const [name, c] of this.counters) {
      const delta = c.value - (this.lastCounters.get(name) ?? 0);
      if (delta !== 0) sample.counters[name] = delta;
      this.lastCounters.set(name, c.value);
    }
    for (const [name, g] of this.gauges) sample.gauges[name] = g.value;
    for (const [kind, n] of this.errors) {
      const delta = n - (this.lastErrors.get(kind) ?? 0);
      if (delta !== 0) sample.errors[kind] = delta;
      this.lastErrors.set(kind, n);
    }
    this.foldChildren();
    for (const [name, h] of this.histograms) {
      if (!h.dirty) continue;
      sample.histograms[name] = encodeHistogram(h.interval);
      h.total.add(h.interval);
      h.interval.reset();
      h.dirty = false;
    }
    this.series.push(sample);
    this.intervalStart = now;
    return sample;
  }

  /** Add each child's interval values to its parent's, deepest first (once per interval). */
  private foldChildren(): void {
    for (let i = this.nested.length - 1; i >= 0; i--) {
      const c = this.nested[i]!;
      if (!c.dirty) continue;
      const p = c.parent!;
      p.interval.add(c.interval);
      p.dirty = true;
    }
  }

  /** The next interval boundary (epoch ms) after the current interval's start. */
  nextBoundary(): number {
    return this.startTime + (this.lastIndex + 2) * this.intervalMs;
  }

  /** Close the last (partial) interval and return everything measured. */
  snapshot(now: number): MetricsSnapshot {
    if (now > this.intervalStart || this.hasPending()) this.tick(now);
    const counters: Record<string, number> = {};
    for (const [name, c] of this.counters) counters[name] = c.value;
    const gauges: Record<string, number> = {};
    for (const [name, g] of this.gauges) gauges[name] = g.value;
    const histograms: Record<string, string> = {};
    for (const [name, h] of this.histograms) if (h.total.totalCount > 0) histograms[name] = encodeHistogram(h.total);
    return {
      version: SNAPSHOT_VERSION,
      startTime: this.startTime,
      endTime: now,
      intervalMs: this.intervalMs,
      counters,
      gauges,
      errors: Object.fromEntries(this.errors),
      histograms,
      intervals: this.series.slice(),
    };
  }

  private hasPending(): boolean {
    for (const h of this.histograms.values()) if (h.dirty) return true;
    return false;
  }

  /** Free the WebAssembly memory of every histogram. The recorder is unusable afterwards. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.histograms.values()) {
      h.interval.destroy();
      h.total.destroy();
    }
  }
}
