/**
 * `config.payload`: CSV files read and parsed once at load, and the per-virtual-user readers that hand
 * out rows (`order: random` by default, or `sequence`), following Artillery's readers.js and its
 * csv-parse defaults (`cast: true`, `skipEmptyLines: true`, `delimiter: ','`).
 */

export class CsvError extends Error {
  readonly line: number;
  readonly col: number;
  constructor(message: string, line: number, col: number) {
    super(message);
    this.line = line;
    this.col = col;
  }
}

export interface CsvOptions {
  delimiter?: string;
  /** Turn numeric fields into numbers (csv-parse `cast: true`, Artillery's default). */
  cast?: boolean;
  skipEmptyLines?: boolean;
  skipHeader?: boolean;
}

/** RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF, a configurable delimiter. */
export function parseCsv(text: string, opts: CsvOptions = {}): unknown[][] {
  const delimiter = opts.delimiter ?? ',';
  const cast = opts.cast ?? true;
  const skipEmpty = opts.skipEmptyLines ?? true;
  const rows: unknown[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  let line = 1;
  let lineStart = 0;
  let quoteLine = 1;
  let quoteCol = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const quotedFlags: boolean[] = [];
  const endRow = () => {
    row.push(field);
    quotedFlags.push(wasQuoted);
    const empty = row.length === 1 && row[0] === '' && !wasQuoted;
    if (!(empty && skipEmpty)) rows.push(row.map((f, j) => (cast && !quotedFlags[j] ? castField(f) : f)));
    row = [];
    quotedFlags.length = 0;
    field = '';
    wasQuoted = false;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      if (c === '\n') {
        line++;
        lineStart = i + 1;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      wasQuoted = true;
      quoteLine = line;
      quoteCol = i - lineStart + 1;
      i++;
      continue;
    }
    if (text.startsWith(delimiter, i)) {
      row.push(field);
      quotedFlags.push(wasQuoted);
      field = '';
      wasQuoted = false;
      i += delimiter.length;
      continue;
    }
    if (c === '\r' && text[i + 1] === '\n') {
      i++;
      continue;
    }
    if (c === '\n' || c === '\r') {
      endRow();
      line++;
      lineStart = i + 1;
      i++;
      continue;
    }
    field += c;
    i++;
  }
  if (quoted) throw new CsvError('unterminated quoted field', quoteLine, quoteCol);
  if (field !== '' || row.length > 0 || wasQuoted) endRow();
  return opts.skipHeader ? rows.slice(1) : rows;
}

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

function castField(f: string): unknown {
  return NUMBER.test(f) ? Number(f) : f;
}

export type PayloadOrder = 'random' | 'sequence';

/** The part of a payload plan a reader needs. */
export interface PayloadSource {
  readonly fields: readonly string[];
  readonly order: PayloadOrder;
  readonly loadAll: boolean;
  readonly name?: string;
  readonly rows: readonly (readonly unknown[])[];
}

/**
 * Returns a function that gives each new virtual user its variables from this payload: one row's
 * fields, or (loadAll) every row under `name`, as objects keyed by field when fields are given.
 */
export function createPayloadReader(p: PayloadSource, random: () => number = Math.random): (into: Record<string, unknown>) => void {
  if (p.loadAll) {
    const all = p.fields.length > 0 ? p.rows.map((r) => Object.fromEntries(p.fields.map((f, i) => [f, r[i]]))) : p.rows;
    const name = p.name;
    return (into) => {
      if (name !== undefined) into[name] = all;
    };
  }
  const rows = p.rows;
  const fields = p.fields;
  let next = 0;
  return (into) => {
    let row: readonly unknown[] | undefined;
    if (rows.length > 0) {
      if (p.order === 'sequence') {
        row = rows[next];
        next = next + 1 < rows.length ? next + 1 : 0;
      } else row = rows[Math.floor(random() * rows.length)];
    }
    for (let j = 0; j < fields.length; j++) into[fields[j] as string] = row?.[j];
  };
}
