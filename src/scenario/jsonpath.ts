/**
 * The subset of JSONPath that WebSocket scripts use, compiled once into a small evaluator:
 * `$`, `$.a.b`, `$.a[0]`, `$['a']`, `$["a b"]`, `$.a[*]`, `$.*`, `$..a`. A path without a leading `$`
 * (`type`) reads from the root, as jsonpath-plus does in Artillery.
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
}

export class JsonPathError extends Error {}

const UNSUPPORTED = "wsload supports $.a.b, $.a[0], $['a'], $.a[*] and $..a";

/** Compiles a path or throws a JsonPathError with a one-line reason. */
export function compileJsonPath(source: string): JsonPath {
  const steps = parse(source.trim());
  if (steps.length === 0) return { source, evaluate: (doc) => [doc] };
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
    };
  }
  return { source, evaluate: (doc) => run(steps, doc) };
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
