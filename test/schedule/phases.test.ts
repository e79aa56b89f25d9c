import { describe, expect, it } from 'vitest';
import { WsloadError } from '../../src/errors.js';
import {
  arrivalTimes,
  compilePlan,
  phaseArrivalCount,
  phaseKind,
  phaseProblems,
  plannedCounts,
  rampSecondCount,
  totalDurationMs,
  validatePhases,
  type PhaseSpec,
} from '../../src/schedule/phases.js';
import { MIXED, STAGING, bucketOf, expectedPerSecond, sum } from './fixtures.js';

const take = (it: Iterable<number>, n: number): number[] => {
  const out: number[] = [];
  for (const v of it) {
    if (out.length === n) break;
    out.push(v);
  }
  return out;
};

describe('constant arrivalRate', () => {
  it('spaces 10/s evenly from the phase start: 10 in every second of 5', () => {
    const phase = { durationMs: 5000, arrivalRate: 10 };
    expect([...arrivalTimes(phase)]).toEqual(Array.from({ length: 50 }, (_, k) => k * 100));
    expect(plannedCounts([phase])).toEqual([10, 10, 10, 10, 10]);
  });

  it('plans the whole arrivals that fit, as Artillery: 0.5/s for 5 s is 2, at 0 s and 2 s', () => {
    expect([...arrivalTimes({ durationMs: 5000, arrivalRate: 0.5 })]).toEqual([0, 2000]);
  });

  it('gives 0.5/s for 10 s one arrival every other second', () => {
    expect(plannedCounts([{ durationMs: 10_000, arrivalRate: 0.5 }])).toEqual([1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
  });

  it('counts a float-unfriendly rate exactly: 0.1/s for 30 s is 3', () => {
    expect(phaseArrivalCount({ durationMs: 30_000, arrivalRate: 0.1 })).toBe(3);
  });

  it('treats arrivalRate 0 without rampTo as a pause', () => {
    expect(phaseKind({ durationMs: 3000, arrivalRate: 0 })).toBe('pause');
    expect(plannedCounts([{ durationMs: 3000, arrivalRate: 0 }])).toEqual([0, 0, 0]);
  });
});

describe('rampTo', () => {
  const ramp = { durationMs: 60_000, arrivalRate: 10, rampTo: 100 };

  it('steps once a second along the line from arrivalRate (first second) to rampTo (last second)', () => {
    const counts = plannedCounts([ramp]);
    expect(counts).toEqual(expectedPerSecond([ramp]));
    expect(counts[0]).toBe(10);
    expect(counts[59]).toBe(100);
    expect(sum(counts)).toBe(3300);
  });

  it('spreads each second evenly, the first arrival on the second', () => {
    expect(take(arrivalTimes(ramp), 12)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1000 + 1000 / 12]);
  });

  it('rounds each second half up, like Artillery summed over workers', () => {
    // 0 → 1 over 3 s: raw 0, 0.5, 1.
    expect(plannedCounts([{ durationMs: 3000, arrivalRate: 0, rampTo: 1 }])).toEqual([0, 1, 1]);
    expect(rampSecondCount(0, 1, 3, 1)).toBe(1);
  });

  it('plans the mean rate for a 1-second ramp', () => {
    expect(plannedCounts([{ durationMs: 1000, arrivalRate: 10, rampTo: 20 }])).toEqual([15]);
  });

  it('ramps from 0 when only rampTo is given', () => {
    expect(plannedCounts([{ durationMs: 5000, rampTo: 4 }])).toEqual([0, 1, 2, 3, 4]);
  });

  it('ramps down as well as up', () => {
    expect(plannedCounts([{ durationMs: 4000, arrivalRate: 30, rampTo: 0 }])).toEqual([30, 20, 10, 0]);
  });
});

describe('arrivalCount', () => {
  it('spreads 7 arrivals evenly over 10 s', () => {
    const phase = { durationMs: 10_000, arrivalCount: 7 };
    expect([...arrivalTimes(phase)]).toEqual(Array.from({ length: 7 }, (_, k) => (k * 10_000) / 7));
    expect(plannedCounts([phase])).toEqual([1, 1, 1, 0, 1, 1, 0, 1, 1, 0]);
  });

  it('plans nothing for arrivalCount 0 but still lasts its duration', () => {
    expect(plannedCounts([{ durationMs: 2000, arrivalCount: 0 }])).toEqual([0, 0]);
  });
});

describe('pause', () => {
  it('plans no arrivals and shifts later phases', () => {
    const phases: PhaseSpec[] = [{ durationMs: 2000, arrivalRate: 2 }, { durationMs: 3000, pause: true }, { durationMs: 1000, arrivalRate: 3 }];
    expect([...arrivalTimes(phases[1])]).toEqual([]);
    expect(plannedCounts(phases)).toEqual([2, 2, 0, 0, 0, 3]);
    expect(totalDurationMs(phases)).toBe(6000);
  });
});

describe('the staging profile (44 minutes, 2.6 million arrivals)', () => {
  const counts = plannedCounts(STAGING);

  it('lasts 2640 s', () => {
    expect(totalDurationMs(STAGING)).toBe(2_640_000);
    expect(counts).toHaveLength(2640);
  });

  it('matches the closed-form plan in every second', () => {
    expect(counts).toEqual(expectedPerSecond(STAGING));
  });

  it('plans duration × mean rate per phase (no rounding ties, so ramp rounding cancels)', () => {
    const perPhase = STAGING.map(phaseArrivalCount);
    expect(perPhase).toEqual([3300, 165_000, 1_800_000, 450_000, 189_000]);
    expect(sum(counts)).toBe(2_607_300);
    expect(compilePlan(STAGING).arrivals).toBe(2_607_300);
  });

  it('hits each phase boundary rate: 10, 100, 1000, 2000, 100', () => {
    expect([counts[0], counts[59], counts[60], counts[359], counts[360], counts[2159], counts[2160], counts[2459], counts[2460], counts[2639]])
      .toEqual([10, 100, 100, 1000, 1000, 1000, 1000, 2000, 2000, 100]);
  });

  it('yields the offsets of a 44-minute 2000/s phase lazily', () => {
    const huge = { durationMs: 2_640_000, arrivalRate: 2000 };
    const times = arrivalTimes(huge);
    expect(Array.isArray(times)).toBe(false);
    expect(take(times, 4)).toEqual([0, 0.5, 1, 1.5]);
    expect(phaseArrivalCount(huge)).toBe(5_280_000);
  });

  it('agrees with enumerating the arrivals of the peak ramp', () => {
    const peak = STAGING[3];
    expect(bucketOf(arrivalTimes(peak), 300)).toEqual(plannedCounts([peak]));
  });
});

describe('plannedCounts', () => {
  it('agrees with enumerating every arrival, for any bucket size', () => {
    const plan = compilePlan(MIXED);
    const all: number[] = [];
    for (const phase of plan.phases) for (const t of arrivalTimes(phase.spec)) all.push(phase.startMs + t);
    for (const bucketMs of [1000, 250, 700, 5000]) {
      const counts = plannedCounts(MIXED, bucketMs);
      expect(counts).toHaveLength(Math.ceil(14_000 / bucketMs));
      expect(counts).toEqual(bucketOf(all, counts.length, bucketMs));
    }
  });

  it('is empty for an empty plan', () => {
    expect(plannedCounts([])).toEqual([]);
  });
});

describe('validation', () => {
  it('reports every problem with its phase and field', () => {
    const bad = [
      { durationMs: -1, arrivalRate: 5 },
      { durationMs: 1500, arrivalRate: 1, rampTo: 5 },
      { durationMs: 1000, arrivalRate: 1, arrivalCount: 3 },
      { durationMs: 1000 },
      { durationMs: 1000, arrivalCount: 2.5, maxVusers: -3 },
      { durationMs: 1000, pause: true, arrivalRate: 4 },
    ] as PhaseSpec[];
    expect(phaseProblems(bad).map((p) => [p.index, p.field])).toEqual([
      [0, 'durationMs'],
      [1, 'durationMs'],
      [2, 'arrivalCount'],
      [3, undefined],
      [4, 'arrivalCount'],
      [4, 'maxVusers'],
      [5, 'pause'],
    ]);
    let err: unknown;
    try {
      validatePhases(bad.slice(1, 4));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WsloadError);
    expect((err as WsloadError).code).toBe('WSLOAD_CONFIG');
    expect((err as WsloadError).message).toBe(
      'invalid phases:\n' +
        '  phases[0].durationMs: a ramp (rampTo) steps once a second, so it must last a whole number of seconds, got 1500 ms\n' +
        '  phases[1].arrivalCount: give either arrivalCount or arrivalRate/rampTo, not both\n' +
        '  phases[2]: needs one of arrivalRate, rampTo, arrivalCount or pause',
    );
  });

  it('rejects a bad phase as soon as arrivalTimes is called', () => {
    expect(() => arrivalTimes({ durationMs: 0, arrivalRate: 5 })).toThrow('phases[0].durationMs: a phase with arrivals must last more than 0 ms');
  });

  it('accepts a zero-length pause', () => {
    expect(phaseProblems([{ durationMs: 0, pause: true }])).toEqual([]);
  });
});

describe("the script loader's normalised phases (with kind)", () => {
  const at = { file: 'load.yml', line: 1, col: 1 };
  const loaded = [
    { kind: 'constant', index: 0, durationMs: 2000, arrivalRate: 3, mode: 'uniform', location: at },
    { kind: 'ramp', index: 1, durationMs: 3000, arrivalRate: 0, rampTo: 4, location: at },
    { kind: 'pause', index: 2, durationMs: 1000, location: at },
    { kind: 'count', index: 3, durationMs: 2000, arrivalCount: 3, location: at },
  ] as const;

  it('are planned by their kind, fields as in Artillery', () => {
    expect(loaded.map(phaseKind)).toEqual(['constant', 'ramp', 'pause', 'count']);
    expect(plannedCounts(loaded)).toEqual([3, 3, 0, 2, 4, 0, 2, 1]);
  });

  it('need the fields of their kind', () => {
    expect(phaseProblems([{ kind: 'ramp', durationMs: 1000 }, { kind: 'constant', durationMs: 1000, arrivalRate: 1, mode: 'poisson' }]))
      .toEqual([
        { index: 0, field: 'rampTo', message: 'a ramp phase needs rampTo' },
        { index: 1, field: 'mode', message: 'only mode: uniform is supported (evenly spaced arrivals), got poisson' },
      ]);
  });
});
