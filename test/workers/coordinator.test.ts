/**
 * Distributed runs for real: worker processes (dist/workers/worker.js, built by `pretest`) against a
 * server on 127.0.0.1 port 0 in this process. Small runs, a few seconds in all.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StressOptions, StressProgress } from '../../src/engine/stress.js';
import { decodeHistogram, initHistograms, type IntervalSample } from '../../src/metrics/index.js';
import { summarizeRun } from '../../src/report/run-summary.js';
import { summarizeStress } from '../../src/report/stress-summary.js';
import { runScriptDistributed, runStressDistributed } from '../../src/workers/coordinator.js';
import { parseLocalAddresses } from '../../src/workers/plan.js';
import { CRASH_HOOK_ENV } from '../../src/workers/protocol.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { clientSocketsTo, startRecordingServer, type RecordingServer } from './helpers.js';

const { track } = closeAfterEach();
const dir = mkdtempSync(join(tmpdir(), 'wsload-workers-'));

/** A script in `dir`: `arrivals` users over `seconds`, each sending one ping. */
function pingScript(name: string, url: string, seconds: number, arrivals: number): string {
  const file = join(dir, name);
  writeFileSync(file, `config:
  target: "${url}"
  phases:
    - duration: ${seconds}
      arrivalCount: ${arrivals}
scenarios:
  - name: hello
    engine: ws
    flow:
      - send: { type: ping }
`);
  return file;
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const server = (): Promise<RecordingServer> => track(startRecordingServer());

const stressOptions = (url: string, o: Partial<StressOptions> = {}): StressOptions => ({
  url,
  connections: 40,
  messages: 25,
  batch: 100,
  replyTimeoutMs: 5000,
  connectTimeoutMs: 5000,
  ...o,
});

/** Values recorded in an encoded histogram. */
async function countOf(encoded: string | undefined): Promise<number> {
  if (encoded === undefined) return 0;
  await initHistograms();
  const h = decodeHistogram(encoded);
  const n = h.totalCount;
  h.destroy();
  return n;
}

describe('stress split between 2 worker processes', () => {
  it('counts exactly, merges histograms and aligned intervals, and opens no socket in the coordinator', async () => {
    const srv = await server();
    const C = 40;
    const M = 400;
    const socketsSeen: number[] = [];
    const intervals: IntervalSample[] = [];
    let last: StressProgress | undefined;
    const result = await runStressDistributed(stressOptions(srv.url, { connections: C, messages: M, intervalMs: 100 }), {
      workers: 2,
      onInterval: (sample) => intervals.push(sample),
      onProgress: (p) => {
        last = p;
        socketsSeen.push(clientSocketsTo(srv.port));
      },
    });
    const s = summarizeStress(result.snapshot);
    expect(s.connections).toMatchObject({ attempted: C, successful: C, failed: 0, completed: C });
    expect(s.messages).toMatchObject({ sent: C * M, received: C * M, timedOut: 0, lost: 0 });
    expect(s.errors).toEqual({});
    expect(result.aborted).toBe(false);
    expect(srv.accepted, 'the server saw every connection').toBe(C);
    expect(srv.requests).toBe(C * M);
    expect(srv.acceptedAtFirstRequest, 'as in one process, nothing is sent before every connection is open').toBe(C);

    // Each worker did its half; the coordinator none.
    expect(result.distribution).toMatchObject({ workers: 2, inProcess: false, partial: false, reason: '--workers' });
    expect(result.distribution.reports.map((r) => [r.outcome, r.connections, r.connectionsAttempted])).toEqual([['ok', 20, 20], ['ok', 20, 20]]);
    expect(socketsSeen.length, 'live progress came while the workers ran').toBeGreaterThan(0);
    expect(socketsSeen.every((n) => n === 0), `coordinator client sockets: ${socketsSeen.join(',')}`).toBe(true);
    expect(last?.connectionsTarget).toBe(C);

    // Histograms merged exactly: the total equals the sum of its parts, and of the intervals.
    const h = result.snapshot.histograms;
    expect(await countOf(h['ws.rtt'])).toBe(C * M);
    expect((await countOf(h['ws.rtt.ping'])) + (await countOf(h['ws.rtt.agent_message']))).toBe(C * M);
    let inIntervals = 0;
    for (const i of result.snapshot.intervals) inIntervals += await countOf(i.histograms['ws.rtt']);
    expect(inIntervals).toBe(C * M);

    // One sample per interval index: the workers' intervals lined up on the shared start.
    const indexes = result.snapshot.intervals.map((i) => i.index);
    expect(new Set(indexes).size, `indexes ${indexes.join(',')}`).toBe(indexes.length);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    const live = intervals.map((i) => i.index);
    expect(new Set(live).size, `live indexes ${live.join(',')}`).toBe(live.length);
  });

  it('stop: both workers stop with grace and still return their results, aborted', async () => {
    const srv = await server();
    const abort = new AbortController();
    // Stop once both workers are answering (the run itself would go on for hours); at the latest after 10 s.
    const timer = setTimeout(() => abort.abort(), 10_000);
    let stoppedAt = 0;
    const result = await runStressDistributed(stressOptions(srv.url, { connections: 20, messages: 10_000_000, graceMs: 200, intervalMs: 100 }), {
      workers: 2,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.messagesReceived > 0 && p.connectionsOpen === 20 && !abort.signal.aborted) {
          stoppedAt = Date.now();
          abort.abort();
        }
      },
    });
    clearTimeout(timer);
    expect(stoppedAt, 'stopped by the test, not by the 10 s bound').toBeGreaterThan(0);
    expect(Date.now() - stoppedAt, 'results came back soon after the stop').toBeLessThan(5000);
    const s = summarizeStress(result.snapshot);
    expect(result.aborted).toBe(true);
    expect(result.distribution.reports.map((r) => r.outcome)).toEqual(['ok', 'ok']);
    expect(result.distribution.partial).toBe(false);
    expect(s.connections).toMatchObject({ attempted: 20, successful: 20 });
    expect(s.messages.received).toBeGreaterThan(0);
    expect(s.messages.sent).toBe(s.messages.received + s.messages.timedOut + s.messages.lost);
    expect(result.snapshot.gauges['connections.active']).toBe(0);
  });

  it('a worker that crashes: the run completes with the other\'s results, worker_crashed, partial', async () => {
    const srv = await server();
    const result = await runStressDistributed(stressOptions(srv.url, { connections: 20, messages: 10 }), {
      workers: 2,
      workerEnv: { [CRASH_HOOK_ENV]: '1' },
    });
    const s = summarizeStress(result.snapshot);
    expect(result.distribution.partial).toBe(true);
    expect(result.distribution.reports.map((r) => [r.outcome, r.exitCode])).toEqual([['ok', 0], ['crashed', 1]]);
    expect(result.distribution.reports[1]!.error).toBe('exited without a result (exit code 1)');
    expect(s.errors).toEqual({ worker_crashed: 1 });
    expect(s.connections).toMatchObject({ attempted: 10, successful: 10 });
    expect(s.messages).toMatchObject({ sent: 100, received: 100 });
  });

  it('binds source addresses round-robin: the server sees 3 distinct remote addresses', async () => {
    const srv = await server();
    const result = await runStressDistributed(stressOptions(srv.url, { connections: 12, messages: 2 }), {
      workers: 2,
      localAddresses: parseLocalAddresses('127.0.0.1-127.0.0.3'),
    });
    expect(summarizeStress(result.snapshot).connections.successful).toBe(12);
    expect(new Set(srv.remoteAddresses)).toEqual(new Set(['127.0.0.1', '127.0.0.2', '127.0.0.3']));
    expect(result.distribution.localAddresses).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  });
});

describe('run split between 2 worker processes', () => {
  it('20 arrivals over 1 s: exactly 20 users, 10 per worker, none twice', async () => {
    const srv = await server();
    const file = join(dir, 'twenty.yml');
    writeFileSync(file, `config:
  target: "${srv.url}"
  phases:
    - duration: 1
      arrivalCount: 20
      name: twenty
scenarios:
  - name: hello
    engine: ws
    flow:
      - send: { type: ping }
      - think: 0.05
`);
    const result = await runScriptDistributed(file, { env: {} }, { env: {}, drainTimeoutMs: 5000 }, { workers: 2 });
    const s = summarizeRun(result);
    expect(s.vusers).toMatchObject({ created: 20, completed: 20, failed: 0 });
    expect(result.distribution.reports.map((r) => [r.outcome, r.vusersCreated])).toEqual([['ok', 10], ['ok', 10]]);
    expect(result.phases[0]).toMatchObject({ name: 'twenty', plannedArrivals: 20, vusersCreated: 20, vusersSkipped: 0 });
    expect(srv.accepted).toBe(20);
    expect(s.messages.sent).toBe(20);
    expect(result.target).toBe(srv.url);
    expect(result.errorsByStep).toEqual({});
  });

  it.runIf(process.platform === 'linux')('--local-address: each worker binds its own slice, its users round-robin over it', async () => {
    const srv = await server();
    const file = pingScript('sources.yml', srv.url, 0.5, 8);
    const addresses = parseLocalAddresses('127.0.0.2-4');
    const result = await runScriptDistributed(file, { env: {} }, { env: {}, drainTimeoutMs: 5000 }, { workers: 2, localAddresses: addresses });
    expect(summarizeRun(result).vusers).toMatchObject({ created: 8, completed: 8, failed: 0 });
    expect(result.distribution.localAddresses).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    // Each worker takes every other arrival (4 users). Worker 0's slice is 127.0.0.2 and .4 (2 users
    // each), worker 1's is 127.0.0.3 (all 4 of its users); unsliced it would be 4 × .2, 2 × .3, 2 × .4.
    const tally = (a: string): number => srv.remoteAddresses.filter((x) => x === a).length;
    expect([tally('127.0.0.2'), tally('127.0.0.3'), tally('127.0.0.4')]).toEqual([2, 4, 2]);
    expect(srv.remoteAddresses).toHaveLength(8);
  });

  it.runIf(process.platform === 'linux')('in-process: the run options\' addresses are used and reported', async () => {
    const srv = await server();
    const file = pingScript('sources-one.yml', srv.url, 0.2, 3);
    const result = await runScriptDistributed(file, { env: {} }, { env: {}, drainTimeoutMs: 5000, localAddresses: ['127.0.0.6'] });
    expect(result.distribution).toMatchObject({ workers: 1, inProcess: true, localAddresses: ['127.0.0.6'] });
    expect(srv.remoteAddresses).toEqual(['127.0.0.6', '127.0.0.6', '127.0.0.6']);
  });
});
