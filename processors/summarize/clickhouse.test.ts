/**
 * request_summaries in embedded ClickHouse (chdb): rows of two collector
 * instances over three minutes, written through the sink's insert, read back
 * with sum / sumMap and the SQL quantile, before and after background merges
 * (OPTIMIZE ... FINAL). The SQL side must agree with the JS side and with the
 * exact figures computed from the raw spans.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouse } from '../../storage/clickhouse.ts';
import { insertRows } from '../../sinks/clickhouse/insert.ts';
import { splitStatements } from '../../storage/migrate.ts';
import type { SpanRecord, SummaryRecord } from '../../core/record.ts';
import { encodeSummaryRow } from '../../sinks/clickhouse/summary-row.ts';
import { batchOf, ctxFor, gatewayBatch, makeSpan, T0_SECONDS } from './fixtures.ts';
import { summarize } from './processor.ts';
import { MIN_MS, RELATIVE_ACCURACY, mergeBuckets, quantileAlias, quantileFromBuckets, sqlQuantile, summaryQuantilesSql } from './sketch.ts';

const TENANT = 'tenant-a';
const TIER = 'summary';
const EXPIRE = 4102444800;
const QS = [0, 0.5, 0.9, 0.95, 0.99, 0.999, 1];
const INSTANCES = 2;
const BATCHES = 4;
const BATCH = 512;
const TABLE = 'consentry.request_summaries';
/** JSONEachRow lines as one request's rows (TableRows). */
const asRows = (lines: readonly string[]) => [{ body: lines.join('\n'), rows: lines.length }];

const env = { hmacKey: Buffer.alloc(32), count: () => undefined };
const summarizeBatch = summarize.create({}, env);

interface Written {
  spans: SpanRecord[];
  summaries: SummaryRecord[];
  lines: string[][]; // per insert
}

/** Each instance summarizes its own batches of spans over three minutes. */
function writeData(): Written {
  const w: Written = { spans: [], summaries: [], lines: [] };
  for (let instance = 0; instance < INSTANCES; instance++) {
    for (let b = 0; b < BATCHES; b++) {
      const spans = gatewayBatch(BATCH, 1000 * instance + b, 3);
      const out = summarizeBatch(batchOf(spans), ctxFor(TENANT, TIER));
      w.spans.push(...spans);
      w.summaries.push(...out.summaries);
      w.lines.push(out.summaries.map((s) => encodeSummaryRow(s, TENANT, TIER, EXPIRE)));
    }
  }
  return w;
}

const keyOf = (s: { minute: number; provider: string; endpoint: string; model: string; statusClass: string }): string =>
  [s.minute, s.provider, s.endpoint, s.model, s.statusClass].join('|');

interface Totals {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  requestBytes: number;
  responseBytes: number;
  buckets: Map<number, number>;
}

function totalsOf(summaries: readonly SummaryRecord[]): Totals {
  const t: Totals = { requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, requestBytes: 0, responseBytes: 0, buckets: new Map() };
  for (const s of summaries) {
    t.requests += s.requests;
    t.errors += s.errors;
    t.inputTokens += s.inputTokens;
    t.outputTokens += s.outputTokens;
    t.requestBytes += s.requestBytes;
    t.responseBytes += s.responseBytes;
    mergeBuckets(t.buckets, s.latencyBuckets);
  }
  return t;
}

type Row = Record<string, string | number | null | Record<string, string | number>>;

const TOTALS_SQL =
  'sum(Requests) AS requests, sum(Errors) AS errors, sum(InputTokens) AS inputTokens, sum(OutputTokens) AS outputTokens, ' +
  `sum(RequestBytes) AS requestBytes, sum(ResponseBytes) AS responseBytes, ${summaryQuantilesSql(QS)}`;

function expectClose(actual: unknown, expected: number): void {
  expect(typeof actual).toBe('number');
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(1e-12 * expected);
}

function expectTotals(row: Row, t: Totals): void {
  for (const k of ['requests', 'errors', 'inputTokens', 'outputTokens', 'requestBytes', 'responseBytes'] as const) {
    expect(Number(row[k]), k).toBe(t[k]);
  }
  for (const q of QS) expectClose(row[quantileAlias(q)], quantileFromBuckets(t.buckets, q));
}

describe('request_summaries in chdb (integration)', () => {
  let dataDir: string;
  let ch: ClickHouse;
  let w: Written;

  const select = async (query: string): Promise<Row[]> => (await ch.client.query({ query, format: 'JSONEachRow' })).json<Row>();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'consentry-summaries-test-'));
    ch = openClickHouse({ url: '', dataDir });
    await ch.client.command({ query: 'CREATE DATABASE IF NOT EXISTS consentry' });
    const ddl = await readFile(new URL('../../storage/sql/003_summaries.sql', import.meta.url), 'utf8');
    const statements = splitStatements(ddl);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^CREATE TABLE IF NOT EXISTS consentry\.request_summaries \(/);
    for (const query of statements) await ch.client.command({ query });
    // Hold background merges until the OPTIMIZE test: queries must be right on
    // unmerged rows too, and the row counts below must not race a merge.
    await ch.client.command({ query: `SYSTEM STOP MERGES ${TABLE}` });
    w = writeData();
    for (const [i, lines] of w.lines.entries()) await insertRows(ch.client, 'request_summaries', asRows(lines), `summaries-test-${i}`);
  }, 60_000);

  afterAll(async () => {
    await ch?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  async function checkAll(): Promise<void> {
    const whole = totalsOf(w.summaries);
    const [all] = await select(`SELECT ${TOTALS_SQL} FROM ${TABLE} WHERE TenantId = '${TENANT}'`);
    expectTotals(all!, whole);

    // Per minute and provider: the same query with GROUP BY.
    const groups = new Map<string, SummaryRecord[]>();
    for (const s of w.summaries) {
      const k = `${s.minute}|${s.provider}`;
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    const rows = await select(
      `SELECT toUnixTimestamp(Minute) AS minute, Provider AS provider, ${TOTALS_SQL} FROM ${TABLE} ` +
        `WHERE TenantId = '${TENANT}' GROUP BY Minute, Provider ORDER BY Minute, Provider`,
    );
    expect(rows).toHaveLength(groups.size);
    for (const row of rows) expectTotals(row, totalsOf(groups.get(`${Number(row['minute'])}|${(row['provider'] as string)}`)!));

    // Over the last two minutes only: any time range.
    const late = w.summaries.filter((s) => s.minute >= T0_SECONDS + 60);
    const [range] = await select(`SELECT ${TOTALS_SQL} FROM ${TABLE} WHERE TenantId = '${TENANT}' AND Minute >= toDateTime(${T0_SECONDS + 60})`);
    expectTotals(range!, totalsOf(late));
  }

  it('wrote several rows per key (instances, batches) for three minutes', async () => {
    const [r] = await select(`SELECT count() AS rows, uniqExact(Minute) AS minutes FROM ${TABLE} WHERE TenantId = '${TENANT}'`);
    expect(Number(r!['rows'])).toBe(w.summaries.length);
    expect(Number(r!['minutes'])).toBe(3);
    expect(new Set(w.summaries.map(keyOf)).size).toBeLessThan(w.summaries.length / 4);
  });

  it('sums and SQL quantiles match the JS side and the exact figures from the spans', async () => {
    const whole = totalsOf(w.summaries);
    // Exact from the spans themselves (every fixture span is a SERVER span).
    const attr = (s: SpanRecord, k: string): number => Number(s.attributes[k] ?? 0);
    expect(whole.requests).toBe(INSTANCES * BATCHES * BATCH);
    expect(whole.errors).toBe(w.spans.filter((s) => s.attributes['http.response.status_code'] === '500').length);
    expect(whole.inputTokens).toBe(w.spans.reduce((n, s) => n + attr(s, 'gen_ai.usage.input_tokens'), 0));
    expect(whole.responseBytes).toBe(w.spans.reduce((n, s) => n + attr(s, 'http.response.body.size'), 0));
    const durations = Float64Array.from(w.spans, (s) => Math.max(MIN_MS, Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6)).sort();
    for (const q of QS) {
      const exact = durations[Math.max(1, Math.ceil(q * durations.length)) - 1]!;
      expect(Math.abs(quantileFromBuckets(whole.buckets, q) - exact) / exact).toBeLessThanOrEqual(RELATIVE_ACCURACY * (1 + 1e-9));
    }
    await checkAll();
  });

  it('computes the quantile over a sumMap from a subquery too, and NULL over no rows', async () => {
    const whole = totalsOf(w.summaries);
    const [r] = await select(`SELECT ${sqlQuantile('b', 0.99)} AS p FROM (SELECT sumMap(LatencyBuckets) AS b FROM ${TABLE} WHERE TenantId = '${TENANT}')`);
    expectClose(r!['p'], quantileFromBuckets(whole.buckets, 0.99));
    const [none] = await select(`SELECT ${summaryQuantilesSql([0.5])}, sum(Requests) AS n FROM ${TABLE} WHERE TenantId = 'nobody'`);
    expect(none).toEqual({ p50: null, n: expect.anything() });
    expect(Number(none!['n'])).toBe(0);
  });

  it('stores a retried insert (same deduplication token) once', async () => {
    await insertRows(ch.client, 'request_summaries', asRows(w.lines[0]!), 'summaries-test-0');
    const [r] = await select(`SELECT count() AS rows FROM ${TABLE} WHERE TenantId = '${TENANT}'`);
    expect(Number(r!['rows'])).toBe(w.summaries.length);
  });

  it('merges to one row per key with OPTIMIZE FINAL, and every figure stays right', async () => {
    await ch.client.command({ query: `SYSTEM START MERGES ${TABLE}` });
    await ch.client.command({ query: `OPTIMIZE TABLE ${TABLE} FINAL` });
    const byKey = new Map<string, SummaryRecord[]>();
    for (const s of w.summaries) byKey.set(keyOf(s), [...(byKey.get(keyOf(s)) ?? []), s]);
    const rows = await select(
      `SELECT toUnixTimestamp(Minute) AS minute, Provider AS provider, Endpoint AS endpoint, Model AS model, StatusClass AS statusClass, ` +
        `Requests AS requests, Errors AS errors, InputTokens AS inputTokens, OutputTokens AS outputTokens, RequestBytes AS requestBytes, ` +
        `ResponseBytes AS responseBytes, LatencyBuckets AS buckets, Tier AS tier, toUnixTimestamp(ExpireAt) AS expireAt ` +
        `FROM ${TABLE} WHERE TenantId = '${TENANT}'`,
    );
    expect(rows).toHaveLength(byKey.size);
    for (const row of rows) {
      const key = keyOf({
        minute: Number(row['minute']),
        provider: row['provider'] as string,
        endpoint: row['endpoint'] as string,
        model: row['model'] as string,
        statusClass: row['statusClass'] as string,
      });
      const t = totalsOf(byKey.get(key)!);
      for (const k of ['requests', 'errors', 'inputTokens', 'outputTokens', 'requestBytes', 'responseBytes'] as const) expect(Number(row[k])).toBe(t[k]);
      const stored = row['buckets'] as Record<string, string | number>;
      expect(new Map(Object.entries(stored).map(([i, c]) => [Number(i), Number(c)]))).toEqual(t.buckets);
      expect(row['tier']).toBe(TIER);
      expect(Number(row['expireAt'])).toBe(EXPIRE);
    }
    await checkAll();
  });

  it('keeps the earliest ExpireAt of merged rows and drops expired rows', async () => {
    const [s] = summarizeBatch(batchOf([makeSpan()]), ctxFor('tenant-ttl', TIER)).summaries;
    const now = Math.floor(Date.now() / 1000);
    const lines = [encodeSummaryRow(s!, 'tenant-ttl', 'full', now + 7200), encodeSummaryRow(s!, 'tenant-ttl', 'summary', now + 3600)];
    await insertRows(ch.client, 'request_summaries', asRows(lines), 'summaries-ttl-1');
    await insertRows(ch.client, 'request_summaries', asRows([encodeSummaryRow({ ...s!, model: 'gone' }, 'tenant-ttl', 'summary', now - 10)]), 'summaries-ttl-2');
    await ch.client.command({ query: `OPTIMIZE TABLE ${TABLE} FINAL` });
    const rows = await select(`SELECT Requests AS n, Tier AS tier, toUnixTimestamp(ExpireAt) AS e FROM ${TABLE} WHERE TenantId = 'tenant-ttl'`);
    expect(rows.map((r) => [Number(r['n']), r['tier'], Number(r['e'])])).toEqual([[2, 'summary', now + 3600]]);
  });
});
