/** Shared plans, closed-form expectations and clocks for the schedule tests. */
import type { Clock, TimerHandle } from '../../src/clock.js';
import { FakeClock } from '../../src/clock.js';
import type { PhaseSpec } from '../../src/schedule/phases.js';

/** The seed's five-phase staging profile: 44 minutes, up to 2000 arrivals/s. */
export const STAGING: readonly PhaseSpec[] = [
  { name: 'warm-up', durationMs: 60_000, arrivalRate: 10, rampTo: 100 },
  { name: 'ramp-up', durationMs: 300_000, arrivalRate: 100, rampTo: 1000 },
  { name: 'sustained', durationMs: 1_800_000, arrivalRate: 1000 },
  { name: 'peak', durationMs: 300_000, arrivalRate: 1000, rampTo: 2000 },
  { name: 'ramp-down', durationMs: 180_000, arrivalRate: 2000, rampTo: 100 },
];

/** The staging profile at a tenth of the length, same rates (ramps stay whole seconds). */
export const STAGING_SHORT: readonly PhaseSpec[] = STAGING.map((p) => ({ ...p, durationMs: p.durationMs / 10 }));

/** One phase of every kind, with fractional seconds and rates: 14 s. */
export const MIXED: readonly PhaseSpec[] = [
  { durationMs: 2500, arrivalRate: 3 },
  { durationMs: 3000, arrivalRate: 1, rampTo: 7 },
  { durationMs: 1500, pause: true },
  { durationMs: 4000, arrivalCount: 9 },
  { durationMs: 3000, arrivalRate: 0.7 },
];

/**
 * Closed-form expected arrivals per second, written independently of src: a constant rate r
 * gives r each second; a ramp a→b over n seconds gives round(a + (b − a)·i/(n − 1)) in second i.
 */
export function expectedPerSecond(phases: readonly PhaseSpec[]): number[] {
  const out: number[] = [];
  for (const p of phases) {
    const n = p.durationMs / 1000;
    for (let i = 0; i < n; i++) {
      if (p.rampTo !== undefined) {
        const a = p.arrivalRate ?? 0;
        out.push(Math.round(n === 1 ? (a + p.rampTo) / 2 : a + ((p.rampTo - a) * i) / (n - 1)));
      } else {
        out.push(p.arrivalRate ?? 0);
      }
    }
  }
  return out;
}

/** Count values into per-`bucketMs` buckets. */
export function bucketOf(values: Iterable<number>, length: number, bucketMs = 1000): number[] {
  const out = new Array<number>(length).fill(0);
  for (const v of values) out[Math.floor(v / bucketMs)]++;
  return out;
}

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * A clock whose timers fire late, as a busy event loop makes them: `lag(delay, n)` gives the
 * extra ms for the n-th timer. Counts timers set.
 */
export class LateClock implements Clock {
  timersSet = 0;
  constructor(
    readonly inner: FakeClock,
    private readonly lag: (delayMs: number, n: number) => number,
  ) {}
  now(): number {
    return this.inner.now();
  }
  wallNow(): number {
    return this.inner.wallNow();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const n = this.timersSet++;
    return this.inner.setTimeout(fn, Math.max(0, ms) + this.lag(ms, n));
  }
}

/** A clock whose timers only fire on multiples of `quantumMs` (a coarse timer wheel). */
export function quantizedClock(inner: FakeClock, quantumMs: number): LateClock {
  return new LateClock(inner, (ms) => {
    const due = inner.now() + Math.max(0, ms);
    return Math.ceil(due / quantumMs) * quantumMs - due;
  });
}
