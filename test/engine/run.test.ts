/**
 * The run loop on short real runs: each phase kind, maxVusers, weighted scenarios, the drain timeout,
 * an interrupt, progress, and refusing a plan before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { runScript, type RunProgress } from '../../src/engine/run.js';
import { WsloadError } from '../../src/errors.js';
import { loadScriptText } from '../../src/scenario/load.js';
import { startLabServer, type LabServer } from '../fixtures/run/lab-server.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run, runText, SCRIPT_FILE, script } from './run-helpers.js';

const { track } = closeAfterEach();
const lab = (): Promise<LabServer> => track(startLabServer());

describe('phases on a real clock', () => {
  it('arrivalCount: exactly that many users, spread over the phase', async () => {
    const l = await lab();
    const { s, result } = await run({ target: l.url, phases: '    - { duration: 0.3, arrivalCount: 3, name: burst }', flow: '- send: hi' });
    expect(s.vusers).toMatchObject({ created: 3, completed: 3, failed: 0, skipped: 0 });
    expect(l.accepted).toBe(3);
    expect(result.phases).toEqual([
      expect.objectContaining({ index: 0, name: 'burst', kind: 'count', durationMs: 300, plannedArrivals: 3, vusersCreated: 3, vusersSkipped: 0 }),
    ]);
    expect(s.durationSec).toBeGreaterThanOrEqual(0.29);
  });

  it('a constant rate for 1 s, a pause, then a count', async () => {
    const l = await lab();
    const { s, result } = await run({
      target: l.url,
      phases: '    - { duration: 1, arrivalRate: 5 }\n    - pause: 0.3\n    - { duration: 0.1, arrivalCount: 1 }',
      flow: '- send: hi',
    });
    expect(s.vusers.created).toBe(6);
    expect(result.phases.map((p) => [p.kind, p.plannedArrivals, p.vusersCreated])).toEqual([['constant', 5, 5], ['pause', 0, 0], ['count', 1, 1]]);
    const [a, b, c] = result.phases;
    // Each phase waits out the one before it (a timer may fire a few ms early on a busy machine).
    expect(b!.startedAtMs! - a!.startedAtMs!, 'the pause starts after the 1 s phase').toBeGreaterThanOrEqual(990);
    expect(c!.startedAtMs! - b!.startedAtMs!, 'the count phase starts after the 0.3 s pause').toBeGreaterThanOrEqual(290);
  });

  it('maxVusers: arrivals over the cap are skipped and counted', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      phases: '    - { duration: 1, arrivalRate: 10, maxVusers: 2 }',
      flow: '- send: hi\n- think: 0.45',
    });
    expect(s.vusers.created + s.vusers.skipped).toBe(10);
    expect(s.vusers.skipped).toBeGreaterThanOrEqual(3);
    expect(l.maxOpen).toBeLessThanOrEqual(2);
  });
});

describe('scenarios by weight', () => {
  it('weight 0 never runs; the others in proportion', async () => {
    const l = await lab();
    const text = `config:
  target: "${l.url}"
  phases:
    - { duration: 0.2, arrivalCount: 8 }
scenarios:
  - name: heavy
    engine: ws
    weight: 3
    flow:
      - send: heavy
  - name: light
    engine: ws
    weight: 1
    flow:
      - send: light
  - name: never
    engine: ws
    weight: 0
    flow:
      - send: never
`;
    // A fixed sequence: 0.1 → heavy (0.1 × 4 < 3), 0.9 → light (3.6 ≥ 3).
    let k = 0;
    const { s } = await runText(text, { random: () => (k++ % 2 === 0 ? 0.1 : 0.9) });
    expect(s.vusers.created).toBe(8);
    const sent = l.frames.map((f) => f.text).sort();
    expect(sent).toEqual(['heavy', 'heavy', 'heavy', 'heavy', 'light', 'light', 'light', 'light']);
  });
});

describe('ending a run', () => {
  it('users still running drainTimeoutMs after the last phase are stopped: drain_timeout', async () => {
    const l = await lab();
    const { s, result } = await run({ target: l.url, flow: '- send: hi\n- think: 5' }, { drainTimeoutMs: 200 });
    expect(s.vusers).toMatchObject({ created: 1, failed: 1, drained: 1 });
    expect(s.errors).toEqual({ drain_timeout: 1 });
    expect(result.aborted).toBe(false);
    expect(s.durationSec).toBeLessThan(2);
  });

  it('an abort stops arrivals, gives users a short grace, then stops them (not an error)', async () => {
    const l = await lab();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const { s, result } = await run(
      { target: l.url, phases: '    - { duration: 10, arrivalRate: 10 }', flow: '- send: { type: ping }\n- think: 5' },
      { interruptGraceMs: 100 },
      { signal: abort.signal },
    );
    expect(result.aborted).toBe(true);
    expect(s.vusers.created).toBeGreaterThanOrEqual(2);
    expect(s.vusers.created).toBeLessThanOrEqual(5);
    expect(s.vusers.interrupted).toBe(s.vusers.created);
    expect(s.errors).toEqual({});
    expect(s.durationSec).toBeLessThan(2);
  });

  it('reports progress once per interval', async () => {
    const l = await lab();
    const seen: RunProgress[] = [];
    await run(
      { target: l.url, phases: '    - { duration: 0.6, arrivalRate: 10, name: steady }', flow: '- send:\n    payload: { type: ping }\n    match: { json: "$.type", value: pong }' },
      { intervalMs: 200 },
      { onProgress: (p) => seen.push(p) },
    );
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[0]).toMatchObject({ totalMs: 600, phaseIndex: 0, phaseName: 'steady' });
    expect(seen.at(-1)!.vusers.created).toBeGreaterThan(0);
  });
});

describe('refusing a plan before anything is sent', () => {
  it('a function the processor does not export (a plan loaded without its processor)', async () => {
    const l = await lab();
    const plan = await loadScriptText(script({ target: l.url, flow: '- function: nowhere' }), SCRIPT_FILE, { env: {}, skipProcessor: true });
    await expect(runScript(plan)).rejects.toThrow(WsloadError);
    await expect(runScript(plan)).rejects.toThrow("function 'nowhere' is not exported by the processor (or config.processor is not set)");
    expect(l.accepted).toBe(0);
  });
});
