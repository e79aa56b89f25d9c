/**
 * The subset of JSONPath that WebSocket scripts use, compiled once into a small evaluator:
 * `$`, `$.a.b`, `$.a[0]`, `$['a']`, `$["a b"]`, `$.a[*]`, `$.*`, `$..a`. A path without a leading `$`
 * (`type`) reads from the root, as jsonpath-plus does in Artillery.
 *
 * A path naming one top-level field also reads straight from a message's bytes (`scanTopLevel`): one
 * validating pass, no JSON.parse, the same answer as the parse or "undecided" (then the caller parses).
 */

type Step =
  | { readonly kind: 'prop'; readonly name: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'all' }
  | { readonly kind: 'descend'; readonly name: string | null };

export interface JsonPath {
  readonly source: string;
  /** Every value the path selects (none: an empty array). */
  readonly evaluate: (doc: unknown) => unknown[];
  /**
   * For a path naming one top-level field (`$.type`, `$['type']`, `type`) with a plain ASCII name: the
   * quoted key's bytes (`"type"`), so the value can be read from a message's bytes without parsing it
   * (readTopLevelField). Undefined for any other path.
   */
  readonly topLevelKey: Buffer | undefined;
}

export class JsonPathError extends Error {}

const UNSUPPORTED = "wsload supports $.a.b, $.a[0], $['a'], $.a[*] and $..a";

/** Compiles a path or throws a JsonPathError with a one-line reason. */
export function compileJsonPath(source: string): JsonPath {
  const steps = parse(source.trim());
  if (steps.length === 0) return { source, evaluate: (doc) => [doc], topLevelKey: undefined };
  const only = steps[0]!;
  const topLevelKey = steps.length === 1 && only.kind === 'prop' && /^[\x20-\x7e]+$/.test(only.name) && !/["\\]/.test(only.name) ? Buffer.from(`"${only.name}"`, 'latin1') : undefined;
  if (steps.every((s) => s.kind === 'prop' || s.kind === 'index')) {
    // The common case ($.type, $.data.items[0]): one walk, no arrays built on the way.
    const keys = steps.map((s) => (s.kind === 'prop' ? s.name : (s as { index: number }).index));
    return {
      source,
      evaluate: (doc) => {
        let cur: unknown = doc;
        for (const k of keys) {
          cur = child(cur, k);
          if (cur === undefined) return [];
        }
        return [cur];
      },
      topLevelKey,
    };
  }
  return { source, evaluate: (doc) => run(steps, doc), topLevelKey };
}

function child(cur: unknown, key: string | number): unknown {
  if (cur === null || typeof cur !== 'object') return undefined;
  if (typeof key === 'number') {
    if (!Array.isArray(cur)) return undefined;
    return cur[key < 0 ? cur.length + key : key];
  }
  return Object.prototype.hasOwnProperty.call(cur, key) ? (cur as Record<string, unknown>)[key] : undefined;
}

function childrenOf(cur: unknown): unknown[] {
  if (Array.isArray(cur)) return cur;
  if (cur !== null && typeof cur === 'object') return Object.values(cur);
  return [];
}

function run(steps: readonly Step[], doc: unknown): unknown[] {
  let current: unknown[] = [doc];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const cur of current) {
      if (step.kind === 'prop' || step.kind === 'index') {
        const v = child(cur, step.kind === 'prop' ? step.name : step.index);
        if (v !== undefined) next.push(v);
      } else if (step.kind === 'all') next.push(...childrenOf(cur));
      else descend(cur, step.name, next);
    }
    current = next;
  }
  return current;
}

function descend(cur: unknown, name: string | null, out: unknown[]): void {
  if (cur === null || typeof cur !== 'object') return;
  if (name === null) out.push(...childrenOf(cur));
  else {
    const v = child(cur, name);
    if (v !== undefined) out.push(v);
  }
  for (const c of childrenOf(cur)) descend(c, name, out);
}

function parse(original: string): Step[] {
  if (original === '') throw new JsonPathError('empty JSONPath');
  let src = original;
  let i = 0;
  const steps: Step[] = [];
  if (src[0] === '$') i = 1;
  else if (src[0] !== '[' && src[0] !== '.') src = `.${src}`;
  const name = /[A-Za-z_$\u00C0-\uFFFF][\w$\u00C0-\uFFFF-]*/y;
  while (i < src.length) {
    const c = src[i];
    if (c === '.') {
      const deep = src[i + 1] === '.';
      i += deep ? 2 : 1;
      if (src[i] === '*') {
        steps.push(deep ? { kind: 'descend', name: null } : { kind: 'all' });
        i++;
        continue;
      }
      if (deep && src[i] === '[') {
        steps.push({ kind: 'descend', name: null });
        continue;
      }
      name.lastIndex = i;
      const m = name.exec(src);
      if (!m) throw new JsonPathError(`unexpected '${src[i] ?? 'end'}' in JSONPath '${original}'`);
      steps.push(deep ? { kind: 'descend', name: m[0] } : { kind: 'prop', name: m[0] });
      i = name.lastIndex;
      continue;
    }
    if (c === '[') {
      const close = findClose(src, i);
      if (close < 0) throw new JsonPathError(`unclosed '[' in JSONPath '${original}'`);
      const inner = src.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else {
        const q = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(inner);
        if (!q) throw new JsonPathError(`'[${inner}]' is not supported in JSONPath '${original}'; ${UNSUPPORTED}`);
        steps.push({ kind: 'prop', name: (q[1] ?? q[2] ?? '').replace(/\\(.)/g, '$1') });
      }
      continue;
    }
    throw new JsonPathError(`unexpected '${c}' in JSONPath '${original}'`);
  }
  return steps;
}

function findClose(src: string, open: number): number {
  let quote: string | null = null;
  for (let j = open + 1; j < src.length; j++) {
    const c = src[j];
    if (quote) {
      if (c === '\\') j++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ']') return j;
  }
  return -1;
}

// ---- one top-level field, read from a message's bytes (the hot path of `match`/`capture`) ----

/** readTopLevelField: the bytes cannot decide (a value that is an object, escapes in a key, invalid JSON…): parse. */
export const UNDECIDED: unique symbol = Symbol('undecided');

/** scanTopLevel's verdicts: where the field's value is in `scanStart`…`scanEnd`. */
export const SCAN_UNDECIDED = 0;
/** A valid JSON text without the field at its top level (or not an object or array at all): `$.field` reads ''. */
export const SCAN_ABSENT = 1;
/** A string of printable ASCII without escapes: its text is the bytes between the quotes. */
export const SCAN_ASCII = 2;
/** Any other string (escapes, other bytes): `scanStart`…`scanEnd` include the quotes. */
export const SCAN_STRING = 3;
export const SCAN_NUMBER = 4;
export const SCAN_TRUE = 5;
export const SCAN_FALSE = 6;
export const SCAN_NULL = 7;
const SCAN_CONTAINER = 8;

/** Where scanTopLevel's value lies (module state: no object per call). */
export let scanStart = 0;
export let scanEnd = 0;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Deeper nesting is left to JSON.parse. */
const MAX_DEPTH = 256;

/** JSON whitespace. */
function ws(buf: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** Set by skipString: ODD_ESCAPE and/or ODD_BYTE (a byte outside printable ASCII), 0 for neither. */
let stringOdd = 0;
const ODD_ESCAPE = 1;
const ODD_BYTE = 2;

/** `i` at an opening quote: the index after the closing quote, or -1 when the string is not valid JSON. */
function skipString(buf: Uint8Array, i: number, n: number): number {
  let odd = 0;
  i++;
  while (i < n) {
    const c = buf[i]!;
    if (c === QUOTE) {
      stringOdd = odd;
      return i + 1;
    }
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      odd |= ODD_ESCAPE;
      const e = buf[i + 1];
      if (e === 0x75 /* u */) {
        for (let k = 2; k < 6; k++) {
          const h = buf[i + k];
          if (h === undefined || !((h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66))) return -1;
        }
        i += 6;
        continue;
      }
      if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
      i += 2;
      continue;
    }
    if (c > 0x7e) odd |= ODD_BYTE;
    i++;
  }
  return -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** A JSON number at `i`: the index after it, or -1. */
function skipNumber(buf: Uint8Array, i: number, n: number): number {
  if (buf[i] === 0x2d /* - */) i++;
  if (buf[i] === 0x30) i++;
  else if (isDigit(buf[i]) && buf[i] !== 0x30) {
    while (i < n && isDigit(buf[i])) i++;
  } else return -1;
  if (buf[i] === 0x2e /* . */) {
    i++;
    if (!isDigit(buf[i])) return -1;
    while (i < n && isDigit(buf[i])) i++;
  }
  const e = buf[i];
  if (e === 0x65 || e === 0x45) {
    i++;
    if (buf[i] === 0x2b || buf[i] === 0x2d) i++;
    if (!isDigit(buf[i])) return -1;
    while (i < n && isDigit(buf[i])) i++;
  }
  return i;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

function skipLiteral(buf: Uint8Array, i: number, lit: readonly number[]): number {
  for (let k = 0; k < lit.length; k++) if (buf[i + k] !== lit[k]) return -1;
  return i + lit.length;
}

/** Any JSON value at `i` (whitespace skipped before it): the index after it, -1 invalid, -2 too deep. */
function skipValue(buf: Uint8Array, i: number, n: number, depth: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i, n);
  if (c === 0x7b || c === 0x5b) {
    if (depth >= MAX_DEPTH) return -2;
    const close = c === 0x7b ? 0x7d : 0x5d;
    i = ws(buf, i + 1, n);
    if (buf[i] === close) return i + 1;
    for (;;) {
      if (c === 0x7b) {
        if (buf[i] !== QUOTE) return -1;
        i = skipString(buf, i, n);
        if (i < 0) return i;
        i = ws(buf, i, n);
        if (buf[i] !== 0x3a /* : */) return -1;
        i = ws(buf, i + 1, n);
      }
      i = skipValue(buf, i, n, depth + 1);
      if (i < 0) return i;
      i = ws(buf, i, n);
      const d = buf[i];
      if (d === close) return i + 1;
      if (d !== 0x2c /* , */) return -1;
      i = ws(buf, i + 1, n);
    }
  }
  if (c === 0x2d || isDigit(c)) return skipNumber(buf, i, n);
  if (c === 0x74) return skipLiteral(buf, i, TRUE);
  if (c === 0x66) return skipLiteral(buf, i, FALSE);
  if (c === 0x6e) return skipLiteral(buf, i, NULL);
  return -1;
}

/**
 * Find the top-level field `key` (quoted, as JsonPath.topLevelKey gives it) in a JSON text, validating
 * the whole text as JSON.parse would. Returns a SCAN_* verdict; for a value, `scanStart`/`scanEnd`
 * delimit it. A duplicate key: the last one wins, as in JSON.parse. SCAN_UNDECIDED for anything the
 * bytes alone do not settle (invalid JSON, a top-level array, an object or array value, a key with
 * escapes): the caller parses.
 */
export function scanTopLevel(buf: Uint8Array, key: Uint8Array): number {
  const n = buf.length;
  let i = ws(buf, 0, n);
  const first = buf[i];
  // inbox.parseJson parses only objects and arrays: anything else has no fields.
  if (first !== 0x7b) return first === 0x5b ? SCAN_UNDECIDED : SCAN_ABSENT;
  let found = SCAN_ABSENT;
  let start = 0;
  let end = 0;
  const keyLen = key.length;
  i = ws(buf, i + 1, n);
  if (buf[i] === 0x7d) i++;
  else {
    for (;;) {
      if (buf[i] !== QUOTE) return SCAN_UNDECIDED;
      const keyAt = i;
      i = skipString(buf, i, n);
      if (i < 0) return SCAN_UNDECIDED;
      // An escaped key may spell `key` (JSON.parse decodes it): leave it to the parse.
      if ((stringOdd & ODD_ESCAPE) !== 0) return SCAN_UNDECIDED;
      let isKey = i - keyAt === keyLen;
      if (isKey) {
        for (let k = 1; k < keyLen - 1; k++) {
          if (buf[keyAt + k] !== key[k]) {
            isKey = false;
            break;
          }
        }
      }
      i = ws(buf, i, n);
      if (buf[i] !== 0x3a) return SCAN_UNDECIDED;
      i = ws(buf, i + 1, n);
      const at = i;
      const c = buf[i];
      i = skipValue(buf, i, n, 1);
      if (i < 0) return SCAN_UNDECIDED;
      if (isKey) {
        start = at;
        end = i;
        if (c === QUOTE) {
          if (stringOdd === 0) {
            found = SCAN_ASCII;
            start = at + 1;
            end = i - 1;
          } else found = SCAN_STRING;
        } else if (c === 0x7b || c === 0x5b) found = SCAN_CONTAINER;
        else if (c === 0x74) found = SCAN_TRUE;
        else if (c === 0x66) found = SCAN_FALSE;
        else if (c === 0x6e) found = SCAN_NULL;
        else found = SCAN_NUMBER;
      }
      i = ws(buf, i, n);
      const d = buf[i];
      if (d === 0x7d) {
        i++;
        break;
      }
      if (d !== 0x2c) return SCAN_UNDECIDED;
      i = ws(buf, i + 1, n);
    }
  }
  if (ws(buf, i, n) !== n) return SCAN_UNDECIDED;
  if (found === SCAN_CONTAINER) return SCAN_UNDECIDED;
  scanStart = start;
  scanEnd = end;
  return found;
}

/** The value of scanTopLevel's verdict `kind` (for a value verdict), as JSON.parse would give it. */
export function scannedValue(buf: Buffer, kind: number): unknown {
  switch (kind) {
    case SCAN_ASCII:
      return buf.toString('latin1', scanStart, scanEnd);
    case SCAN_STRING:
      return JSON.parse(buf.toString('utf8', scanStart, scanEnd)) as unknown;
    case SCAN_NUMBER:
      return Number(buf.toString('latin1', scanStart, scanEnd));
    case SCAN_TRUE:
      return true;
    case SCAN_FALSE:
      return false;
    case SCAN_NULL:
      return null;
    default:
      return '';
  }
}

/**
 * `$.<field>` of a JSON text's bytes, as `extractValue` reads it from the parse ('' when the text has
 * no such top-level field), or UNDECIDED when only a parse can tell.
 */
export function readTopLevelField(buf: Buffer, key: Uint8Array): unknown {
  const kind = scanTopLevel(buf, key);
  return kind === SCAN_UNDECIDED ? UNDECIDED : scannedValue(buf, kind);
}
