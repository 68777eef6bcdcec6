// Insert-path benchmark for embedded ClickHouse (chdb): what storing one
// `full`-tier span costs, from encoded rows to a part on disk, and which single
// change to the insert path makes it cheaper.
//
//   npm run bench:insert -- [--rows 120000] [--runs 2] [--only a,e-raw] [--list] [--json out.json]
//
// --only takes variant ids or group letters (a-16k, the reference, always
// runs); --list prints the variants. About 8 minutes on 2 cores with the
// defaults. BENCH_PERF_WINDOW=1 makes each child print its insert window for
// `perf report --time` (see the child).
//
// Rows are the benchmark's own: the gateway traffic model with bodies
// (bench/otlp-batches.ts, 3 tenants, 1000 spans per request), decoded with the
// collector's OTLP decoder and run through the `full` tier by the real tier
// engine, then encoded as TabSeparated by bench/tsv-traces.ts (the format
// before Native, the reference), as Native by the product's encoder
// (sinks/clickhouse/native.ts: one block per request, LowCardinality encoded),
// and, for the other format variants, by the encoders below: JSONEachRow (the
// format before TabSeparated), JSONCompactEachRow and RowBinary. (Native with
// LowCardinality columns sent as String measured 11.9-12.2 CPU-s per million
// rows against 10.7-11.0, and is gone with the bench's own Native encoder.)
// One span in about 1000 also carries an
// attribute, an event and a link full of characters that need escaping, so that
// the checksum proves every format's escaping, not only the easy rows.
//
// Every run of a variant is a child process of its own with a fresh chdb data
// directory: libchdb binds one data directory per process, and a fresh process
// keeps CPU time, thread accounting and peak RSS of one variant apart from
// the others. The parent encodes each format once (timing it: the JS encode
// cost per row), writes the payloads to a scratch directory, runs the children
// interleaved (run 1 of every variant, then run 2, ...: load from other work on
// the machine then spreads over all variants instead of hitting one), and
// prints the best run and the spread of each variant.
//
// What a child measures, after the migrations and after loading its payload:
// - wall time of the inserts (one at a time, as the batcher does: one insert in
//   flight per table), rows/s;
// - process CPU (process.cpuUsage(): every thread, chdb's included) during the
//   inserts, and until background merges have stopped afterwards;
// - CPU per thread, sampled from /proc/self/task every 100 ms and attributed to
//   the thread's name at the time (ClickHouse names threads by job while they
//   run one: ChunkParser and Segmentator parse, QueryPipelineEx sorts and writes
//   parts, MergeMutate merges; unnamed pool threads show as ThreadPool, and
//   node-pool is libuv's pool, where chdb runs each call); the JS main thread
//   separately;
// - system.events counters (parts written, merges, async inserts, ...);
// - peak RSS during the inserts (VmHWM, reset through /proc/self/clear_refs
//   once the payload is loaded);
// - what was stored: row count and a checksum over every column, compared with
//   the current path's, so no variant is fast because it dropped or mangled
//   data; and whether re-sending the first batch with its deduplication token
//   is a no-op, as the retry logic relies on;
// - then OPTIMIZE FINAL, timed apart: one merge of every row, which tells the
//   table variants' merge cost (skip indexes are rebuilt, columns recompressed
//   in every merge), and the bytes on disk of the part it leaves;
// - r-reads only: the product's reads on ten times the rows, with and without
//   the skip indexes (measureReads).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildPool } from './otlp-batches.ts';
import { childOrParent } from './procs.ts';
import { decodeTracesProto } from '../collector/otlp/decode-proto.ts';
import { loadSettings } from '../core/settings.ts';
import { buildTierEngine } from '../app/pipeline.ts';
import { dashboardSql } from '../collector/analytics/dashboard.ts';
import { listSql } from '../collector/analytics/explorer.ts';
import type { Attributes, BatchContext, RecordBatch, Resource, SpanRecord } from '../core/record.ts';
import { DATABASE, openClickHouse, sqlString } from '../storage/clickhouse.ts';
import { INSERT_FORMATS, NEVER_EXPIRES, timeText } from '../sinks/clickhouse/encode.ts';
import { BinaryWriter, SPAN_KIND, STATUS_CODE, TRACE_COLUMNS, writeTraceBlock } from '../sinks/clickhouse/native.ts';
import { traceLines, TSV_COLUMN_LIST } from './tsv-traces.ts';
import type { TableRows } from '../storage/tables.ts';
import { insertRows } from '../sinks/clickhouse/insert.ts';
import { migrate } from '../storage/migrate.ts';

const TABLE = `${DATABASE}.otel_traces`;
const TENANTS = ['acme', 'globex', 'initech'];
const SPANS_PER_REQUEST = 1000;
/** The statement settings of insertRows() on its FROM INFILE path, which every variant starts from. */
const CURRENT_SETTINGS: Settings = { date_time_input_format: 'basic', max_partitions_per_insert_block: 0, input_format_parallel_parsing: 0 };
/** The statement settings of the embedded path before FROM INFILE (h-previous). */
const PREVIOUS_SETTINGS: Settings = { date_time_input_format: 'best_effort', input_format_parallel_parsing: 1 };
/** Escaping test data, planted in one span in TRICKY_EVERY (attribute, event, link). */
const TRICKY = `q' dq" bs\\ tab\t nl\n cr\r nul\0 é 漢字 😀 \u2028 {"json":[1,"x"]} end`;
const TRICKY_EVERY = 997;
const CHILD_TIMEOUT_MS = 240_000;
/** r-reads copies the rows and runs 30 reads four times: minutes more on a loaded machine. */
const READS_TIMEOUT_MS = 1_200_000;

type Settings = Record<string, string | number>;
type Format = 'json' | 'json-compact' | 'tsv' | 'rowbinary' | 'native';
const FORMAT_NAME: Record<Format, string> = {
  json: 'JSONEachRow',
  'json-compact': 'JSONCompactEachRow',
  tsv: 'TabSeparated',
  rowbinary: 'RowBinary',
  native: 'Native',
};
/** Formats written as bytes, not lines: RowBinary rows back to back, Native blocks of one request each. */
const isBinary = (f: Format): f is 'rowbinary' | 'native' => f === 'rowbinary' || f === 'native';

/**
 * One measured configuration. Apart from group `a` (the path before Native:
 * TabSeparated through FROM INFILE, at several batch sizes) each changes one
 * thing against `a-16k`, that path at about the batch size the collector
 * reaches under load; f-native-lc is the product's path now (insertRows with
 * Native); `h-previous` is the embedded path as it was before FROM INFILE,
 * Compact parts and TabSeparated.
 */
interface Variant {
  id: string;
  what: string;
  batchRows: number;
  format: Format;
  /**
   * exact: insertRows() of sinks/clickhouse/insert.ts (Native), called as the
   *   embedded collector's batcher calls it (with the spool directory of openClickHouse).
   * infile: the same mechanism (rows in a spool file, `INSERT ... FROM INFILE`),
   *   another statement or format.
   * The statements the bench builds name the columns for the positional
   * formats (TabSeparated, JSONCompactEachRow, RowBinary, Native as insertRows does),
   * not for JSONEachRow, whose rows name them.
   * inline: the rows after the statement, through @clickhouse/client's exec and
   *   chdb's Connection: insertRows() without a spool directory (the server path).
   * raw: chdb's own Session.insert({ values: Buffer, format }), bypassing @clickhouse/client.
   */
  path: 'exact' | 'infile' | 'inline' | 'raw';
  settings: Settings;
  /** A change to otel_traces as the migrations leave it. */
  table?: 'no-bloom' | 'keys-only' | 'no-skip' | 'lz4' | 'lz4-maps' | 'default-codecs' | 'wide' | 'null';
  stopMerges?: boolean;
  /** After the insert figures, copy the rows into a larger table and time the product's reads on it (see measureReads). */
  reads?: boolean;
}

const REF = 'a-16k';
const VARIANTS: Variant[] = [
  ...[2_000, 8_000, 16_000, 50_000].map(
    (n): Variant => ({ id: `a-${n / 1000}k`, what: `path before Native (TabSeparated, FROM INFILE), ${n / 1000}k rows per insert`, batchRows: n, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS }),
  ),
  // best_effort, the chdb 26.x default, reads these seconds.nanoseconds times too (from 2001 on, as here).
  { id: 'b-best-effort', what: "date_time_input_format='best_effort' (before seconds.nanoseconds times)", batchRows: 16_000, format: 'tsv', path: 'infile', settings: { ...CURRENT_SETTINGS, date_time_input_format: 'best_effort' } },
  { id: 'c-parallel', what: 'input_format_parallel_parsing=1 (the default)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: { ...CURRENT_SETTINGS, input_format_parallel_parsing: 1 } },
  // The skip indexes: bloom filters over map values hash every value, the request and response bodies included.
  { id: 'd-nobloom', what: 'table without the 5 bloom_filter indexes', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'no-bloom' },
  { id: 'd-keys-only', what: 'table without the 2 bloom_filter indexes over map values (keys and TraceId kept)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'keys-only' },
  { id: 'd-noskip', what: 'table without any skip index (bloom_filter and minmax)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'no-skip' },
  { id: 'd-lz4', what: 'table with LZ4 instead of ZSTD(1)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'lz4' },
  { id: 'd-lz4-maps', what: 'table with LZ4 instead of ZSTD(1) on the Map columns only (attributes, bodies)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'lz4-maps' },
  { id: 'd-codecs', what: "table without CODEC clauses (the engine's default, LZ4)", batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'default-codecs' },
  // ClickHouse's default min_bytes_for_wide_part (10 MiB uncompressed) makes a 16k-row part Wide (~150 files) instead of Compact (~25).
  { id: 'd-wide', what: 'table with min_bytes_for_wide_part at its default (Wide parts)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'wide' },
  // The reference's statement and settings with the body inline; insertRows() without a spool directory would also drop parallel_parsing=0.
  { id: 'e-inline', what: 'rows inline after the statement, through @clickhouse/client', batchRows: 16_000, format: 'tsv', path: 'inline', settings: CURRENT_SETTINGS },
  { id: 'e-raw', what: 'rows inline, through chdb Session.insert with a Buffer', batchRows: 16_000, format: 'tsv', path: 'raw', settings: CURRENT_SETTINGS },
  { id: 'f-json', what: 'JSONEachRow (the format before TabSeparated)', batchRows: 16_000, format: 'json', path: 'infile', settings: CURRENT_SETTINGS },
  { id: 'f-compact', what: 'JSONCompactEachRow', batchRows: 16_000, format: 'json-compact', path: 'infile', settings: CURRENT_SETTINGS },
  // RowBinary could not go inline anyway: chdb ends inline INSERT data at the first blank line ("\n\n",
  // which SSE response bodies contain) and runs the rest as SQL (chdb 3.4 / 26.7, checked through its
  // native raw-insert entry point), and Session.insert does not accept binary formats.
  { id: 'f-rowbinary', what: 'RowBinary', batchRows: 16_000, format: 'rowbinary', path: 'infile', settings: CURRENT_SETTINGS },
  // Native, one block per request as an ingest worker encodes them, LowCardinality encoded: the product's path.
  { id: 'f-native-lc', what: 'Native, LowCardinality encoded (insertRows: the product now)', batchRows: 16_000, format: 'native', path: 'exact', settings: CURRENT_SETTINGS },
  // async_insert defaults to 1 in chdb 26.x, but none of these inserts goes through the async queue
  // (AsyncInsertQuery in the report), so async_insert=0 changes nothing and is not measured.
  { id: 'g-threads', what: 'max_insert_threads=2', batchRows: 16_000, format: 'tsv', path: 'infile', settings: { ...CURRENT_SETTINGS, max_insert_threads: 2 } },
  { id: 'g-nosquash', what: 'min_insert_block_size_rows=0, _bytes=0', batchRows: 16_000, format: 'tsv', path: 'infile', settings: { ...CURRENT_SETTINGS, min_insert_block_size_rows: 0, min_insert_block_size_bytes: 0 } },
  { id: 'g-optimize0', what: 'optimize_on_insert=0', batchRows: 16_000, format: 'tsv', path: 'infile', settings: { ...CURRENT_SETTINGS, optimize_on_insert: 0 } },
  { id: 'g-nomerge', what: 'SYSTEM STOP MERGES on the table (merge cost, by difference)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, stopMerges: true },
  { id: 'g-null', what: 'ENGINE = Null table (parsing only, nothing written)', batchRows: 16_000, format: 'tsv', path: 'infile', settings: CURRENT_SETTINGS, table: 'null' },
  { id: 'g-null-native', what: 'ENGINE = Null table, Native (f-native-lc)', batchRows: 16_000, format: 'native', path: 'infile', settings: CURRENT_SETTINGS, table: 'null' },
  // Several changes at once: the embedded path before migration 005, FROM INFILE and TabSeparated, for the before/after.
  { id: 'h-previous', what: 'previous path: JSONEachRow inline, parallel parsing, Wide parts', batchRows: 16_000, format: 'json', path: 'inline', settings: PREVIOUS_SETTINGS, table: 'wide' },
  // The reference again, then what the skip indexes buy on reads (a larger table, READ_COPIES times the rows).
  { id: 'r-reads', what: 'current path (Native), then the reads with and without skip indexes', batchRows: 16_000, format: 'native', path: 'exact', settings: CURRENT_SETTINGS, reads: true },
];

// ---------------------------------------------------------------------------
// Rows: the traffic model through the collector's decode and tier engine.

interface Built {
  batches: { batch: RecordBatch; ctx: BatchContext }[];
  rows: number;
  otlpBytesPerSpan: number;
}

function buildRecords(rows: number): Built {
  const scratch = mkdtempSync(join(tmpdir(), 'consentry-bench-engine-'));
  // An HMAC key given, so hmacKey() writes none into scratch.
  const settings = loadSettings({}, { dataDir: scratch, hmacKey: randomBytes(32).toString('base64'), defaultTier: 'full', tiersDir: '' });
  const engine = buildTierEngine(settings, { count: () => {}, onRedact: () => {}, onDrop: () => {} });
  const requests = Math.ceil(rows / SPANS_PER_REQUEST);
  const perTenant = Math.ceil(requests / TENANTS.length);
  const receivedAtMs = Date.now();
  const pools = TENANTS.map((tenantId, i) =>
    // 20k spans/s per tenant as in bench/generator.ts: the timestamps of a run span a few seconds, one partition.
    buildPool({ tenantId, seed: 42 + i * 1000, bodies: true, spansPerBatch: SPANS_PER_REQUEST, batches: perTenant, markerTemplates: 1, baseTimeMs: receivedAtMs - 60_000, requestsPerSecond: 20_000 }),
  );
  const out: Built = { batches: [], rows: 0, otlpBytesPerSpan: pools.reduce((s, p) => s + p.bytesPerSpan, 0) / pools.length };
  let seen = 0;
  // Round-robin over tenants, as requests from several tenants arrive interleaved.
  for (let r = 0; r < perTenant && out.rows < rows; r++) {
    for (let t = 0; t < TENANTS.length && out.rows < rows; t++) {
      const decoded = decodeTracesProto(pools[t]!.batches[r]!);
      if (decoded.rejected > 0) throw new Error(`decode rejected spans: ${decoded.rejectionMessage}`);
      const ctx: BatchContext = { tenantId: TENANTS[t]!, tier: 'full', tierVersion: 1, receivedAtMs };
      const batch = engine.process({ spans: decoded.records, logs: [], summaries: [], metadata: [] }, ctx);
      // The bench's own encoders write content kept with its row, as the full tier does by default.
      if (batch.contentExpireAt !== undefined) throw new Error('the full tier set a content expiry: the format variants would store content apart from the product');
      // The full tier adds gateway_metadata rows; only spans are measured here.
      batch.spans = batch.spans.slice(0, rows - out.rows);
      batch.logs = [];
      batch.summaries = [];
      batch.metadata = [];
      // The SDK's spans have no events or links: the tricky ones get one of each, so their encoding is checked too.
      for (const s of batch.spans) {
        if (seen++ % TRICKY_EVERY !== 0) continue;
        s.attributes = { ...s.attributes, 'bench.tricky': TRICKY };
        s.events = [{ timeUnixNano: s.startTimeUnixNano + 1000n, name: TRICKY, attributes: { 'bench.tricky': TRICKY } }];
        s.links = [{ traceId: s.traceId, spanId: s.spanId, traceState: TRICKY, attributes: { 'bench.tricky': TRICKY } }];
      }
      out.batches.push({ batch, ctx });
      out.rows += batch.spans.length;
    }
  }
  rmSync(scratch, { recursive: true, force: true });
  if (out.rows !== rows) throw new Error(`built ${out.rows} rows, wanted ${rows}`);
  return out;
}

// ---------------------------------------------------------------------------
// Encoders for the format variants. Same values as the product's Native
// blocks; the positional ones in COLUMNS order, which is the table's (checked
// against system.columns by each child) and that of the Native blocks and the
// TabSeparated lines.

const COLUMNS = TRACE_COLUMNS.map((c) => c.name);
const json = JSON.stringify as (s: string) => string;
/** The column list of the bench's statements for positional formats, the product's. */
const COLUMN_LIST = TSV_COLUMN_LIST;
if (COLUMN_LIST !== INSERT_FORMATS.otel_traces.columns || INSERT_FORMATS.otel_traces.format !== 'Native') {
  throw new Error(`encode.ts writes otel_traces as ${INSERT_FORMATS.otel_traces.format} ${INSERT_FORMATS.otel_traces.columns}, the bench expects Native ${COLUMN_LIST}`);
}

function duration(s: SpanRecord): bigint {
  return s.endTimeUnixNano > s.startTimeUnixNano ? s.endTimeUnixNano - s.startTimeUnixNano : 0n;
}

/** Serialises each Resource once per batch, as the product does. */
function perResource<T>(make: (r: Resource) => T): (r: Resource) => T {
  let last: Resource | undefined;
  let value: T | undefined;
  return (r) => {
    if (r !== last || value === undefined) {
      last = r;
      value = make(r);
    }
    return value;
  };
}

function encodeCompact({ batch, ctx }: { batch: RecordBatch; ctx: BatchContext }): string[] {
  const head = `[${json(ctx.tenantId)},${json(ctx.tier)},`;
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const tail = `,${expireAt},${expireAt},{},[]]`;
  const res = perResource((r) => `${json(r.attributes['service.name'] ?? '')},${JSON.stringify(r.attributes)}`);
  return batch.spans.map(
    (s) =>
      `${head}"${timeText(s.startTimeUnixNano)}","${s.traceId}","${s.spanId}","${s.parentSpanId}",${json(s.traceState)},${json(s.name)},` +
      `"${SPAN_KIND[s.kind] ?? ''}",${res(s.resource)},${json(s.scope.name)},${json(s.scope.version)},${JSON.stringify(s.attributes)},` +
      `${duration(s)},"${STATUS_CODE[s.statusCode] ?? ''}",${json(s.statusMessage)},${s.flags >>> 0},` +
      `[${s.events.map((e) => `"${timeText(e.timeUnixNano)}"`).join(',')}],[${s.events.map((e) => json(e.name)).join(',')}],` +
      `[${s.events.map((e) => JSON.stringify(e.attributes)).join(',')}],[${s.links.map((l) => `"${l.traceId}"`).join(',')}],` +
      `[${s.links.map((l) => `"${l.spanId}"`).join(',')}],[${s.links.map((l) => json(l.traceState)).join(',')}],` +
      `[${s.links.map((l) => JSON.stringify(l.attributes)).join(',')}]${tail}`,
  );
}

/** JSONEachRow, as the product wrote spans before TabSeparated: a template per line, columns by name. */
function encodeJson({ batch, ctx }: { batch: RecordBatch; ctx: BatchContext }): string[] {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const head = `{"TenantId":${json(ctx.tenantId)},"Tier":${json(ctx.tier)},"ExpireAt":${expireAt},"ContentExpireAt":${expireAt},`;
  const res = perResource((r) => `"ServiceName":${json(r.attributes['service.name'] ?? '')},"ResourceAttributes":${JSON.stringify(r.attributes)}`);
  return batch.spans.map((s) => {
    let events = '"Events.Timestamp":[],"Events.Name":[],"Events.Attributes":[]';
    if (s.events.length > 0) {
      events =
        `"Events.Timestamp":[${s.events.map((e) => `"${timeText(e.timeUnixNano)}"`).join(',')}],` +
        `"Events.Name":[${s.events.map((e) => json(e.name)).join(',')}],` +
        `"Events.Attributes":[${s.events.map((e) => JSON.stringify(e.attributes)).join(',')}]`;
    }
    let links = '"Links.TraceId":[],"Links.SpanId":[],"Links.TraceState":[],"Links.Attributes":[]';
    if (s.links.length > 0) {
      links =
        `"Links.TraceId":[${s.links.map((l) => `"${l.traceId}"`).join(',')}],` +
        `"Links.SpanId":[${s.links.map((l) => `"${l.spanId}"`).join(',')}],` +
        `"Links.TraceState":[${s.links.map((l) => json(l.traceState)).join(',')}],` +
        `"Links.Attributes":[${s.links.map((l) => JSON.stringify(l.attributes)).join(',')}]`;
    }
    return (
      `${head}"Timestamp":"${timeText(s.startTimeUnixNano)}","TraceId":"${s.traceId}","SpanId":"${s.spanId}",` +
      `"ParentSpanId":"${s.parentSpanId}","TraceState":${json(s.traceState)},"SpanName":${json(s.name)},` +
      `"SpanKind":"${SPAN_KIND[s.kind] ?? ''}",${res(s.resource)},` +
      `"ScopeName":${json(s.scope.name)},"ScopeVersion":${json(s.scope.version)},"SpanAttributes":${JSON.stringify(s.attributes)},` +
      `"Duration":${duration(s)},"StatusCode":"${STATUS_CODE[s.statusCode] ?? ''}","StatusMessage":${json(s.statusMessage)},"SpanFlags":${s.flags >>> 0},` +
      `${events},${links}}`
    );
  });
}

/** A Map(String, String) in RowBinary: the pair count, then keys and values in turn. */
function rowBinaryMap(w: BinaryWriter, a: Attributes): void {
  let n = 0;
  for (const _ in a) n++;
  w.varint(n);
  for (const k in a) {
    w.string(k);
    w.string(a[k]!);
  }
}

/** One request's spans as RowBinary rows; `rowEnds` gets each row's end offset. */
function encodeRowBinary({ batch, ctx }: { batch: RecordBatch; ctx: BatchContext }, w: BinaryWriter, rowEnds?: number[]): void {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  for (const s of batch.spans) {
    w.string(ctx.tenantId);
    w.string(ctx.tier);
    w.i64(s.startTimeUnixNano);
    w.string(s.traceId);
    w.string(s.spanId);
    w.string(s.parentSpanId);
    w.string(s.traceState);
    w.string(s.name);
    w.string(SPAN_KIND[s.kind] ?? '');
    w.string(s.resource.attributes['service.name'] ?? '');
    rowBinaryMap(w, s.resource.attributes);
    w.string(s.scope.name);
    w.string(s.scope.version);
    rowBinaryMap(w, s.attributes);
    w.u64(duration(s));
    w.string(STATUS_CODE[s.statusCode] ?? '');
    w.string(s.statusMessage);
    w.u32(s.flags >>> 0);
    w.varint(s.events.length);
    for (const e of s.events) w.i64(e.timeUnixNano);
    w.varint(s.events.length);
    for (const e of s.events) w.string(e.name);
    w.varint(s.events.length);
    for (const e of s.events) rowBinaryMap(w, e.attributes);
    w.varint(s.links.length);
    for (const l of s.links) w.string(l.traceId);
    w.varint(s.links.length);
    for (const l of s.links) w.string(l.spanId);
    w.varint(s.links.length);
    for (const l of s.links) w.string(l.traceState);
    w.varint(s.links.length);
    for (const l of s.links) rowBinaryMap(w, l.attributes);
    w.u32(expireAt);
    w.u32(expireAt); // ContentExpireAt: content kept as long as the row
    w.varint(0); // ContentAttributes {}
    w.varint(0); // EventsContentAttributes []
    rowEnds?.push(w.pos);
  }
}

type Block = Built['batches'][number];

/** One request's spans as one Native block; `rowEnds` gets NaN for each row but the last, which gets the block's end. */
function encodeNative(b: Block, w: BinaryWriter, rowEnds?: number[]): void {
  writeTraceBlock(w, b.batch, b.ctx);
  for (let i = 1; i < b.batch.spans.length; i++) rowEnds?.push(NaN);
  rowEnds?.push(w.pos);
}

// ---------------------------------------------------------------------------
// Parent: build, encode (timed), write payloads, run the children, report.

interface Payload {
  file: string;
  /**
   * Byte offset of each row's start, and the total length last (Float64: files can pass 4 GB);
   * NaN inside a Native block, whose rows can only be sent together.
   */
  offsetsFile: string;
}

/** Encodes every batch into one payload per format; returns the files and the best JS encode time per row. */
function writePayloads(built: Built, formats: Set<Format>, dir: string): Map<Format, Payload & { encodeUsPerRow: number[]; bytesPerRow: number }> {
  const out = new Map<Format, Payload & { encodeUsPerRow: number[]; bytesPerRow: number }>();
  const textEncoders: Partial<Record<Format, (b: Built['batches'][number]) => string[]>> = {
    tsv: (b) => traceLines(b.batch, b.ctx),
    json: encodeJson,
    'json-compact': encodeCompact,
  };
  const binaryEncoders: Record<'rowbinary' | 'native', (b: Block, w: BinaryWriter, rowEnds?: number[]) => void> = {
    rowbinary: encodeRowBinary,
    native: encodeNative,
  };
  for (const format of formats) {
    const times: number[] = [];
    // Three times, keeping each time: the first pass also warms up the JIT, the best of the others is reported.
    for (let pass = 0; pass < 3; pass++) {
      const started = performance.now();
      if (isBinary(format)) {
        const w = new BinaryWriter();
        for (const b of built.batches) {
          w.pos = 0;
          binaryEncoders[format](b, w);
        }
      } else {
        for (const b of built.batches) textEncoders[format]!(b);
      }
      times.push(((performance.now() - started) * 1000) / built.rows);
    }
    // The payload file: text rows end with \n; binary rows and blocks are back to back.
    const offsets = new Float64Array(built.rows + 1);
    const file = join(dir, `${format}.bin`);
    let bytes = 0;
    if (isBinary(format)) {
      const w = new BinaryWriter();
      const ends: number[] = [];
      for (const b of built.batches) binaryEncoders[format](b, w, ends);
      ends.forEach((end, i) => (offsets[i + 1] = end));
      writeFileSync(file, w.buf.subarray(0, w.pos));
      bytes = w.pos;
    } else {
      const chunks: Buffer[] = [];
      let row = 0;
      for (const b of built.batches) {
        for (const line of textEncoders[format]!(b)) {
          const chunk = Buffer.from(line + '\n');
          chunks.push(chunk);
          bytes += chunk.length;
          offsets[++row] = bytes;
        }
      }
      writeFileSync(file, Buffer.concat(chunks));
    }
    const offsetsFile = join(dir, `${format}.offsets`);
    writeFileSync(offsetsFile, Buffer.from(offsets.buffer));
    out.set(format, { file, offsetsFile, encodeUsPerRow: times, bytesPerRow: bytes / built.rows });
  }
  return out;
}

interface ChildSpec {
  variant: Variant;
  run: number;
  rows: number;
  payload: Payload;
  workDir: string;
}

interface Check {
  rows: string;
  hash: string;
  bodyBytes: string;
}

interface RunResult {
  variant: string;
  run: number;
  rows: number;
  inserts: number;
  wallS: number;
  rowsPerS: number;
  /** Process CPU seconds from the first insert to the last insert's completion. */
  cpuInsertS: number;
  /** ... of which in the kernel (page faults, mmap/munmap, I/O). */
  sysInsertS: number;
  /** ... and until background merges stopped. */
  cpuTotalS: number;
  settleS: number;
  /** JS main thread CPU during the inserts (join, client, string to native). */
  mainThreadS: number;
  /** CPU seconds by thread name, inserts plus settling. */
  threads: Record<string, number>;
  rssBeforeMB: number;
  peakRssMB: number;
  insertMs: { p50: number; max: number };
  parts: { active: number; total: number; mergedRows: number; compressedMB: number };
  /** system.events counters that changed during inserts and settling. */
  events: Record<string, number>;
  check: Check | null;
  dedup: string;
  optimize: Optimize | null;
  reads: ReadResult[];
  chdb: string;
}

interface Optimize {
  /** Active parts before OPTIMIZE FINAL merged them. */
  parts: number;
  /** Process CPU and wall time of OPTIMIZE FINAL: one rewrite of every row (merge cost, apart from the inserts'). */
  cpuS: number;
  wallS: number;
  /** After it: bytes on disk, of which skip indexes, and compressed column data. */
  bytesOnDisk: number;
  indexBytes: number;
  dataBytes: number;
}

interface ReadResult {
  query: string;
  mode: ReadMode;
  /** One per repetition. */
  ms: number[];
  cpuS: number[];
  rowsRead: number;
  /** From EXPLAIN indexes = 1: granules left after every index, and before any, summed over the reads of the table. */
  granules: { selected: number; total: number };
  /** The answer's row count and a hash of its rows: the same in every mode, or an index dropped rows. */
  answer: string;
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`;
  }
}

function runChild(spec: ChildSpec): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // execArgv carries tsx's loader; --expose-gc lets the child collect its load garbage before resetting the peak.
    const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    // Progress lines go through; an error's stack goes into the failure message.
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      out += d;
      for (const line of d.split('\n')) if (line.startsWith(`    ${spec.variant.id} #`)) process.stderr.write(`${line}\n`);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.variant.reads === true ? READS_TIMEOUT_MS : CHILD_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line !== undefined) resolve(JSON.parse(line.slice(7)) as RunResult);
      else reject(new Error(`child ${spec.variant.id} run ${spec.run} failed (exit ${code ?? signal}):\n${out.slice(-2000)}`));
    });
  });
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function parent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '120000' },
      runs: { type: 'string', default: '2' },
      only: { type: 'string', default: '' },
      list: { type: 'boolean', default: false },
      json: { type: 'string', default: '' },
      keep: { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    for (const v of VARIANTS) console.log(`${v.id.padEnd(13)} ${v.what}`);
    return;
  }
  const rows = Number(values.rows);
  const runs = Number(values.runs);
  if (!Number.isInteger(rows) || rows < 1000 || !Number.isInteger(runs) || runs < 1) throw new Error('--rows must be >= 1000 and --runs >= 1');
  const only = values.only.split(',').filter((s) => s !== '');
  // The reference always runs: every other variant's stored data is checked against it.
  const variants = VARIANTS.filter((v) => v.id === REF || only.length === 0 || only.some((o) => v.id === o || v.id.startsWith(`${o}-`)));
  const started = performance.now();
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(0)}s`;

  console.log(`uptime: ${uptime()}`);
  console.log(`node ${process.version}, ${variants.length} variants x ${runs} runs, ${fmt(rows)} rows each`);
  const built = buildRecords(rows);
  console.log(`[${elapsed()}] built ${fmt(rows)} spans (${built.batches.length} requests, OTLP ${fmt(built.otlpBytesPerSpan)} B/span), encoding...`);

  const workDir = mkdtempSync(join(tmpdir(), 'consentry-bench-insert-'));
  const payloads = writePayloads(built, new Set(variants.map((v) => v.format)), workDir);
  for (const [format, p] of payloads) {
    console.log(`  ${FORMAT_NAME[format].padEnd(18)} ${fmt(p.bytesPerRow)} B/row, JS encode ${p.encodeUsPerRow.map((t) => t.toFixed(2)).join(' / ')} us/row`);
  }
  built.batches.length = 0; // the children read the payload files; free the records

  const results: RunResult[] = [];
  const failures = new Map<string, string>();
  try {
    for (let run = 1; run <= runs; run++) {
      for (const variant of variants) {
        let r: RunResult;
        try {
          r = await runChild({ variant, run, rows, payload: payloads.get(variant.format)!, workDir });
        } catch (err) {
          // A variant that cannot store the data is a result too (reported below); the others go on.
          const msg = (err as Error).message;
          failures.set(variant.id, msg);
          console.log(`[${elapsed()}] ${variant.id.padEnd(13)} run ${run}: FAILED ${/Code: \d+\. .*/.exec(msg)?.[0] ?? msg.slice(0, 300)}`);
          continue;
        }
        results.push(r);
        console.log(
          `[${elapsed()}] ${variant.id.padEnd(13)} run ${run}: ${fmt(r.rowsPerS).padStart(7)} rows/s, CPU ${fmt((r.cpuInsertS / rows) * 1e6, 1)} s/M ` +
            `(sys ${fmt((r.sysInsertS / rows) * 1e6, 1)}; +merges ${fmt((r.cpuTotalS / rows) * 1e6, 1)}), peak RSS ${fmt(r.peakRssMB)} MB, parts ${r.parts.active}/${r.parts.total}`,
        );
      }
    }
  } finally {
    if (!values.keep) rmSync(workDir, { recursive: true, force: true });
  }
  report(variants, results, payloads, rows);
  for (const [id, msg] of failures) console.log(`\n${id} failed:\n${msg.slice(0, 1500)}`);
  if (values.json !== '') writeFileSync(values.json, JSON.stringify({ uptime: uptime(), rows, runs, results, encode: Object.fromEntries(payloads) }, null, 2));
  console.log(`\nuptime at end: ${uptime()}; total ${elapsed()}`);
}

function report(variants: Variant[], results: RunResult[], payloads: Map<Format, { encodeUsPerRow: number[]; bytesPerRow: number }>, rows: number): void {
  const ref = results.find((r) => r.variant === REF)?.check ?? undefined;
  const perM = (s: number): number => (s / rows) * 1e6;
  const spread = (xs: number[], digits = 0): string => (xs.length < 2 ? '' : ` (${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)})`);
  console.log(`\nBest run of each variant by rows/s, (min-max over runs). CPU is process CPU (all threads, chdb's included) per million rows;`);
  console.log(`"+merges" runs on until background merges stop. JS encode is the parent's encoder time; JS insert is the main thread during the inserts.`);
  console.log(`RSS growth is the peak during the inserts over the RSS before them (which holds the whole payload).\n`);
  console.log('| variant | change | rows/s | CPU s/M rows (inserts) | of which sys | CPU s/M rows (+merges) | JS encode us/row | JS insert us/row | peak RSS MB | RSS growth MB | parts active/all | merged rows/row | stored = current | dedup on retry |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|');
  for (const v of variants) {
    const rs = results.filter((r) => r.variant === v.id);
    if (rs.length === 0) continue;
    const best = rs.reduce((a, b) => (b.rowsPerS > a.rowsPerS ? b : a));
    const enc = payloads.get(v.format)!;
    const same = rs.every((r) => r.check === null)
      ? 'n/a (Null engine)'
      : ref === undefined
        ? '?'
        : rs.every((r) => r.check !== null && r.check.rows === ref.rows && r.check.hash === ref.hash && r.check.bodyBytes === ref.bodyBytes)
          ? `yes (${ref.rows} rows)`
          : `**NO** ${rs.map((r) => JSON.stringify(r.check)).join(' ')}`;
    console.log(
      `| ${v.id} | ${v.what} | ${fmt(best.rowsPerS)}${spread(rs.map((r) => r.rowsPerS))} | ${fmt(perM(best.cpuInsertS), 1)}${spread(rs.map((r) => perM(r.cpuInsertS)), 1)} | ${fmt(perM(best.sysInsertS), 1)} ` +
        `| ${fmt(perM(best.cpuTotalS), 1)}${spread(rs.map((r) => perM(r.cpuTotalS)), 1)} | ${Math.min(...enc.encodeUsPerRow).toFixed(2)} | ${fmt(perM(best.mainThreadS), 1)} ` +
        `| ${fmt(best.peakRssMB)}${spread(rs.map((r) => r.peakRssMB))} | ${fmt(best.peakRssMB - best.rssBeforeMB)} | ${best.parts.active}/${best.parts.total} | ${(best.parts.mergedRows / rows).toFixed(2)} | ${same} | ${[...new Set(rs.map((r) => r.dedup))].join(', ')} |`,
    );
  }
  // Where the CPU went, best run of each variant: thread names with >= 3% of its CPU.
  console.log('\nCPU by thread (best run, inserts + settling), us/row: name (share)\n');
  for (const v of variants) {
    const rs = results.filter((r) => r.variant === v.id);
    if (rs.length === 0) continue;
    const best = rs.reduce((a, b) => (b.rowsPerS > a.rowsPerS ? b : a));
    const total = Object.values(best.threads).reduce((a, b) => a + b, 0);
    const parts = Object.entries(best.threads)
      .sort((a, b) => b[1] - a[1])
      .filter(([, s]) => s >= 0.03 * total)
      .map(([name, s]) => `${name} ${((s / rows) * 1e6).toFixed(1)} (${((s / total) * 100).toFixed(0)}%)`);
    const e = (name: string): number => best.events[name] ?? 0;
    console.log(
      `- ${v.id}: ${parts.join(', ')}; insert p50/max ${fmt(best.insertMs.p50)}/${fmt(best.insertMs.max)} ms; ` +
        `parts written wide/compact ${e('InsertedWideParts')}/${e('InsertedCompactParts')}, async inserts ${e('AsyncInsertQuery')}, ` +
        `merges ${e('Merge')} (${fmt(e('MergedRows'))} rows), SQL parse ${((e('QueryParseMicroseconds') / rows)).toFixed(2)} us/row, ` +
        `skip indexes ${(e('MergeTreeDataWriterSkipIndicesCalculationMicroseconds') / rows).toFixed(2)} us/row, sort ${(e('MergeTreeDataWriterSortingBlocksMicroseconds') / rows).toFixed(2)} us/row`,
    );
  }
  // Merge cost and size, apart from the inserts: OPTIMIZE FINAL rewrites every row once.
  console.log('\nOPTIMIZE FINAL after the inserts and their merges (one rewrite of every row), every run: CPU s per million rows (min-max), then the part it leaves\n');
  console.log('| variant | parts merged | merge CPU s/M rows | merge wall s | bytes on disk per row | of which skip indexes | column data per row |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const v of variants) {
    const os = results.filter((r) => r.variant === v.id && r.optimize !== null).map((r) => r.optimize!);
    if (os.length === 0) continue;
    const last = os[os.length - 1]!;
    console.log(
      `| ${v.id} | ${os.map((o) => o.parts).join(', ')} | ${fmt(perM(Math.min(...os.map((o) => o.cpuS))), 1)}${spread(os.map((o) => perM(o.cpuS)), 1)} ` +
        `| ${fmt(Math.min(...os.map((o) => o.wallS)), 1)} | ${fmt(last.bytesOnDisk / rows)} | ${fmt(last.indexBytes / rows, 1)} | ${fmt(last.dataBytes / rows)} |`,
    );
  }
  const reads = results.flatMap((r) => r.reads);
  if (reads.length > 0) {
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    console.log(`\nReads on ${fmt(rows * (READ_COPIES + 1))} rows, ${READ_REPEATS} repetitions per run, modes alternating: all = every skip index, keys-only = without the`);
    console.log('bloom filters over map values, none = use_skip_indexes = 0; query condition cache off. Median wall ms and process CPU ms over every repetition of every run.\n');
    console.log('| read | mode | granules read / before indexes | rows read | ms | CPU ms | answer |');
    console.log('|---|---|---:|---:|---:|---:|---|');
    const keys = [...new Set(reads.map((r) => `${r.query}\0${r.mode}`))];
    for (const key of keys) {
      const rs = reads.filter((r) => `${r.query}\0${r.mode}` === key);
      const r = rs[0]!;
      console.log(
        `| ${r.query} | ${r.mode} | ${r.granules.selected}/${r.granules.total} | ${fmt(r.rowsRead)} | ${fmt(median(rs.flatMap((x) => x.ms)), 1)} ` +
          `| ${fmt(median(rs.flatMap((x) => x.cpuS)) * 1000, 1)} | ${[...new Set(rs.map((x) => x.answer))].join(', ')} |`,
      );
    }
  }
  const chdb = results[0]?.chdb;
  if (chdb !== undefined) console.log(`\nchdb ${chdb}`);
}

// ---------------------------------------------------------------------------
// Child: one variant, one run, one fresh chdb.

interface ChdbSession {
  connection: unknown;
  insert(p: { table: string; values: Buffer; format: string; columns?: readonly string[]; settings?: Settings }): Promise<{ rowsWritten: number }>;
  close(): void;
}
interface ChdbModule {
  Session: new (path: string) => ChdbSession;
}

/**
 * Changes otel_traces as the migrations left it (settings of later migrations
 * included), the way the variant says.
 */
async function changeTable(client: ClickHouseClient, change: NonNullable<Variant['table']>): Promise<void> {
  const query = async <T>(sql: string): Promise<T[]> => (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
  const recreate = async (ddl: string): Promise<void> => {
    await client.command({ query: `DROP TABLE ${TABLE}` });
    await client.command({ query: ddl });
  };
  const [show] = await query<{ statement: string }>(`SHOW CREATE TABLE ${TABLE}`);
  const ddl = show?.statement ?? '';
  const dropIndexes = async (where: string): Promise<void> => {
    const indexes = await query<{ name: string }>(`SELECT name FROM system.data_skipping_indices WHERE database = '${DATABASE}' AND table = 'otel_traces' AND ${where}`);
    if (indexes.length === 0) throw new Error(`otel_traces has no skip index where ${where} to drop`);
    for (const { name } of indexes) await client.command({ query: `ALTER TABLE ${TABLE} DROP INDEX ${name}` });
  };
  // SHOW CREATE TABLE writes one column per line, Nested ones as their Array columns.
  const recodec = (codec: (line: string) => string): string =>
    ddl
      .split('\n')
      .map((line) => (/^\s+`?[\w.]+`? /.test(line) && !/^\s+INDEX /.test(line) ? codec(line) : line))
      .join('\n');
  switch (change) {
    case 'no-bloom':
      return dropIndexes(`type = 'bloom_filter'`);
    case 'keys-only':
      return dropIndexes(`type = 'bloom_filter' AND expr LIKE 'mapValues(%'`);
    case 'no-skip':
      return dropIndexes('1');
    case 'wide':
      await client.command({ query: `ALTER TABLE ${TABLE} MODIFY SETTING min_bytes_for_wide_part = 10485760` });
      return;
    case 'lz4':
      if (!ddl.includes('ZSTD(1)')) throw new Error('otel_traces has no ZSTD(1) codec to replace');
      await recreate(ddl.replace(/ZSTD\(1\)/g, 'LZ4'));
      return;
    case 'lz4-maps':
      if (!/ Map\(.*CODEC\(ZSTD\(1\)\)/.test(ddl)) throw new Error('otel_traces has no Map column with CODEC(ZSTD(1)) to change');
      await recreate(recodec((line) => (line.includes('Map(') ? line.replace('CODEC(ZSTD(1))', 'CODEC(LZ4)') : line)));
      return;
    case 'default-codecs':
      // CODEC(...) holds at most one level of parentheses: CODEC(Delta(8), ZSTD(1)).
      await recreate(recodec((line) => line.replace(/ CODEC\((?:[^()]|\([^()]*\))*\)/, '')));
      return;
    case 'null': {
      // A Null table takes no indexes, partitioning, TTL or settings: the column list only, without column TTLs.
      const columns = ddl
        .slice(0, ddl.indexOf('\n)\nENGINE'))
        .split('\n')
        .filter((line) => !/^\s*(INDEX|PROJECTION|CONSTRAINT) /.test(line))
        .map((line) => line.replace(/ TTL [^,]+(,?)$/, '$1'));
      await recreate(`${columns.join('\n').replace(/,\s*$/, '')}\n)\nENGINE = Null`);
      return;
    }
  }
}

function settingsSql(settings: Settings): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? v : `'${v}'`}`)
    .join(', ');
}

/** `INSERT INTO <table> [<columns>]` as the bench's statements start: JSONEachRow rows name their columns. */
function insertInto(format: Format): string {
  return format === 'json' ? `INSERT INTO ${TABLE}` : `INSERT INTO ${TABLE} ${COLUMN_LIST}`;
}

/** insertRows() without a spool directory, another statement: the same client call, body and answer handling. */
async function inlineInsert(client: ClickHouseClient, lines: readonly string[], token: string, settings: Settings, format: Format): Promise<void> {
  const res = await client.exec({
    query: `${insertInto(format)} SETTINGS insert_deduplication_token='${token}', ${settingsSql(settings)} FORMAT ${FORMAT_NAME[format]}`,
    values: Readable.from([lines.join('\n')]),
  });
  for await (const _ of res.stream) {
    // nothing to read
  }
}

/** CPU per thread name, from /proc/self/task, attributed to the name a thread has when sampled. */
class ThreadSampler {
  private readonly last = new Map<number, number>();
  readonly byName = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.sample(false);
    this.timer = setInterval(() => this.sample(true), 100);
  }

  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample(true);
    // Clock ticks are 1/100 s on Linux (USER_HZ).
    return Object.fromEntries([...this.byName].map(([k, v]) => [k, v / 100]));
  }

  private sample(count: boolean): void {
    for (const entry of readdirSync('/proc/self/task')) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/self/task/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited between readdir and read
      }
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (stat fields 14, 15)
      const tid = Number(entry);
      const prev = this.last.get(tid);
      this.last.set(tid, ticks);
      // A thread first seen after the start was born since: all its time counts.
      if (!count || ticks === prev) continue;
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const name = tid === process.pid ? 'js-main' : comm === 'node' ? 'node-pool' : comm;
      this.byName.set(name, (this.byName.get(name) ?? 0) + ticks - (prev ?? 0));
    }
  }
}

function mainThreadSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function statusKB(key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Query = <T>(sql: string) => Promise<T[]>;

/**
 * OPTIMIZE FINAL after the inserts and their merges: one rewrite of every
 * row into one part, timed apart from the inserts (what a merge of these rows
 * costs with this table's indexes and codecs), then the part's size.
 */
async function optimizeFinal(query: Query, client: ClickHouseClient): Promise<Optimize> {
  const active = `FROM system.parts WHERE database = '${DATABASE}' AND table = 'otel_traces' AND active`;
  const [before] = await query<{ n: string }>(`SELECT count() AS n ${active}`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await client.command({ query: `OPTIMIZE TABLE ${TABLE} FINAL` });
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const [after] = await query<{ disk: string; idx: string; data: string }>(
    `SELECT sum(bytes_on_disk) AS disk, sum(secondary_indices_compressed_bytes) AS idx, sum(data_compressed_bytes) AS data ${active}`,
  );
  return { parts: Number(before?.n), cpuS: (cpu.user + cpu.system) / 1e6, wallS, bytesOnDisk: Number(after?.disk), indexBytes: Number(after?.idx), dataBytes: Number(after?.data) };
}

/** How the reads run: every skip index; without the bloom filters over map values (d-keys-only); without any (d-noskip). */
type ReadMode = 'all' | 'keys-only' | 'none';
const READ_MODES: Record<ReadMode, string> = {
  // The query condition cache (ClickHouse 25.3 on) remembers the granules where a filter matched nothing: a repeated read
  // would measure it, not the skip indexes.
  all: 'use_query_condition_cache = 0',
  'keys-only': "use_query_condition_cache = 0, ignore_data_skipping_indices = 'idx_res_attr_value,idx_span_attr_value'",
  none: 'use_query_condition_cache = 0, use_skip_indexes = 0',
};
/** The reads' table: the inserted rows and this many copies, each a minute later with other trace and span ids. */
const READ_COPIES = 9;
const COPY_SHIFT_S = 60;
const READ_REPEATS = 3;
/** The request explorer's first window (explorer.ts). */
const EXPLORER_WINDOW_NS = 3_600n * 1_000_000_000n;

/** `sql` with one more setting, added to its trailing SETTINGS clause or as one. */
function withSetting(sql: string, setting: string): string {
  return /\bSETTINGS [^()]*$/.test(sql) ? `${sql}, ${setting}` : `${sql} SETTINGS ${setting}`;
}

/**
 * Granules read from the table by a statement, by EXPLAIN indexes = 1: after the last index of each read, and before the
 * first. EXPLAIN does not run an IN (subquery), so such a read counts too few: its rows read are the figure then.
 */
function granulesOf(explain: string): { selected: number; total: number } {
  const out = { selected: 0, total: 0 };
  for (const read of explain.split('ReadFromMergeTree').slice(1)) {
    const counts = [...read.matchAll(/Granules: (\d+)\/(\d+)/g)];
    if (counts.length === 0) continue;
    out.selected += Number(counts[counts.length - 1]![1]);
    out.total += Number(counts[0]![2]);
  }
  return out;
}

/**
 * What the skip indexes buy on the product's reads: the request explorer's
 * list (its first window is an hour; a minute stands for a window that is a
 * small part of a day partition), opening a request and looking a trace up,
 * the dashboard, and tenant SQL filtering on attribute values and keys. Each
 * in every ReadMode on the same data (merges stopped), the modes alternating;
 * rows read from the answer's statistics (chdb has no query_log), granules
 * from EXPLAIN, CPU of the whole process (chdb runs in it).
 */
async function measureReads(query: Query, client: ClickHouseClient, log: (msg: string) => void): Promise<ReadResult[]> {
  const [range] = await query<{ lo: string; hi: string }>(`SELECT toString(toUnixTimestamp64Nano(min(Timestamp))) AS lo, toString(toUnixTimestamp64Nano(max(Timestamp))) AS hi FROM ${TABLE}`);
  const [lo, hi] = [BigInt(range!.lo), BigInt(range!.hi)];
  if (hi - lo >= BigInt(COPY_SHIFT_S) * 1_000_000_000n) throw new Error(`the rows span ${(hi - lo) / 1_000_000_000n} s, more than the copies' shift of ${COPY_SHIFT_S} s`);
  // The parts of the inserted rows: a copy's REPLACE aliases would take the place of the columns in a WHERE on them.
  const seed = (await query<{ name: string }>(`SELECT name FROM system.parts WHERE database = '${DATABASE}' AND table = 'otel_traces' AND active`)).map((p) => sqlString(p.name));
  const newId = (col: string, k: number, len: number): string => `substring(lower(hex(MD5(concat(${col}, '${k}')))), 1, ${len})`;
  for (let k = 1; k <= READ_COPIES; k++) {
    await client.command({
      query:
        `INSERT INTO ${TABLE} SELECT * REPLACE (Timestamp + toIntervalSecond(${k * COPY_SHIFT_S}) AS Timestamp, ${newId('TraceId', k, 32)} AS TraceId, ` +
        `${newId('SpanId', k, 16)} AS SpanId, if(ParentSpanId = '', '', ${newId('ParentSpanId', k, 16)}) AS ParentSpanId) ` +
        `FROM ${TABLE} WHERE _part IN (${seed.join(', ')})`,
    });
  }
  await client.command({ query: `SYSTEM STOP MERGES ${TABLE}` });
  const [size] = await query<{ rows: string; parts: string }>(`SELECT sum(rows) AS rows, count() AS parts FROM system.parts WHERE database = '${DATABASE}' AND table = 'otel_traces' AND active`);
  log(`reads: ${size?.rows} rows in ${size?.parts} parts`);

  const tenant = TENANTS[0]!;
  const first = async <T>(sql: string): Promise<T> => {
    const [row] = await query<T>(sql);
    if (row === undefined) throw new Error(`no row for the reads: ${sql}`);
    return row;
  };
  const inTenant = `FROM ${TABLE} WHERE TenantId = '${tenant}'`;
  const common = await first<{ v: string; n: string }>(`SELECT SpanAttributes['gen_ai.request.model'] AS v, count() AS n ${inTenant} AND v != '' GROUP BY v ORDER BY n DESC, v LIMIT 1`);
  const rare = await first<{ v: string; n: string }>(`SELECT SpanAttributes['user.id'] AS v, count() AS n ${inTenant} AND v != '' GROUP BY v ORDER BY n, v LIMIT 1`);
  const span = await first<{ TraceId: string; SpanId: string; client: string }>(`SELECT TraceId, SpanId, SpanAttributes['client.address'] AS client ${inTenant} ORDER BY cityHash64(SpanId) LIMIT 1`);
  const middle = lo + BigInt((READ_COPIES >> 1) * COPY_SHIFT_S) * 1_000_000_000n;
  const hour = { tenant, wfrom: String(hi + BigInt(READ_COPIES * COPY_SHIFT_S) * 1_000_000_000n - EXPLORER_WINDOW_NS), wto: String(hi + BigInt(READ_COPIES * COPY_SHIFT_S) * 1_000_000_000n + 1n), limit: 51 };
  const minute = { tenant, wfrom: String(middle), wto: String(middle + BigInt(COPY_SHIFT_S) * 1_000_000_000n), limit: 51 };
  const dayS = Number(lo / 1_000_000_000n / 86_400n) * 86_400;
  const sqlCount = (where: string): string => `SELECT count() AS n ${inTenant} AND ${where}`;
  const reads: { query: string; sql: string; params: Record<string, unknown> }[] = [
    { query: 'explorer list, first window (1 h)', sql: listSql({ fromNs: 0n, toNs: 0n }, false), params: hour },
    { query: 'explorer list, 1 min window', sql: listSql({ fromNs: 0n, toNs: 0n }, false), params: minute },
    { query: 'explorer list, 1 min window, filter on the most common model', sql: listSql({ fromNs: 0n, toNs: 0n, model: common.v }, false), params: { ...minute, model: common.v } },
    {
      query: 'open a request (TenantId, TraceId, SpanId)',
      sql: `SELECT toString(Timestamp) AS t, SpanName, SpanAttributes['gen_ai.request.model'] AS model ${inTenant} AND TraceId = {trace:String} AND SpanId = {span:String} ORDER BY Timestamp LIMIT 1`,
      params: { trace: span.TraceId, span: span.SpanId },
    },
    { query: 'trace by TraceId, every tenant', sql: `SELECT count() AS n FROM ${TABLE} WHERE TraceId = {trace:String}`, params: { trace: span.TraceId } },
    { query: 'dashboard, the day', sql: dashboardSql(), params: { tenant, from: dayS, to: dayS + 86_400, step: 3600 } },
    { query: `SQL: SpanAttributes['gen_ai.request.model'] = most common (${common.n} rows)`, sql: sqlCount(`SpanAttributes['gen_ai.request.model'] = {v:String}`), params: { v: common.v } },
    { query: `SQL: SpanAttributes['user.id'] = rarest user (${rare.n} rows)`, sql: sqlCount(`SpanAttributes['user.id'] = {v:String}`), params: { v: rare.v } },
    // A request's client address: random per request, so in one request of each copy.
    { query: `SQL: SpanAttributes['client.address'] = one request's`, sql: sqlCount(`SpanAttributes['client.address'] = {v:String}`), params: { v: span.client } },
    { query: `SQL: SpanAttributes['gen_ai.request.model'] = absent value`, sql: sqlCount(`SpanAttributes['gen_ai.request.model'] = {v:String}`), params: { v: 'no-such-model' } },
    { query: `SQL: mapContains(SpanAttributes, 'error.type')`, sql: sqlCount(`mapContains(SpanAttributes, 'error.type')`), params: {} },
  ];

  const results = new Map<string, ReadResult>();
  const modes = Object.keys(READ_MODES) as ReadMode[];
  // Repetition 0 warms caches and is not kept; the order of the modes turns each repetition.
  for (let rep = 0; rep <= READ_REPEATS; rep++) {
    for (const read of reads) {
      for (let m = 0; m < modes.length; m++) {
        const mode = modes[(m + rep) % modes.length]!;
        const sql = withSetting(read.sql, READ_MODES[mode]);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const res = await client.query({ query: sql, query_params: read.params, format: 'JSON' });
        const answer = await res.json<Record<string, unknown>>();
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        const key = `${read.query}\0${mode}`;
        let r = results.get(key);
        if (r === undefined) {
          const explain = await (await client.query({ query: `EXPLAIN indexes = 1 ${sql}`, query_params: read.params, format: 'TabSeparatedRaw' })).text();
          const rows = answer.data.map((d) => JSON.stringify(d)).sort();
          r = { query: read.query, mode, ms: [], cpuS: [], rowsRead: Number(answer.statistics?.rows_read ?? NaN), granules: granulesOf(explain), answer: `${rows.length} rows ${createHash('sha1').update(rows.join()).digest('hex').slice(0, 10)}` };
          results.set(key, r);
        }
        if (rep > 0) {
          r.ms.push(ms);
          r.cpuS.push((cpu.user + cpu.system) / 1e6);
        }
      }
    }
    log(`reads: pass ${rep}/${READ_REPEATS}`);
  }
  return [...results.values()];
}

async function child(spec: ChildSpec): Promise<RunResult> {
  const { variant, rows } = spec;
  const log = (msg: string): void => void process.stderr.write(`    ${variant.id} #${spec.run}: ${msg}\n`);
  const dataDir = mkdtempSync(join(spec.workDir, `${variant.id}-`));
  const ch = openClickHouse({ url: '', dataDir });
  const client = ch.client;
  if (ch.spoolDir === undefined) throw new Error('openClickHouse gave no spool directory for embedded chdb');
  const spoolDir = ch.spoolDir;
  const query = async <T>(sql: string): Promise<T[]> => (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
  await migrate(client);
  if (variant.table !== undefined) await changeTable(client, variant.table);
  const columns = (await query<{ name: string }>(`SELECT name FROM system.columns WHERE database = '${DATABASE}' AND table = 'otel_traces' ORDER BY position`)).map((c) => c.name);
  if (columns.join() !== COLUMNS.join()) throw new Error(`otel_traces columns changed: ${columns.join()}`);
  if (variant.stopMerges === true) await client.command({ query: `SYSTEM STOP MERGES ${TABLE}` });

  // chdb's own API on a second connection to the same directory (chdb allows several).
  const require = createRequire(import.meta.url);
  const chdb = require('chdb') as ChdbModule;
  const session = variant.path === 'raw' ? new chdb.Session(join(dataDir, 'clickhouse')) : undefined;

  // Payload -> batches, before the clock: text formats as a string per row;
  // the binary formats as latin1 strings of one request each, as the collector holds Native blocks.
  const data = readFileSync(spec.payload.file);
  const offsetsRaw = readFileSync(spec.payload.offsetsFile);
  const offsets = new Float64Array(offsetsRaw.buffer, offsetsRaw.byteOffset, offsetsRaw.length / 8);
  const lineBatches: string[][] = [];
  const binaryBatches: TableRows[][] = [];
  for (let start = 0; start < rows; start += variant.batchRows) {
    const end = Math.min(rows, start + variant.batchRows);
    if (isBinary(variant.format)) {
      const parts: TableRows[] = [];
      for (let r = start; r < end; r += SPANS_PER_REQUEST) {
        const [from, to] = [offsets[r]!, offsets[Math.min(end, r + SPANS_PER_REQUEST)]!];
        if (Number.isNaN(from) || Number.isNaN(to)) throw new Error(`rows ${r}-${end} cut a Native block: give a --rows and batch size in whole requests (${SPANS_PER_REQUEST} rows)`);
        parts.push({ body: data.toString('latin1', from, to), rows: Math.min(end, r + SPANS_PER_REQUEST) - r });
      }
      binaryBatches.push(parts);
    } else {
      lineBatches.push(data.toString('utf8', offsets[start], offsets[end]! - 1).split('\n'));
    }
  }
  const batches = isBinary(variant.format) ? binaryBatches.length : lineBatches.length;
  const format = FORMAT_NAME[variant.format];
  const insert = async (i: number, token: string): Promise<void> => {
    switch (variant.path) {
      case 'exact':
        await insertRows(client, 'otel_traces', binaryBatches[i]!, token, spoolDir);
        return;
      case 'inline':
        await inlineInsert(client, lineBatches[i]!, token, variant.settings, variant.format);
        return;
      case 'raw':
        // Session.insert names the columns unquoted (its identifiers are [A-Za-z0-9_] segments joined by '.').
        await session!.insert({
          table: TABLE,
          values: Buffer.from(lineBatches[i]!.join('\n')),
          format,
          ...(variant.format === 'json' ? {} : { columns: COLUMNS }),
          settings: { insert_deduplication_token: token, ...variant.settings },
        });
        return;
      case 'infile': {
        // As insertRows does it, with the variant's statement and format.
        const file = join(spoolDir, `otel_traces-${token}.${variant.format}`);
        await writeFile(file, isBinary(variant.format) ? Buffer.from(binaryBatches[i]!.map((p) => p.body).join(''), 'latin1') : lineBatches[i]!.join('\n'));
        try {
          await client.command({ query: `${insertInto(variant.format)} FROM INFILE ${sqlString(file)} SETTINGS insert_deduplication_token='${token}', ${settingsSql(variant.settings)} FORMAT ${format}` });
        } finally {
          await rm(file, { force: true });
        }
        return;
      }
    }
  };

  const events = async (): Promise<Map<string, number>> =>
    new Map((await query<{ event: string; value: string }>('SELECT event, value FROM system.events')).map((e) => [e.event, Number(e.value)]));
  const events0 = await events();
  (globalThis as { gc?: () => void }).gc?.();
  // Reset VmHWM: the peak should be that of the inserts, not of reading the payload.
  writeFileSync('/proc/self/clear_refs', '5');
  const rssBeforeMB = statusKB('VmRSS') / 1024;
  const sampler = new ThreadSampler();
  sampler.start();
  const main0 = mainThreadSeconds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const mono0 = process.hrtime.bigint();
  const tokens: string[] = [];
  const latencies: number[] = [];
  for (let i = 0; i < batches; i++) {
    const token = randomUUID();
    tokens.push(token);
    const at = performance.now();
    await insert(i, token);
    latencies.push(performance.now() - at);
    if ((i + 1) % Math.max(1, Math.floor(batches / 4)) === 0 && i + 1 < batches) log(`${i + 1}/${batches} inserts`);
  }
  const t1 = performance.now();
  const cpu1 = process.cpuUsage(cpu0);
  // BENCH_PERF_WINDOW=1: print the insert window in CLOCK_MONOTONIC seconds, for
  // `perf record -k CLOCK_MONOTONIC` and `perf report --time <from>,<to>` (libchdb.so
  // is stripped: DSO, thread and kernel level only).
  const perfSeconds = (ns: bigint): string => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0').slice(0, 6)}`;
  if (process.env['BENCH_PERF_WINDOW'] === '1') log(`perf --time ${perfSeconds(mono0)},${perfSeconds(process.hrtime.bigint())}`);
  const main1 = mainThreadSeconds();
  const peakRssMB = statusKB('VmHWM') / 1024;

  // Background merges go on after the last insert: wait until none has run for
  // two polls in a row (at most 30 s), so their CPU is counted too.
  let quiet = 0;
  while (quiet < 2 && performance.now() - t1 < 30_000) {
    await sleep(250);
    const [m] = await query<{ n: string }>('SELECT count() AS n FROM system.merges');
    quiet = Number(m?.n ?? 0) === 0 ? quiet + 1 : 0;
  }
  const t2 = performance.now();
  const cpu2 = process.cpuUsage(cpu0);
  const eventDeltas: Record<string, number> = {};
  for (const [name, value] of await events()) if (value !== (events0.get(name) ?? 0)) eventDeltas[name] = value - (events0.get(name) ?? 0);
  const threads = sampler.stop();
  const cpuTotalS = (cpu2.user + cpu2.system) / 1e6;
  threads['exited threads'] = Math.max(0, cpuTotalS - Object.values(threads).reduce((a, b) => a + b, 0));

  // Inactive (merged away) parts stay listed for old_parts_lifetime (8 min), so
  // rows in parts of level > 0 count the rows merges wrote.
  const [parts] = await query<{ n_active: string; n_total: string; merged: string; bytes: string }>(
    `SELECT countIf(active) AS n_active, count() AS n_total, sumIf(rows, level > 0) AS merged, sumIf(data_compressed_bytes, active) AS bytes ` +
      `FROM system.parts WHERE database = '${DATABASE}' AND table = 'otel_traces'`,
  );
  let check: Check | null = null;
  let dedup = 'n/a';
  let optimize: Optimize | null = null;
  let reads: ReadResult[] = [];
  if (variant.table !== 'null') {
    const checkSql =
      `SELECT toString(count()) AS rows, toString(sum(cityHash64(${COLUMNS.map((c) => (c.includes('.') ? `\`${c}\`` : c)).join(', ')}))) AS hash, ` +
      `toString(sum(length(SpanAttributes['gateway.response.body']))) AS bodyBytes FROM ${TABLE}`;
    check = (await query<Check>(checkSql))[0] ?? null;
    // A retry: the first batch again with its token must add nothing.
    await insert(0, tokens[0]!);
    const [after] = await query<{ n: string }>(`SELECT toString(count()) AS n FROM ${TABLE}`);
    dedup = after?.n === check?.rows ? 'yes' : `NO (+${Number(after?.n) - Number(check?.rows)} rows)`;
    if (variant.stopMerges === true) await client.command({ query: `SYSTEM START MERGES ${TABLE}` });
    optimize = await optimizeFinal(query, client);
    if (variant.reads === true) reads = await measureReads(query, client, log);
  }
  latencies.sort((a, b) => a - b);
  const result: RunResult = {
    variant: variant.id,
    run: spec.run,
    rows,
    inserts: batches,
    wallS: (t1 - t0) / 1000,
    rowsPerS: rows / ((t1 - t0) / 1000),
    cpuInsertS: (cpu1.user + cpu1.system) / 1e6,
    sysInsertS: cpu1.system / 1e6,
    cpuTotalS,
    settleS: (t2 - t1) / 1000,
    mainThreadS: main1 - main0,
    threads,
    rssBeforeMB,
    peakRssMB,
    insertMs: { p50: latencies[Math.floor(latencies.length / 2)] ?? 0, max: latencies[latencies.length - 1] ?? 0 },
    events: eventDeltas,
    parts: { active: Number(parts?.n_active), total: Number(parts?.n_total), mergedRows: Number(parts?.merged), compressedMB: Number(parts?.bytes) / 2 ** 20 },
    check,
    dedup,
    optimize,
    reads,
    chdb: (await query<{ v: string }>('SELECT version() AS v'))[0]?.v ?? '?',
  };
  session?.close();
  await ch.close();
  rmSync(dataDir, { recursive: true, force: true });
  return result;
}

await childOrParent(child, parent);
