/**
 * Artillery's `{{ … }}` templates, compiled once at load into small render functions for the hot path.
 *
 * Semantics follow @artilleryio/int-commons `engine_util.template` / `renderVariables`:
 * - `{{ name }}`, `{{ user.name }}`, `{{ items[0] }}`, `{{ $env.HOME }}`: a lodash-style path into the
 *   virtual user's variables. A string that is exactly one such token keeps the value's type (a number
 *   stays a number, an object stays an object); `''` and `NaN` become `''`.
 * - Inside a longer string, objects are JSON-encoded and a missing variable reads `undefined`, as in Artillery.
 * - `{{ $randomNumber(1, 100) }}`, `{{ $randomString() }}`: function calls whose arguments are bare
 *   integers or names. Their result is always spliced in as text (Artillery replaces into the string),
 *   so `'{{ $randomNumber(1,9) }}'` renders the string `'7'`.
 * - Objects and arrays are rendered recursively, keys included. Anything without a template renders to
 *   the very same object (no copy).
 */
import type { Path } from './source.js';
import { didYouMean } from './suggest.js';

export type Vars = Record<string, unknown>;

export interface Template {
  (vars: Vars): unknown;
  /** True when the value has no template at all: rendering returns the source value itself. */
  readonly isStatic: boolean;
  /** Root variable names read (`user` for `{{ user.name }}`), for "unknown variable" checks. */
  readonly names: readonly string[];
  /** Template functions called (`$randomString`). */
  readonly functions: readonly string[];
  readonly source: unknown;
}

export interface TemplateIssue {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly hint?: string;
  /** Where in the value (relative to the compiled value), for locating it in the file. */
  readonly path: Path;
}

export type TemplateFunction = (...args: unknown[]) => unknown;

/** `$randomNumber(min, max)`: an integer in [min, max], like lodash `_.random` with integers. */
function randomNumber(min: unknown = 0, max: unknown = 1): number {
  let lo = Number(min);
  let hi = Number(max);
  if (Number.isNaN(lo)) lo = 0;
  if (Number.isNaN(hi)) hi = 1;
  if (lo > hi) [lo, hi] = [hi, lo];
  return Math.floor(lo + Math.random() * (hi - lo + 1));
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `$randomString(length = 10)`: letters and digits. */
function randomString(length: unknown = 10): string {
  const n = typeof length === 'number' && Number.isFinite(length) ? length : 10;
  let s = '';
  while (s.length < n) s += ALPHABET.charAt((Math.random() * ALPHABET.length) | 0);
  return s;
}

/** The functions Artillery offers inside templates. */
export const TEMPLATE_FUNCTIONS: Readonly<Record<string, TemplateFunction>> = Object.freeze({
  $randomNumber: randomNumber as TemplateFunction,
  $randomString: randomString as TemplateFunction,
});

// Artillery's own token shapes (engine_util.js): a function call with bare-word arguments, or a path.
const CALL_TOKEN = /\{\{\s*(\$[A-Za-z0-9_]+)\s*\(\s*([A-Za-z0-9_,\s]*?)\s*\)\s*\}\}/y;
const VAR_TOKEN = /\{\{\{?([\s$\w.[\]'"-]+)\}\}\}?/y;

type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'var'; readonly get: (vars: Vars) => unknown }
  | { readonly kind: 'call'; readonly fn: TemplateFunction; readonly args: readonly unknown[] };

/** Compiles any script value (string, number, object, array…) into a render function. */
export function compileTemplate(value: unknown, onIssue?: (issue: TemplateIssue) => void): Template {
  return compileAt(value, [], onIssue ?? (() => {}));
}

/** True when the string contains something that looks like a template. */
export function hasTemplate(value: string): boolean {
  return value.includes('{{');
}

function makeTemplate(fn: (vars: Vars) => unknown, isStatic: boolean, source: unknown, names: string[], functions: string[]): Template {
  return Object.assign(fn, { isStatic, source, names: unique(names), functions: unique(functions) }) as Template;
}

function unique(xs: string[]): string[] {
  return xs.length < 2 ? xs : [...new Set(xs)];
}

function staticTemplate(value: unknown): Template {
  return makeTemplate(() => value, true, value, [], []);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function compileAt(value: unknown, path: Path, onIssue: (issue: TemplateIssue) => void): Template {
  if (typeof value === 'string') return compileString(value, path, onIssue);
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileAt(v, [...path, i], onIssue));
    if (items.every((t) => t.isStatic)) return staticTemplate(value);
    const n = items.length;
    return makeTemplate(
      (vars) => {
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = (items[i] as Template)(vars);
        return out;
      },
      false,
      value,
      items.flatMap((t) => t.names),
      items.flatMap((t) => t.functions),
    );
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => ({
      key: hasTemplate(k) ? compileString(k, [...path, k], onIssue) : undefined,
      name: k,
      value: compileAt(v, [...path, k], onIssue),
    }));
    if (entries.every((e) => e.key === undefined && e.value.isStatic)) return staticTemplate(value);
    const all = entries.flatMap((e) => (e.key ? [e.key, e.value] : [e.value]));
    return makeTemplate(
      (vars) => {
        const out: Record<string, unknown> = {};
        for (const e of entries) out[e.key ? String(e.key(vars)) : e.name] = e.value(vars);
        return out;
      },
      false,
      value,
      all.flatMap((t) => t.names),
      all.flatMap((t) => t.functions),
    );
  }
  return staticTemplate(value);
}

function compileString(text: string, path: Path, onIssue: (issue: TemplateIssue) => void): Template {
  if (!hasTemplate(text)) return staticTemplate(text);
  const parts: Part[] = [];
  const names: string[] = [];
  const functions: string[] = [];
  let literal = '';
  let i = 0;
  let broken = false;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, open);
    CALL_TOKEN.lastIndex = open;
    const call = CALL_TOKEN.exec(text);
    if (call) {
      const name = call[1] as string;
      const fn = TEMPLATE_FUNCTIONS[name];
      if (!fn) {
        const known = Object.keys(TEMPLATE_FUNCTIONS);
        onIssue({
          severity: 'error',
          message: `unknown template function '${name}'`,
          hint: didYouMean(name, known) ?? `use one of ${known.map((k) => `${k}()`).join(', ')}`,
          path,
        });
        broken = true;
      } else {
        const args = (call[2] as string)
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== '')
          // Artillery parses arguments as JS literals: numbers are numbers, bare names are undefined.
          .map((a) => (/^\d+$/.test(a) ? Number(a) : undefined));
        if (literal) parts.push({ kind: 'text', text: literal });
        literal = '';
        parts.push({ kind: 'call', fn, args });
        functions.push(name);
      }
      i = CALL_TOKEN.lastIndex;
      continue;
    }
    VAR_TOKEN.lastIndex = open;
    const v = VAR_TOKEN.exec(text);
    if (v) {
      const expr = (v[1] as string).trim();
      const compiled = compilePath(expr);
      if (!compiled) {
        onIssue({ severity: 'warning', message: `'${v[0]}' is not a variable path; it is sent as written`, path });
        literal += v[0];
      } else {
        if (literal) parts.push({ kind: 'text', text: literal });
        literal = '';
        parts.push({ kind: 'var', get: compiled.get });
        names.push(compiled.root);
      }
      i = VAR_TOKEN.lastIndex;
      continue;
    }
    const end = text.indexOf('}}', open);
    const shown = end < 0 ? text.slice(open) : text.slice(open, end + 2);
    onIssue({
      severity: 'warning',
      message: `'${shown}' is not a template Artillery understands (a variable path or a $function() call); it is sent as written`,
      path,
    });
    literal += '{{';
    i = open + 2;
  }
  if (literal) parts.push({ kind: 'text', text: literal });
  if (broken) return makeTemplate(() => undefined, false, text, names, functions);
  if (parts.length === 0) return staticTemplate('');
  if (parts.every((p) => p.kind === 'text')) return staticTemplate(text);
  const only = parts[0] as Part;
  if (parts.length === 1 && only.kind === 'var') {
    // The whole string is one variable: keep its type (Artillery's sanitiseValue).
    const get = only.get;
    return makeTemplate((vars) => sanitise(get(vars)), false, text, names, functions);
  }
  return makeTemplate((vars) => renderParts(parts, vars), false, text, names, functions);
}

function sanitise(value: unknown): unknown {
  if (value === 0 || value === false || value === null || value === undefined) return value;
  return value ? value : '';
}

function renderParts(parts: readonly Part[], vars: Vars): string {
  let out = '';
  for (const p of parts) {
    if (p.kind === 'text') out += p.text;
    else if (p.kind === 'var') {
      const v = p.get(vars);
      out += v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v);
    } else out += String(p.fn(...p.args));
  }
  return out;
}

/**
 * A lodash `_.get` path: `a`, `a.b`, `a[0]`, `a['b-c']`, `$env.HOME`. Compiled to a getter; a name
 * that exists as-is ("a.b" as one key) wins, as in lodash.
 */
export function compilePath(expr: string): { root: string; get: (vars: Vars) => unknown } | undefined {
  const segments = parsePath(expr);
  if (!segments || segments.length === 0) return undefined;
  const root = String(segments[0]);
  if (segments.length === 1) return { root, get: (vars) => vars[root] };
  const segs = segments;
  return {
    root,
    get: (vars) => {
      if (Object.prototype.hasOwnProperty.call(vars, expr)) return vars[expr];
      let cur: unknown = vars;
      for (const s of segs) {
        if (cur === null || cur === undefined) return undefined;
        cur = (cur as Record<string | number, unknown>)[s];
      }
      return cur;
    },
  };
}

function parsePath(expr: string): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  let i = 0;
  const ident = /[^.[\]'"\s]+/y;
  while (i < expr.length) {
    const c = expr[i];
    if (c === '.') {
      if (i === 0) return undefined;
      i++;
      continue;
    }
    if (c === '[') {
      const close = expr.indexOf(']', i);
      if (close < 0) return undefined;
      const inner = expr.slice(i + 1, close).trim();
      const quoted = /^(['"])(.*)\1$/.exec(inner);
      if (quoted) out.push(quoted[2] as string);
      else if (/^\d+$/.test(inner)) out.push(Number(inner));
      else if (inner !== '') out.push(inner);
      else return undefined;
      i = close + 1;
      continue;
    }
    ident.lastIndex = i;
    const m = ident.exec(expr);
    if (!m) return undefined;
    out.push(m[0]);
    i = ident.lastIndex;
  }
  return out;
}

/**
 * What goes on the wire for a rendered `send` payload, as Artillery's ws engine does it: objects and
 * arrays as JSON (also `null`), `undefined` as an empty string, anything else as its string form.
 */
export function serializePayload(value: unknown): string {
  if (typeof value === 'object') return JSON.stringify(value);
  if (value === undefined) return '';
  return String(value);
}
