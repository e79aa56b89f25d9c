import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { ArrivalScheduler, type ArrivalInfo } from '../../src/schedule/arrivals.js';
import { arrivalTimes, compilePlan, plannedCounts } from '../../src/schedule/phases.js';
import {
  checkSegment,
  segmentArrivalCount,
  segmentArrivals,
  segmentMaxVusers,
  segmentPlannedCounts,
  splitPlan,
} from '../../src/schedule/segment.js';
import { MIXED, STAGING, STAGING_SHORT, sum } from './fixtures.js';

describe('segments of a plan', () => {
  it('sum, second by second, to the plan of the 44-minute staging profile for K = 1, 2, 3, 4, 7', () => {
    const plan = plannedCounts(STAGING);
    for (const k of [1, 2, 3, 4, 7]) {
      const parts = splitPlan(k).map((s) => segmentPlannedCounts(STAGING, s));
      const summed = plan.map((_, b) => sum(parts.map((p) => p[b])));
      expect(summed).toEqual(plan);
      // Even shares: no worker is more than one arrival per phase off the mean in any second.
      for (let b = 0; b < plan.length; b++) {
        const shares = parts.map((p) => p[b]);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(2);
      }
    }
  });

  it('partition the arrivals: each one in exactly one segment, at its planned time', () => {
    const compiled = compilePlan(MIXED);
    const planned: [number, number][] = [];
    for (const p of compiled.phases) for (const t of arrivalTimes(p.spec)) planned.push([planned.length, p.startMs + t]);
    for (const k of [1, 2, 3, 5, 40]) {
      const union = splitPlan(k)
        .flatMap((s) => [...segmentArrivals(MIXED, s)].map((a) => [a.arrivalIndex, a.offsetMs] as [number, number]))
        .sort((a, b) => a[0] - b[0]);
      expect(union).toEqual(planned);
      expect(sum(splitPlan(k).map((s) => segmentArrivalCount(compiled, s)))).toBe(compiled.arrivals);
    }
  });

  it('take every K-th arrival of the whole plan, across phase boundaries', () => {
    const s = [...segmentArrivals([{ durationMs: 1000, arrivalRate: 5 }, { durationMs: 1000, arrivalRate: 4 }], { index: 1, count: 3 })];
    expect(s.map((a) => [a.phaseIndex, a.arrivalIndex, a.offsetMs])).toEqual([[0, 1, 200], [0, 4, 800], [1, 7, 1500]]);
  });

  it('bucket any size exactly', () => {
    for (const bucketMs of [250, 700]) {
      const plan = plannedCounts(MIXED, bucketMs);
      const parts = splitPlan(4).map((s) => segmentPlannedCounts(MIXED, s, bucketMs));
      expect(plan.map((_, b) => sum(parts.map((p) => p[b])))).toEqual(plan);
    }
  });
});

describe('segmented schedulers', () => {
  it('together emit exactly what one scheduler emits, at the same intended times', async () => {
    const record = (segment?: { index: number; count: number }) => {
      const clock = new FakeClock();
      const got: ArrivalInfo[] = [];
      const s = new ArrivalScheduler(STAGING_SHORT.slice(0, 2), { clock, onArrival: (a) => got.push(a), ...(segment ? { segment } : {}) });
      s.start();
      clock.advance(36_000);
      return { got, s };
    };
    const whole = record();
    const parts = splitPlan(3).map((seg) => record(seg));
    for (const p of parts) await expect(p.s.done).resolves.toBe('completed');
    const union = parts.flatMap((p) => p.got).sort((a, b) => a.arrivalIndex - b.arrivalIndex);
    expect(union).toEqual(whole.got);
    // 6 s 10→100 (330) + 30 s 100→1000 (16 500) = 16 830, a third each.
    expect(parts.map((p) => p.s.counters.planned)).toEqual([5610, 5610, 5610]);
    expect(sum(parts.map((p) => p.s.counters.emitted))).toBe(whole.s.counters.emitted);
  });

  it('share maxVusers like Artillery', () => {
    const clock = new FakeClock();
    const caps = splitPlan(4).map((segment) => {
      let active = 0;
      const s = new ArrivalScheduler([{ durationMs: 10_000, arrivalRate: 10, maxVusers: 87 }], {
        clock,
        segment,
        activeVusers: () => active,
        onArrival: () => active++,
      });
      s.start();
      return s;
    });
    clock.advance(10_000);
    expect(caps.map((s) => s.counters.emitted)).toEqual([22, 22, 22, 21]);
  });
});

describe('segmentMaxVusers', () => {
  it("matches Artillery's distribute(): remainder to the first workers", () => {
    const share = (m: number, k: number) => splitPlan(k).map((s) => segmentMaxVusers(m, s));
    expect(share(87, 4)).toEqual([22, 22, 22, 21]);
    expect(share(1, 4)).toEqual([1, 0, 0, 0]);
    expect(share(20, 3)).toEqual([7, 7, 6]);
    expect(segmentMaxVusers(undefined, { index: 0, count: 2 })).toBeUndefined();
  });
});

describe('checkSegment', () => {
  it('rejects a segment outside 0 <= index < count', () => {
    expect(() => checkSegment({ index: 3, count: 3 })).toThrow('invalid execution segment 3/3: need integers 0 <= index < count');
    expect(() => splitPlan(0)).toThrow('invalid execution segment 0/0: need integers 0 <= index < count');
  });
});
