// Export of a subject's or a tenant's stored rows as NDJSON, in constant
// memory for any size: chdb materialises every result, so each table is read
// in pages by keyset pagination (ORDER BY key, WHERE key >= cursor, LIMIT),
// never by OFFSET, and the next page is read only when the consumer has taken
// the previous one (an async generator behind a Readable).
//
// Format (docs/privacy.md): one JSON object per line,
//   {"table":"otel_traces","row":{...every column as ClickHouse writes it in JSONEachRow...}}
// 64-bit integers are strings (exact), DateTime64 'YYYY-MM-DD hh:mm:ss.nnnnnnnnn' UTC,
// Maps as objects, Nested columns as arrays named `Events.Name` etc. The last
// line is a trailer: {"end":true,"rows":{"otel_traces":n,...}}, or on failure
// {"error":"..."}: a consumer that does not see the trailer has a partial export.
// The trailer also carries what the caller adds (`trailer`): how long the
// tenant's tier keeps rows and content (collector/api/privacy.ts).
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from '../../storage/clickhouse.ts';
import { SUBJECT_TABLES, subjectPredicate } from './erasure.ts';

/** Tables of a tenant export; a subject export reads SUBJECT_TABLES only. */
export const EXPORT_TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit'] as const;
type ExportTable = (typeof EXPORT_TABLES)[number];

/** Time column of each table, the first part of the page key. */
const TIME_COLUMN: Record<ExportTable, string> = {
  otel_traces: 'toUnixTimestamp64Nano(Timestamp)',
  otel_logs: 'toUnixTimestamp64Nano(Timestamp)',
  request_summaries: 'toInt64(toUnixTimestamp(Minute))',
  gateway_metadata: 'toUnixTimestamp64Nano(Timestamp)',
  tier_audit: 'toUnixTimestamp64Milli(At)',
};

export interface ExportOptions {
  client: ClickHouseClient;
  tenantId: string;
  /** Export only this end user's rows (`user.id`); absent: the whole tenant. */
  subject?: string;
  /** Rows per page to start with; halved for pages over targetPageBytes, doubled (up to 8x) for small ones. Default 1000. */
  pageRows?: number;
  /** Aimed-for bytes per page. Default 4 MiB. */
  targetPageBytes?: number;
  /** More fields of the end line. */
  trailer?: Record<string, unknown>;
}

interface Cursor {
  ts: string;
  h: string;
}

/**
 * NDJSON lines of the export, one page at a time. The page key is (time, a
 * hash of the whole row): rows with equal keys are identical, so on the page
 * boundary the rows already sent are skipped by count.
 */
export async function* exportLines(o: ExportOptions): AsyncGenerator<string> {
  const tables: readonly ExportTable[] = o.subject === undefined ? EXPORT_TABLES : SUBJECT_TABLES;
  const counts: Record<string, number> = {};
  const base = o.pageRows ?? 1000;
  const target = o.targetPageBytes ?? 4 << 20;
  try {
    for (const table of tables) {
      const where = o.subject === undefined ? 'TenantId = {tenant:String}' : subjectPredicate(table as (typeof SUBJECT_TABLES)[number], 'live');
      const key = `(${TIME_COLUMN[table]}, cityHash64(*))`;
      let cursor: Cursor | undefined;
      let skip = 0;
      let pageRows = base;
      counts[table] = 0;
      for (;;) {
        const limit = pageRows + skip;
        const params: Record<string, string | number> = { tenant: o.tenantId, limit };
        if (o.subject !== undefined) params['subject'] = o.subject;
        if (cursor !== undefined) {
          params['ts'] = cursor.ts;
          params['h'] = cursor.h;
        }
        const res = await o.client.query({
          query:
            `SELECT *, toString(${TIME_COLUMN[table]}) AS __export_ts, toString(cityHash64(*)) AS __export_h FROM ${DATABASE}.${table} ` +
            `WHERE ${where}${cursor === undefined ? '' : ` AND ${key} >= (toInt64({ts:String}), toUInt64({h:String}))`} ` +
            `ORDER BY ${TIME_COLUMN[table]}, cityHash64(*) LIMIT {limit:UInt64} ` +
            `SETTINGS output_format_json_quote_64bit_integers = 1`,
          query_params: params,
          format: 'JSONEachRow',
        });
        const text = await res.text();
        const lines = text === '' ? [] : text.split('\n').filter((l) => l !== '');
        let last: Cursor | undefined;
        let tail = 0;
        let out = '';
        for (let i = 0; i < lines.length; i++) {
          const row = JSON.parse(lines[i]!) as Record<string, unknown>;
          const k: Cursor = { ts: String(row['__export_ts']), h: String(row['__export_h']) };
          delete row['__export_ts'];
          delete row['__export_h'];
          tail = last !== undefined && last.ts === k.ts && last.h === k.h ? tail + 1 : 1;
          last = k;
          if (i < skip) continue; // sent with the previous page
          out += `${JSON.stringify({ table, row })}\n`;
          counts[table]++;
        }
        if (out !== '') yield out;
        if (lines.length < limit || last === undefined) break;
        // Next page: from the last key; skip the rows with that key already sent.
        skip = cursor !== undefined && last.ts === cursor.ts && last.h === cursor.h ? lines.length : tail;
        cursor = last;
        if (text.length > target && pageRows > 1) pageRows = Math.max(1, pageRows >> 1);
        else if (text.length < target / 4 && pageRows < base * 8) pageRows *= 2;
      }
    }
    yield `${JSON.stringify({ end: true, rows: counts, ...o.trailer })}\n`;
  } catch (err) {
    yield `${JSON.stringify({ error: `export failed: ${(err as Error).message}`, rows: counts })}\n`;
  }
}
