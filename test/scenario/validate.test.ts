import { describe, expect, it } from 'vitest';
import { loadScript, loadScriptText } from '../../src/scenario/load.js';
import { formatProblem, ScriptError } from '../../src/scenario/problems.js';

async function problems(text: string, opts: Parameters<typeof loadScriptText>[2] = {}): Promise<string[]> {
  try {
    const plan = await loadScriptText(text, 's.yml', { env: {}, ...opts });
    return plan.warnings.map(formatProblem);
  } catch (err) {
    if (err instanceof ScriptError) return err.problems.map(formatProblem);
    throw err;
  }
}

const HEAD = 'config:\n  target: ws://localhost:8000/ws\nscenarios:\n  - engine: ws\n    flow:\n';

describe('a script full of mistakes (typos.yml)', () => {
  it('reports every one of them, in file order, at file:line:col', async () => {
    const err = await loadScript('test/fixtures/scripts/typos.yml', { env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScriptError);
    const f = 'test/fixtures/scripts/typos.yml';
    expect((err as ScriptError).problems.map(formatProblem)).toEqual([
      `${f}:6:17: error: phases[1].duration must be a positive number or a duration like '30s', got 'abc'`,
      `${f}:9:7: error: unknown phase key 'arivalRate' in phases[2] — did you mean 'arrivalRate'?`,
      `${f}:10:7: error: phases[3] needs arrivalRate, arrivalCount or pause`,
      `${f}:13:11: error: payload file 'test/fixtures/scripts/data/missing.csv' not found`,
      `${f}:25:9: error: unknown step 'sned' — did you mean 'send'?`,
      `${f}:27:48: warning: variable 'chanel' is not defined by config.variables, a payload or a capture — did you mean 'channels'?`,
      `${f}:30:13: error: unknown match key 'valu' in scenarios[0].flow[1].send.match — did you mean 'value'?`,
      `${f}:31:16: error: think must be a number of seconds or a duration like '500ms', got 'fast'`,
      `${f}:32:19: error: function 'greeet' is not exported by ./processors/cjs.cjs — did you mean 'greet'?`,
      `${f}:35:16: error: loop count must be a whole number, a range like '1-10', or a template, got 'many'`,
      `${f}:36:5: error: scenario 'Plain HTTP' uses the http engine; wsload runs only engine: ws — add 'engine: ws' to the scenario (or to config)`,
    ]);
    expect((err as ScriptError).toLine()).toBe(
      `${f}:6:17: phases[1].duration must be a positive number or a duration like '30s', got 'abc' (and 9 more errors: run 'wsload validate ${f}')`,
    );
  });
});

describe('YAML itself', () => {
  it.each([
    ['an unclosed quote', 'config:\n  target: "ws://x.invalid\nscenarios: []\n', ['s.yml:4:1: error: Missing closing "quote']],
    ['a duplicate key', 'config:\n  target: ws://a.invalid/ws\n  target: ws://b.invalid/ws\n', ['s.yml:3:3: error: Map keys must be unique']],
    ['bad indentation', 'config:\n  target: ws://x.invalid\n    phases: 3\n', ['s.yml:2:11: error: Nested mappings are not allowed in compact mappings', 's.yml:2:11: error: Implicit keys need to be on a single line']],
    ['not a mapping', '- send: hi\n', ["s.yml:1:1: error: a script must be a mapping with 'config' and 'scenarios', got a list"]],
  ])('reports %s with its position', async (_what, text, expected) => {
    expect(await problems(text)).toEqual(expected);
  });

  it('locates problems in JSON scripts too', async () => {
    expect(await problems('{"config": {"target": "ws://a.invalid/ws"},\n "scenarios": [{"engine": "ws", "flow": [{"send": "x"}, {"sned": 1}]}]}')).toEqual([
      "s.yml:2:58: error: unknown step 'sned' — did you mean 'send'?",
    ]);
  });
});

describe('config', () => {
  it('refuses an environment the script does not define', async () => {
    const text = 'config:\n  target: ws://a.invalid/ws\n  environments:\n    staging: {target: ws://b.invalid/ws}\n    production: {target: ws://c.invalid/ws}\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n';
    expect(await problems(text, { environment: 'prod' })).toEqual(["s.yml:3:3: error: environment 'prod' is not defined in config.environments — defined: staging, production"]);
    expect(await problems(text, { environment: 'stagin' })).toEqual(["s.yml:3:3: error: environment 'stagin' is not defined in config.environments — did you mean 'staging'?"]);
  });

  it('places problems of an environment in the environment block', async () => {
    const text = 'config:\n  target: ws://a.invalid/ws\n  phases:\n    - {duration: 1, arrivalRate: 1}\n  environments:\n    ci:\n      phases:\n        - duration: 0\n          arrivalRate: 1\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n';
    expect(await problems(text, { environment: 'ci' })).toEqual(["s.yml:8:21: error: phases[0].duration must be a positive number or a duration like '30s', got 0"]);
    expect(await problems(text)).toEqual([]);
  });

  it('is strict with typos and generous with keys Artillery knows', async () => {
    expect(await problems('config:\n  target: ws://a.invalid/ws\n  phaes: []\n  http: {timeout: 10}\n  plugins: {ensure: {}}\n  statsInterval: 10\n  someplugin: 1\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n')).toEqual([
      "s.yml:3:3: error: unknown config key 'phaes' — did you mean 'phases'?",
      "s.yml:7:3: warning: unknown config key 'someplugin'; it is ignored",
    ]);
  });

  it('checks phases the way Artillery reads them', async () => {
    const text = [
      'config:',
      '  target: ws://a.invalid/ws',
      '  phases:',
      '    - {duration: 10, rampTo: 5}',
      '    - {arrivalRate: 5}',
      '    - {duration: 10, arrivalRate: -1}',
      '    - {duration: 10, arrivalCount: 2.5}',
      '    - {duration: 10, arrivalRate: 1, arrivalCount: 3}',
      '    - {pause: 5s, arrivalRate: 1}',
      '    - {duration: 10, arrivalRate: 1, maxVusers: 0, mode: linear}',
      '    - "60"',
      'scenarios:',
      '  - engine: ws',
      '    flow: [{send: hi}]',
      '',
    ].join('\n');
    expect(await problems(text)).toEqual([
      's.yml:4:7: error: phases[0] has rampTo but no arrivalRate to ramp from',
      "s.yml:5:7: error: phases[1] needs a duration, e.g. duration: 60 or duration: '5m'",
      's.yml:6:35: error: phases[2].arrivalRate must be a number >= 0, got -1',
      's.yml:7:36: error: phases[3].arrivalCount must be a whole number >= 0, got 2.5',
      's.yml:8:22: warning: phases[4] has arrivalCount, so arrivalRate is ignored',
      's.yml:9:19: warning: phases[5] is a pause, so arrivalRate is ignored',
      's.yml:10:49: error: phases[6].maxVusers must be a whole number > 0, got 0',
      "s.yml:10:58: error: phases[6].mode must be 'uniform' or 'poisson', got 'linear'",
      "s.yml:11:7: error: phases[7] must be a mapping like { duration: 60, arrivalRate: 10 }, got '60'",
    ]);
  });

  it('renders config templates at load and refuses per-user variables there', async () => {
    const text = 'config:\n  target: "{{ $env.WS_URL }}"\n  ws:\n    headers:\n      Authorization: "Bearer {{ token }}"\n  variables:\n    x: "{{ $randomStrin() }}"\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n';
    expect(await problems(text)).toEqual([
      's.yml:2:11: error: no target: config.target is not set — set config.target, pass --target, or start the flow with connect: ws://…',
      "s.yml:2:11: warning: environment variable 'WS_URL' is not set",
      "s.yml:5:22: error: ws.headers.Authorization uses 'token', which is not known when the script loads — config is rendered once at load with $processEnvironment, $env, $environment; per-user values belong in the flow",
      "s.yml:7:8: error: unknown template function '$randomStrin' — did you mean '$randomString'?",
    ]);
  });

  it('checks payload, variables, ws, tls, timeout and the wsload block', async () => {
    const text = [
      'config:',
      '  target: ws://a.invalid/ws',
      '  payload:',
      '    - path: data/users.csv',
      '      order: sequense',
      '    - fields: [a]',
      '  variables:',
      '    empty: []',
      '  ws:',
      '    subprotocols: [1]',
      '    proxy: http://proxy',
      '  tls:',
      '    rejectUnauthorized: "no"',
      '  timeout: soon',
      '  wsload:',
      '    correlation: true',
      '    graceMs: -5',
      '    grace: 1',
      'scenarios:',
      '  - engine: ws',
      '    flow: [{send: hi}]',
      '',
    ].join('\n');
    expect(await problems(text)).toEqual([
      's.yml:4:7: error: payload[0] needs fields, the variable name for each CSV column',
      "s.yml:5:14: error: payload[0].order must be 'random' or 'sequence', got 'sequense' — did you mean 'sequence'?",
      's.yml:6:7: error: payload[1] needs path, the CSV file to read',
      's.yml:8:12: error: variables.empty is an empty list: there is nothing to pick from',
      's.yml:10:19: error: subprotocols must be a list of names like [json, soap], got a list',
      "s.yml:11:12: error: ws.proxy must be a mapping like { url: 'http://proxy:8080' }, got 'http://proxy'",
      "s.yml:13:25: error: tls.rejectUnauthorized must be true or false, got 'no'",
      "s.yml:14:12: error: timeout must be a positive number of seconds or a duration like '10s', got 'soon'",
      "s.yml:16:18: error: wsload.correlation must be false or { field: 'id' }, got true",
      's.yml:17:14: error: wsload.graceMs must be a number of milliseconds >= 0, got -5',
      "s.yml:18:5: error: unknown wsload key 'grace' in wsload — did you mean 'graceMs'?",
    ]);
  });

  it('needs a target somewhere', async () => {
    expect(await problems('scenarios:\n  - engine: ws\n    flow: [{send: hi}]\n')).toEqual([
      's.yml:1:1: error: no target: config.target is not set — set config.target, pass --target, or start the flow with connect: ws://…',
    ]);
    expect(await problems('scenarios:\n  - engine: ws\n    flow:\n      - connect: ws://h.invalid/ws\n      - send: hi\n')).toEqual([]);
    expect(await problems('scenarios:\n  - engine: ws\n    flow:\n      - sned: hi\n')).toEqual([
      's.yml:1:1: error: no target: config.target is not set — set config.target, pass --target, or start the flow with connect: ws://…',
      "s.yml:4:9: error: unknown step 'sned' — did you mean 'send'?",
    ]);
    expect(await problems('config:\n  target: http//oops\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n')).toEqual([
      "s.yml:2:11: error: target 'http//oops' is not a valid URL — write it like 'ws://localhost:8000/ws'",
    ]);
  });
});

describe('scenarios', () => {
  it('refuses scenarios that are not engine: ws, naming them', async () => {
    expect(await problems('config:\n  target: ws://a.invalid/ws\nscenarios:\n  - name: Browse\n    flow: [{get: {url: /}}]\n  - engine: socketio\n    flow: [{emit: x}]\n')).toEqual([
      "s.yml:4:5: error: scenario 'Browse' uses the http engine; wsload runs only engine: ws — add 'engine: ws' to the scenario (or to config)",
      's.yml:6:13: error: scenarios[1] uses the socketio engine; wsload runs only engine: ws',
    ]);
  });

  it('checks names, weights, hooks and the flow', async () => {
    expect(
      await problems('config:\n  target: ws://a.invalid/ws\nscenarios:\n  - engine: ws\n    weight: heavy\n    flwo: []\n  - engine: ws\n    weight: 0\n    beforeRequest: setHeaders\n    flow: hi\n'),
    ).toEqual([
      "s.yml:4:5: error: scenarios[0] has no flow",
      "s.yml:5:13: error: scenarios[0]: weight must be a whole number >= 0, got 'heavy'",
      "s.yml:6:5: error: unknown scenario key 'flwo' in scenarios[0] — did you mean 'flow'?",
      "s.yml:9:5: error: 'beforeRequest' hooks belong to the http engine; the ws engine has no requests to hook",
      "s.yml:10:11: error: flow must be a list of steps, got 'hi'",
    ]);
  });

  it('refuses top-level before/after hooks', async () => {
    expect(await problems('config:\n  target: ws://a.invalid/ws\nbefore:\n  flow: []\nscenarios:\n  - engine: ws\n    flow: [{send: hi}]\n')).toEqual([
      "s.yml:3:1: error: top-level 'before' hooks are not supported by wsload — use beforeScenario/afterScenario processor functions instead",
    ]);
  });
});

describe('steps', () => {
  it.each([
    ['an http step', '      - get: {url: /}\n', ["s.yml:6:9: error: 'get' is an http step; wsload runs only engine: ws steps"]],
    ['sendBytes', '      - sendBytes: abc\n', ["s.yml:6:9: error: unknown step 'sendBytes' — use sendBinary: { base64: '…' } or { hex: '…' }"]],
    ['an empty send', '      - send:\n', ['s.yml:6:14: error: send needs a message: a string, or an object sent as JSON']],
    ['two actions', '      - send: hi\n        think: 1\n', ["s.yml:7:9: error: a step does one thing: this one has both 'send' and 'think' — split it into two steps"]],
    ['a typo next to an action', '      - think: 1\n        jiter: 5\n', ["s.yml:7:9: error: unknown key 'jiter' in a think step — did you mean 'jitter'?"]],
    ['a structured send typo', '      - send:\n          payload: hi\n          match: {json: $.a, value: 1}\n          timout: 2\n', ["s.yml:9:11: error: unknown send key 'timout' in scenarios[0].flow[0].send — did you mean 'timeout'?"]],
    ['bad hex', '      - sendBinary: {hex: "abc"}\n', ["s.yml:6:27: error: sendBinary.hex must be pairs of hex digits, got 'abc'"]],
    ['base64 and hex', '      - sendBinary: {hex: "ab", base64: "qw=="}\n', ['s.yml:6:21: error: sendBinary takes base64 or hex, not both']],
    ['a wait with nothing to wait for', '      - wait: {timeout: 3}\n', ['s.yml:6:15: error: wait needs match or capture: it waits for a message that satisfies them']],
    ['an unsupported JSONPath', '      - wait: {match: {json: "$.a[?(@.b)]", value: 1}}\n', ["s.yml:6:30: error: '[?(@.b)]' is not supported in JSONPath '$.a[?(@.b)]'; wsload supports $.a.b, $.a[0], $['a'], $.a[*] and $..a"]],
    ['a negative think', '      - think: -1\n', ["s.yml:6:16: error: think must be a number of seconds or a duration like '500ms', got -1"]],
    ['an empty loop', '      - loop: []\n        count: 2\n', ['s.yml:6:15: error: loop has no steps']],
    ['a templated over', '      - loop: [{send: "{{ $loopElement }}"}]\n        over: "{{ items }}"\n', ['s.yml:7:15: error: loop.over takes a variable name, not a template — write over: items']],
    ['a loop without end', '      - loop: [{send: x}]\n', ['s.yml:6:15: warning: loop has no count, over or whileTrue: it repeats until the virtual user is stopped']],
    ['a late connect', '      - send: hi\n      - connect: ws://other.invalid/ws\n', ['s.yml:7:9: warning: connect is only honoured as the first step of a flow; this one is ignored, as in Artillery']],
    ['a non-ws connect', '      - connect: ftp://h/ws\n', ["s.yml:6:18: error: connect 'ftp://h/ws' must use ws:// or wss://"]],
    ['send: {payload} alone', '      - send: {payload: {a: 1}}\n', ['s.yml:6:15: warning: send: { payload } without capture or match sends the whole object {"payload": …}, as Artillery does — write send: <message> to send only the message']],
    ['a misspelt built-in', '      - log: "{{ $uid }}"\n', ["s.yml:6:14: warning: '$uid' is not a variable wsload sets — did you mean '$uuid'?"]],
    ['an unknown variable', '      - send: "{{ who }}"\n', ["s.yml:6:15: warning: variable 'who' is not defined by config.variables, a payload or a capture — it renders as undefined"]],
    ['a string step', '      - "send"\n', ["s.yml:6:9: error: a step must be a mapping like { send: 'hello' }, got 'send'"]],
  ])('%s', async (_what, flow, expected) => {
    expect(await problems(HEAD + flow)).toEqual(expected);
  });

  it('knows variables from captures, payloads, loops and config', async () => {
    expect(
      await problems(
        HEAD +
          '      - send: {payload: login, capture: {json: $.token, as: token}}\n' +
          '      - loop:\n          - send: "{{ token }} {{ item }} {{ $loopCount }} {{ i }}"\n        over: [1, 2]\n        loopElement: item\n        loopValue: i\n',
      ),
    ).toEqual([]);
  });

  it('needs a processor for function steps and hooks', async () => {
    expect(
      await problems('config:\n  target: ws://a.invalid/ws\nscenarios:\n  - engine: ws\n    beforeScenario: [a, b]\n    flow:\n      - function: f\n      - loop: [{send: x}]\n        whileTrue: more\n      - connect: {function: setUrl}\n'),
    ).toEqual([
      "s.yml:5:22: error: function 'a' is used but config.processor is not set — add processor: './processor.js' to config",
      "s.yml:5:25: error: function 'b' is used but config.processor is not set — add processor: './processor.js' to config",
      "s.yml:7:19: error: function 'f' is used but config.processor is not set — add processor: './processor.js' to config",
      "s.yml:9:20: error: function 'more' is used but config.processor is not set — add processor: './processor.js' to config",
      's.yml:10:9: warning: connect is only honoured as the first step of a flow; this one is ignored, as in Artillery',
    ]);
  });
});
