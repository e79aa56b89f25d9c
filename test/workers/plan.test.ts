/**
 * The pure decisions of a distributed run: worker counts, shares, source addresses, the limits'
 * one-line messages, error kinds for exhausted descriptors and ports, and result merging.
 */
import { describe, expect, it } from 'vitest';
import { classifyError } from '../../src/engine/connection.js';
import type { PhaseResult } from '../../src/engine/run.js';
import { WsloadError } from '../../src/errors.js';
import { fdLimitMessage, readEphemeralPorts, readOpenFileLimit, sourcePortMessage } from '../../src/workers/limits.js';
import { mergeErrorsByStep, mergePhases } from '../../src/workers/merge.js';
import { addressSlice, parseLocalAddresses, planRun, planStress, splitEvenly, usersOpenAtOnce, type RunPlanInput, type StressPlanInput } from '../../src/workers/plan.js';

const PORTS = { low: 32768, high: 60999 };
const input = (o: Partial<StressPlanInput>): StressPlanInput => ({
  connections: 100,
  messages: 10,
  batch: 100,
  targets: ['ws://127.0.0.1:8000/ws'],
  workers: undefined,
  cores: 2,
  fdLimit: 20_000,
  ports: PORTS,
  localAddresses: undefined,
  autoLocalAddresses: true,
  ...o,
});

function thrown(fn: () => unknown): WsloadError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WsloadError) return err;
    throw err;
  }
  throw new Error('expected a WsloadError');
}

describe('the open-file limit', () => {
  const EXPECTED = 'cannot hold 50000 connections: the open-file limit is 20000 per process (ulimit -n) and --workers 1 allows at most 19900 — raise the limit (ulimit -n 65536), use --workers 3 or more, or open fewer connections';

  it('says in one line which limit 50,000 connections hit with 1 worker allowed, and how to raise it', () => {
    expect(fdLimitMessage(50_000, 20_000, 1, true)).toBe(EXPECTED);
    const err = thrown(() => planStress(input({ connections: 50_000, workers: 1 })));
    expect(err.code).toBe('WSLOAD_CONFIG');
    expect(err.message).toBe(EXPECTED);
  });

  it('uses more worker processes on its own when one would exceed the limit', () => {
    const plan = planStress(input({ connections: 50_000 }));
    expect(plan.workers).toBe(3);
    expect(plan.reason).toBe('open-file limit 20000 per process');
    expect(plan.shares.map((s) => s.connections)).toEqual([16_667, 16_667, 16_666]);
    expect(plan.shares.every((s) => s.connections <= 19_900)).toBe(true);
  });

  it('stops when even its most workers would not do', () => {
    expect(thrown(() => planStress(input({ connections: 1_000_000, fdLimit: 1024 }))).message).toBe(
      'cannot hold 1000000 connections: the open-file limit is 1024 per process (ulimit -n) and 64 worker processes (the most wsload starts on its own) allow at most 59136 — raise the limit (ulimit -n 65536), or open fewer connections',
    );
  });

  it('reads the soft and hard limits from /proc/self/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 20000                files     \n';
    expect(readOpenFileLimit(text)).toEqual({ soft: 1024, hard: 20_000 });
    expect(readOpenFileLimit('Max open files            unlimited            unlimited            files')).toEqual({ soft: Infinity, hard: Infinity });
    expect(readOpenFileLimit('nothing here')).toBeUndefined();
    expect(readEphemeralPorts('32768\t60999\n')).toEqual(PORTS);
  });
});

describe('how many workers', () => {
  it('keeps a small stress run in-process (no fork)', () => {
    expect(planStress(input({ connections: 999, messages: 200 }))).toMatchObject({ workers: 1, reason: 'small run: in-process' });
    expect(planStress(input({ connections: 1, messages: 1 })).workers).toBe(1);
  });

  it('takes one per core from 1000 connections, however many messages each sends', () => {
    expect(planStress(input({ connections: 1000, messages: 1, cores: 4 })).workers).toBe(4);
    expect(planStress(input({ connections: 100, messages: 2000, cores: 4 })).workers).toBe(1);
  });

  it('honours --workers exactly, but never more workers than connections', () => {
    expect(planStress(input({ connections: 10, workers: 2 })).workers).toBe(2);
    expect(planStress(input({ connections: 3, workers: 8 })).workers).toBe(3);
    expect(thrown(() => planStress(input({ workers: 0 }))).message).toBe('--workers must be an integer >= 1, got 0');
  });

  it('splits connections as evenly as possible and the batch in proportion', () => {
    expect(splitEvenly(10, 3)).toEqual([4, 3, 3]);
    const plan = planStress(input({ connections: 1001, batch: 100, workers: 2 }));
    expect(plan.shares.map((s) => [s.connections, s.batch])).toEqual([[501, 50], [500, 50]]);
    expect(planStress(input({ connections: 10, batch: 1, workers: 2 })).shares.map((s) => s.batch)).toEqual([1, 1]);
  });

  it('sends each worker to its target when several are given', () => {
    const plan = planStress(input({ connections: 30, workers: 3, targets: ['ws://127.0.0.1:1/ws', 'ws://127.0.0.1:2/ws'] }));
    expect(plan.shares.map((s) => s.url)).toEqual(['ws://127.0.0.1:1/ws', 'ws://127.0.0.1:2/ws', 'ws://127.0.0.1:1/ws']);
  });

  it('splits a script run only when its busiest second plans 50 arrivals or more', () => {
    expect(planRun({ peakArrivalsPerSec: 49, arrivals: 1000, workers: undefined, cores: 2 })).toEqual({ workers: 1, reason: 'small run: in-process', localAddresses: [] });
    expect(planRun({ peakArrivalsPerSec: 50, arrivals: 1000, workers: undefined, cores: 2 })).toEqual({ workers: 2, reason: 'one per core', localAddresses: [] });
    expect(planRun({ peakArrivalsPerSec: 20, arrivals: 20, workers: 2, cores: 8 })).toEqual({ workers: 2, reason: '--workers', localAddresses: [] });
  });
});

describe('source addresses', () => {
  it('reads ranges, the last-octet shorthand and lists', () => {
    expect(parseLocalAddresses('127.0.0.1-127.0.0.3')).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    expect(parseLocalAddresses('127.0.0.1-8')).toHaveLength(8);
    expect(parseLocalAddresses('127.0.0.5, ::1,127.0.0.5')).toEqual(['127.0.0.5', '::1']);
    expect(parseLocalAddresses('127.0.0.254-127.0.1.1')).toEqual(['127.0.0.254', '127.0.0.255', '127.0.1.0', '127.0.1.1']);
  });

  it('refuses what is not an address, with every problem in one message', () => {
    const err = thrown(() => parseLocalAddresses('127.0.0.9-127.0.0.1,localhost,127.0.0.1-x'));
    expect(err.code).toBe('WSLOAD_USAGE');
    expect(err.message).toBe('--local-address: "127.0.0.9-127.0.0.1": the range ends before it starts; "localhost" is not an IP address; "127.0.0.1-x" is not an IPv4 range (e.g. 127.0.0.1-127.0.0.8)');
    expect(thrown(() => parseLocalAddresses(' , ')).message).toBe('--local-address: no address given');
  });

  it('gives each worker its own slice, or all of them from a different start when there are fewer than workers', () => {
    const a = ['a', 'b', 'c', 'd', 'e'];
    expect([0, 1].map((w) => addressSlice(a, w, 2))).toEqual([['a', 'c', 'e'], ['b', 'd']]);
    expect([0, 1, 2].map((w) => addressSlice(['x', 'y'], w, 3))).toEqual([['x', 'y'], ['y', 'x'], ['x', 'y']]);
  });

  it('spreads over 127.0.0.1-127.0.0.N on its own above 20,000 connections to one loopback server address', () => {
    const plan = planStress(input({ connections: 50_000 }));
    // 2,000 per address, rounded up to a whole slice per worker: 27 addresses, 9 per worker.
    expect(plan.localAddresses).toEqual(Array.from({ length: 27 }, (_, i) => `127.0.0.${i + 1}`));
    expect(plan.shares.map((s) => s.localAddresses.length)).toEqual([9, 9, 9]);
    expect(plan.shares[1]!.localAddresses.slice(0, 3)).toEqual(['127.0.0.2', '127.0.0.5', '127.0.0.8']);
    expect(planStress(input({ connections: 20_000, fdLimit: undefined })).localAddresses).toEqual([]);
    // Not where 127.0.0.2 may not exist (macOS), nor when each server address gets few enough.
    expect(planStress(input({ connections: 25_000, autoLocalAddresses: false })).localAddresses).toEqual([]);
    expect(thrown(() => planStress(input({ connections: 50_000, autoLocalAddresses: false }))).message).toMatch(/^cannot open 50000 connections to 127\.0\.0\.1:8000 from 1 source address/);
    const threeServers = ['ws://127.0.0.1:1/ws', 'ws://127.0.0.1:2/ws', 'ws://127.0.0.1:3/ws'];
    expect(planStress(input({ connections: 50_000, targets: threeServers })).localAddresses).toEqual([]);
    expect(planStress(input({ connections: 50_000, targets: ['ws://localhost:8000/ws'], fdLimit: undefined, localAddresses: ['127.0.0.1', '127.0.0.2'] })).localAddresses).toHaveLength(2);
  });

  describe('script runs', () => {
    const runInput = (o: Partial<RunPlanInput>): RunPlanInput => ({
      peakArrivalsPerSec: 500,
      arrivals: 50_000,
      workers: undefined,
      cores: 2,
      target: 'ws://127.0.0.1:8000/ws',
      autoLocalAddresses: true,
      ...o,
    });

    it('counts the users that could be open at once: every arrival, unless maxVusers caps them', () => {
      expect(usersOpenAtOnce([{ arrivals: 30_000 }, { arrivals: 0 }, { arrivals: 20_000, maxVusers: undefined }])).toBe(50_000);
      expect(usersOpenAtOnce([{ arrivals: 30_000, maxVusers: 500 }, { arrivals: 20_000, maxVusers: 1000 }])).toBe(1000);
      // A capped phase may start users while an uncapped one's are still open.
      expect(usersOpenAtOnce([{ arrivals: 300, maxVusers: 1000 }])).toBe(300);
      expect(usersOpenAtOnce([{ arrivals: 5000 }, { arrivals: 30_000, maxVusers: 1000 }])).toBe(6000);
      expect(usersOpenAtOnce([{ arrivals: 0, maxVusers: 50_000 }, { arrivals: 10 }])).toBe(10);
      expect(usersOpenAtOnce([])).toBe(0);
    });

    it('spreads a loopback target over 127.0.0.1-127.0.0.N past 20,000 users open at once, as stress does', () => {
      const plan = planRun(runInput({ openAtOnce: 50_000 }));
      // 25 addresses at 2,000 users each, rounded up to a whole slice per worker: 26, 13 per worker.
      expect(plan).toEqual({ workers: 2, reason: 'one per core', localAddresses: Array.from({ length: 26 }, (_, i) => `127.0.0.${i + 1}`) });
      expect(addressSlice(plan.localAddresses, 1, plan.workers).slice(0, 3)).toEqual(['127.0.0.2', '127.0.0.4', '127.0.0.6']);
      // openAtOnce defaults to the arrivals; in-process, no rounding.
      expect(planRun(runInput({ peakArrivalsPerSec: 10, arrivals: 30_001 })).localAddresses).toHaveLength(16);
      expect(planRun(runInput({ arrivals: 1_000_000, openAtOnce: 1_000_000, workers: 3 })).localAddresses).toHaveLength(254);
    });

    it('leaves the choice to the OS at or below the threshold, with maxVusers, off Linux, or for other targets', () => {
      expect(planRun(runInput({ openAtOnce: 20_000 })).localAddresses).toEqual([]);
      expect(planRun(runInput({ openAtOnce: 1000 })).localAddresses).toEqual([]);
      expect(planRun(runInput({ autoLocalAddresses: false })).localAddresses).toEqual([]);
      expect(planRun(runInput({ autoLocalAddresses: undefined })).localAddresses).toEqual([]);
      expect(planRun(runInput({ target: 'ws://localhost:8000/ws' })).localAddresses).toEqual([]);
      expect(planRun(runInput({ target: 'ws://[::1]:8000/ws' })).localAddresses).toEqual([]); // IPv6: 127.0.0.x cannot reach it
      expect(planRun(runInput({ target: undefined })).localAddresses).toEqual([]);
    });

    it('uses the addresses it is given, whatever the target', () => {
      expect(planRun(runInput({ arrivals: 10, localAddresses: ['127.0.0.2', '127.0.0.3'] })).localAddresses).toEqual(['127.0.0.2', '127.0.0.3']);
      expect(planRun(runInput({ target: 'ws://[::1]:8000/ws', localAddresses: ['::1'] })).localAddresses).toEqual(['::1']);
      // An empty list is no list: the automatic choice still applies.
      expect(planRun(runInput({ localAddresses: [] })).localAddresses).toHaveLength(26);
    });
  });

  it('stops when one source address cannot reach a non-loopback server that often', () => {
    const expected = 'cannot open 50000 connections to server.invalid:8000 from 1 source address: each source address has 28232 ephemeral ports (32768-60999) towards one server address — give 2 or more addresses of this machine with --local-address, or open fewer connections';
    expect(sourcePortMessage(50_000, 'server.invalid:8000', 1, PORTS)).toBe(expected);
    expect(thrown(() => planStress(input({ connections: 50_000, targets: ['ws://server.invalid:8000/ws'], fdLimit: undefined }))).message).toBe(expected);
    expect(planStress(input({ connections: 50_000, targets: ['ws://server.invalid:8000/ws'], fdLimit: undefined, localAddresses: ['127.0.0.2', '127.0.0.3'] })).workers).toBe(2);
  });
});

describe('error kinds of exhausted limits', () => {
  it('classifies EMFILE/ENFILE as fd_limit and EADDRNOTAVAIL/EADDRINUSE as no_source_port', () => {
    const err = (code: string): Error => Object.assign(new Error(code), { code });
    expect(classifyError(err('EMFILE'))).toBe('fd_limit');
    expect(classifyError(err('ENFILE'))).toBe('fd_limit');
    expect(classifyError(err('EADDRNOTAVAIL'))).toBe('no_source_port');
    expect(classifyError(err('EADDRINUSE'))).toBe('no_source_port');
  });
});

describe('merging script results', () => {
  it('adds errors by step and kind', () => {
    expect(mergeErrorsByStep([{ 'a.yml:3:5': { reply_timeout: 2 } }, { 'a.yml:3:5': { reply_timeout: 1, connect_refused: 1 }, 'a.yml:9:5': { x: 1 } }])).toEqual({
      'a.yml:3:5': { reply_timeout: 3, connect_refused: 1 },
      'a.yml:9:5': { x: 1 },
    });
  });

  it('adds users per phase and keeps the whole plan\'s planned arrivals', () => {
    const phase = (o: Partial<PhaseResult>): PhaseResult => ({ index: 0, name: 'p', kind: 'count', durationMs: 1000, plannedArrivals: 20, startedAtMs: 5, endedAtMs: 1005, vusersCreated: 10, vusersSkipped: 0, ...o });
    expect(mergePhases([[phase({ startedAtMs: 3 })], [phase({ endedAtMs: 1009, vusersSkipped: 2 })]])).toEqual([
      phase({ startedAtMs: 3, endedAtMs: 1009, vusersCreated: 20, vusersSkipped: 2 }),
    ]);
  });
});
