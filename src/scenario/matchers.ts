/**
 * `capture` and `match` on inbound messages, compiled at load (JSONPath parsed, regexps built,
 * expected values turned into templates) and checked at run time with Artillery's rules:
 * a JSON path that selects nothing reads `''`; several results: one picked at random; a capture that
 * reads `undefined` or `''` fails unless `strict: false`; a match compares with `===` after templating.
 */
import type { SourceLocation } from '../errors.js';
import { describe, isRecord, type Checker } from './checker.js';
import { compileJsonPath, JsonPathError, SCAN_ABSENT, SCAN_ASCII, SCAN_NUMBER, SCAN_UNDECIDED, scanEnd, scannedValue, scanStart, scanTopLevel, type JsonPath } from './jsonpath.js';
import type { Path } from './source.js';
import { compileTemplate, hasTemplate, type Template, type Vars } from './templates.js';

export type Extractor =
  | { readonly kind: 'json'; readonly expr: string; readonly path: JsonPath }
  | { readonly kind: 'regexp'; readonly expr: string; readonly regexp: RegExp; readonly group?: string | number };

export interface CaptureSpec {
  readonly extract: Extractor;
  /** The variable the value is stored in. */
  readonly as: string;
  readonly strict: boolean;
  readonly location: SourceLocation;
}

export interface MatchSpec {
  readonly extract: Extractor;
  readonly value: Template;
  readonly strict: boolean;
  readonly location: SourceLocation;
  /**
   * The byte matcher of `json: $.<field>` against a fixed string of printable ASCII without `"` or `\`
   * (`value: pong`): the expected value's bytes, compared with the field's bytes in the message, no
   * parse and no string made. Undefined for any other match.
   */
  readonly expectBytes?: Buffer;
}

/** What an inbound message must satisfy (matches) and what is taken from it (captures). */
export interface Expectation {
  readonly captures: readonly CaptureSpec[];
  readonly matches: readonly MatchSpec[];
}

const CAPTURE_KEYS = ['json', 'regexp', 'as', 'strict', 'group', 'flags'] as const;
const MATCH_KEYS = ['json', 'regexp', 'value', 'strict', 'group', 'flags'] as const;
const HTTP_ONLY = ['header', 'xpath', 'selector'];

/** Compiles `capture` and `match` (each one spec or a list); undefined when neither is present. */
export function compileExpectation(ck: Checker, path: Path, capture: unknown, match: unknown): Expectation | undefined {
  if (capture === undefined && match === undefined) return undefined;
  const captures: CaptureSpec[] = [];
  const matches: MatchSpec[] = [];
  forEachSpec(ck, [...path, 'capture'], capture, (spec, p) => {
    const c = compileCapture(ck, p, spec);
    if (c) captures.push(c);
  });
  forEachSpec(ck, [...path, 'match'], match, (spec, p) => {
    const m = compileMatch(ck, p, spec);
    if (m) matches.push(m);
  });
  return { captures, matches };
}

function forEachSpec(ck: Checker, path: Path, value: unknown, each: (spec: Record<string, unknown>, path: Path) => void): void {
  if (value === undefined) return;
  const list = Array.isArray(value) ? value : [value];
  list.forEach((spec, i) => {
    const p = Array.isArray(value) ? [...path, i] : path;
    if (!isRecord(spec)) {
      ck.error(p, `${last(path)} must be an object like { json: '$.id', ${last(path) === 'capture' ? "as: 'id'" : "value: 'ok'"} }, got ${describe(spec)}`);
      return;
    }
    each(spec, p);
  });
}

function last(path: Path): string {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return path[i] as string;
  return '';
}

function compileCapture(ck: Checker, path: Path, spec: Record<string, unknown>): CaptureSpec | undefined {
  if (!checkKeys(ck, path, spec, CAPTURE_KEYS, 'capture')) return undefined;
  const extract = compileExtractor(ck, path, spec, 'capture');
  if (typeof spec.as !== 'string' || spec.as.trim() === '') {
    if (spec.as === undefined) {
      ck.error(path, 'capture needs \'as\', the variable to store the value in', spec.value !== undefined ? 'to compare with a value, use match' : undefined);
    } else ck.error([...path, 'as'], `capture.as must be a variable name, got ${describe(spec.as)}`);
    return undefined;
  }
  const strict = checkStrict(ck, path, spec);
  if (!extract) return undefined;
  return { extract, as: spec.as, strict, location: ck.at(path) };
}

function compileMatch(ck: Checker, path: Path, spec: Record<string, unknown>): MatchSpec | undefined {
  if (!checkKeys(ck, path, spec, MATCH_KEYS, 'match')) return undefined;
  const extract = compileExtractor(ck, path, spec, 'match');
  if (spec.value === undefined) {
    ck.error(path, "match needs 'value', the expected value", spec.as !== undefined ? 'to store a value, use capture' : undefined);
    return undefined;
  }
  const value = compileTemplate(spec.value, (issue) => {
    if (issue.severity === 'error') ck.error([...path, 'value', ...issue.path], issue.message, issue.hint);
    else ck.warn([...path, 'value', ...issue.path], issue.message, issue.hint);
  });
  const strict = checkStrict(ck, path, spec);
  if (!extract) return undefined;
  // A static template renders the same value whatever the variables.
  const src = value.isStatic ? value({}) : undefined;
  if (extract.kind === 'json' && extract.path.topLevelKey !== undefined && typeof src === 'string' && src !== '' && /^[\x20-\x7e]*$/.test(src) && !/["\\]/.test(src)) {
    return { extract, value, strict, location: ck.at(path), expectBytes: Buffer.from(src, 'latin1') };
  }
  return { extract, value, strict, location: ck.at(path) };
}

function checkKeys(ck: Checker, path: Path, spec: Record<string, unknown>, known: readonly string[], what: string): boolean {
  for (const k of HTTP_ONLY) {
    if (k in spec) {
      ck.errorAtKey([...path, k], `${what} by '${k}' works on HTTP responses only; WebSocket messages support json and regexp`);
      return false;
    }
  }
  const before = ck.problems.errorCount;
  if (what === 'match' && 'as' in spec) {
    ck.errorAtKey([...path, 'as'], `a match does not store values: 'as' belongs to capture`, 'to keep the value, use capture: { json, as }');
    known = [...known, 'as'];
  }
  ck.unknownKeys(path, spec, known, `${what} key`);
  return ck.problems.errorCount === before;
}

function checkStrict(ck: Checker, path: Path, spec: Record<string, unknown>): boolean {
  if (spec.strict === undefined) return true;
  if (typeof spec.strict !== 'boolean') {
    ck.error([...path, 'strict'], `strict must be true or false, got ${describe(spec.strict)}`);
    return true;
  }
  return spec.strict;
}

function compileExtractor(ck: Checker, path: Path, spec: Record<string, unknown>, what: string): Extractor | undefined {
  const hasJson = spec.json !== undefined;
  const hasRegexp = spec.regexp !== undefined;
  if (hasJson === hasRegexp) {
    ck.error(path, hasJson ? `${what} takes either json or regexp, not both` : `${what} needs json: '$.path' or regexp: '…'`);
    return undefined;
  }
  if (hasJson) {
    if (typeof spec.json !== 'string') {
      ck.error([...path, 'json'], `${what}.json must be a JSONPath string like '$.id', got ${describe(spec.json)}`);
      return undefined;
    }
    if (hasTemplate(spec.json)) {
      ck.error([...path, 'json'], `templates in a JSONPath are not supported by wsload`);
      return undefined;
    }
    for (const k of ['group', 'flags']) if (spec[k] !== undefined) ck.errorAtKey([...path, k], `'${k}' applies to regexp, not json`);
    try {
      return { kind: 'json', expr: spec.json, path: compileJsonPath(spec.json) };
    } catch (err) {
      if (err instanceof JsonPathError) {
        ck.error([...path, 'json'], err.message);
        return undefined;
      }
      throw err;
    }
  }
  if (typeof spec.regexp !== 'string') {
    ck.error([...path, 'regexp'], `${what}.regexp must be a string, got ${describe(spec.regexp)}`);
    return undefined;
  }
  if (hasTemplate(spec.regexp)) {
    ck.error([...path, 'regexp'], `templates in a regexp are not supported by wsload`);
    return undefined;
  }
  let flags = '';
  if (spec.flags !== undefined) {
    if (typeof spec.flags !== 'string') ck.error([...path, 'flags'], `flags must be a string like 'i', got ${describe(spec.flags)}`);
    // A global or sticky regexp keeps state between messages: drop those flags.
    else flags = spec.flags.replace(/[gy]/g, '');
  }
  let regexp: RegExp;
  try {
    regexp = new RegExp(spec.regexp, flags);
  } catch (err) {
    ck.error([...path, spec.flags !== undefined && /flag/i.test((err as Error).message) ? 'flags' : 'regexp'], `invalid regexp: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
    return undefined;
  }
  let group: string | number | undefined;
  if (spec.group !== undefined) {
    if (typeof spec.group === 'string' && spec.group !== '') group = /^\d+$/.test(spec.group) ? Number(spec.group) : spec.group;
    else if (typeof spec.group === 'number' && Number.isInteger(spec.group) && spec.group >= 0) group = spec.group;
    else ck.error([...path, 'group'], `group must be a group name or number, got ${describe(spec.group)}`);
    if (typeof group === 'string' && !regexp.source.includes(`(?<${group}>`)) {
      ck.error([...path, 'group'], `regexp has no group named '${group}'`);
    }
  }
  return group === undefined ? { kind: 'regexp', expr: spec.regexp, regexp } : { kind: 'regexp', expr: spec.regexp, regexp, group };
}

/** An inbound message: its text (undefined for binary) and the parsed JSON (undefined when not JSON). */
export interface InboundMessage {
  readonly text: string | undefined;
  readonly json: unknown;
  /**
   * The UTF-8 bytes `json` is (or would be) parsed from, offered while `json` has not been computed:
   * `$.<field>` is then read from the bytes (jsonpath.ts scanTopLevel) when they settle it. Optional.
   */
  readonly bytes?: Buffer | undefined;
}

/** Parses a received message once, for all the matchers that look at it. */
export function toInbound(data: string | Buffer): InboundMessage {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  try {
    return { text, json: JSON.parse(text) as unknown };
  } catch {
    return { text, json: undefined };
  }
}

/** Reads a value out of a message with Artillery's semantics ('' when nothing is found). */
export function extractValue(ex: Extractor, msg: InboundMessage): unknown {
  if (ex.kind === 'json') {
    const key = ex.path.topLevelKey;
    if (key !== undefined) {
      const bytes = msg.bytes;
      if (bytes !== undefined) {
        const kind = scanTopLevel(bytes, key);
        if (kind !== SCAN_UNDECIDED) return scannedValue(bytes, kind);
      }
    }
    if (msg.json === null || typeof msg.json !== 'object') return '';
    const results = ex.path.evaluate(msg.json);
    if (results.length === 0) return '';
    return results.length === 1 ? results[0] : results[Math.floor(Math.random() * results.length)];
  }
  const text = msg.text ?? (msg.json === undefined ? '' : JSON.stringify(msg.json));
  const m = ex.regexp.exec(text);
  if (!m) return '';
  if (typeof ex.group === 'string') return m.groups?.[ex.group] ?? '';
  if (typeof ex.group === 'number') return m[ex.group] ?? '';
  return m[0] ?? '';
}

export interface ExpectationFailure {
  readonly kind: 'capture' | 'match';
  readonly expression: string;
  readonly expected?: unknown;
  readonly got: unknown;
  readonly location: SourceLocation;
}

export interface ExpectationResult {
  /** False when a strict capture or match failed. */
  readonly ok: boolean;
  /** Captured values by variable name (also the non-strict ones that read nothing). */
  readonly captured: Record<string, unknown>;
  readonly failures: readonly ExpectationFailure[];
}

const HOLDS = 1;
const FAILS = 0;
const UNKNOWN = -1;

/**
 * The byte matcher (MatchSpec.expectBytes): HOLDS or FAILS when the message's bytes settle the match
 * exactly as `extractValue(…) === value` would, UNKNOWN otherwise (no bytes, or they do not decide).
 */
function byteMatch(m: MatchSpec, msg: InboundMessage): number {
  const expected = m.expectBytes;
  if (expected === undefined) return UNKNOWN;
  const bytes = msg.bytes;
  if (bytes === undefined) return UNKNOWN;
  const kind = scanTopLevel(bytes, (m.extract as { path: JsonPath }).path.topLevelKey as Buffer);
  if (kind === SCAN_ASCII) {
    const n = expected.length;
    if (scanEnd - scanStart !== n) return FAILS;
    for (let k = 0; k < n; k++) if (bytes[scanStart + k] !== expected[k]) return FAILS;
    return HOLDS;
  }
  // A missing field reads '' (never the expected value, which is not ''); a number, true, false or null
  // is not a string. A string with escapes or other bytes: the parse decides.
  if (kind === SCAN_ABSENT || kind >= SCAN_NUMBER) return FAILS;
  return UNKNOWN;
}

/** True when every strict match holds: whether a message is the one a `wait` or `send` is waiting for. */
export function matchesAll(exp: Expectation, msg: InboundMessage, vars: Vars): boolean {
  for (const m of exp.matches) {
    if (!m.strict) continue;
    const b = byteMatch(m, msg);
    if (b === HOLDS) continue;
    if (b === FAILS || extractValue(m.extract, msg) !== m.value(vars)) return false;
  }
  return true;
}

const NO_CAPTURES: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
const NO_FAILURES: readonly ExpectationFailure[] = Object.freeze([]);
/** The result of an expectation without captures whose matches all hold (shared: no object per message). */
const ALL_HOLD: ExpectationResult = Object.freeze({ ok: true, captured: NO_CAPTURES, failures: NO_FAILURES });

/** Applies captures and matches to a message. */
export function checkExpectation(exp: Expectation, msg: InboundMessage, vars: Vars): ExpectationResult {
  const captures = exp.captures;
  const captured: Record<string, unknown> = captures.length === 0 ? NO_CAPTURES : {};
  let failures: ExpectationFailure[] | undefined;
  let ok = true;
  for (const c of captures) {
    const v = extractValue(c.extract, msg);
    captured[c.as] = v;
    if ((v === undefined || v === '') && c.strict) {
      ok = false;
      (failures ??= []).push({ kind: 'capture', expression: c.extract.expr, got: v, location: c.location });
    }
  }
  for (const m of exp.matches) {
    if (byteMatch(m, msg) === HOLDS) continue;
    const got = extractValue(m.extract, msg);
    const expected = m.value(vars);
    if (got !== expected) {
      if (m.strict) ok = false;
      (failures ??= []).push({ kind: 'match', expression: m.extract.expr, expected, got, location: m.location });
    }
  }
  if (failures === undefined && captured === NO_CAPTURES) return ALL_HOLD;
  return { ok, captured, failures: failures ?? [] };
}
