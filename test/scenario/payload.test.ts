import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseDurationMs } from '../../src/scenario/duration.js';
import { createPayloadReader, CsvError, parseCsv } from '../../src/scenario/payload.js';

describe('parseDurationMs', () => {
  it.each([
    [60, 60_000],
    [0.5, 500],
    ['30', 30_000],
    ['30s', 30_000],
    ['500ms', 500],
    ['5m', 300_000],
    ['5min', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m 30s', 90_000],
    ['1.5s', 1500],
  ])('%s → %d ms', (input, ms) => {
    expect(parseDurationMs(input)).toBe(ms);
  });

  it.each(['abc', '', '5 minutes', '-3s', '1d', true, null, Number.NaN])('refuses %s', (input) => {
    expect(parseDurationMs(input)).toBe(undefined);
  });

  it('formats for summaries', () => {
    expect(formatDurationMs(2_640_000)).toBe('44m');
    expect(formatDurationMs(3_723_000)).toBe('1h 2m 3s');
    expect(formatDurationMs(10_000)).toBe('10s');
    expect(formatDurationMs(250)).toBe('250ms');
  });
});

describe('parseCsv', () => {
  it('parses quoted fields, doubled quotes, CRLF, and casts numbers like csv-parse cast: true', () => {
    const text = 'name,age,note\r\nalice,31,"a, b"\r\nbob,027,"say ""hi"""\r\n"42",x,\r\n';
    expect(parseCsv(text, { skipHeader: true })).toEqual([
      ['alice', 31, 'a, b'],
      ['bob', 27, 'say "hi"'],
      ['42', 'x', ''],
    ]);
  });

  it('keeps strings with cast: false, skips empty lines unless told not to, honours the delimiter', () => {
    expect(parseCsv('1;2\n\n3;4', { delimiter: ';', cast: false })).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(parseCsv('a\n\nb\n', { skipEmptyLines: false })).toEqual([['a'], [''], ['b']]);
  });

  it('keeps quoted newlines and strips a byte-order mark', () => {
    expect(parseCsv('\ufeffid,text\n1,"two\nlines"\n')).toEqual([
      ['id', 'text'],
      [1, 'two\nlines'],
    ]);
  });

  it('reports an unterminated quote at its line and column', () => {
    let caught: unknown;
    try {
      parseCsv('a,b\nc,"open\nmore');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CsvError);
    const { message, line, col } = caught as CsvError;
    expect({ message, line, col }).toEqual({ message: 'unterminated quoted field', line: 2, col: 3 });
  });
});

describe('createPayloadReader', () => {
  const rows = [
    ['alice', 1],
    ['bob', 2],
  ] as const;

  it('hands out rows in sequence, wrapping around', () => {
    const read = createPayloadReader({ fields: ['name', 'n'], order: 'sequence', loadAll: false, rows });
    const seen = [0, 1, 2].map(() => {
      const v: Record<string, unknown> = {};
      read(v);
      return v;
    });
    expect(seen).toEqual([
      { name: 'alice', n: 1 },
      { name: 'bob', n: 2 },
      { name: 'alice', n: 1 },
    ]);
  });

  it('picks a random row by default', () => {
    const read = createPayloadReader({ fields: ['name'], order: 'random', loadAll: false, rows }, () => 0.99);
    const v: Record<string, unknown> = {};
    read(v);
    expect(v).toEqual({ name: 'bob' });
  });

  it('loads every row under a name with loadAll, as objects keyed by field', () => {
    const read = createPayloadReader({ fields: ['name', 'n'], order: 'random', loadAll: true, name: 'users', rows });
    const v: Record<string, unknown> = {};
    read(v);
    expect(v).toEqual({ users: [{ name: 'alice', n: 1 }, { name: 'bob', n: 2 }] });
  });
});
