/**
 * The correlation id of a reply, read from its bytes before any JSON.parse: the hot path of both
 * engines (`run`'s inbox, `stress`' sessions), ../shared/PERF-NOTES.md. Also what both share around
 * it: an id written as digits into a request, an id read from a parsed reply, a server error reply. Pure.
 */

/** readTopLevelId: the key is not at the top level of the message. */
export const NO_ID = -1;
/** readTopLevelId: the key is there but its value is not a plain integer (a string id): parse. */
export const ODD_ID = -2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** JSON whitespace. */
export function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * The non-negative integer value of `key` (the quoted JSON key, e.g. `"id"` as bytes) at the top level
 * of a JSON object text, without parsing it. A nested `"id"` or a string value `"id"` is skipped: only a
 * key at depth 1 followed by `:` counts. Returns NO_ID when there is no such key (or its value is null,
 * negative, fractional), ODD_ID when the value is a string (the caller parses, once).
 */
export function readTopLevelId(buf: Buffer, key: Buffer): number {
  const n = buf.length;
  // Short messages (every ping/pong): one walk comparing the key in place; a native indexOf costs
  // more than the walk. Longer ones: indexOf skips to the key, and settles a message without it.
  if (n <= SHORT) return readShort(buf, key, n);
  let at = buf.indexOf(key);
  if (at < 0) return NO_ID;
  let depth = 0;
  let i = 0;
  while (i < n) {
    if (at < i) {
      at = buf.indexOf(key, i);
      if (at < 0) return NO_ID;
    }
    const c = buf[i]!;
    if (c === QUOTE) {
      if (i === at && depth === 1) {
        const value = valueAfter(buf, i + key.length, n);
        if (value >= 0) return readIdValue(buf, value);
      }
      i = skipString(buf, i, n);
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    i++;
  }
  return NO_ID;
}

/** Up to this many bytes, readTopLevelId walks without indexOf. */
const SHORT = 256;

/** readTopLevelId for a short message: the same walk, the key compared where a string starts at depth 1. */
function readShort(buf: Buffer, key: Buffer, n: number): number {
  const keyLen = key.length;
  let depth = 0;
  let i = 0;
  while (i < n) {
    const c = buf[i]!;
    if (c === QUOTE) {
      if (depth === 1 && i + keyLen <= n) {
        let k = 1;
        while (k < keyLen && buf[i + k] === key[k]) k++;
        if (k === keyLen) {
          const value = valueAfter(buf, i + keyLen, n);
          if (value >= 0) return readIdValue(buf, value);
        }
      }
      i = skipString(buf, i, n);
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    i++;
  }
  return NO_ID;
}

/** Index just past the string starting at `i` (a quote), escapes included. */
function skipString(buf: Buffer, i: number, n: number): number {
  i++;
  while (i < n && buf[i] !== QUOTE) i += buf[i] === BACKSLASH ? 2 : 1;
  return i + 1;
}

/** After a key ending at `j`: the index of its value (past the colon), or -1 when it is not a key. */
function valueAfter(buf: Buffer, j: number, n: number): number {
  while (j < n && isSpace(buf[j])) j++;
  return buf[j] === 0x3a /* : */ ? j + 1 : -1;
}

function readIdValue(buf: Buffer, from: number): number {
  const n = buf.length;
  let i = from;
  while (i < n && isSpace(buf[i])) i++;
  if (buf[i] === QUOTE) return ODD_ID;
  let id = 0;
  let digits = 0;
  for (; i < n; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    id = id * 10 + (c - 0x30);
    digits++;
  }
  if (digits === 0 || digits > 15) return NO_ID;
  // A number like 5.0 or 5e3 is not one of our ids.
  if (i < n && (buf[i] === 0x2e || buf[i] === 0x65 || buf[i] === 0x45)) return NO_ID;
  return id;
}

const ID_KEY = Buffer.from('"id"');

/**
 * `stress`' fast path: the top-level `"id"` of a reply as a non-negative integer, or -1 when there is
 * none or it is not a plain integer (a string id too: the caller then falls back to JSON.parse).
 */
export function readReplyId(buf: Buffer): number {
  const id = readTopLevelId(buf, ID_KEY);
  return id === ODD_ID ? NO_ID : id;
}

/** Decimal digits of a non-negative integer. */
export function digitCount(v: number): number {
  let n = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    n++;
  }
  return n;
}

/** Write the `n` (= digitCount(v)) decimal digits of `v` at `at`; returns the offset after them. */
export function writeDigits(buf: Buffer, at: number, v: number, n: number): number {
  const end = at + n;
  let i = end;
  do {
    const q = Math.floor(v / 10);
    buf[--i] = 0x30 + (v - q * 10);
    v = q;
  } while (v > 0);
  return end;
}

/**
 * The `field` of a parsed reply as one of our numeric ids (a non-negative integer, or a string of up
 * to 15 digits), else NO_ID: for replies the byte readers left to JSON.parse.
 */
export function idFromJson(json: unknown, field: string): number {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return NO_ID;
  const v = (json as Record<string, unknown>)[field];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return NO_ID;
}

const ERROR_TOKEN = Buffer.from('"error"');

/** Whether `"error"` occurs in the bytes (the cheap test before serverErrorKind needs a parse). */
export function hasErrorToken(data: Buffer): boolean {
  const n = data.length;
  // A native indexOf costs more than walking a short message.
  if (n > SHORT) return data.indexOf(ERROR_TOKEN) !== -1;
  const last = n - 7;
  for (let i = 0; i <= last; i++) {
    if (
      data[i] === QUOTE &&
      data[i + 1] === 0x65 &&
      data[i + 2] === 0x72 &&
      data[i + 3] === 0x72 &&
      data[i + 4] === 0x6f &&
      data[i + 5] === 0x72 &&
      data[i + 6] === QUOTE
    ) {
      return true;
    }
  }
  return false;
}

/** `server_error_<code>` for a parsed `{"type":"error"}` message, else undefined. */
export function serverErrorKind(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const obj = json as Record<string, unknown>;
  if (obj.type !== 'error') return undefined;
  const code = obj.code;
  return `server_error_${typeof code === 'string' || typeof code === 'number' ? String(code) : 'unknown'}`;
}
