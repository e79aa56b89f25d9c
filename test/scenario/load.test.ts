import { describe, expect, it } from 'vitest';
import { loadScript, loadScriptText } from '../../src/scenario/load.js';
import { formatProblem, ScriptError } from '../../src/scenario/problems.js';
import { checkExpectation, toInbound } from '../../src/scenario/matchers.js';
import type { LoopStep, ScriptPlan, SendStep, StepPlan } from '../../src/scenario/types.js';
import { createVuVars } from '../../src/scenario/vu-vars.js';
import { WsloadError } from '../../src/errors.js';

const SEED = 'test/fixtures/scripts/seed/artillery_websocket.yml';
const CHAT = 'test/fixtures/scripts/chat.yml';

async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ScriptError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected the script to be refused');
}

function kinds(steps: readonly StepPlan[]): unknown[] {
  return steps.map((s) => (s.kind === 'loop' ? { loop: kinds(s.steps) } : s.kind));
}

describe('the seed script (Artillery config from the YMERA summary)', () => {
  it('loads the five staging phases, ~44 minutes in all', async () => {
    const plan = await loadScript(SEED, { environment: 'staging', env: {} });
    expect(plan.warnings).toEqual([]);
    expect(plan.environment).toBe('staging');
    expect(plan.target).toBe('wss://staging.ymera.invalid/ws');
    expect(plan.phases.map((p) => [p.name, p.kind, p.durationMs / 1000, 'arrivalRate' in p ? p.arrivalRate : null, 'rampTo' in p ? p.rampTo : null])).toEqual([
      ['Warm-up', 'ramp', 60, 10, 100],
      ['Ramp-up', 'ramp', 300, 100, 1000],
      ['Sustained load', 'constant', 1800, 1000, null],
      ['Peak load', 'ramp', 300, 1000, 2000],
      ['Ramp-down', 'ramp', 180, 2000, 100],
    ]);
    expect(plan.totalDurationMs).toBe(2_640_000);
  });

  it('uses the localhost quick test with -e localhost, and the top-level phases without an environment', async () => {
    const local = await loadScript(SEED, { environment: 'localhost', env: {} });
    expect(local.phases.map((p) => [p.kind, p.durationMs])).toEqual([['constant', 10_000]]);
    expect(local.target).toBe('ws://localhost:8000/ws');
    const plain = await loadScript(SEED, { env: {} });
    expect(plain.environment).toBe(undefined);
    expect(plain.phases).toHaveLength(1);
  });

  it('lets the target option beat the environment and the script', async () => {
    const plan = await loadScript(SEED, { environment: 'staging', target: 'ws://127.0.0.1:9999/ws', env: {} });
    expect(plan.target).toBe('ws://127.0.0.1:9999/ws');
    expect(plan.phases).toHaveLength(5);
  });

  it('compiles Scenario 1: connect, subscribe ×2, 20 × (ping + agent message), unsubscribe, disconnect', async () => {
    const plan = await loadScript(SEED, { environment: 'staging', env: {} });
    expect(plan.scenarios).toHaveLength(1);
    const s = plan.scenarios[0]!;
    expect(s.name).toBe('Basic connectivity');
    expect(s.afterScenario).toEqual(['printStats']);
    expect(s.connect.target({ target: plan.target })).toBe('wss://staging.ymera.invalid/ws');
    expect(s.connect.subprotocols).toEqual(['json']);
    expect(kinds(s.steps)).toEqual([
      'function',
      'send',
      'send',
      { loop: ['send', 'function', 'send', 'function', 'think'] },
      'send',
      'send',
    ]);
    const subscribe = s.steps[1] as SendStep;
    expect(subscribe.text).toBe('{"type":"subscribe","channel":"agents"}');
    expect(subscribe.timeoutMs).toBe(5000);
    expect(checkExpectation(subscribe.expect!, toInbound('{"type":"subscribed","channel":"agents"}'), {}).ok).toBe(true);
    const loop = s.steps[3] as LoopStep;
    expect(loop.count).toEqual({ kind: 'range', from: 0, to: 20 });
    const agent = loop.steps[2] as SendStep;
    expect(agent.text).toBe(undefined);
    expect(agent.payload({ agentMessage: { type: 'agent_message', from: 'u1' } })).toEqual({ type: 'agent_message', from: 'u1' });
    expect(Object.keys(plan.processor!.functions).sort()).toEqual(['generateUserId', 'measureLatency', 'printStats', 'sendAgentMessage']);
  });

  it('runs the CommonJS processor functions as Artillery would call them', async () => {
    const plan = await loadScript(SEED, { env: {} });
    const fns = plan.processor!.functions as Record<string, (ctx: unknown, ee: unknown, done: () => void) => void>;
    const context = { vars: {} as Record<string, unknown> };
    await new Promise<void>((done) => fns.generateUserId!(context, {}, done));
    await new Promise<void>((done) => fns.sendAgentMessage!(context, {}, done));
    expect(context.vars.userId).toMatch(/^user_\d+$/);
    expect(context.vars.agentMessage).toMatchObject({ type: 'agent_message', from: context.vars.userId, to: context.vars.agentId });
  });
});

describe('a script using most of the format (chat.yml)', () => {
  let plan: ScriptPlan;
  it('loads cleanly', async () => {
    plan = await loadScript(CHAT, { env: {} });
    expect(plan.warnings).toEqual([]);
  });

  it('normalises phases of every kind, with durations in ms', () => {
    expect(plan.phases.map(({ location: _l, ...p }) => p)).toEqual([
      { index: 0, name: 'Warm up', kind: 'constant', arrivalRate: 5, mode: 'uniform', durationMs: 30_000 },
      { index: 1, name: 'Ramp up', kind: 'ramp', arrivalRate: 5, rampTo: 50, durationMs: 120_000 },
      { index: 2, kind: 'pause', durationMs: 10_000 },
      { index: 3, kind: 'count', arrivalCount: 100, maxVusers: 80, durationMs: 60_000 },
    ]);
    expect(plan.phases[3]!.location).toEqual({ file: CHAT, line: 13, col: 7 });
  });

  it('reads the CSV payloads at load (path relative to the script, header skipped, numbers cast)', () => {
    expect(plan.payloads.map((p) => [p.fields, p.order, p.rows])).toEqual([
      [['username', 'password', 'age'], 'sequence', [['alice', 's3cr,et', 31], ['bob', 'say "hi"', 27], ['carol', 'pw3', 45]]],
      [['room', 'topic'], 'random', [['lobby', 'general']]],
    ]);
  });

  it('keeps config.ws, config.tls, timeout, think jitter, ensure, plugins and the wsload block', () => {
    expect(plan.timeoutMs).toBe(5000);
    expect(plan.thinkJitter).toEqual({ kind: 'percent', value: 20 });
    expect(plan.wsload).toEqual({ correlation: { field: 'id' }, graceMs: 2000 });
    expect(plan.ensure).toEqual({ thresholds: [{ 'websocket.messages_sent': 100 }] });
    expect(plan.plugins).toEqual({ expect: {} });
    const lurker = plan.scenarios[1]!.connect;
    expect(lurker.options).toEqual({ rejectUnauthorized: false, maxPayload: 1048576 });
    expect(lurker.headers({})).toEqual({ 'X-Client': 'wsload-test' });
    expect(lurker.subprotocols).toEqual(['chat.v1']);
  });

  it('renders a connect step per virtual user; its headers replace config.ws.headers, as in Artillery', () => {
    const connect = plan.scenarios[0]!.connect;
    const vars = { username: 'alice', password: 'pw' };
    expect(connect.target(vars)).toBe('ws://localhost:8000/ws?user=alice');
    expect(connect.headers(vars)).toEqual({ Authorization: 'Bearer pw' });
    expect(connect.location).toEqual({ file: CHAT, line: 69, col: 9 });
  });

  it('gives each virtual user its variables: a CSV row in sequence, a picked value, built-ins', () => {
    const next = createVuVars(plan, { env: { HOME: '/h' }, random: () => 0, uuid: () => 'uuid-1' });
    const a = next();
    const b = next();
    expect(a).toMatchObject({ username: 'alice', age: 31, room: 'lobby', greeting: 'hello', maxMessages: 3, $uuid: 'uuid-1', target: 'ws://localhost:8000/ws' });
    expect((a.$env as Record<string, string>).HOME).toBe('/h');
    expect(b.username).toBe('bob');
    const login = plan.scenarios[0]!.steps[0] as SendStep;
    expect(login.payload(a)).toEqual({ type: 'login', user: 'alice', age: 31 });
  });

  it('compiles every step kind with its location', () => {
    const steps = plan.scenarios[0]!.steps;
    expect(kinds(steps)).toEqual(['send', 'function', { loop: ['send', 'think'] }, { loop: ['send'] }, 'sendBinary', 'wait', 'log']);
    const loop = steps[2] as LoopStep;
    expect(loop.count.kind).toBe('dynamic');
    expect(loop.steps[1]).toMatchObject({ kind: 'think', ms: 500, jitter: { kind: 'percent', value: 20 } });
    expect((steps[3] as LoopStep).over).toEqual({ kind: 'values', values: ['lobby', 'general'] });
    expect(steps[4]).toMatchObject({ kind: 'sendBinary', encoding: 'hex', bytes: Buffer.from([0xca, 0xfe, 0xba, 0xbe]) });
    expect(steps[5]).toMatchObject({ kind: 'wait', timeoutMs: 2000, location: { file: CHAT, line: 102, col: 9 } });
  });

  it('is immutable', () => {
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.scenarios[0]!.steps)).toBe(true);
    expect(() => {
      (plan.phases as unknown[]).push({});
    }).toThrow(TypeError);
    // User code stays as the module made it.
    expect(Object.isFrozen(plan.processor!.functions.greet)).toBe(false);
  });
});

describe('loadScriptText', () => {
  it('accepts JSON scripts', async () => {
    const plan = await loadScriptText(
      JSON.stringify({ config: { target: 'ws://localhost:1/ws', phases: [{ duration: '1m', arrivalRate: 2 }] }, scenarios: [{ engine: 'ws', flow: [{ send: { hello: 'world' } }] }] }),
      'script.json',
    );
    expect((plan.scenarios[0]!.steps[0] as SendStep).text).toBe('{"hello":"world"}');
    expect(plan.phases[0]!.durationMs).toBe(60_000);
  });

  it("runs one virtual user when there are no phases (Artillery's default)", async () => {
    const plan = await loadScriptText('config:\n  target: ws://h.invalid/ws\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n', 's.yml');
    expect(plan.phases.map(({ location: _l, ...p }) => p)).toEqual([{ index: 0, kind: 'count', arrivalCount: 1, durationMs: 1000 }]);
  });

  it('renders config templates once, at load, from the environment', async () => {
    const plan = await loadScriptText(
      'config:\n  target: "{{ $processEnvironment.WS_URL }}"\n  phases:\n    - duration: "{{ $env.DURATION }}"\n      arrivalRate: "{{ $env.RATE }}"\n  variables:\n    env: "{{ $environment }}"\n  environments:\n    ci: {}\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n',
      's.yml',
      { env: { WS_URL: 'ws://ci.invalid:8000/ws', DURATION: '30', RATE: '7' }, environment: 'ci' },
    );
    expect(plan.target).toBe('ws://ci.invalid:8000/ws');
    expect(plan.phases[0]).toMatchObject({ kind: 'constant', durationMs: 30_000, arrivalRate: 7 });
    expect(plan.variables).toEqual([{ name: 'env', kind: 'value', value: 'ci' }]);
  });

  it('treats config.engine: ws as the default engine, like runner.js', async () => {
    const plan = await loadScriptText('config:\n  target: ws://h.invalid/ws\n  engine: ws\nscenarios:\n  - flow: [{send: hi}]\n', 's.yml');
    expect(plan.scenarios[0]!.name).toBe('scenarios[0]');
  });

  it('moves a Sec-WebSocket-Protocol header into the subprotocols (engine_ws getWsOptions)', async () => {
    const plan = await loadScriptText(
      'config:\n  target: ws://h.invalid/ws\n  ws:\n    subprotocols: [json]\n    headers:\n      Sec-WebSocket-Protocol: "soap, wamp"\n      X-A: b\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n',
      's.yml',
    );
    expect(plan.scenarios[0]!.connect.subprotocols).toEqual(['json', 'soap', 'wamp']);
    expect(plan.scenarios[0]!.connect.headers({})).toEqual({ 'X-A': 'b' });
  });

  it('turns send with capture and no payload into a wait, as the ws engine does', async () => {
    const plan = await loadScriptText('config:\n  target: ws://h.invalid/ws\nscenarios:\n  - engine: ws\n    flow:\n      - send:\n          capture: { json: "$.id", as: id }\n', 's.yml');
    expect(plan.scenarios[0]!.steps[0]!.kind).toBe('wait');
  });

  it('uses config.ws.timeout when config.timeout is not set', async () => {
    const plan = await loadScriptText('config:\n  target: ws://h.invalid/ws\n  ws:\n    timeout: 3\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n', 's.yml');
    expect(plan.timeoutMs).toBe(3000);
    expect(plan.scenarios[0]!.connect.options).toEqual({});
  });

  it('flattens nested step lists from YAML anchors', async () => {
    const plan = await loadScriptText(
      'config:\n  target: ws://h.invalid/ws\nx-common: &common\n  - send: a\n  - send: b\nscenarios:\n  - engine: ws\n    flow:\n      - *common\n      - send: c\n',
      's.yml',
    );
    expect(plan.scenarios[0]!.steps.map((s) => (s as SendStep).text)).toEqual(['a', 'b', 'c']);
    expect(plan.warnings.map(formatProblem)).toEqual(["s.yml:3:1: warning: unknown top-level key 'x-common'; it is ignored"]);
  });
});

describe('files that cannot be read', () => {
  it('refuses a missing script and other file types without a location', async () => {
    await expect(loadScript('test/fixtures/scripts/nope.yml')).rejects.toThrow(new WsloadError('WSLOAD_SCRIPT', 'script not found: test/fixtures/scripts/nope.yml'));
    await expect(loadScript('test/fixtures/scripts/processors/esm.mjs')).rejects.toThrow('test/fixtures/scripts/processors/esm.mjs: wsload reads YAML (.yml, .yaml) or JSON (.json) scripts');
  });

  it('reports a missing payload file at its path', async () => {
    expect(await problemsOf(loadScriptText('config:\n  target: ws://h.invalid/ws\n  payload:\n    path: nope.csv\n    fields: [a]\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n', 'test/fixtures/scripts/s.yml'))).toEqual([
      "test/fixtures/scripts/s.yml:4:11: error: payload file 'test/fixtures/scripts/nope.csv' not found",
    ]);
  });
});
