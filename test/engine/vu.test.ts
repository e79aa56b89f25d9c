/**
 * A virtual user, step kind by step kind, against real servers on 127.0.0.1: Artillery's semantics
 * (connect, send, sendBinary, wait, think, loop, function, log) and wsload's metering (ids added and
 * matched, broadcasts kept, replies timed, the end-of-flow grace).
 */
import { describe, expect, it } from 'vitest';
import { readTopLevelId } from '../../src/engine/reply-id.js';
import { startServer } from '../../src/server/index.js';
import { startLabServer, type LabServer, type LabServerOptions } from '../fixtures/run/lab-server.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run, stepAt } from './run-helpers.js';

const { defer, track } = closeAfterEach();
const lab = (opts: LabServerOptions = {}): Promise<LabServer> => track(startLabServer(opts));

const sentJson = (l: LabServer): Array<Record<string, unknown>> => l.frames.flatMap((f) => (f.json ? [f.json] : []));

describe('reading the correlation id from the bytes', () => {
  const key = Buffer.from('"id"');
  const id = (s: string): number => readTopLevelId(Buffer.from(s), key);
  it('reads a top-level integer id, skipping nested ids and "id" as a value', () => {
    expect(id('{"type":"pong","id":42}')).toBe(42);
    expect(id('{"meta":{"id":7},"type":"pong","id":42}')).toBe(42);
    expect(id('{"type":"id","note":"say \\"id\\": 9","id" : 5}')).toBe(5);
    expect(id('{"items":[{"id":1}],"id":3}')).toBe(3);
  });
  it('says when there is none (-1) or when it must be parsed (-2)', () => {
    expect(id('{"type":"news"}')).toBe(-1);
    expect(id('{"meta":{"id":7}}')).toBe(-1);
    expect(id('{"id":null}')).toBe(-1);
    expect(id('{"id":1.5}')).toBe(-1);
    expect(id('{"id":"12"}')).toBe(-2);
  });
});

describe('connect', () => {
  it('a URL string (a template), with config.ws headers and subprotocols', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      config: '  ws:\n    subprotocols: [json]\n    headers:\n      X-Test: "yes"\n  variables:\n    room: lobby',
      flow: '- connect: "{{ target }}?room={{ room }}"\n- send: hello',
    });
    expect(s.vusers).toMatchObject({ created: 1, completed: 1, failed: 0 });
    expect(l.upgrades[0]!.url).toBe('/ws?room=lobby');
    expect(l.upgrades[0]!.headers['x-test']).toBe('yes');
    expect(l.protocols).toEqual(['json']);
    expect(s.connect.count).toBe(1);
  });

  it('an object with target, headers and subprotocols (they replace config.ws ones, as in Artillery)', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      config: '  ws:\n    subprotocols: [json]',
      flow: `- connect:\n    target: "${l.url}?user={{ $uuid }}"\n    headers:\n      Authorization: "Bearer t0k"\n    subprotocols: [chat.v2]\n- send: hi`,
    });
    expect(s.vusers.completed).toBe(1);
    expect(l.upgrades[0]!.url).toMatch(/^\/ws\?user=[0-9a-f-]{36}$/);
    expect(l.upgrades[0]!.headers.authorization).toBe('Bearer t0k');
    expect(l.protocols).toEqual(['chat.v2']);
  });

  it('a processor function with (wsArgs, context, done) that changes the target', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      config: '  variables:\n    user: ada',
      flow: '- connect:\n    function: connectVia\n- send: hi',
    });
    expect(s.vusers.completed).toBe(1);
    expect(l.upgrades[0]!.url).toBe('/ws?via=function&user=ada');
  });
});

describe('send', () => {
  it('a string is sent as it is; an object as JSON with an id added (type and no id of its own)', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      config: '  variables:\n    who: bob',
      flow: [
        '- send: "plain text from {{ who }}"',
        '- send:',
        '    type: ping',
        '- send:',
        '    type: echo',
        '    from: "{{ who }}"',
        '- send:',
        '    note: "no type: no id"',
        '- send:',
        '    type: ping',
        '    id: "mine"',
      ].join('\n'),
    });
    expect(l.frames.map((f) => f.text)).toEqual([
      'plain text from bob',
      '{"id":1,"type":"ping"}',
      '{"id":2,"type":"echo","from":"bob"}',
      '{"note":"no type: no id"}',
      '{"type":"ping","id":"mine"}',
    ]);
    // Two correlated sends, both answered within the grace, each timed under its type.
    expect(s.messages).toMatchObject({ sent: 5, correlated: 2, replied: 2, unanswered: 0 });
    expect(Object.keys(s.latencyByType).sort()).toEqual(['echo', 'ping']);
    // The lab answers the type-less object with {"type":"error","code":"unknown_type"}: counted by kind.
    expect(s.errors).toEqual({ server_error_unknown_type: 1 });
  });

  it('payload with capture and match waits for the reply carrying its id, and captures from it', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: [
        '- send:',
        '    payload: { type: echo, tag: first }',
        '    capture: { json: "$.tag", as: tag }',
        '    match: { json: "$.type", value: echoed }',
        '- send: "got {{ tag }}"',
      ].join('\n'),
    });
    expect(s.vusers.completed).toBe(1);
    expect(l.frames[1]!.text).toBe('got first');
    expect(s.latencyByType.echo!.count).toBe(1);
  });

  it('finds its reply among interleaved broadcasts and an out-of-order reply (by id)', async () => {
    const l = await lab({ noise: true });
    const { s } = await run({
      target: l.url,
      flow: [
        // Answered first, while the second send waits: "the next message" would be this one.
        '- send: { type: echo, tag: early }',
        '- send:',
        '    payload: { type: echo, tag: mine, delay: 50 }',
        '    capture: { json: "$.tag", as: tag }',
        '    match: { json: "$.type", value: echoed }',
        '- send: "captured {{ tag }}"',
      ].join('\n'),
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(l.frames.at(-1)!.text).toBe('captured mine');
    // The early reply is timed too; the noise is counted, never an error.
    expect(s.messages).toMatchObject({ correlated: 2, replied: 2, unanswered: 0, lost: 0 });
    expect(s.messages.unsolicited).toBe(2 + 1); // a news before each reply, and "echo: captured mine"
    expect(s.errors).toEqual({});
  });

  it('without correlation, waits for the FIRST message satisfying every match, not the next one', async () => {
    const l = await lab({ noise: true });
    const { s } = await run({
      target: l.url,
      config: '  wsload:\n    correlation: false',
      flow: [
        '- send: { type: echo, tag: early }',
        '- send:',
        '    payload: { type: echo, tag: mine, delay: 50 }',
        '    capture: { json: "$.seq", as: seq, strict: false }',
        '    match:',
        '      - { json: "$.type", value: echoed }',
        '      - { json: "$.tag", value: mine }',
      ].join('\n'),
    });
    expect(sentJson(l).map((j) => j.id)).toEqual([undefined, undefined]);
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    // The awaited send is timed from the send to the matching message; the other is not timed.
    expect(s.messages).toMatchObject({ correlated: 1, replied: 1 });
    expect(s.latencyByType.echo!.count).toBe(1);
  });

  it('a custom correlation field', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      config: '  wsload:\n    correlation: { field: rid }',
      flow: '- send:\n    payload: { type: ping }\n    match: { json: "$.type", value: pong }',
    });
    expect(l.frames[0]!.text).toBe('{"rid":1,"type":"ping"}');
    expect(s.messages).toMatchObject({ correlated: 1, replied: 1 });
  });

  it('a failed strict match fails the user with match_failed at that step', async () => {
    const l = await lab();
    const { s, plan } = await run({
      target: l.url,
      flow: '- send:\n    payload: { type: ping }\n    match: { json: "$.type", value: pang }\n- send: never',
    });
    expect(s.vusers).toMatchObject({ completed: 0, failed: 1 });
    expect(s.errors).toEqual({ match_failed: 1 });
    expect(s.errorsByStep).toEqual({ [stepAt(plan, 0)]: { match_failed: 1 } });
    expect(s.errorSamples.match_failed!.message).toBe('match $.type: expected "pang", got "pong"');
    expect(l.frames).toHaveLength(1);
  });

  it('no reply within the timeout: reply_timeout, the user fails', async () => {
    const l = await lab();
    const { s, plan } = await run({
      target: l.url,
      flow: '- send:\n    payload: { type: silent }\n    match: { json: "$.type", value: ok }\n    timeout: 0.2',
    });
    expect(s.vusers.failed).toBe(1);
    expect(s.errors).toEqual({ reply_timeout: 1 });
    expect(s.errorsByStep).toEqual({ [stepAt(plan, 0)]: { reply_timeout: 1 } });
    expect(s.messages).toMatchObject({ correlated: 1, replied: 0, timedOut: 1 });
  });
});

describe('the end of the flow', () => {
  it('replies still due get the grace; those that never come are unanswered, not errors', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      config: '  wsload:\n    graceMs: 300',
      flow: '- send: { type: echo, delay: 100 }\n- send: { type: silent }',
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(s.messages).toMatchObject({ correlated: 2, replied: 1, unanswered: 1, timedOut: 0, lost: 0 });
    expect(s.errors).toEqual({});
    expect(s.sessionLength.avg).toBeGreaterThanOrEqual(290);
  });

  it('a disconnect the server answers with a 1000 close is a normal end', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: '- send:\n    payload: { type: disconnect }\n    match: { json: "$.type", value: disconnect_ack }',
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(s.errors).toEqual({});
    const { s: s2 } = await run({ target: l.url, flow: '- send: { type: disconnect }' });
    expect(s2.vusers.completed).toBe(1);
    expect(s2.errors).toEqual({});
    expect(s2.messages).toMatchObject({ replied: 1, lost: 0 });
  });

  it('a connection closed by the server mid-flow fails the user with its close code', async () => {
    const l = await lab();
    const { s, plan } = await run({
      target: l.url,
      flow: '- send: { type: close, code: 1011 }\n- think: 2\n- send: never',
    });
    expect(s.vusers.failed).toBe(1);
    expect(s.errors).toEqual({ connection_closed_1011: 1 });
    expect(s.errorsByStep).toEqual({ [stepAt(plan, 1)]: { connection_closed_1011: 1 } });
    expect(s.sessionLength.max).toBeLessThan(1000);
  });
});

describe('sendBinary and wait', () => {
  it('sends bytes as a binary frame and matches the binary reply by its hex', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: [
        '- sendBinary:',
        '    hex: "ca fe ba be"',
        '    match: { regexp: "^cafe", value: cafe }',
        '- sendBinary:',
        '    base64: "3q2+7w=="',
      ].join('\n'),
    });
    expect(l.frames.map((f) => f.binary?.toString('hex'))).toEqual(['cafebabe', 'deadbeef']);
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(s.latencyByType.binary!.count).toBe(1);
    // Before each echo the lab sends a JSON notice: it did not satisfy the match, it was kept.
    expect(s.messages.unsolicited).toBeGreaterThanOrEqual(2);
  });

  it('wait finds a message already buffered, skipping others, then waits for a future one', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: [
        '- send: { type: news, count: 3 }',
        '- think: 0.1',
        '- wait:',
        '    match: { json: "$.seq", value: 2 }',
        '    capture: { json: "$.seq", as: seen }',
        '- send: { type: echo, delay: 50, tag: later }',
        '- wait:',
        '    match: { json: "$.tag", value: later }',
        '- send: "seen {{ seen }}"',
      ].join('\n'),
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(l.frames.at(-1)!.text).toBe('seen 2');
    expect(s.messages.unsolicited).toBe(3 + 1);
  });

  it('wait without a matching message: wait_timeout', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: '- wait:\n    match: { json: "$.type", value: never }\n    timeout: 0.2',
    });
    expect(s.errors).toEqual({ wait_timeout: 1 });
    expect(s.vusers.failed).toBe(1);
  });

  it('keeps at most bufferLimit unsolicited messages, counting the dropped ones', async () => {
    const l = await lab();
    const { s } = await run({ target: l.url, flow: '- send: { type: news, count: 30 }\n- think: 0.2' }, { bufferLimit: 10 });
    // 30 news and the timed reply (kept for wait steps too) pass through a buffer of 10.
    expect(s.messages).toMatchObject({ unsolicited: 30, dropped: 21, replied: 1 });
    expect(s.errors).toEqual({});
  });
});

describe('think, loop, function, log', () => {
  it('think in seconds and as a duration string', async () => {
    const l = await lab();
    const { s } = await run({ target: l.url, flow: '- think: 0.1\n- think: "100ms"\n- send: done' });
    expect(s.sessionLength.avg).toBeGreaterThanOrEqual(195);
    expect(s.sessionLength.avg).toBeLessThan(1000);
  });

  it('loop count with $loopCount, over a list with $loopElement, over a variable', async () => {
    const l = await lab();
    await run({
      target: l.url,
      flow: [
        '- loop:',
        '    - send: "n={{ $loopCount }}"',
        '  count: 3',
        '- loop:',
        '    - send: "e={{ $loopElement }} i={{ $loopCount }}"',
        '  over: [red, green]',
        '- function: makeList',
        '- loop:',
        '    - send: "v={{ $loopElement }}"',
        '  over: items',
      ].join('\n'),
    });
    expect(l.frames.map((f) => f.text)).toEqual(['n=0', 'n=1', 'n=2', 'e=red i=0', 'e=green i=1', 'v=x', 'v=y', 'v=z']);
  });

  it('loop whileTrue asks its function (context, next) after each iteration', async () => {
    const l = await lab();
    await run({ target: l.url, flow: '- loop:\n    - send: "it {{ $loopCount }}"\n  whileTrue: countUp' });
    expect(l.frames.map((f) => f.text)).toEqual(['it 0', 'it 1', 'it 2']);
  });

  it('functions with a callback and async ones; context has vars, funcs, scenario and the socket', async () => {
    const l = await lab();
    const { s } = await run({ target: l.url, flow: '- function: setVars\n- function: asyncFn\n- send: "{{ fromFn }} {{ wsOpen }} {{ templated }} {{ fromAsync }}"' });
    expect(s.errors).toEqual({});
    expect(l.frames[0]!.text).toBe('set-by-lab true set-by-lab! async-ok');
  });

  it('a function that throws, or calls done(err), fails the user with function_error', async () => {
    const l = await lab();
    const { s, plan } = await run({ target: l.url, flow: '- send: before\n- function: throws\n- send: after' });
    expect(s.errors).toEqual({ function_error: 1 });
    expect(s.errorsByStep).toEqual({ [stepAt(plan, 1)]: { function_error: 1 } });
    expect(s.errorSamples.function_error!.message).toBe("function 'throws' failed: boom");
    const { s: s2 } = await run({ target: l.url, flow: '- function: doneError\n- send: after' });
    expect(s2.errors).toEqual({ function_error: 1 });
    expect(l.frames.map((f) => f.text)).toEqual(['before']);
  });

  it('beforeScenario and afterScenario run around the flow; events become metrics', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      scenario: 'beforeScenario: setVars\nafterScenario: emitMetrics',
      flow: '- send: "{{ fromFn }} {{ wsOpen }}"',
    });
    expect(l.frames[0]!.text).toBe('set-by-lab false');
    expect(s.custom.counters).toEqual({ 'custom.count': 2, 'custom.rate': 1 });
    expect(s.custom.histograms['custom.ms']!.count).toBe(1);
    expect(s.custom.histograms['custom.ms']!.p50).toBeCloseTo(12.5, 1);
  });

  it('log steps go to the run\'s log, templated', async () => {
    const l = await lab();
    const lines: string[] = [];
    await run({ target: l.url, config: '  variables:\n    who: eve', flow: '- log: "hello {{ who }}"' }, {}, { log: (line) => lines.push(line) });
    expect(lines).toEqual(['hello eve']);
  });
});

describe('round trip accuracy', () => {
  it('against a server with a 20 ms injected delay, P50 is within 2 ms of 20 ms', async () => {
    const srv = await startServer({ port: 0, replyDelayMs: 20 });
    defer(() => srv.close());
    const { s } = await run({
      target: srv.url,
      flow: '- loop:\n    - send:\n        payload: { type: ping }\n        match: { json: "$.type", value: pong }\n  count: 30',
    });
    expect(s.latencyByType.ping!.count).toBe(30);
    expect(Math.abs(s.latencyByType.ping!.p50 - 20)).toBeLessThanOrEqual(2);
    expect(s.latency.min).toBeGreaterThanOrEqual(19.5);
  });
});

describe('the step machine: a send awaiting its reply continues without a promise per step', () => {
  it('nested loops (over, count) of sends awaiting replies, captures between them, log steps', async () => {
    const l = await lab();
    const lines: string[] = [];
    const { s, plan } = await run(
      {
        target: l.url,
        flow: [
          '- loop:',
          '    - loop:',
          '        - send:',
          '            payload: { type: ping }',
          '            match: { json: "$.type", value: pong }',
          '        - send:',
          '            payload: { type: echo, tag: "{{ $loopElement }}-{{ $loopCount }}" }',
          '            capture: { json: "$.tag", as: last }',
          '            match: { json: "$.type", value: echoed }',
          '      count: 2',
          '    - log: "outer {{ $loopElement }} {{ $loopCount }} last={{ last }}"',
          '  over: [a, b]',
          '- send: "after {{ last }} {{ $loopCount }}"',
        ].join('\n'),
      },
      {},
      { log: (line) => lines.push(line) },
    );
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(s.errors).toEqual({});
    expect(l.frames.map((f) => (f.json ? `${String(f.json.type)}${f.json.tag === undefined ? '' : ` ${String(f.json.tag)}`}` : f.text))).toEqual([
      // The inner loop sets $loopElement (to its counter, 0) and $loopCount: Artillery's shared names.
      'ping', 'echo 0-0', 'ping', 'echo 0-1', 'ping', 'echo 0-0', 'ping', 'echo 0-1', 'after 0-1 2',
    ]);
    expect(lines).toEqual(['outer 0 2 last=0-1', 'outer 0 2 last=0-1']);
    expect(s.messages).toMatchObject({ sent: 9, correlated: 8, replied: 8, timedOut: 0, unanswered: 0, lost: 0 });
    expect(s.latencyByType.ping!.count).toBe(4);
    expect(s.latencyByType.echo!.count).toBe(4);
    expect(plan.scenarios[0]!.steps).toHaveLength(2);
  });

  it('a loop of sends awaiting replies, asked whileTrue after each iteration, with think in between', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: [
        '- loop:',
        '    - send:',
        '        payload: { type: ping }',
        '        match: { json: "$.type", value: pong }',
        '    - think: 0.01',
        '  whileTrue: countUp',
        '- send: "done {{ n }}"',
      ].join('\n'),
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(l.frames.map((f) => f.text)).toEqual(['{"id":1,"type":"ping"}', '{"id":2,"type":"ping"}', '{"id":3,"type":"ping"}', 'done 3']);
    expect(s.messages).toMatchObject({ correlated: 3, replied: 3 });
  });

  it('a failure deep in a loop is attributed to its step, and nothing after it runs', async () => {
    const l = await lab();
    const { s, plan } = await run({
      target: l.url,
      flow: [
        '- loop:',
        '    - send:',
        '        payload: { type: ping }',
        '        match: { json: "$.type", value: pong }',
        '    - send:',
        '        payload: { type: echo, tag: "t{{ $loopCount }}" }',
        '        match: { json: "$.tag", value: t0 }',
        '  count: 5',
        '- send: never',
      ].join('\n'),
    });
    expect(s.vusers).toMatchObject({ completed: 0, failed: 1 });
    expect(s.errors).toEqual({ match_failed: 1 });
    expect(s.errorsByStep).toEqual({ [stepAt(plan, 0, 1)]: { match_failed: 1 } });
    expect(l.frames).toHaveLength(4);
  });

  it('many sends without a reply awaited yield to the event loop, then a send awaits its reply', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: [
        '- loop:',
        '    - send: "n {{ $loopCount }}"',
        '  count: 600',
        '- send:',
        '    payload: { type: ping }',
        '    match: { json: "$.type", value: pong }',
      ].join('\n'),
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(l.frames).toHaveLength(601);
    expect(l.frames[599]!.text).toBe('n 599');
    expect(s.messages).toMatchObject({ sent: 601, correlated: 1, replied: 1 });
  });

  it('Ctrl-C while a reply is awaited: the user is interrupted, its request lost, no error', async () => {
    const l = await lab();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    const { s, result } = await run(
      { target: l.url, flow: '- send:\n    payload: { type: silent }\n    match: { json: "$.type", value: ok }\n    timeout: 10\n- send: never' },
      { interruptGraceMs: 100 },
      { signal: abort.signal },
    );
    expect(result.aborted).toBe(true);
    expect(s.vusers).toMatchObject({ created: 1, interrupted: 1, failed: 0 });
    expect(s.errors).toEqual({});
    expect(s.messages).toMatchObject({ correlated: 1, replied: 0, lost: 1, timedOut: 0 });
    expect(l.frames).toHaveLength(1);
    expect(s.durationSec).toBeLessThan(2);
  });

  it('the server closing while a reply is awaited fails the user at that step with the close code', async () => {
    const l = await lab();
    const { s, plan } = await run({
      target: l.url,
      flow: '- send: { type: ping }\n- send:\n    payload: { type: close, code: 4001 }\n    match: { json: "$.type", value: closed }\n- send: never',
    });
    expect(s.vusers).toMatchObject({ completed: 0, failed: 1 });
    expect(s.errors).toEqual({ connection_closed_4001: 1 });
    expect(s.errorsByStep).toEqual({ [stepAt(plan, 1)]: { connection_closed_4001: 1 } });
    expect(s.messages).toMatchObject({ correlated: 2, replied: 1, lost: 1 });
  });

  it('a reply and the close after it in one read: the next send finds the connection closing, as with await', async () => {
    const l = await lab();
    const { s, plan } = await run({
      target: l.url,
      flow: [
        '- send:',
        '    payload: { type: disconnect }',
        '    match: { json: "$.type", value: disconnect_ack }',
        '- send:',
        '    payload: { type: ping }',
        '    match: { json: "$.type", value: pong }',
      ].join('\n'),
    });
    // The flow goes on after the whole read (the ack and the close frame), not from inside the ack's handler.
    expect(s.errors).toEqual({ send_failed: 1 });
    expect(s.errorsByStep).toEqual({ [stepAt(plan, 1)]: { send_failed: 1 } });
    expect(s.messages).toMatchObject({ sent: 1, correlated: 1, replied: 1, lost: 0 });
  });

  it('a prepared payload gets its id spliced in, for ids of every length, and its bytes counted', async () => {
    const l = await lab();
    const { s } = await run({
      target: l.url,
      flow: [
        '- loop:',
        '    - send: { type: echo, tag: "été ✓" }',
        '    - send:',
        '        payload: { type: ping }',
        '        match: { json: "$.type", value: pong }',
        '  count: 60',
      ].join('\n'),
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    const texts = l.frames.map((f) => f.text!);
    expect(texts).toHaveLength(120);
    texts.forEach((t, k) => expect(t).toBe(k % 2 === 0 ? `{"id":${k + 1},"type":"echo","tag":"été ✓"}` : `{"id":${k + 1},"type":"ping"}`));
    const sentBytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
    expect(s.messages.bytesSent).toBe(sentBytes);
  });

  it('without correlation, a send awaiting a match continues from the matching message', async () => {
    const l = await lab({ noise: true });
    const { s } = await run({
      target: l.url,
      config: '  wsload:\n    correlation: false',
      flow: [
        '- loop:',
        '    - send:',
        '        payload: { type: ping }',
        '        match: { json: "$.type", value: pong }',
        '  count: 3',
        '- send: end',
      ].join('\n'),
    });
    expect(s.vusers).toMatchObject({ completed: 1, failed: 0 });
    expect(l.frames.map((f) => f.text)).toEqual(['{"type":"ping"}', '{"type":"ping"}', '{"type":"ping"}', 'end']);
    expect(s.messages).toMatchObject({ correlated: 3, replied: 3 });
    expect(s.messages.unsolicited).toBe(3 + 1); // the news before each pong, and "echo: end"
  });
});
