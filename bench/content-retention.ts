// Content retention shorter than row retention (issue 17): what each storage
// layout costs (bytes on disk, insert CPU) and how fast, and at what CPU, its
// expired content leaves the parts. Embedded ClickHouse (chdb), full-tier
// spans of the gateway traffic model with bodies (bench/otlp-batches.ts),
// decoded and run through the `full` tier by the real tier engine; in the
// layouts that expire content, every span's content (bodies, captured headers:
// processors/conventions/content.ts) expires early.
//
//   npx tsx bench/content-retention.ts [--rows 64000] [--batch 8000] [--runs 2] [--only shadow,split] [--encode-only]
//
// Layouts (otel_traces; the logs table takes the same one):
//   before    the schema before migration 010 (reference for what its columns cost every tier)
//   base      today, for tiers whose content lives as long as the row: content
//             in SpanAttributes, empty content columns (reference)
//   split     the product's (encode.ts, migration 010): content in
//             ContentAttributes, whose column TTL is ContentExpireAt;
//             SpanAttributes without content from the start
//   shadow    column TTL, transparent: SpanAttributes keeps everything until the
//             content expires; then a TTL merge replaces it by its DEFAULT, a
//             stored copy without content (SpanAttributesWithoutContent)
//   table     content in its own table (otel_content, joined by span id) with a
//             row TTL, partitioned by expiry day, ttl_only_drop_parts = 1
//   mutation  SpanAttributes keeps everything; ContentKeys lists the content
//             keys; expiry is an ALTER TABLE ... UPDATE the application runs
//
// Each run is a child process with a fresh chdb directory. The child stops TTL
// merges, inserts (INSERT ... FROM INFILE, as sinks/clickhouse/insert.ts does)
// rows whose content expired a second after the child started, waits for
// background merges to stop, measures the parts, then lets the content expire
// (SYSTEM START TTL MERGES, or the mutation) and measures until no row shows
// content, and until the old parts that held it are deleted (old_parts_lifetime
// and cleanup_delay_period at 1 s here; 480 s and 30 s by default).
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildPool } from './otlp-batches.ts';
import { childOrParent } from './procs.ts';
import { decodeTracesProto } from '../collector/otlp/decode-proto.ts';
import { loadSettings } from '../core/settings.ts';
import { buildTierEngine } from '../app/pipeline.ts';
import type { Attributes, BatchContext, RecordBatch } from '../core/record.ts';
import { DATABASE, openClickHouse, sqlString } from '../storage/clickhouse.ts';
import { NEVER_EXPIRES, timeText } from '../sinks/clickhouse/encode.ts';
import { traceLines, tsvMap, TSV_COLUMN_LIST } from './tsv-traces.ts';
import { splitContent } from '../processors/conventions/classify.ts';
import { listMigrations, migrate } from '../storage/migrate.ts';

const TRACES = `${DATABASE}.otel_traces`;
const CONTENT = `${DATABASE}.otel_content`;
const TENANTS = ['acme', 'globex', 'initech'];
const SPANS_PER_REQUEST = 1000;
/** ContentExpireAt in the payload; each child writes its own expiry time in its place. */
const EXPIRY_PLACEHOLDER = '4011111111';
const CHILD_TIMEOUT_MS = 300_000;

interface Lines {
  traces: string[];
  content: string[];
}

interface Variant {
  id: string;
  what: string;
  /** Migrations up to this version only (default: all). */
  migrations?: number;
  /** Changes to the tables as the migrations leave them. */
  ddl: string[];
  /** Columns after tsv-traces.ts's in each otel_traces line. */
  extra: string[];
  encode(b: { batch: RecordBatch; ctx: BatchContext }): Lines;
  /** SQL counting rows that still show content. */
  probe: string;
  /** What makes expired content go (besides SYSTEM START TTL MERGES). */
  expire?: string;
}

/** The TabSeparated lines (tsv-traces.ts) for spans whose content lives as long as the row, with the last columns (ContentExpireAt, ContentAttributes, EventsContentAttributes) cut off. */
function withoutContentColumns(b: { batch: RecordBatch; ctx: BatchContext }, attrs: (a: Attributes) => Attributes = (a) => a): string[] {
  const expireAt = b.batch.expireAt ?? NEVER_EXPIRES;
  const tail = `\t${expireAt}\t{}\t[]`;
  const { contentExpireAt: _none, ...batch } = b.batch;
  return traceLines({ ...batch, spans: batch.spans.map((s) => ({ ...s, attributes: attrs(s.attributes) })) }, b.ctx).map((line) => {
    if (!line.endsWith(tail)) throw new Error('tsv-traces.ts no longer ends otel_traces lines with ContentExpireAt, ContentAttributes, EventsContentAttributes');
    return line.slice(0, -tail.length);
  });
}
const kept = (a: Attributes): Attributes => splitContent(a).kept;
const contentOf = (a: Attributes): Attributes => splitContent(a).content ?? {};
const hasContent = "(mapContains(SpanAttributes, 'gateway.request.body') OR mapContains(SpanAttributes, 'gateway.response.body'))";
const MAP = 'Map(LowCardinality(String), String) CODEC(ZSTD(1))';

const VARIANTS: Variant[] = [
  {
    id: 'before',
    what: 'the layout before migration 010 (no content columns)',
    migrations: 9,
    ddl: [],
    extra: [],
    encode: (b) => ({ traces: withoutContentColumns(b), content: [] }),
    probe: `SELECT count() AS n FROM ${TRACES} WHERE ${hasContent}`,
  },
  {
    id: 'base',
    what: 'content in SpanAttributes, expires with the row (tiers without contentRetentionDays)',
    ddl: [],
    extra: [],
    encode: (b) => ({ traces: traceLines({ ...b.batch, contentExpireAt: undefined }, b.ctx), content: [] }),
    probe: `SELECT count() AS n FROM ${TRACES} WHERE ${hasContent}`,
  },
  {
    id: 'split',
    what: 'chosen: content in ContentAttributes (column TTL), SpanAttributes without it',
    ddl: [],
    extra: [],
    encode: (b) => ({ traces: traceLines({ ...b.batch, contentExpireAt: Number(EXPIRY_PLACEHOLDER) }, b.ctx), content: [] }),
    probe: `SELECT count() AS n FROM ${TRACES} WHERE notEmpty(ContentAttributes)`,
  },
  {
    id: 'shadow',
    what: 'column TTL on SpanAttributes, DEFAULT a stored copy without content',
    ddl: [
      `ALTER TABLE ${TRACES} ADD COLUMN SpanAttributesWithoutContent ${MAP}`,
      `ALTER TABLE ${TRACES} MODIFY COLUMN SpanAttributes Map(LowCardinality(String), String) DEFAULT SpanAttributesWithoutContent TTL ContentExpireAt`,
    ],
    extra: ['SpanAttributesWithoutContent'],
    encode: (b) => {
      const lines = withoutContentColumns(b);
      return { traces: b.batch.spans.map((s, i) => `${lines[i]}\t${EXPIRY_PLACEHOLDER}\t{}\t[]\t${tsvMap(kept(s.attributes))}`), content: [] };
    },
    probe: `SELECT count() AS n FROM ${TRACES} WHERE ${hasContent}`,
  },
  {
    id: 'table',
    what: 'content in otel_content (row TTL, ttl_only_drop_parts)',
    ddl: [
      `CREATE TABLE ${CONTENT} (TenantId LowCardinality(String) CODEC(ZSTD(1)), Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)), ` +
        `TraceId String CODEC(ZSTD(1)), SpanId String CODEC(ZSTD(1)), ContentAttributes ${MAP}, ContentExpireAt DateTime CODEC(ZSTD(1))) ` +
        `ENGINE = MergeTree PARTITION BY toDate(ContentExpireAt) ORDER BY (TenantId, TraceId, SpanId) TTL ContentExpireAt ` +
        `SETTINGS ttl_only_drop_parts = 1, min_bytes_for_wide_part = 268435456, non_replicated_deduplication_window = 10000`,
    ],
    extra: [],
    encode: (b) => {
      return {
        traces: traceLines({ ...b.batch, contentExpireAt: undefined, spans: b.batch.spans.map((s) => ({ ...s, attributes: kept(s.attributes) })) }, b.ctx),
        content: b.batch.spans.flatMap((s) => {
          const c = contentOf(s.attributes);
          return Object.keys(c).length === 0 ? [] : [`${b.ctx.tenantId}\t${timeText(s.startTimeUnixNano)}\t${s.traceId}\t${s.spanId}\t${tsvMap(c)}\t${EXPIRY_PLACEHOLDER}`];
        }),
      };
    },
    probe: `SELECT count() AS n FROM ${CONTENT}`,
  },
  {
    id: 'mutation',
    what: 'content keys listed; ALTER TABLE UPDATE removes them',
    ddl: [`ALTER TABLE ${TRACES} ADD COLUMN ContentKeys Array(LowCardinality(String)) CODEC(ZSTD(1))`],
    extra: ['ContentKeys'],
    encode: (b) => {
      const lines = withoutContentColumns(b);
      return {
        traces: b.batch.spans.map((s, i) => `${lines[i]}\t${EXPIRY_PLACEHOLDER}\t{}\t[]\t[${Object.keys(contentOf(s.attributes)).map((k) => `'${k}'`).join(',')}]`),
        content: [],
      };
    },
    probe: `SELECT count() AS n FROM ${TRACES} WHERE ${hasContent}`,
    expire:
      `ALTER TABLE ${TRACES} UPDATE SpanAttributes = mapFilter((k, v) -> NOT has(ContentKeys, k), SpanAttributes), ContentKeys = [] ` +
      `WHERE notEmpty(ContentKeys) AND ContentExpireAt <= now()`,
  },
];

// ---------------------------------------------------------------------------
// Parent

function buildRecords(rows: number): { batch: RecordBatch; ctx: BatchContext }[] {
  const scratch = mkdtempSync(join(tmpdir(), 'consentry-bench-engine-'));
  const settings = loadSettings({}, { dataDir: scratch, hmacKey: randomBytes(32).toString('base64'), defaultTier: 'full', tiersDir: '' });
  const engine = buildTierEngine(settings, { count: () => {}, onRedact: () => {}, onDrop: () => {} });
  const perTenant = Math.ceil(rows / SPANS_PER_REQUEST / TENANTS.length);
  const receivedAtMs = Date.now();
  const pools = TENANTS.map((tenantId, i) =>
    buildPool({ tenantId, seed: 42 + i * 1000, bodies: true, spansPerBatch: SPANS_PER_REQUEST, batches: perTenant, markerTemplates: 1, baseTimeMs: receivedAtMs - 60_000, requestsPerSecond: 20_000 }),
  );
  const out: { batch: RecordBatch; ctx: BatchContext }[] = [];
  let n = 0;
  for (let r = 0; r < perTenant && n < rows; r++) {
    for (let t = 0; t < TENANTS.length && n < rows; t++) {
      const ctx: BatchContext = { tenantId: TENANTS[t]!, tier: 'full', tierVersion: 1, receivedAtMs };
      const batch = engine.process({ spans: decodeTracesProto(pools[t]!.batches[r]!).records, logs: [], summaries: [], metadata: [] }, ctx);
      batch.spans = batch.spans.slice(0, rows - n);
      batch.logs = [];
      batch.metadata = [];
      out.push({ batch, ctx });
      n += batch.spans.length;
    }
  }
  rmSync(scratch, { recursive: true, force: true });
  return out;
}

interface ChildSpec {
  variant: string;
  run: number;
  rows: number;
  batchRows: number;
  traces: string;
  content: string;
  workDir: string;
}

interface Result {
  variant: string;
  run: number;
  rowsPerS: number;
  cpuInsertS: number;
  cpuSettledS: number;
  bytes: { compressed: number; uncompressed: number };
  contentRowsBefore: number;
  expiry: { goneS: number; partsDeletedS: number; cpuS: number; bytesAfter: number; contentRowsAfter: number; rowsAfter: number };
}

/** Whether a layout's content expires before its row (the others are references). */
const expires = (v: Variant): boolean => v.id !== 'base' && v.id !== 'before';
const fmt = (n: number | null, digits = 0): string => (n ?? NaN).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** The smallest measured time, or "not within 120 s" when no run saw it (NaN, null once through JSON). */
const seconds = (xs: Array<number | null>): string => {
  const seen = xs.filter((x): x is number => x !== null && !Number.isNaN(x));
  return seen.length === 0 ? 'not within 120 s' : `${fmt(Math.min(...seen), 1)} s`;
};

async function parent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '64000' },
      batch: { type: 'string', default: '8000' },
      runs: { type: 'string', default: '2' },
      only: { type: 'string', default: '' },
      'encode-only': { type: 'boolean', default: false },
    },
  });
  const rows = Number(values.rows);
  const runs = Number(values.runs);
  const only = values.only.split(',').filter(Boolean);
  const variants = VARIANTS.filter((v) => v.id === 'base' || v.id === 'before' || only.length === 0 || only.includes(v.id));
  console.log(`${variants.length} variants x ${runs} runs, ${fmt(rows)} full-tier spans with bodies, ${values.batch} rows per insert; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  const built = buildRecords(rows);
  const workDir = mkdtempSync(join(tmpdir(), 'consentry-bench-content-'));
  // JS encode CPU per row: five passes over every variant in turn (interleaved,
  // so that load from elsewhere spreads over all of them), the best of each.
  const encodeUs = new Map<string, number>();
  const encodeAll = (v: Variant): Lines => {
    const lines: Lines = { traces: [], content: [] };
    for (const b of built) {
      const l = v.encode(b);
      lines.traces.push(...l.traces);
      lines.content.push(...l.content);
    }
    return lines;
  };
  for (let pass = 0; pass < 5; pass++) {
    for (const v of variants) {
      // CPU time, not wall time: waiting for a core on a loaded machine does not count.
      const t0 = process.cpuUsage();
      encodeAll(v);
      const t1 = process.cpuUsage(t0);
      const us = (t1.user + t1.system) / rows;
      encodeUs.set(v.id, Math.min(encodeUs.get(v.id) ?? Infinity, us));
    }
  }
  const files = new Map<string, { traces: string; content: string }>();
  for (const v of variants) {
    const lines = encodeAll(v);
    const f = { traces: join(workDir, `${v.id}.traces.tsv`), content: join(workDir, `${v.id}.content.tsv`) };
    writeFileSync(f.traces, lines.traces.join('\n'));
    writeFileSync(f.content, lines.content.join('\n'));
    files.set(v.id, f);
  }
  if (values['encode-only']) {
    for (const v of variants) console.log(`  ${v.id.padEnd(9)} JS encode ${encodeUs.get(v.id)!.toFixed(2)} us/row`);
    rmSync(workDir, { recursive: true, force: true });
    return;
  }
  const results: Result[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const v of variants) {
        const r = await runChild({ variant: v.id, run, rows, batchRows: Number(values.batch), ...files.get(v.id)!, workDir });
        results.push(r);
        console.log(
          `  ${v.id.padEnd(9)} run ${run}: ${fmt(r.rowsPerS)} rows/s, CPU ${fmt((r.cpuInsertS / rows) * 1e6, 1)} s/M (+merges ${fmt((r.cpuSettledS / rows) * 1e6, 1)}), ` +
            `${fmt(r.bytes.compressed / rows, 1)} B/row; expiry: content gone after ${fmt(r.expiry.goneS, 1)} s, old parts deleted after ${fmt(r.expiry.partsDeletedS, 1)} s, ` +
            `CPU ${fmt((r.expiry.cpuS / rows) * 1e6, 1)} s/M, ${fmt(r.expiry.bytesAfter / rows, 1)} B/row after`,
        );
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const base = results.filter((r) => r.variant === 'base');
  const min = (xs: number[]): number => Math.min(...xs);
  const baseCpu = min(base.map((r) => r.cpuSettledS));
  const baseBytes = min(base.map((r) => r.bytes.compressed));
  console.log('\nBest of the runs. CPU: process CPU (all threads) per million rows, inserts until background merges stopped; JS encode: the encoder alone.');
  console.log('| layout | what | JS encode us/row | insert CPU s/M rows | vs base | stored B/row | vs base | content gone after | old parts deleted after | expiry CPU s/M rows | B/row after expiry | content rows before / after |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const v of variants) {
    const rs = results.filter((r) => r.variant === v.id);
    if (rs.length === 0) continue;
    const cpu = min(rs.map((r) => r.cpuSettledS));
    const bytes = min(rs.map((r) => r.bytes.compressed));
    const pct = (a: number, b: number): string => `${a >= b ? '+' : ''}${fmt(((a - b) / b) * 100)}%`;
    console.log(
      `| ${v.id} | ${v.what} | ${encodeUs.get(v.id)!.toFixed(2)} | ${fmt((cpu / rows) * 1e6, 1)} | ${pct(cpu, baseCpu)} | ${fmt(bytes / rows, 1)} | ${pct(bytes, baseBytes)} ` +
        `| ${!expires(v) ? 'n/a' : seconds(rs.map((r) => r.expiry.goneS))} | ${!expires(v) ? 'n/a' : seconds(rs.map((r) => r.expiry.partsDeletedS))} ` +
        `| ${!expires(v) ? 'n/a' : fmt((min(rs.map((r) => r.expiry.cpuS)) / rows) * 1e6, 1)} | ${!expires(v) ? 'n/a' : fmt(min(rs.map((r) => r.expiry.bytesAfter)) / rows, 1)} ` +
        `| ${rs.map((r) => `${r.contentRowsBefore} / ${r.expiry.contentRowsAfter}`).join(', ')} |`,
    );
  }
  console.log(`load at end ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
}

function runChild(spec: ChildSpec): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line !== undefined) resolve(JSON.parse(line.slice(7)) as Result);
      else reject(new Error(`child ${spec.variant} run ${spec.run} failed (exit ${code ?? signal}):\n${out.slice(-3000)}`));
    });
  });
}

// ---------------------------------------------------------------------------
// Child

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function child(spec: ChildSpec): Promise<Result> {
  const variant = VARIANTS.find((v) => v.id === spec.variant)!;
  const dataDir = mkdtempSync(join(spec.workDir, `${variant.id}-`));
  const ch = openClickHouse({ url: '', dataDir });
  const client: ClickHouseClient = ch.client;
  const query = async <T>(sql: string): Promise<T[]> => (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
  const command = (sql: string): Promise<unknown> => client.command({ query: sql });
  await migrate(client, variant.migrations === undefined ? {} : { migrations: listMigrations().filter((m) => m.version <= variant.migrations!) });
  for (const sql of variant.ddl) await command(sql);
  const tables = variant.id === 'table' ? [TRACES, CONTENT] : [TRACES];
  for (const t of tables) {
    await command(`ALTER TABLE ${t} MODIFY SETTING old_parts_lifetime = 1, cleanup_delay_period = 1, cleanup_delay_period_random_add = 0`);
    await command(`SYSTEM STOP TTL MERGES ${t}`);
  }
  const expiresAt = Math.floor(Date.now() / 1000) + 1;
  const payload = (file: string): string[] => {
    const text = readFileSync(file, 'utf8').replaceAll(EXPIRY_PLACEHOLDER, String(expiresAt));
    return text === '' ? [] : text.split('\n');
  };
  const traces = payload(spec.traces);
  const content = payload(spec.content);
  // tsv-traces.ts's columns (before migration 010: without its three), then the variant's.
  const encoded = TSV_COLUMN_LIST.slice(0, -1);
  const base = variant.migrations !== undefined && variant.migrations < 10 ? encoded.slice(0, encoded.indexOf(', `ContentExpireAt`')) : encoded;
  const traceColumns = `${base}${variant.extra.map((c) => `, \`${c}\``).join('')})`;
  const insert = async (into: string, lines: string[]): Promise<void> => {
    if (lines.length === 0) return;
    const token = randomUUID();
    const file = join(ch.spoolDir!, `${token}.tsv`);
    await writeFile(file, lines.join('\n'));
    try {
      await command(
        `INSERT INTO ${into} FROM INFILE ${sqlString(file)} SETTINGS insert_deduplication_token='${token}', date_time_input_format='basic', ` +
          `max_partitions_per_insert_block=0, input_format_parallel_parsing=0 FORMAT TabSeparated`,
      );
    } finally {
      await rm(file, { force: true });
    }
  };
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const settle = async (): Promise<void> => {
    let quiet = 0;
    const until = performance.now() + 60_000;
    while (quiet < 2 && performance.now() < until) {
      await sleep(500);
      const [m] = await query<{ n: string }>('SELECT count() AS n FROM system.merges');
      quiet = Number(m?.n ?? 0) === 0 ? quiet + 1 : 0;
    }
  };
  const partsWhere = `database = '${DATABASE}' AND table IN (${tables.map((t) => `'${t.split('.')[1]}'`).join(', ')})`;
  const activeBytes = async (): Promise<number> =>
    Number((await query<{ b: string }>(`SELECT sum(data_compressed_bytes) AS b FROM system.parts WHERE ${partsWhere} AND active`))[0]?.b ?? 0);
  const count = async (sql: string): Promise<number> => Number((await query<{ n: string }>(sql))[0]?.n ?? 0);

  // Inserts, one at a time as the batcher does; the content table's rows after the spans' of the same batch.
  const cpu0 = cpu();
  const t0 = performance.now();
  const perBatch = Math.ceil(content.length / Math.ceil(traces.length / spec.batchRows));
  for (let i = 0, j = 0; i < traces.length; i += spec.batchRows, j += perBatch) {
    await insert(`${TRACES} ${traceColumns}`, traces.slice(i, i + spec.batchRows));
    await insert(CONTENT, content.slice(j, j + perBatch));
  }
  const wall = (performance.now() - t0) / 1000;
  const cpuInsertS = cpu() - cpu0;
  await settle();
  const cpuSettledS = cpu() - cpu0;
  const [sizes] = await query<{ c: string; u: string }>(`SELECT sum(data_compressed_bytes) AS c, sum(data_uncompressed_bytes) AS u FROM system.parts WHERE ${partsWhere} AND active`);
  const contentRowsBefore = await count(variant.probe);

  // Expiry (before, base: content expires with the row, nothing to measure). Polled
  // once a second, so that the polling's own queries cost little next to the
  // rewrite measured.
  while (Date.now() / 1000 < expiresAt + 1) await sleep(100);
  const inactiveParts = (): Promise<number> => count(`SELECT count() AS n FROM system.parts WHERE ${partsWhere} AND NOT active`);
  let goneS = NaN;
  let partsDeletedS = NaN;
  let cpuS = NaN;
  if (expires(variant)) {
    const cpu1 = cpu();
    const t1 = performance.now();
    for (const t of tables) await command(`SYSTEM START TTL MERGES ${t}`);
    if (variant.expire !== undefined) await command(variant.expire);
    while (performance.now() - t1 < 120_000) {
      if ((await count(variant.probe)) === 0) {
        goneS = (performance.now() - t1) / 1000;
        break;
      }
      await sleep(1000);
    }
    await settle();
    cpuS = cpu() - cpu1;
    while (performance.now() - t1 < 120_000) {
      if ((await inactiveParts()) === 0) {
        partsDeletedS = (performance.now() - t1) / 1000;
        break;
      }
      await sleep(1000);
    }
  }
  const result: Result = {
    variant: variant.id,
    run: spec.run,
    rowsPerS: spec.rows / wall,
    cpuInsertS,
    cpuSettledS,
    bytes: { compressed: Number(sizes?.c), uncompressed: Number(sizes?.u) },
    contentRowsBefore,
    expiry: {
      goneS,
      partsDeletedS,
      cpuS,
      bytesAfter: await activeBytes(),
      contentRowsAfter: await count(variant.probe),
      rowsAfter: await count(`SELECT count() AS n FROM ${TRACES}`),
    },
  };
  await ch.close();
  rmSync(dataDir, { recursive: true, force: true });
  return result;
}

await childOrParent(child, parent);
