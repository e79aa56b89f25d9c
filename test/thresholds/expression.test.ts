import { describe, expect, it } from 'vitest';
import { aggregateSuffix, parseExpression, refName, ThresholdSyntaxError, type Expr } from '../../src/thresholds/expression.js';
import { parseCliThresholds, parseThresholdArg } from '../../src/thresholds/cli.js';
import { WsloadError } from '../../src/errors.js';

/** The expression as a compact string, to assert structure without spans. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return String(e.value);
    case 'metric':
      return e.aggregate === undefined ? e.name : `${e.name}{${e.aggregate.kind === 'percentile' ? `p${e.aggregate.p}` : e.aggregate.kind}}`;
    case 'negate':
      return `-(${show(e.operand)})`;
    case 'not':
      return `not(${show(e.operand)})`;
    case 'arith':
    case 'compare':
    case 'logic':
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
  }
}

function syntaxError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ThresholdSyntaxError);
    return (err as Error).message;
  }
  throw new Error('expected a syntax error');
}

describe('k6 expressions (declared on a metric)', () => {
  const k6 = (text: string): string => show(parseExpression(text, { metric: 'ws.rtt.ping' }));

  it('parses every aggregate with every operator', () => {
    expect(k6('p(95)<50')).toBe('(ws.rtt.ping{p95} < 50)');
    expect(k6('p(99.9) <= 200')).toBe('(ws.rtt.ping{p99.9} <= 200)');
    expect(k6('avg>=1')).toBe('(ws.rtt.ping{avg} >= 1)');
    expect(k6('med > 2')).toBe('(ws.rtt.ping{med} > 2)');
    expect(k6('min==0')).toBe('(ws.rtt.ping{min} == 0)');
    expect(k6('max != 3')).toBe('(ws.rtt.ping{max} != 3)');
    expect(k6('count===0')).toBe('(ws.rtt.ping{count} == 0)');
    expect(k6('rate>0.99')).toBe('(ws.rtt.ping{rate} > 0.99)');
    expect(k6('value<1')).toBe('(ws.rtt.ping{value} < 1)');
    expect(k6('mean<1 and median<2')).toBe('((ws.rtt.ping{avg} < 1) and (ws.rtt.ping{med} < 2))');
  });

  it('scales numbers by their unit into the metric unit (ms, fractions, per second)', () => {
    expect(k6('p(95)<1s')).toBe('(ws.rtt.ping{p95} < 1000)');
    expect(k6('p(95)<250ms')).toBe('(ws.rtt.ping{p95} < 250)');
    expect(k6('p(95)<500us')).toBe('(ws.rtt.ping{p95} < 0.5)');
    expect(k6('p(95)<2m')).toBe('(ws.rtt.ping{p95} < 120000)');
    expect(k6('rate>99%')).toBe('(ws.rtt.ping{rate} > 0.99)');
    expect(k6('rate>1000/s')).toBe('(ws.rtt.ping{rate} > 1000)');
    expect(k6('avg < .5')).toBe('(ws.rtt.ping{avg} < 0.5)');
  });

  it('names a percentile the way reports do', () => {
    expect(aggregateSuffix({ kind: 'percentile', p: 95 })).toBe('p95');
    expect(aggregateSuffix({ kind: 'percentile', p: 99.9 })).toBe('p999');
    expect(aggregateSuffix({ kind: 'percentile', p: 99.99 })).toBe('p9999');
    expect(aggregateSuffix({ kind: 'percentile', p: 2.5 })).toBe('p(2.5)');
    const e = parseExpression('p(99.9)<5', { metric: 'ws.rtt' });
    expect(e.kind === 'compare' && e.left.kind === 'metric' ? refName(e.left) : '').toBe('ws.rtt.p999');
  });

  it('reports exact, one-line errors with a column', () => {
    const err = (text: string): string => syntaxError(() => parseExpression(text, { metric: 'ws.rtt' }));
    expect(err('p(95)<<50')).toBe("threshold 'p(95)<<50': unexpected '<' at column 7");
    expect(err('p(95)')).toBe("threshold 'p(95)': expected a comparison such as 'p(95) < 200'");
    expect(err('')).toBe("threshold '': empty expression");
    expect(err('avg<')).toBe("threshold 'avg<': expected a number or an aggregate such as p(95) at column 5");
    expect(err('foo<3')).toBe("threshold 'foo<3': unknown aggregate 'foo' at column 1 (use p(N), avg, med, min, max, count, rate or value)");
    expect(err('p95<3')).toBe("threshold 'p95<3': unknown aggregate 'p95' at column 1 (use p(N), avg, med, min, max, count, rate or value)");
    expect(err('(p(95)<3')).toBe("threshold '(p(95)<3': missing ')' at column 9 (to close the '(' at column 1)");
    expect(err('p(95)<3 and avg')).toBe("threshold 'p(95)<3 and avg': 'and' needs a comparison on each side at column 9");
    expect(err('p(95) = 3')).toBe("threshold 'p(95) = 3': unexpected '=' at column 7 (use '==')");
    expect(err('p(95)<3 && avg<2')).toBe("threshold 'p(95)<3 && avg<2': unexpected '&' at column 9 (use 'and')");
    expect(err('p(101)<3')).toBe("threshold 'p(101)<3': percentile must be from 0 to 100, got 101 at column 3");
    expect(err('p(95ms)<3')).toBe("threshold 'p(95ms)<3': unexpected 'ms' at column 5");
    expect(err('p()<3')).toBe("threshold 'p()<3': unexpected ')' at column 3");
    expect(err('p(95)<5xs')).toBe("threshold 'p(95)<5xs': unknown unit 'xs' at column 8 (use ms, s, m, us, % or /s)");
    expect(err('p(95)<3<4')).toBe("threshold 'p(95)<3<4': unexpected '<' at column 8");
    expect(err('(avg<3) < 4')).toBe("threshold '(avg<3) < 4': '<' compares numbers, not conditions at column 9");
    expect(err('not avg')).toBe("threshold 'not avg': 'not' needs a comparison at column 1");
    expect(err('avg < 3 )')).toBe("threshold 'avg < 3 )': unexpected ')' at column 9");
  });
});

describe('full-name expressions (CLI and ensure conditions)', () => {
  const full = (text: string): string => show(parseExpression(text));

  it('reads dotted metric names, aggregate suffixes and p(N) after a name', () => {
    expect(full('ws.rtt.ping.p99<100')).toBe('(ws.rtt.ping.p99 < 100)');
    expect(full('ws.rtt.p(99.9) < 1s')).toBe('(ws.rtt{p99.9} < 1000)');
    expect(full('http.codes.200 > 0')).toBe('(http.codes.200 > 0)');
  });

  it("parses Artillery conditions: and/or/not, parentheses, arithmetic, precedence", () => {
    expect(full('http.response_time.p99 < 100 and vusers.failed == 0')).toBe('((http.response_time.p99 < 100) and (vusers.failed == 0))');
    expect(full('a < 1 or b < 2 and c < 3')).toBe('((a < 1) or ((b < 2) and (c < 3)))');
    expect(full('(a < 1 or b < 2) and not c >= 3')).toBe('(((a < 1) or (b < 2)) and not((c >= 3)))');
    expect(full('(vusers.created - vusers.completed) / vusers.created * 100 <= 5')).toBe(
      '((((vusers.created - vusers.completed) / vusers.created) * 100) <= 5)',
    );
    expect(full('-a > -2')).toBe('(-(a) > -(2))');
    expect(full('100 > ws.rtt.p99')).toBe('(100 > ws.rtt.p99)');
  });

  it('refuses an aggregate without a metric', () => {
    expect(syntaxError(() => parseExpression('avg<3'))).toBe("threshold 'avg<3': aggregate 'avg' needs a metric at column 1 (write it after a metric name, e.g. 'ws.rtt.avg')");
    expect(syntaxError(() => parseExpression('p(95)<3'))).toBe(
      "threshold 'p(95)<3': aggregate 'p(95)' needs a metric at column 1 (write it after a metric name, e.g. 'ws.rtt.p(95)')",
    );
    expect(syntaxError(() => parseExpression('ws.rtt.p99'))).toBe("threshold 'ws.rtt.p99': expected a comparison such as 'ws.rtt.p95 < 200'");
    expect(syntaxError(() => parseExpression('ws.rtt. < 3'))).toBe("threshold 'ws.rtt. < 3': unexpected '.' at column 7");
    expect(syntaxError(() => parseExpression('a < 1 +'))).toBe("threshold 'a < 1 +': expected a number or a metric at column 8");
  });
});

describe('--threshold', () => {
  it('is critical by default; a prefix sets the level, abort: adds abortOnFail', () => {
    const t = parseThresholdArg('ws.rtt.ping.p99<100', 0);
    expect(t).toMatchObject({ id: 'cli[0]', name: 'ws.rtt.ping.p99<100', source: 'cli', abortOnFail: false });
    expect(t.checks.map((c) => [c.level, c.expression])).toEqual([['critical', 'ws.rtt.ping.p99<100']]);
    expect(parseThresholdArg('warning:ws.rtt.p95<50', 1).checks.map((c) => [c.level, c.expression])).toEqual([['warning', 'ws.rtt.p95<50']]);
    expect(parseThresholdArg('target: ws.rtt.p95 < 20', 2).checks.map((c) => [c.level, c.expression])).toEqual([['target', 'ws.rtt.p95 < 20']]);
    const abort = parseThresholdArg('abort:errors.rate<5%', 3);
    expect(abort.abortOnFail).toBe(true);
    expect(abort.checks[0]!.level).toBe('critical');
  });

  it('counts columns from the start of the argument, prefix included', () => {
    expect(syntaxError(() => parseThresholdArg('warning:ws.rtt.p95<<50'))).toBe("--threshold 'warning:ws.rtt.p95<<50': unexpected '<' at column 20");
    expect(syntaxError(() => parseThresholdArg('warning:  ws.rtt.p95<<50'))).toBe("--threshold 'warning:  ws.rtt.p95<<50': unexpected '<' at column 22");
    expect(syntaxError(() => parseThresholdArg('warn:ws.rtt.p95<50'))).toBe("--threshold 'warn:ws.rtt.p95<50': unknown level 'warn' at column 1 (did you mean 'warning'?)");
    expect(syntaxError(() => parseThresholdArg('level:ws.rtt.p95<50'))).toBe(
      "--threshold 'level:ws.rtt.p95<50': unknown level 'level' at column 1 (use target, warning, critical or abort)",
    );
    expect(syntaxError(() => parseThresholdArg('warning:'))).toBe("--threshold 'warning:': empty expression");
  });

  it('reports every bad --threshold at once as one usage error (exit 2)', () => {
    let caught: unknown;
    try {
      parseCliThresholds(['ws.rtt.p99<100', 'ws.rtt.p95<<50', 'avg<3']);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WsloadError);
    expect((caught as WsloadError).exitCode).toBe(2);
    expect((caught as WsloadError).message).toBe(
      "--threshold 'ws.rtt.p95<<50': unexpected '<' at column 12; --threshold 'avg<3': aggregate 'avg' needs a metric at column 1 (write it after a metric name, e.g. 'ws.rtt.avg')",
    );
    expect(parseCliThresholds(['ws.rtt.p99<100', 'errors.rate<1%']).map((t) => t.id)).toEqual(['cli[0]', 'cli[1]']);
  });
});
