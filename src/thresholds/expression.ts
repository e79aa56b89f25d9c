/**
 * Threshold expressions, parsed once into an AST: k6's `p(95)<200` (an aggregate of the metric a
 * threshold is declared on), the CLI's `ws.rtt.ping.p99<100` (a full metric name), and Artillery's
 * `ensure.conditions` (`ws.rtt.p99 < 100 and vusers.failed == 0`, with `not`, parentheses and
 * arithmetic). Errors are one line and point at a column: `threshold 'p(95)<<50': unexpected '<' at column 7`.
 */

export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
export type ArithOp = '+' | '-' | '*' | '/';
export type AggregateName = 'avg' | 'min' | 'max' | 'med' | 'count' | 'rate' | 'value' | 'stddev';

/** k6's aggregation methods: `p(N)`, `avg`, `med`, `min`, `max`, `count`, `rate`, `value` (+ `stddev`). */
export type Aggregate = { readonly kind: 'percentile'; readonly p: number } | { readonly kind: AggregateName };

/** Offsets into the parsed text (0-based, end exclusive), for quoting a part of an expression. */
interface Span {
  readonly start: number;
  readonly end: number;
}

export type Expr =
  | (Span & { readonly kind: 'number'; readonly value: number; readonly text: string })
  /** A metric (`ws.rtt.p99`, `messages.sent`), or an aggregate of one (`p(95)` on `ws.rtt.ping`). */
  | (Span & { readonly kind: 'metric'; readonly name: string; readonly aggregate?: Aggregate; readonly text: string })
  | (Span & { readonly kind: 'negate'; readonly operand: Expr })
  | (Span & { readonly kind: 'arith'; readonly op: ArithOp; readonly left: Expr; readonly right: Expr })
  | (Span & { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr })
  | (Span & { readonly kind: 'not'; readonly operand: Expr })
  | (Span & { readonly kind: 'logic'; readonly op: 'and' | 'or'; readonly left: Expr; readonly right: Expr });

/** Aggregate words; `mean`, `median` are Artillery's names for `avg`, `med`. */
const AGGREGATE_WORDS: Readonly<Record<string, AggregateName>> = {
  avg: 'avg',
  mean: 'avg',
  med: 'med',
  median: 'med',
  min: 'min',
  max: 'max',
  count: 'count',
  rate: 'rate',
  value: 'value',
  stddev: 'stddev',
};

/**
 * Units a number may carry, as multipliers into the unit the metric is measured in: latencies are
 * in ms, rates are fractions (`99%` = 0.99), throughput is per second (`1000/s` = 1000).
 */
const UNIT_FACTORS: Readonly<Record<string, number>> = {
  us: 1 / 1000,
  µs: 1 / 1000,
  ms: 1,
  s: 1000,
  m: 60_000,
  '%': 1 / 100,
  '/s': 1,
};

/** Apply a unit; fractions divide (95 / 100 is exactly 0.95, 95 × 0.01 is not). */
function scale(value: number, unit: string): number {
  const f = UNIT_FACTORS[unit]!;
  return f < 1 ? value / Math.round(1 / f) : value * f;
}

const AGGREGATE_HINT = 'use p(N), avg, med, min, max, count, rate or value';

/** A threshold expression that does not parse. `message` is the one line to show. */
export class ThresholdSyntaxError extends Error {
  /** 1-based column in `source`, when the problem has a place. */
  readonly column: number | undefined;
  /** The text as the user wrote it (with any level prefix). */
  readonly source: string;
  /** What is wrong, without the quote and column: "unexpected '<'". */
  readonly detail: string;
  readonly hint: string | undefined;

  constructor(label: string, source: string, detail: string, column?: number, hint?: string) {
    super(`${label} '${source}': ${detail}${column === undefined ? '' : ` at column ${column}`}${hint === undefined ? '' : ` (${hint})`}`);
    this.name = 'ThresholdSyntaxError';
    this.source = source;
    this.detail = detail;
    this.column = column;
    this.hint = hint;
  }
}

export interface ParseOptions {
  /**
   * The metric the expression is declared on (`config.slo.<metric>`): names in the expression are
   * then k6 aggregates of it (`p(95)`, `avg`). Without it, names are full metric names.
   */
  metric?: string;
  /** Shown before the quoted text in errors (default `threshold`, the CLI uses `--threshold`). */
  label?: string;
  /** The full text as written, when `text` is a part of it (after a `warning:` prefix). */
  source?: string;
  /** Where `text` starts in `source` (0-based), so columns count from the start of `source`. */
  offset?: number;
}

type TokenKind = 'num' | 'ident' | 'op' | 'kw' | 'eof';
interface Token {
  readonly t: TokenKind;
  /** The token as written (for `num`, the number without its unit). */
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly value?: number;
}

const IDENT_START = /[A-Za-z_$]/;
const IDENT_PART = /[\w$]/;

/** Parses an expression; throws `ThresholdSyntaxError`. The result is a condition (it evaluates to true/false). */
export function parseExpression(text: string, options: ParseOptions = {}): Expr {
  return new Parser(text, options).parseCondition();
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private readonly label: string;
  private readonly source: string;
  private readonly offset: number;

  constructor(private readonly text: string, private readonly options: ParseOptions) {
    this.label = options.label ?? 'threshold';
    this.source = options.source ?? text;
    this.offset = options.offset ?? 0;
    this.tokens = this.tokenize();
  }

  private fail(detail: string, at?: number, hint?: string): never {
    throw new ThresholdSyntaxError(this.label, this.source, detail, at === undefined ? undefined : at + this.offset + 1, hint);
  }

  private tokenize(): Token[] {
    const s = this.text;
    const out: Token[] = [];
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        i++;
        continue;
      }
      const start = i;
      if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] ?? ''))) {
        while (i < s.length && /[0-9]/.test(s[i]!)) i++;
        if (s[i] === '.' && /[0-9]/.test(s[i + 1] ?? '')) {
          i++;
          while (i < s.length && /[0-9]/.test(s[i]!)) i++;
        }
        const numText = s.slice(start, i);
        let value = Number(numText);
        // A unit, written right after the number.
        let unit: string | undefined;
        if (s[i] === '%') unit = '%';
        else if (s[i] === '/' && s[i + 1] === 's' && !IDENT_PART.test(s[i + 2] ?? '')) unit = '/s';
        else if (/[A-Za-zµ]/.test(s[i] ?? '')) {
          let j = i;
          while (j < s.length && /[\wµ]/.test(s[j]!)) j++;
          unit = s.slice(i, j);
          if (UNIT_FACTORS[unit] === undefined) this.fail(`unknown unit '${unit}'`, i, 'use ms, s, m, us, % or /s');
        }
        if (unit !== undefined) {
          value = scale(value, unit);
          i += unit.length;
        }
        out.push({ t: 'num', text: s.slice(start, i), start, end: i, value });
        continue;
      }
      if (IDENT_START.test(c)) {
        i++;
        while (i < s.length && IDENT_PART.test(s[i]!)) i++;
        while (s[i] === '.' && IDENT_PART.test(s[i + 1] ?? '')) {
          i++;
          while (i < s.length && IDENT_PART.test(s[i]!)) i++;
        }
        const word = s.slice(start, i);
        out.push({ t: word === 'and' || word === 'or' || word === 'not' ? 'kw' : 'ident', text: word, start, end: i });
        continue;
      }
      const three = s.slice(i, i + 3);
      const two = s.slice(i, i + 2);
      if (three === '===') {
        out.push({ t: 'op', text: '==', start, end: i + 3 });
        i += 3;
      } else if (two === '<=' || two === '>=' || two === '==' || two === '!=') {
        out.push({ t: 'op', text: two, start, end: i + 2 });
        i += 2;
      } else if ('<>+-*/()'.includes(c)) {
        out.push({ t: 'op', text: c, start, end: i + 1 });
        i++;
      } else {
        const hint = c === '=' ? "use '=='" : c === '&' ? "use 'and'" : c === '|' ? "use 'or'" : c === '!' ? "use 'not'" : undefined;
        this.fail(`unexpected '${c}'`, i, hint);
      }
    }
    out.push({ t: 'eof', text: '', start: s.length, end: s.length });
    return out;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private isOp(...ops: string[]): boolean {
    const t = this.peek();
    return t.t === 'op' && ops.includes(t.text);
  }

  private unexpected(t: Token): never {
    if (t.t === 'eof') this.fail(this.options.metric === undefined ? 'expected a number or a metric' : 'expected a number or an aggregate such as p(95)', t.start);
    this.fail(`unexpected '${t.text}'`, t.start);
  }

  parseCondition(): Expr {
    if (this.text.trim() === '') this.fail('empty expression');
    const e = this.parseOr();
    const rest = this.peek();
    if (rest.t !== 'eof') this.unexpected(rest);
    if (!isCondition(e)) {
      const example = this.options.metric === undefined ? "'ws.rtt.p95 < 200'" : "'p(95) < 200'";
      this.fail(`expected a comparison such as ${example}`);
    }
    return e;
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.peek().t === 'kw' && this.peek().text === 'or') {
      const op = this.next();
      const right = this.parseAnd();
      this.needConditions(op, left, right);
      left = { kind: 'logic', op: 'or', left, right, start: left.start, end: right.end };
    }
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.peek().t === 'kw' && this.peek().text === 'and') {
      const op = this.next();
      const right = this.parseNot();
      this.needConditions(op, left, right);
      left = { kind: 'logic', op: 'and', left, right, start: left.start, end: right.end };
    }
    return left;
  }

  private parseNot(): Expr {
    const t = this.peek();
    if (t.t === 'kw' && t.text === 'not') {
      this.next();
      const operand = this.parseNot();
      if (!isCondition(operand)) this.fail("'not' needs a comparison", t.start);
      return { kind: 'not', operand, start: t.start, end: operand.end };
    }
    return this.parseCompare();
  }

  private parseCompare(): Expr {
    const left = this.parseAdditive();
    if (!this.isOp('<', '<=', '>', '>=', '==', '!=')) return left;
    const op = this.next();
    const right = this.parseAdditive();
    if (isCondition(left) || isCondition(right)) this.fail(`'${op.text}' compares numbers, not conditions`, op.start);
    return { kind: 'compare', op: op.text as CompareOp, left, right, start: left.start, end: right.end };
  }

  private parseAdditive(): Expr {
    let left = this.parseMultiplicative();
    while (this.isOp('+', '-')) {
      const op = this.next();
      const right = this.parseMultiplicative();
      this.needNumbers(op, left, right);
      left = { kind: 'arith', op: op.text as ArithOp, left, right, start: left.start, end: right.end };
    }
    return left;
  }

  private parseMultiplicative(): Expr {
    let left = this.parseUnary();
    while (this.isOp('*', '/')) {
      const op = this.next();
      const right = this.parseUnary();
      this.needNumbers(op, left, right);
      left = { kind: 'arith', op: op.text as ArithOp, left, right, start: left.start, end: right.end };
    }
    return left;
  }

  private parseUnary(): Expr {
    if (this.isOp('-')) {
      const op = this.next();
      const operand = this.parseUnary();
      if (isCondition(operand)) this.fail("'-' needs a number", op.start);
      return { kind: 'negate', operand, start: op.start, end: operand.end };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    if (t.t === 'num') {
      this.next();
      return { kind: 'number', value: t.value!, text: t.text, start: t.start, end: t.end };
    }
    if (t.t === 'ident') return this.parseName();
    if (t.t === 'op' && t.text === '(') {
      this.next();
      const inner = this.parseOr();
      const close = this.peek();
      if (close.t === 'eof') this.fail("missing ')'", close.start, `to close the '(' at column ${t.start + this.offset + 1}`);
      if (!(close.t === 'op' && close.text === ')')) this.unexpected(close);
      this.next();
      return { ...inner, start: t.start, end: close.end };
    }
    return this.unexpected(t);
  }

  /** A name: an aggregate (`p(95)`, `avg`) under a metric, or a metric (`ws.rtt.p99`, `ws.rtt.p(99.9)`). */
  private parseName(): Expr {
    const t = this.next();
    const name = t.text;
    const metric = this.options.metric;
    const callsPercentile = (name === 'p' || name.endsWith('.p')) && this.isOp('(');
    if (callsPercentile) {
      const p = this.parsePercentileArgument();
      const text = this.text.slice(t.start, p.end);
      if (name === 'p') {
        if (metric === undefined) this.fail(`aggregate '${text}' needs a metric`, t.start, `write it after a metric name, e.g. 'ws.rtt.${text}'`);
        return { kind: 'metric', name: metric, aggregate: { kind: 'percentile', p: p.value }, text, start: t.start, end: p.end };
      }
      if (metric !== undefined) this.fail(`unknown aggregate '${name}'`, t.start, AGGREGATE_HINT);
      return { kind: 'metric', name: name.slice(0, -2), aggregate: { kind: 'percentile', p: p.value }, text, start: t.start, end: p.end };
    }
    const word = AGGREGATE_WORDS[name];
    if (metric !== undefined) {
      if (word === undefined) this.fail(`unknown aggregate '${name}'`, t.start, name === 'p' ? "write a percentile as p(95)" : AGGREGATE_HINT);
      return { kind: 'metric', name: metric, aggregate: { kind: word }, text: name, start: t.start, end: t.end };
    }
    if (word !== undefined) this.fail(`aggregate '${name}' needs a metric`, t.start, `write it after a metric name, e.g. 'ws.rtt.${name}'`);
    return { kind: 'metric', name, text: name, start: t.start, end: t.end };
  }

  private parsePercentileArgument(): { value: number; end: number } {
    this.next(); // (
    const n = this.peek();
    if (n.t !== 'num') this.unexpected(n);
    const digits = /^[0-9.]+/.exec(n.text)![0];
    if (digits !== n.text) this.fail(`unexpected '${n.text.slice(digits.length)}'`, n.start + digits.length);
    this.next();
    const value = n.value!;
    if (!(value >= 0 && value <= 100)) this.fail(`percentile must be from 0 to 100, got ${n.text}`, n.start);
    const close = this.peek();
    if (close.t === 'eof') this.fail("missing ')'", close.start);
    if (!(close.t === 'op' && close.text === ')')) this.unexpected(close);
    this.next();
    return { value, end: close.end };
  }

  private needConditions(op: Token, left: Expr, right: Expr): void {
    if (!isCondition(left) || !isCondition(right)) this.fail(`'${op.text}' needs a comparison on each side`, op.start);
  }

  private needNumbers(op: Token, left: Expr, right: Expr): void {
    if (isCondition(left) || isCondition(right)) this.fail(`'${op.text}' needs numbers on each side`, op.start);
  }
}

/** True for nodes that evaluate to true/false. */
export function isCondition(e: Expr): boolean {
  return e.kind === 'compare' || e.kind === 'not' || e.kind === 'logic';
}

/** Every metric reference in an expression, left to right. */
export function metricRefs(e: Expr): Array<Extract<Expr, { kind: 'metric' }>> {
  switch (e.kind) {
    case 'number':
      return [];
    case 'metric':
      return [e];
    case 'negate':
    case 'not':
      return metricRefs(e.operand);
    case 'arith':
    case 'compare':
    case 'logic':
      return [...metricRefs(e.left), ...metricRefs(e.right)];
  }
}

/** `p95`, `p999`, `p(99.95)`, `avg`…: how an aggregate is named after a metric. */
export function aggregateSuffix(a: Aggregate): string {
  if (a.kind !== 'percentile') return a.kind;
  const p = a.p;
  if (Number.isInteger(p)) return `p${p}`;
  // 99.9 → p999, 99.99 → p9999: Artillery's way of naming high percentiles.
  if (String(p).indexOf('.') === 2) return `p${String(p).replace('.', '')}`;
  return `p(${p})`;
}

/** The name a metric reference is shown under: `ws.rtt.ping.p95`, `messages.sent.rate`, `ws.rtt.p(99.95)`. */
export function refName(ref: Extract<Expr, { kind: 'metric' }>): string {
  if (ref.aggregate === undefined) return ref.name;
  if (ref.aggregate.kind === 'value') return ref.name;
  // `rate` of a figure that already is a rate (connections.success_rate) is the figure itself.
  if (ref.aggregate.kind === 'rate' && /(_rate|\.rate|per_second|throughput)$/.test(ref.name)) return ref.name;
  return `${ref.name}.${aggregateSuffix(ref.aggregate)}`;
}

export function negateOp(op: CompareOp): CompareOp {
  switch (op) {
    case '<':
      return '>=';
    case '<=':
      return '>';
    case '>':
      return '<=';
    case '>=':
      return '<';
    case '==':
      return '!=';
    case '!=':
      return '==';
  }
}

/** The same comparison with its sides swapped: `100 > x` is `x < 100`. */
export function flipOp(op: CompareOp): CompareOp {
  switch (op) {
    case '<':
      return '>';
    case '<=':
      return '>=';
    case '>':
      return '<';
    case '>=':
      return '<=';
    default:
      return op;
  }
}
