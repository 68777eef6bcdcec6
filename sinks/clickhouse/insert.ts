// One INSERT of encoded lines (encode.ts, INSERT_FORMATS) with a deduplication token. Settings travel
// inside the statement, never as clickhouse_settings (chdb would keep them for
// the whole session: DESIGN.md, Engines).
import { Readable } from 'node:stream';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE, sqlString } from './client.ts';
import { INSERT_FORMATS, type Table } from './encode.ts';

/**
 * Inserts `lines` into `table`: rows in the table's format, or groups of rows
 * already joined by '\n' (JoinedRows). The same `token` for the same rows makes a
 * retried insert a no-op (tables set non_replicated_deduplication_window).
 *
 * With `spoolDir` (embedded chdb only: the engine reads the collector's own
 * files) the rows go through a file and `INSERT ... FROM INFILE`: the body
 * then never crosses the JS/native boundary as a string, which measured 40%
 * less CPU per row (`npm run bench:insert`, variants h-previous and e-inline against a-16k).
 */
export async function insertRows(client: ClickHouseClient, table: Table, lines: readonly string[], token: string, spoolDir?: string): Promise<void> {
  if (lines.length === 0) return;
  if (!/^[\w.:-]+$/.test(token)) throw new Error(`invalid deduplication token "${token}"`);
  const body = lines.join('\n');
  const { format, columns } = INSERT_FORMATS[table];
  const into = `INSERT INTO ${DATABASE}.${table}${columns === undefined ? '' : ` ${columns}`}`;
  const settings = `insert_deduplication_token='${token}', date_time_input_format='best_effort'`;
  if (spoolDir !== undefined) {
    const file = join(spoolDir, `${table}-${token}.data`);
    await writeFile(file, body);
    try {
      // Parallel parsing costs ~10% more CPU per row on two cores (bench:insert, c-parallel).
      await client.command({ query: `${into} FROM INFILE ${sqlString(file)} SETTINGS ${settings}, input_format_parallel_parsing=0 FORMAT ${format}` });
    } finally {
      await rm(file, { force: true });
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

/** Server error codes that mean the rows themselves are bad: retrying cannot help. */
const PERMANENT_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '26', // CANNOT_PARSE_QUOTED_STRING
  '53', // TYPE_MISMATCH
  '62', // SYNTAX_ERROR
  '117', // INCORRECT_DATA
  '16', // NO_SUCH_COLUMN_IN_TABLE
  '60', // UNKNOWN_TABLE
  '81', // UNKNOWN_DATABASE
  '69', // ARGUMENT_OUT_OF_BOUND
  '131', // TOO_LARGE_STRING_SIZE
]);

/** True when an insert error is about the data, not the connection or the server's state. */
export function isPermanentInsertError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && PERMANENT_CODES.has(code);
}
