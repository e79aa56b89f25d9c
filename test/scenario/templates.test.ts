import { describe, expect, it } from 'vitest';
import { compileTemplate, serializePayload, type TemplateIssue } from '../../src/scenario/templates.js';

const vars = {
  name: 'alice',
  count: 42,
  zero: 0,
  flag: false,
  empty: '',
  nothing: null,
  user: { name: 'bob', tags: ['a', 'b'], 'dashed-key': 'd' },
  list: [10, 20, 30],
  'a.b': 'literal dotted key',
  $env: { HOME: '/home/me' },
  $processEnvironment: { HOME: '/home/me' },
  $loopCount: 3,
  $loopElement: { id: 7 },
  $uuid: '0b0c4f8e-1111-4222-8333-944445555666',
};

describe('compileTemplate', () => {
  it('returns the very same object when there is no template (fast path)', () => {
    const payload = { type: 'ping', nested: { list: [1, 2, { deep: 'x' }] } };
    const t = compileTemplate(payload);
    expect(t.isStatic).toBe(true);
    expect(t(vars)).toBe(payload);
    expect(compileTemplate('plain text')(vars)).toBe('plain text');
    expect(compileTemplate(12)(vars)).toBe(12);
  });

  it('keeps the type of a value when the string is exactly one variable (Artillery renderVariables)', () => {
    expect(compileTemplate('{{ count }}')(vars)).toBe(42);
    expect(compileTemplate('{{count}}')(vars)).toBe(42);
    expect(compileTemplate('{{ user }}')(vars)).toEqual(vars.user);
    expect(compileTemplate('{{ list }}')(vars)).toBe(vars.list);
    expect(compileTemplate('{{ zero }}')(vars)).toBe(0);
    expect(compileTemplate('{{ flag }}')(vars)).toBe(false);
    expect(compileTemplate('{{ nothing }}')(vars)).toBe(null);
    expect(compileTemplate('{{ missing }}')(vars)).toBe(undefined);
    expect(compileTemplate('{{{ count }}}')(vars)).toBe(42);
  });

  it('renders text around variables, JSON-encoding objects and writing undefined as Artillery does', () => {
    expect(compileTemplate('hi {{ name }}!')(vars)).toBe('hi alice!');
    expect(compileTemplate(' {{ count }}')(vars)).toBe(' 42');
    expect(compileTemplate('{{ name }}-{{ count }}')(vars)).toBe('alice-42');
    expect(compileTemplate('u={{ user }}')(vars)).toBe('u={"name":"bob","tags":["a","b"],"dashed-key":"d"}');
    expect(compileTemplate('x={{ missing }}')(vars)).toBe('x=undefined');
  });

  it('reads nested paths like lodash get', () => {
    expect(compileTemplate('{{ user.name }}')(vars)).toBe('bob');
    expect(compileTemplate('{{ user.tags[1] }}')(vars)).toBe('b');
    expect(compileTemplate("{{ user['dashed-key'] }}")(vars)).toBe('d');
    expect(compileTemplate('{{ list[2] }}')(vars)).toBe(30);
    expect(compileTemplate('{{ a.b }}')(vars)).toBe('literal dotted key');
    expect(compileTemplate('{{ user.nope.deeper }}')(vars)).toBe(undefined);
  });

  it('reads $env, $processEnvironment, $loopCount, $loopElement and $uuid from the variables', () => {
    expect(compileTemplate('{{ $env.HOME }}')(vars)).toBe('/home/me');
    expect(compileTemplate('{{ $processEnvironment.HOME }}')(vars)).toBe('/home/me');
    expect(compileTemplate('#{{ $loopCount }}')(vars)).toBe('#3');
    expect(compileTemplate('{{ $loopElement.id }}')(vars)).toBe(7);
    expect(compileTemplate('{{ $uuid }}')(vars)).toBe(vars.$uuid);
  });

  it('calls $randomNumber and $randomString, splicing the result in as text (as Artillery does)', () => {
    const n = compileTemplate('{{ $randomNumber(1, 100) }}');
    for (let i = 0; i < 200; i++) {
      const v = n(vars);
      expect(typeof v).toBe('string');
      expect(Number(v)).toBeGreaterThanOrEqual(1);
      expect(Number(v)).toBeLessThanOrEqual(100);
      expect(Number.isInteger(Number(v))).toBe(true);
    }
    expect(compileTemplate('{{ $randomString() }}')(vars)).toMatch(/^[A-Za-z0-9]{10}$/);
    expect(compileTemplate('id-{{ $randomString(4) }}-{{ name }}')(vars)).toMatch(/^id-[A-Za-z0-9]{4}-alice$/);
  });

  it('renders the same number for fixed bounds', () => {
    expect(compileTemplate('{{ $randomNumber(5,5) }}')(vars)).toBe('5');
  });

  it('renders objects and arrays recursively, keys included, without touching the source', () => {
    const src = { type: 'msg', from: '{{ name }}', n: '{{ count }}', list: ['{{ list[0] }}', 'x'], '{{ name }}_key': 1, fixed: { a: 1 } };
    const t = compileTemplate(src);
    expect(t.isStatic).toBe(false);
    const out = t(vars) as Record<string, unknown>;
    expect(out).toEqual({ type: 'msg', from: 'alice', n: 42, list: [10, 'x'], alice_key: 1, fixed: { a: 1 } });
    expect(out.fixed).toBe(src.fixed);
    expect(src.from).toBe('{{ name }}');
    expect(t(vars)).not.toBe(out);
  });

  it('lists the root variable names it reads', () => {
    const t = compileTemplate({ a: '{{ user.name }} {{ count }}', b: ['{{ $env.X }}'] });
    expect([...t.names].sort()).toEqual(['$env', 'count', 'user']);
  });

  it('reports an unknown function and leaves unparseable expressions as written', () => {
    const issues: TemplateIssue[] = [];
    const t = compileTemplate({ a: '{{ $randomStrng() }}', b: ['{{ a + b }}'] }, (i) => issues.push(i));
    expect(issues).toEqual([
      { severity: 'error', message: "unknown template function '$randomStrng'", hint: "did you mean '$randomString'?", path: ['a'] },
      {
        severity: 'warning',
        message: "'{{ a + b }}' is not a template Artillery understands (a variable path or a $function() call); it is sent as written",
        path: ['b', 0],
      },
    ]);
    expect((t(vars) as { b: string[] }).b[0]).toBe('{{ a + b }}');
  });
});

describe('serializePayload', () => {
  it('sends objects as JSON and everything else as text, like the Artillery ws engine', () => {
    expect(serializePayload({ type: 'ping' })).toBe('{"type":"ping"}');
    expect(serializePayload([1, 2])).toBe('[1,2]');
    expect(serializePayload(null)).toBe('null');
    expect(serializePayload(undefined)).toBe('');
    expect(serializePayload(42)).toBe('42');
    expect(serializePayload('hi')).toBe('hi');
  });
});
