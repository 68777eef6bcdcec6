// One INSERT of encoded rows (encode.ts, INSERT_FORMATS) with a deduplication token. Settings travel
// inside the statement, never as clickhouse_settings (chdb would keep them for
// the whole session: DESIGN.md, Engines).
import { Readable } from 'node:stream';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE, sqlString } from '../../storage/clickhouse.ts';
import { INSERT_FORMATS } from './encode.ts';
import { type Table, type TableRows } from '../../storage/tables.ts';

/**
 * Inserts `parts` (requests' rows, TableRows) into `table` as one body: text
 * lines joined by '\n', Native blocks back to back. The same `token` for the
 * same rows makes a retried insert a no-op (tables set
 * non_replicated_deduplication_window).
 *
 * With `spoolDir` (embedded chdb) the rows go through a file and
 * `INSERT ... FROM INFILE`: the body then never crosses the JS/native boundary
 * as a string, which measured 40% less CPU per row (`npm run bench:insert`,
 * variants h-previous and e-inline against a-16k), and binary formats need it:
 * chdb's client adapter reads an inline body as text. Without it (a
 * ClickHouse server over HTTP) the body is the request's.
 */
export async function insertRows(client: ClickHouseClient, table: Table, parts: readonly TableRows[], token: string, spoolDir?: string): Promise<void> {
  const body = insertBody(table, parts);
  if (body === undefined) return;
  if (!/^[\w.:-]+$/.test(token)) throw new Error(`invalid deduplication token "${token}"`);
  const { format, columns } = INSERT_FORMATS[table];
  // Times are written as seconds.nanoseconds (encode.ts), which 'basic' reads
  // exactly over the whole range; 'best_effort' guesses at digit strings (it read
  // "0.000000000" as a day of the month). A batch may span any number of days:
  // the partition limit would fail every request of an insert for one request
  // whose records span more than 100 days.
  const settings = `insert_deduplication_token='${token}', date_time_input_format='basic', max_partitions_per_insert_block=0`;
  await insertData(client, `INSERT INTO ${DATABASE}.${table}${columns === undefined ? '' : ` ${columns}`}`, format, body, settings, `${table}-${token}`, spoolDir);
}

/** The parts with rows as one body in the table's format; undefined when none has rows. */
function insertBody(table: Table, parts: readonly TableRows[]): Buffer | string | undefined {
  const bodies = parts.filter((p) => p.rows > 0).map((p) => p.body);
  if (bodies.length === 0) return undefined;
  // Native blocks (latin1 strings, TableRows) back to back; text lines joined.
  return INSERT_FORMATS[table].binary === true ? Buffer.from(bodies.join(''), 'latin1') : bodies.join('\n');
}

/** Inserts `parts` into `table` under a deduplication token: what the writers (batcher, sink consumer) call. */
export type InsertParts = (table: Table, parts: readonly TableRows[], token: string) => Promise<void>;

/**
 * Where a writer's inserts go: a ClickHouse client (with the spool folder of
 * embedded chdb), or an insert function of its own (a unit test standing in
 * for ClickHouse).
 */
export type InsertTarget = { client: ClickHouseClient; spoolDir?: string } | { insert: InsertParts };

/** The insert function of a target: insertRows on its client unless it brings its own. */
export function insertParts(target: InsertTarget): InsertParts {
  if ('insert' in target) return target.insert;
  const { client, spoolDir } = target;
  return (table, parts, token) => insertRows(client, table, parts, token, spoolDir);
}

/**
 * One row into consentry.insert_probe through the same path as the data (a
 * spool file with embedded chdb): resolves once ClickHouse takes inserts
 * again. Used by the readiness probe while inserts fail.
 */
export async function probeInsert(client: ClickHouseClient, spoolDir?: string): Promise<void> {
  const at = Date.now();
  await insertData(client, `INSERT INTO ${DATABASE}.insert_probe`, 'JSONEachRow', `{"At":${Math.floor(at / 1000)}}`, `date_time_input_format='basic'`, `insert_probe-${at}`, spoolDir);
}

async function insertData(client: ClickHouseClient, into: string, format: string, body: string | Buffer, settings: string, fileName: string, spoolDir?: string): Promise<void> {
  if (spoolDir !== undefined) {
    const file = join(spoolDir, `${fileName}.data`);
    try {
      // A write cut short (disk full) leaves a partial file: removed below too.
      await writeFile(file, body);
      // Parallel parsing costs ~10% more CPU per row on two cores (bench:insert, c-parallel).
      await client.command({ query: `${into} FROM INFILE ${sqlString(file)} SETTINGS ${settings}, input_format_parallel_parsing=0 FORMAT ${format}` });
    } finally {
      // Not over the insert's own error; a file left behind is removed at the next start.
      await rm(file, { force: true }).catch(() => undefined);
    }
    return;
  }
  const res = await client.exec({ query: `${into} SETTINGS ${settings} FORMAT ${format}`, values: Readable.from([body]) });
  // Read the (empty) answer to its end: over HTTP an unread response keeps the
  // socket from returning to the pool (clickhouse-js warns and may reset it).
  for await (const _ of res.stream) {
    // nothing to read
  }
}

/**
 * Server error codes that mean the rows themselves are bad: retrying cannot
 * help, and the same rows fail the same way every time. Errors about the
 * server's state (a missing table or column, a syntax error in the statement
 * Consentry wrote, disk, memory, network) are not here: they are retried, and
 * never blamed on the sender.
 */
const PERMANENT_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '25', // CANNOT_PARSE_ESCAPE_SEQUENCE
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '131', // TOO_LARGE_STRING_SIZE
  '321', // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  '407', // DECIMAL_OVERFLOW (a time beyond DateTime64's range)
  '469', // VIOLATED_CONSTRAINT (a CHECK constraint of the table)
]);

/** True when an insert error is about the data, not the connection or the server's state. */
export function isPermanentInsertError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && PERMANENT_CODES.has(code);
}

/**
 * An insert error as a reason for the sender: ClickHouse's code and first
 * line, without the spool file's path or the engine's processor names, at
 * most 300 characters. (The rows it may quote are the sender's own: the batcher
 * splits an insert down to one request's rows before blaming them.)
 */
export function describeInsertError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const line = String((err as Error | null)?.message ?? err).split('\n')[0]!;
  const reason = line.replace(/:? ?\(in file\/uri [^)]*\)/g, '').replace(/:? ?While executing .*$/, '').trim();
  return `ClickHouse error ${typeof code === 'string' ? code : '?'}: ${reason.length > 300 ? `${reason.slice(0, 300)}...` : reason}`;
}
