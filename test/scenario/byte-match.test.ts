/**
 * The byte-level fast path of `match`/`capture` on a top-level field (`$.type`): read from the reply's
 * bytes, it must give exactly what the parse path gives — for tricky replies (nested keys before the
 * top-level one, escapes, whitespace, duplicates, numbers vs strings, invalid JSON) and for random ones.
 */
import { describe, expect, it } from 'vitest';
import { ReceivedMessage } from '../../src/engine/inbox.js';
import { Checker } from '../../src/scenario/checker.js';
import { compileJsonPath, readTopLevelField, scanTopLevel, SCAN_ASCII, SCAN_UNDECIDED, UNDECIDED } from '../../src/scenario/jsonpath.js';
import { checkExpectation, compileExpectation, extractValue, matchesAll, type Expectation, type InboundMessage } from '../../src/scenario/matchers.js';
import { parseSource } from '../../src/scenario/source.js';

/** The parse path only: what the matchers saw before the fast path (no bytes offered). */
function parsed(text: string): InboundMessage {
  const m = new ReceivedMessage(Buffer.from(text), false);
  return { text: m.text, json: m.json };
}

/** A received message as the inbox hands it over: bytes offered, parsed only on demand. */
const received = (text: string | Buffer): ReceivedMessage => new ReceivedMessage(Buffer.isBuffer(text) ? text : Buffer.from(text), false);

const TRICKY = [
  '{"type":"pong","id":1}',
  '{"id":1,"type":"pong"}',
  ' \n\t{ "type" : "pong" , "id" : 1 } \r\n',
  '{"data":{"type":"nested"},"type":"pong"}',
  '{"data":{"type":"nested"}}',
  '{"data":[{"type":"x"},"type"],"type":"top"}',
  '{"note":"\\"type\\":\\"fake\\"","type":"real"}',
  '{"type":"po\\"ng"}',
  '{"type":"p\\u006fng"}',
  '{"type":"\\u00e9t\\u00e9"}',
  '{"type":"été"}',
  '{"type":"line\\nbreak"}',
  '{"\\u0074ype":"escaped-key"}',
  '{"t\\"ype":"x","type":"y"}',
  '{"type":"first","type":"last"}',
  '{"type":{"a":1},"type":"scalar-last"}',
  '{"type":"scalar-first","type":{"a":1}}',
  '{"type":7}',
  '{"type":-0}',
  '{"type":1.5e3}',
  '{"type":12345678901234567890}',
  '{"type":"7"}',
  '{"type":true}',
  '{"type":false}',
  '{"type":null}',
  '{"type":""}',
  '{"type":[1,2]}',
  '{"type":{"nested":"pong"}}',
  '{}',
  '{"other":1}',
  '[{"type":"pong"}]',
  '["type"]',
  '"type"',
  '42',
  '',
  '   ',
  'pong',
  'not json {"type":"pong"}',
  '{"type":"pong"',
  '{"type":"pong",}',
  '{"type":"pong"} trailing',
  '{"type":"pong"}{"type":"two"}',
  '{"type":pong}',
  '{"type":"pong" "id":1}',
  "{'type':'pong'}",
  '{"type":"tab\there"}',
  '{"type":"bad \\x escape"}',
  '{"type":"\\u12"}',
  '{"type":01}',
  '{"type":1.}',
  '{"type":.5}',
  '{"type":-}',
  '{"type":1e}',
  '{"type":tru}',
  '{"type":nul}',
  '{"a":[1,2,{"b":[]}],"type":"deep-ok"}',
  '{"a":[1,2,{"b":[}],"type":"deep-bad"}',
  '{"a":{"b":{"c":{"d":{"type":"deeper"}}}},"type":"top"}',
  '\ufeff{"type":"bom"}',
  '{"type":"pong","data":"\u0000"}',
  '{"type":"unit\u001fsep"}',
  '{"type":"del\u007f"}',
  '{"__proto__":"proto","type":"pong"}',
  '{"length":3,"type":"pong"}',
];

const PATHS = ['$.type', 'type', "$['type']", '$["type"]', '$.id', '$.data', '$.__proto__', '$.length', '$.missing'];

describe('reading a top-level field from the bytes', () => {
  it.each(PATHS)('%s: the same value as the parse path, for every tricky reply', (expr) => {
    const ex = { kind: 'json' as const, expr, path: compileJsonPath(expr) };
    for (const text of TRICKY) {
      expect(extractValue(ex, received(text)), text).toEqual(extractValue(ex, parsed(text)));
    }
  });

  it('decides from the bytes alone for the usual replies, and leaves the rest to the parse', () => {
    const key = compileJsonPath('$.type').topLevelKey!;
    expect(key.toString()).toBe('"type"');
    for (const text of ['{"type":"pong","id":1}', ' { "id" : 1 , "type" : "pong" } ', '{"data":{"type":"x"},"type":"pong"}']) {
      expect(scanTopLevel(Buffer.from(text), key), text).toBe(SCAN_ASCII);
      expect(readTopLevelField(Buffer.from(text), key), text).toBe('pong');
    }
    expect(readTopLevelField(Buffer.from('{"id":1}'), key)).toBe('');
    expect(readTopLevelField(Buffer.from('{"type":7}'), key)).toBe(7);
    expect(readTopLevelField(Buffer.from('{"type":null}'), key)).toBe(null);
    // Only a parse can tell: an escaped key, an object value, invalid JSON, a top-level array.
    for (const text of ['{"\\u0074ype":"x"}', '{"type":{"a":1}}', '{"type":"pong"', '[{"type":"pong"}]']) {
      expect(scanTopLevel(Buffer.from(text), key), text).toBe(SCAN_UNDECIDED);
      expect(readTopLevelField(Buffer.from(text), key), text).toBe(UNDECIDED);
    }
  });

  it('a nested path, a wildcard or a name with odd characters gets no byte key', () => {
    for (const expr of ['$', '$.data.type', '$..type', '$.*', '$[0]', '$["a\\"b"]', '$["é"]']) {
      expect(compileJsonPath(expr).topLevelKey, expr).toBeUndefined();
    }
  });

  it('the message is not parsed when the bytes decide', () => {
    const msg = received('{"type":"pong","id":1}');
    const ex = { kind: 'json' as const, expr: '$.type', path: compileJsonPath('$.type') };
    expect(extractValue(ex, msg)).toBe('pong');
    expect(msg.bytes).toBeDefined(); // still unparsed
    void msg.json;
    expect(msg.bytes).toBeUndefined(); // parsed now: the parse is used from here on
    expect(extractValue(ex, msg)).toBe('pong');
  });

  it('random replies: mutations of valid JSON give the same value both ways', () => {
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'type', '"type"', '1', '-', '.', 'e', 'true', 'null', 'é', '\\u0041', '\n', '\u001f', '\u007f'];
    const bases = TRICKY.filter((t) => t.startsWith('{'));
    const exprs = ['$.type', '$.id', '$.a'];
    const exs = exprs.map((expr) => ({ kind: 'json' as const, expr, path: compileJsonPath(expr) }));
    for (let n = 0; n < 5000; n++) {
      let t = bases[rnd(bases.length)]!;
      const edits = 1 + rnd(3);
      for (let e = 0; e < edits; e++) {
        const at = rnd(t.length + 1);
        const op = rnd(3);
        if (op === 0) t = t.slice(0, at) + t.slice(at + 1);
        else t = t.slice(0, at) + pieces[rnd(pieces.length)]! + t.slice(op === 1 ? at : at + 1);
      }
      for (const ex of exs) expect(extractValue(ex, received(t)), `${ex.expr} of ${t}`).toEqual(extractValue(ex, parsed(t)));
    }
  });
});

function compile(yaml: string): Expectation {
  const src = parseSource(yaml, 'm.yml');
  const ck = new Checker(src.locator);
  const spec = src.data as Record<string, unknown>;
  const exp = compileExpectation(ck, [], spec.capture, spec.match);
  expect(ck.problems.items).toEqual([]);
  return exp!;
}

describe('the byte matcher of match: { json: $.field, value: <fixed string> }', () => {
  it('is compiled for a fixed printable string only', () => {
    expect(compile('match: { json: "$.type", value: pong }').matches[0]!.expectBytes?.toString()).toBe('pong');
    expect(compile('match: { json: "$.type", value: "{{ want }}" }').matches[0]!.expectBytes).toBeUndefined();
    expect(compile('match: { json: "$.n", value: 3 }').matches[0]!.expectBytes).toBeUndefined();
    expect(compile('match: { json: "$.type", value: "" }').matches[0]!.expectBytes).toBeUndefined();
    expect(compile('match: { json: "$.type", value: "été" }').matches[0]!.expectBytes).toBeUndefined();
    expect(compile('match: { json: "$.a.type", value: pong }').matches[0]!.expectBytes).toBeUndefined();
  });

  it('gives the answers of the parse path: matchesAll and checkExpectation, every tricky reply', () => {
    const exps = [
      compile('match: { json: "$.type", value: pong }'),
      compile('match: { json: "$.type", value: "7" }'),
      compile('match: { json: "type", value: real, strict: false }'),
      compile('match: [{ json: "$.type", value: pong }, { json: "$.id", value: 1 }]'),
      compile('capture: { json: "$.type", as: t }\nmatch: { json: "$.type", value: pong }'),
      compile('capture: { json: "$.id", as: id, strict: false }\nmatch: { json: "$.type", value: "{{ want }}" }'),
    ];
    const vars = { want: 'pong' };
    for (const exp of exps) {
      for (const text of TRICKY) {
        expect(matchesAll(exp, received(text), vars), text).toBe(matchesAll(exp, parsed(text), vars));
        expect(checkExpectation(exp, received(text), vars), text).toEqual(checkExpectation(exp, parsed(text), vars));
      }
    }
  });

  it('a reply that matches gives one shared result, with no captures and no failures', () => {
    const exp = compile('match: { json: "$.type", value: pong }');
    const a = checkExpectation(exp, received('{"type":"pong","id":1}'), {});
    const b = checkExpectation(exp, received('{"id":2,"type":"pong"}'), {});
    expect(a).toEqual({ ok: true, captured: {}, failures: [] });
    expect(b).toBe(a);
    expect(checkExpectation(exp, received('{"type":"pang"}'), {})).toMatchObject({ ok: false, failures: [{ kind: 'match', got: 'pang', expected: 'pong' }] });
  });
});
