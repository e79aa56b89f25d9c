import { describe, expect, it } from 'vitest';
import { Checker } from '../../src/scenario/checker.js';
import { compileJsonPath, JsonPathError } from '../../src/scenario/jsonpath.js';
import { checkExpectation, compileExpectation, extractValue, matchesAll, toInbound, type Expectation } from '../../src/scenario/matchers.js';
import { formatProblem } from '../../src/scenario/problems.js';
import { parseSource } from '../../src/scenario/source.js';

const doc = { type: 'pong', data: { items: [{ id: 1 }, { id: 2 }], 'a b': 'spaced' }, n: 0 };

describe('compileJsonPath', () => {
  it.each([
    ['$', [doc]],
    ['$.type', ['pong']],
    ['type', ['pong']],
    ['$.data.items[0].id', [1]],
    ['$.data.items[-1].id', [2]],
    ["$['data']['a b']", ['spaced']],
    ['$["type"]', ['pong']],
    ['$.data.items[*].id', [1, 2]],
    ['$..id', [1, 2]],
    ['$.n', [0]],
    ['$.missing.deeper', []],
    ['$.type.length', []],
  ])('%s', (expr, expected) => {
    expect(compileJsonPath(expr).evaluate(doc)).toEqual(expected);
  });

  it.each([
    ['$.a[?(@.b)]', "'[?(@.b)]' is not supported in JSONPath '$.a[?(@.b)]'; wsload supports $.a.b, $.a[0], $['a'], $.a[*] and $..a"],
    ['$.a[0:2]', "'[0:2]' is not supported in JSONPath '$.a[0:2]'; wsload supports $.a.b, $.a[0], $['a'], $.a[*] and $..a"],
    ['$.a[0', "unclosed '[' in JSONPath '$.a[0'"],
    ['$.', "unexpected 'end' in JSONPath '$.'"],
  ])('refuses %s', (expr, message) => {
    expect(() => compileJsonPath(expr)).toThrow(new JsonPathError(message));
  });
});

function compile(yaml: string): { exp: Expectation | undefined; problems: string[] } {
  const src = parseSource(yaml, 'm.yml');
  const ck = new Checker(src.locator);
  const spec = src.data as Record<string, unknown>;
  const exp = compileExpectation(ck, [], spec.capture, spec.match);
  return { exp, problems: ck.problems.items.map(formatProblem) };
}

describe('capture and match', () => {
  it('captures by JSONPath and regexp (named and numbered groups) and checks matches with ===', () => {
    const { exp, problems } = compile(`
capture:
  - json: "$.session.id"
    as: sessionId
  - regexp: "token=(?<tok>\\\\w+)"
    group: tok
    as: token
  - regexp: "n=(\\\\d+)"
    group: 1
    as: n
match:
  - json: "$.type"
    value: welcome
  - json: "$.count"
    value: "{{ expected }}"
`);
    expect(problems).toEqual([]);
    const msg = toInbound(JSON.stringify({ type: 'welcome', count: 3, session: { id: 's-1' }, note: 'token=abc n=42' }));
    expect(checkExpectation(exp!, msg, { expected: 3 })).toEqual({ ok: true, captured: { sessionId: 's-1', token: 'abc', n: '42' }, failures: [] });
    expect(matchesAll(exp!, msg, { expected: 3 })).toBe(true);
    expect(matchesAll(exp!, msg, { expected: '3' })).toBe(false);
  });

  it('fails a strict capture that reads nothing, not a non-strict one', () => {
    const { exp } = compile(`
capture:
  - json: "$.id"
    as: id
  - json: "$.opt"
    as: opt
    strict: false
`);
    const r = checkExpectation(exp!, toInbound('{"other":1}'), {});
    expect(r.ok).toBe(false);
    expect(r.captured).toEqual({ id: '', opt: '' });
    expect(r.failures).toEqual([{ kind: 'capture', expression: '$.id', got: '', location: { file: 'm.yml', line: 3, col: 5 } }]);
  });

  it('reads text messages with regexp and gives json extractors an empty string', () => {
    const { exp } = compile(`
capture:
  - regexp: "^HELLO (\\\\w+)"
    group: 1
    as: who
  - json: "$.x"
    as: x
    strict: false
`);
    const msg = toInbound('HELLO world');
    expect(msg.json).toBe(undefined);
    expect(checkExpectation(exp!, msg, {}).captured).toEqual({ who: 'world', x: '' });
    expect(extractValue(exp!.captures[0]!.extract, toInbound(Buffer.from('HELLO bytes')))).toBe('bytes');
  });

  it('reports every mistake in a spec at its place', () => {
    const { problems } = compile(`
capture:
  - json: "$.a"
  - regexp: "(unclosed"
    as: x
  - json: "$.b"
    regexp: "b"
    as: y
  - header: content-type
    as: ct
  - json: "$.c"
    as: c
    flags: i
match:
  json: "$.type"
  as: t
`);
    expect(problems).toEqual([
      "m.yml:3:5: error: capture needs 'as', the variable to store the value in",
      'm.yml:4:13: error: invalid regexp: /(unclosed/: Unterminated group',
      'm.yml:6:5: error: capture takes either json or regexp, not both',
      "m.yml:9:5: error: capture by 'header' works on HTTP responses only; WebSocket messages support json and regexp",
      "m.yml:13:5: error: 'flags' applies to regexp, not json",
      "m.yml:16:3: error: a match does not store values: 'as' belongs to capture — to keep the value, use capture: { json, as }",
    ]);
  });
});
