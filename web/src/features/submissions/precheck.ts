/**
 * The scorer's file checks, run in the browser before upload (SPEC §7.1), with the
 * same error codes: TOO_LARGE, EMPTY_FILE, NOT_CSV, MISSING_COLUMN, EXTRA_COLUMN,
 * DUPLICATE_ID, MISSING_IDS, UNKNOWN_IDS, NOT_A_NUMBER, VALUE_OUT_OF_RANGE. It reads
 * files the way the scorer does (byte order mark, CRLF, spaces, header case, quoted
 * numbers, blank lines, `;`/tab/`|` separators with decimal commas after `;`), so a
 * file that passes here is refused by the server only for reasons it alone can know.
 */

export const SAMPLE_SIZE = 10;

export interface FileError {
  code: string;
  message: string;
  column?: string | null;
  rows: string[];
  count?: number | null;
}

export interface Expectation {
  idColumn: string;
  targetColumn: string;
  /** The answer key's ids, when known (from the sample submission). */
  ids: string[] | null;
  /** Closed range predictions must lie in, e.g. [0, 1] for probabilities. */
  range: [number, number] | null;
  maxBytes: number;
}

export interface Table {
  header: string[];
  rows: string[][];
  /** 1-based line number of each row in the file. */
  lines: number[];
  delimiter: string;
}

/** Metrics whose predictions are probabilities (the scorer's `prediction_range`). */
export function predictionRange(metric: string | null | undefined): [number, number] | null {
  return metric === 'log_loss' || metric === 'accuracy' || metric === 'f1' ? [0, 1] : null;
}

function sniffDelimiter(firstLine: string): string {
  if (firstLine.includes(',')) return ',';
  for (const candidate of [';', '\t', '|']) if (firstLine.includes(candidate)) return candidate;
  return ',';
}

/** Split CSV text into records (RFC 4180 quoting); throws on an unterminated quote. */
export function parseRecords(text: string, delimiter: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let i = 0;
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
      } else field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      if (c === '\r' && text[i + 1] === '\n') i += 1;
    } else field += c;
    i += 1;
  }
  if (quoted) throw new Error('unexpected end of data inside a quoted field');
  if (field !== '' || record.length) {
    record.push(field);
    records.push(record);
  }
  return records;
}

function linesText(lines: number[]): string {
  const shown = lines.slice(0, SAMPLE_SIZE).join(', ');
  const more = lines.length > SAMPLE_SIZE ? ` and ${lines.length - SAMPLE_SIZE} more` : '';
  return `line${lines.length === 1 ? '' : 's'} ${shown}${more}`;
}

/** Read a file's bytes into a table, or the errors that stop reading it. */
export function readTable(bytes: Uint8Array, maxBytes: number): { table: Table | null; errors: FileError[] } {
  const fail = (code: string, message: string) => ({ table: null, errors: [{ code, message, rows: [] }] });
  if (bytes.length > maxBytes) return fail('TOO_LARGE', `the file has ${bytes.length} bytes; the limit is ${maxBytes}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return fail('NOT_CSV', 'the file is not UTF-8 text');
  }
  if (!text.trim()) return fail('EMPTY_FILE', 'the file is empty');
  if (text.includes('\0')) return fail('NOT_CSV', 'the file contains NUL bytes; it looks binary, not CSV');
  const delimiter = sniffDelimiter(text.trimStart().split('\n', 1)[0] ?? '');
  let records: string[][];
  try {
    records = parseRecords(text, delimiter);
  } catch (error) {
    return fail('NOT_CSV', `the file is not valid CSV: ${(error as Error).message}`);
  }
  const kept: number[] = [];
  records.forEach((record, index) => {
    if (record.length > 1 || (record.length === 1 && (record[0] ?? '').trim())) kept.push(index);
  });
  if (!kept.length) return fail('EMPTY_FILE', 'the file is empty');
  const headerIndex = kept[0] as number;
  const header = (records[headerIndex] as string[]).map((name) => name.trim().toLowerCase());
  const bodyIndexes = kept.slice(1);
  if (!bodyIndexes.length) return fail('EMPTY_FILE', 'the file has a header but no data rows');
  const rows = bodyIndexes.map((i) => records[i] as string[]);
  const lines = bodyIndexes.map((i) => i + 1);
  const errors: FileError[] = [];
  const ragged = rows.flatMap((row, i) => (row.length !== header.length ? [i] : []));
  if (ragged.length) {
    errors.push({
      code: 'NOT_CSV',
      message: `${ragged.length} row(s) do not have the header's ${header.length} fields (${linesText(ragged.map((i) => lines[i] as number))})`,
      rows: [],
      count: ragged.length,
    });
    for (const i of ragged) rows[i] = [...(rows[i] as string[]), ...Array<string>(header.length).fill('')].slice(0, header.length);
  }
  return { table: { header, rows, lines, delimiter }, errors };
}

/** Every problem of a submission file against the expectation, as the scorer reports them. */
export function precheck(bytes: Uint8Array, expected: Expectation): FileError[] {
  const { table, errors } = readTable(bytes, expected.maxBytes);
  if (!table) return errors;
  const wanted = [expected.idColumn, expected.targetColumn];
  const positions = new Map<string, number>();
  table.header.forEach((name, index) => {
    if (wanted.includes(name) && !positions.has(name)) positions.set(name, index);
    else {
      errors.push({
        code: 'EXTRA_COLUMN',
        message: `column '${name || `(unnamed column ${index + 1})`}' is not expected; the file must have exactly the columns ${wanted.join(', ')}`,
        column: name,
        rows: [],
      });
    }
  });
  for (const name of wanted) {
    if (!positions.has(name)) errors.push({ code: 'MISSING_COLUMN', message: `column '${name}' is missing`, column: name, rows: [] });
  }
  const idAt = positions.get(expected.idColumn);
  const ids = idAt === undefined ? null : table.rows.map((row) => (row[idAt] ?? '').trim());
  const pick = (indexes: number[]) => (ids ? indexes.slice(0, SAMPLE_SIZE).map((i) => ids[i] as string) : []);
  const targetAt = positions.get(expected.targetColumn);
  if (targetAt !== undefined) {
    const column = expected.targetColumn;
    const decimalComma = table.delimiter === ';';
    const numbers = table.rows.map((row) => {
      let value = (row[targetAt] ?? '').trim();
      if (decimalComma) value = value.replace(',', '.');
      const number = value === '' ? Number.NaN : Number(value);
      return Number.isFinite(number) ? number : Number.NaN;
    });
    const bad = numbers.flatMap((n, i) => (Number.isNaN(n) ? [i] : []));
    if (bad.length) {
      errors.push({
        code: 'NOT_A_NUMBER',
        message: `${bad.length} value(s) in column '${column}' are not finite numbers (empty, text, NaN or infinite) on ${linesText(bad.map((i) => table.lines[i] as number))}`,
        column,
        rows: pick(bad),
        count: bad.length,
      });
    }
    if (expected.range) {
      const [low, high] = expected.range;
      const out = numbers.flatMap((n, i) => (n < low || n > high ? [i] : []));
      if (out.length) {
        errors.push({
          code: 'VALUE_OUT_OF_RANGE',
          message: `${out.length} value(s) in column '${column}' are outside [${low}, ${high}] on ${linesText(out.map((i) => table.lines[i] as number))}`,
          column,
          rows: pick(out),
          count: out.length,
        });
      }
    }
  }
  if (ids) {
    const column = expected.idColumn;
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const repeated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    if (repeated.length) {
      errors.push({
        code: 'DUPLICATE_ID',
        message: `${repeated.length} id(s) occur more than once, e.g. ${repeated.slice(0, SAMPLE_SIZE).join(', ')}`,
        column,
        rows: repeated.slice(0, SAMPLE_SIZE),
        count: repeated.length,
      });
    }
    if (expected.ids) {
      const known = new Set(expected.ids);
      const unknown = ids.flatMap((id, i) => (known.has(id) ? [] : [i]));
      if (unknown.length) {
        errors.push({
          code: 'UNKNOWN_IDS',
          message: `${unknown.length} id(s) are not in the answer key, e.g. ${pick(unknown).join(', ')}`,
          column,
          rows: pick(unknown),
          count: unknown.length,
        });
      }
      const missing = expected.ids.filter((id) => !counts.has(id));
      if (missing.length) {
        errors.push({
          code: 'MISSING_IDS',
          message: `${missing.length} of the answer key's ${expected.ids.length} ids have no prediction, e.g. ${missing.slice(0, SAMPLE_SIZE).join(', ')}`,
          column,
          rows: missing.slice(0, SAMPLE_SIZE),
          count: missing.length,
        });
      }
    }
  }
  return errors;
}

/** Parse a sample submission into the expectation it describes. */
export function expectationFromSample(sample: string, metric: string | null | undefined, maxBytes: number): Expectation | null {
  const { table } = readTable(new TextEncoder().encode(sample), Number.MAX_SAFE_INTEGER);
  if (!table || table.header.length < 2) return null;
  const [idColumn, targetColumn] = table.header as [string, string];
  return { idColumn, targetColumn, ids: table.rows.map((row) => (row[0] ?? '').trim()), range: predictionRange(metric), maxBytes };
}

/** The first rows of a file for the preview table. */
export function previewRows(bytes: Uint8Array, count = 5): { header: string[]; rows: string[][] } | null {
  const { table } = readTable(bytes, Number.MAX_SAFE_INTEGER);
  return table ? { header: table.header, rows: table.rows.slice(0, count) } : null;
}
