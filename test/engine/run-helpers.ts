/**
 * Shared by the runner's tests: scripts written the way Artillery's docs write them, loaded from text,
 * run for real against servers on 127.0.0.1, with the invariants every run must satisfy.
 */
import { expect } from 'vitest';
import { runScript, type RunDeps, type RunOptions, type RunResult } from '../../src/engine/run.js';
import { formatLocation } from '../../src/errors.js';
import { summarizeRun, type RunSummary } from '../../src/report/run-summary.js';
import { loadScriptText } from '../../src/scenario/load.js';
import type { ScriptPlan, StepPlan } from '../../src/scenario/types.js';

/** Scripts are loaded as if they lived here (so `processor: ./processor.mjs` resolves). */
export const SCRIPT_FILE = 'test/fixtures/run/inline.yml';

export const ONE_VU = '    - { duration: 0.05, arrivalCount: 1 }';

export interface ScriptParts {
  target: string;
  /** Steps, one per line at column 0, as in a flow. */
  flow: string;
  /** Extra `config:` keys, indented by two spaces. */
  config?: string;
  phases?: string;
  /** Scenario keys besides name/engine/flow (two-space indented under the scenario). */
  scenario?: string;
}

const indent = (text: string, n: number): string =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

/** An Artillery script with one scenario named `lab`. */
export function script(p: ScriptParts): string {
  return `config:
  target: "${p.target}"
  processor: ./processor.mjs
  phases:
${p.phases ?? ONE_VU}
${p.config ?? ''}
scenarios:
  - name: lab
    engine: ws
${p.scenario ? indent(p.scenario, 4) + '\n' : ''}    flow:
${indent(p.flow, 6)}
`;
}

export interface Ran {
  plan: ScriptPlan;
  result: RunResult;
  s: RunSummary;
}

export async function runText(text: string, opts: RunOptions = {}, deps: RunDeps = {}): Promise<Ran> {
  const plan = await loadScriptText(text, SCRIPT_FILE, { env: {} });
  const result = await runScript(plan, { drainTimeoutMs: 5000, env: {}, ...opts }, deps);
  const s = summarizeRun(result);
  expectBalanced(result, s);
  return { plan, result, s };
}

export function run(p: ScriptParts, opts: RunOptions = {}, deps: RunDeps = {}): Promise<Ran> {
  return runText(script(p), opts, deps);
}

/** Invariants of every run, whatever went wrong. */
export function expectBalanced(result: RunResult, s: RunSummary): void {
  const m = s.messages;
  expect(m.correlated, 'correlated = replied + timed out + unanswered + lost').toBe(m.replied + m.timedOut + m.unanswered + m.lost);
  const v = s.vusers;
  expect(v.created, 'created = completed + failed + interrupted').toBe(v.completed + v.failed + v.interrupted);
  expect(s.connections.attempted, 'attempted = successful + failed').toBe(s.connections.successful + s.connections.failed);
  expect(result.snapshot.gauges['connections.active'], 'no connection left open').toBe(0);
  expect(result.snapshot.gauges['vusers.active'], 'no user left running').toBe(0);
  expect(result.snapshot.counters['connections.closed'] ?? 0, 'every opened connection closed').toBe(s.connections.successful);
  expect(s.latency.count, 'one round trip per reply').toBe(m.replied);
}

/** `file:line:col` of the i-th step of the first scenario (nested: [loopIndex, stepIndex]). */
export function stepAt(plan: ScriptPlan, ...path: number[]): string {
  let steps: readonly StepPlan[] = plan.scenarios[0]!.steps;
  let step: StepPlan | undefined;
  for (const i of path) {
    step = steps[i];
    if (step === undefined) throw new Error(`no step at ${path.join('.')}`);
    if (step.kind === 'loop') steps = step.steps;
  }
  return formatLocation(step!.location);
}
