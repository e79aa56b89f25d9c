import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { WsloadError } from '../../src/errors.js';
import { ArrivalScheduler, type ArrivalInfo, type ArrivalSchedulerOptions } from '../../src/schedule/arrivals.js';
import { arrivalTimes, compilePlan, plannedCounts, type PhaseSpec } from '../../src/schedule/phases.js';
import { LateClock, STAGING, STAGING_SHORT, bucketOf, expectedPerSecond, quantizedClock, sum } from './fixtures.js';

interface Run {
  clock: FakeClock;
  scheduler: ArrivalScheduler;
  arrivals: ArrivalInfo[];
  /** Clock time at which each arrival was emitted. */
  emittedAt: number[];
  events: string[];
}

function run(phases: readonly PhaseSpec[], opts: Partial<ArrivalSchedulerOptions> = {}, clock = new FakeClock()): Run {
  const arrivals: ArrivalInfo[] = [];
  const emittedAt: number[] = [];
  const events: string[] = [];
  const scheduler = new ArrivalScheduler(phases, {
    clock: opts.clock ?? clock,
    onArrival: (info) => {
      arrivals.push(info);
      emittedAt.push(clock.now());
    },
    onPhase: (i, e) => events.push(`${i}:${e}@${clock.now()}`),
    ...opts,
  });
  return { clock, scheduler, arrivals, emittedAt, events };
}

/** Every planned arrival of a plan, in plan time. */
function plannedTimes(phases: readonly PhaseSpec[]): number[] {
  const out: number[] = [];
  for (const p of compilePlan(phases).phases) for (const t of arrivalTimes(p.spec)) out.push(p.startMs + t);
  return out;
}

describe('ArrivalScheduler on a FakeClock', () => {
  it('emits 10/s for 5 s exactly on time, 10 in each second, then completes', async () => {
    const r = run([{ name: 'steady', durationMs: 5000, arrivalRate: 10 }]);
    r.scheduler.start();
    r.clock.advance(5000);
    await expect(r.scheduler.done).resolves.toBe('completed');
    expect(r.arrivals.map((a) => a.intendedTime)).toEqual(Array.from({ length: 50 }, (_, k) => k * 100));
    expect(r.emittedAt).toEqual(r.arrivals.map((a) => a.intendedTime));
    expect(bucketOf(r.emittedAt, 5)).toEqual([10, 10, 10, 10, 10]);
    expect(r.arrivals[0]).toEqual({ phaseIndex: 0, phaseName: 'steady', intendedTime: 0, arrivalIndex: 0 });
    expect(r.events).toEqual(['0:start@0', '0:end@5000']);
    expect(r.scheduler.counters).toEqual({ planned: 50, emitted: 50, skipped: 0 });
    expect(r.clock.pending()).toBe(0);
  });

  it('runs every phase kind to its plan, second by second, with phase events at the boundaries', async () => {
    const phases: PhaseSpec[] = [
      { durationMs: 3000, arrivalRate: 4 },
      { durationMs: 60_000, arrivalRate: 10, rampTo: 100 },
      { durationMs: 2000, pause: true },
      { durationMs: 10_000, arrivalCount: 7 },
      { durationMs: 10_000, arrivalRate: 0.5 },
    ];
    const r = run(phases);
    r.scheduler.start();
    r.clock.advance(85_000);
    await expect(r.scheduler.done).resolves.toBe('completed');
    expect(bucketOf(r.emittedAt, 85)).toEqual(plannedCounts(phases));
    expect(r.arrivals.map((a) => a.intendedTime)).toEqual(plannedTimes(phases));
    expect(r.arrivals.map((a) => a.arrivalIndex)).toEqual(r.arrivals.map((_, i) => i));
    expect(r.events).toEqual([
      '0:start@0', '0:end@3000', '1:start@3000', '1:end@63000', '2:start@63000', '2:end@65000',
      '3:start@65000', '3:end@75000', '4:start@75000', '4:end@85000',
    ]);
  });

  it('starts at a later clock time when asked', () => {
    const r = run([{ durationMs: 1000, arrivalRate: 2 }], {}, new FakeClock(100));
    r.scheduler.start(600);
    r.clock.advance(499);
    expect(r.arrivals).toEqual([]);
    r.clock.advance(1);
    expect(r.arrivals.map((a) => a.intendedTime)).toEqual([600]);
  });

  it('completes an empty plan at once', async () => {
    const r = run([]);
    r.scheduler.start();
    await expect(r.scheduler.done).resolves.toBe('completed');
  });
});

describe('the staging profile on the scheduler', () => {
  it('runs the shortened profile (264 s) to the closed-form plan, every arrival on time', async () => {
    const r = run(STAGING_SHORT);
    r.scheduler.start();
    r.clock.advance(264_000);
    await expect(r.scheduler.done).resolves.toBe('completed');
    const perSecond = bucketOf(r.emittedAt, 264);
    expect(perSecond).toEqual(expectedPerSecond(STAGING_SHORT));
    expect(perSecond).toEqual(plannedCounts(STAGING_SHORT));
    expect(r.emittedAt.every((t, i) => t === r.arrivals[i].intendedTime)).toBe(true);
    expect(r.scheduler.counters).toEqual({ planned: 260_730, emitted: 260_730, skipped: 0 });
  });

  it('runs the full 44-minute profile on a coarse 100 ms timer: 2,607,300 arrivals, exact per second, few timers', async () => {
    const clock = new FakeClock();
    const coarse = quantizedClock(clock, 100);
    const perSecond = new Array<number>(2640).fill(0);
    let lateMax = 0;
    let emitted = 0;
    const scheduler = new ArrivalScheduler(STAGING, {
      clock: coarse,
      onArrival: (info) => {
        emitted++;
        perSecond[Math.floor(info.intendedTime / 1000)]++;
        lateMax = Math.max(lateMax, clock.now() - info.intendedTime);
      },
    });
    scheduler.start();
    clock.advance(2_640_000);
    await expect(scheduler.done).resolves.toBe('completed');
    expect(emitted).toBe(2_607_300);
    expect(perSecond).toEqual(expectedPerSecond(STAGING));
    expect(lateMax).toBeLessThan(100);
    // One wake-up per 100 ms tick (plus phase boundaries), not one timer per arrival.
    expect(coarse.timersSet).toBeLessThanOrEqual(26_400 + 5);
  });
});

describe('late wake-ups', () => {
  it('catches up after every timer fires 250 ms late, each arrival keeping its own intendedTime', async () => {
    const phases: PhaseSpec[] = [{ durationMs: 3000, arrivalRate: 20 }, { durationMs: 5000, arrivalRate: 5, rampTo: 50 }];
    const clock = new FakeClock();
    const late = new LateClock(clock, () => 250);
    const r = run(phases, { clock: late }, clock);
    r.scheduler.start();
    clock.advance(10_000);
    await expect(r.scheduler.done).resolves.toBe('completed');
    expect(r.arrivals.map((a) => a.intendedTime)).toEqual(plannedTimes(phases));
    expect(r.emittedAt.every((t, i) => t >= r.arrivals[i].intendedTime)).toBe(true);
    expect(Math.max(...r.emittedAt.map((t, i) => t - r.arrivals[i].intendedTime))).toBeLessThanOrEqual(250);
    // Phase events come in order, each at the first wake-up at or after its planned time.
    const at = (e: string) => Number(e.split('@')[1]);
    expect(r.events.map((e) => e.split('@')[0])).toEqual(['0:start', '0:end', '1:start', '1:end']);
    [0, 3000, 3000, 8000].forEach((planned, i) => {
      expect(at(r.events[i])).toBeGreaterThanOrEqual(planned);
      expect(at(r.events[i])).toBeLessThanOrEqual(planned + 250);
    });
  });

  it('emits a 3-second stall worth of arrivals in one wake-up, all at their intended times', () => {
    const clock = new FakeClock();
    const stall = new LateClock(clock, (_ms, n) => (n === 2 ? 3000 : 0));
    const r = run([{ durationMs: 5000, arrivalRate: 100 }], { clock: stall }, clock);
    r.scheduler.start();
    clock.advance(5000);
    // Timers 0 and 1 (for 10 and 20 ms) are on time; timer 2, for 30 ms, fires at 3030.
    const stalledAt = 30 + 3000;
    expect(r.arrivals.filter((_, i) => r.emittedAt[i] === stalledAt).map((a) => a.intendedTime))
      .toEqual(Array.from({ length: 301 }, (_, i) => 30 + i * 10));
    expect(r.scheduler.counters.emitted).toBe(500);
  });

  it('yields to the event loop every maxBatch arrivals while far behind, losing none', () => {
    const clock = new FakeClock();
    const stall = new LateClock(clock, (_ms, n) => (n === 0 ? 10_000 : 0));
    const r = run([{ durationMs: 20_000, arrivalRate: 2000 }], { clock: stall, maxBatch: 1000 }, clock);
    r.scheduler.start(1); // the first arrival is due after a timer, which stalls 10 s
    clock.advance(20_001);
    expect(r.scheduler.counters.emitted).toBe(40_000);
    expect(r.arrivals.map((a) => a.arrivalIndex)).toEqual(r.arrivals.map((_, i) => i));
    // 20 001 due by 10 001 ms: 21 turns of ≤ 1000 at that instant.
    expect(r.emittedAt.filter((t) => t === 10_001)).toHaveLength(20_001);
    expect(stall.timersSet).toBeGreaterThan(20);
  });
});

describe('maxVusers', () => {
  it('skips and counts arrivals while maxVusers are active', async () => {
    let active = 0;
    const skipped: number[] = [];
    const r = run([{ durationMs: 2000, arrivalRate: 10, maxVusers: 5 }], {
      activeVusers: () => active,
      onArrival: () => active++,
      onSkipped: (info) => skipped.push(info.arrivalIndex),
    });
    r.scheduler.start();
    r.clock.advance(2000);
    await r.scheduler.done;
    expect(r.scheduler.counters).toEqual({ planned: 20, emitted: 5, skipped: 15 });
    expect(skipped).toEqual(Array.from({ length: 15 }, (_, i) => i + 5));
  });

  it('lets arrivals through again as virtual users finish', () => {
    const clock = new FakeClock();
    let active = 0;
    const started: number[] = [];
    const r = run([{ durationMs: 2000, arrivalRate: 10, maxVusers: 3 }], {
      activeVusers: () => active,
      onArrival: (info) => {
        active++;
        started.push(info.intendedTime);
        clock.setTimeout(() => active--, 1000); // each virtual user lives 1 s
      },
    }, clock);
    r.scheduler.start();
    clock.advance(2000);
    expect(started).toEqual([0, 100, 200, 1000, 1100, 1200]);
    expect(r.scheduler.counters).toEqual({ planned: 20, emitted: 6, skipped: 14 });
  });

  it('caps only the phase that sets maxVusers', () => {
    const r = run([{ durationMs: 1000, arrivalRate: 4, maxVusers: 1 }, { durationMs: 1000, arrivalRate: 4 }], { activeVusers: () => 99 });
    r.scheduler.start();
    r.clock.advance(2000);
    expect(r.scheduler.counters).toEqual({ planned: 8, emitted: 4, skipped: 4 });
    expect(r.arrivals.every((a) => a.phaseIndex === 1)).toBe(true);
  });

  it('needs an activeVusers getter when a phase sets maxVusers', () => {
    expect(() => run([{ durationMs: 1000, arrivalRate: 1, maxVusers: 2 }])).toThrow(
      new WsloadError('WSLOAD_INTERNAL', 'a phase sets maxVusers, so the scheduler needs an activeVusers() getter'),
    );
  });
});

describe('stop()', () => {
  it('halts mid-run: no arrival or phase event after it, no timer left', async () => {
    const r = run([{ durationMs: 5000, arrivalRate: 10 }, { durationMs: 5000, arrivalRate: 10 }]);
    r.scheduler.start();
    r.clock.advance(2550);
    r.scheduler.stop();
    expect(r.clock.pending()).toBe(0);
    r.clock.advance(10_000);
    await expect(r.scheduler.done).resolves.toBe('stopped');
    expect(r.arrivals).toHaveLength(26);
    expect(r.events).toEqual(['0:start@0']);
    expect(r.scheduler.counters).toEqual({ planned: 100, emitted: 26, skipped: 0 });
  });

  it('halts inside a catch-up batch when called from onArrival', () => {
    const clock = new FakeClock();
    const late = new LateClock(clock, () => 1000);
    let seen = 0;
    const r = run([{ durationMs: 5000, arrivalRate: 10 }], {
      clock: late,
      onArrival: () => {
        if (++seen === 5) r.scheduler.stop();
      },
    }, clock);
    r.scheduler.start();
    clock.advance(5000);
    expect(seen).toBe(5);
    expect(clock.pending()).toBe(0);
  });

  it('halts when called from onPhase', () => {
    let arrivals = 0;
    const holder: { s?: ArrivalScheduler } = {};
    const clock = new FakeClock();
    holder.s = new ArrivalScheduler([{ durationMs: 1000, arrivalRate: 5 }, { durationMs: 1000, arrivalRate: 5 }], {
      clock,
      onArrival: () => arrivals++,
      onPhase: (i, e) => {
        if (i === 0 && e === 'end') holder.s?.stop();
      },
    });
    holder.s.start();
    clock.advance(3000);
    expect(arrivals).toBe(5);
  });

  it('before start, resolves done as stopped and start then throws', async () => {
    const r = run([{ durationMs: 1000, arrivalRate: 5 }]);
    r.scheduler.stop();
    await expect(r.scheduler.done).resolves.toBe('stopped');
    expect(() => r.scheduler.start()).toThrow('an ArrivalScheduler can be started only once');
  });

  it('refuses a second start()', () => {
    const r = run([{ durationMs: 1000, arrivalRate: 5 }]);
    r.scheduler.start();
    expect(() => r.scheduler.start()).toThrow('an ArrivalScheduler can be started only once');
  });
});

describe('a throwing callback', () => {
  it('stops the run and rejects done with the error', async () => {
    const boom = new Error('boom');
    const r = run([{ durationMs: 1000, arrivalRate: 10 }], {
      onArrival: (info) => {
        if (info.arrivalIndex === 3) throw boom;
      },
    });
    r.scheduler.start();
    r.clock.advance(1000);
    await expect(r.scheduler.done).rejects.toBe(boom);
    expect(r.scheduler.counters.emitted).toBe(4);
    expect(r.clock.pending()).toBe(0);
  });
});

describe('counters', () => {
  it('always has emitted + skipped = planned after a complete run', async () => {
    let n = 0;
    const r = run([{ durationMs: 4000, arrivalRate: 3, rampTo: 9, maxVusers: 2 }], { activeVusers: () => n++ % 3 });
    r.scheduler.start();
    r.clock.advance(4000);
    await r.scheduler.done;
    const c = r.scheduler.counters;
    expect(c.emitted + c.skipped).toBe(c.planned);
    expect(c.planned).toBe(sum(plannedCounts([{ durationMs: 4000, arrivalRate: 3, rampTo: 9 }])));
  });
});

describe('construction', () => {
  it('validates the phases', () => {
    expect(() => run([{ durationMs: 1000 }])).toThrow('phases[0]: needs one of arrivalRate, rampTo, arrivalCount or pause');
  });

  it('exposes the plan length', () => {
    expect(run(STAGING).scheduler.durationMs).toBe(2_640_000);
  });
});
