// otel_traces as Native blocks, against real embedded ClickHouse (chdb): the
// encoder's columns are the table's after the migrations (names, order,
// types); ClickHouse reads back every value a block holds, escaping-prone
// strings and content split apart included; blocks of several requests go in
// one insert, and a retried insert with its deduplication token adds nothing.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import { testSpan } from '../../processors/testing/records.ts';
import { DATABASE, openClickHouse, sqlString, type ClickHouse } from '../../storage/clickhouse.ts';
import { migrate } from '../../storage/migrate.ts';
import { encodeRows, NEVER_EXPIRES } from './encode.ts';
import { insertRows } from './insert.ts';
import { TRACE_COLUMNS, traceBlock } from './native.ts';

const ctx: BatchContext = { tenantId: 't', tier: 'lunogen', tierVersion: 1, receivedAtMs: 1_700_000_000_000 };
const ROWS = 1_800_000_000;
const CONTENT = 1_702_512_000;
const TRICKY = `q' dq" bs\\ tab\t nl\n cr\r nul\0 é 漢字 😀 \u2028 {"json":[1,"x"]} end`;

const span = testSpan(
  { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': '3', 'gen_ai.input.messages': '[{"role":"user","content":"hi"}]', 'http.request.header.x-trace': 'abc', 'http.request.header.user-agent': 'sdk/1' },
  {
    events: [
      { timeUnixNano: 5n, name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': 'hi', 'gen_ai.system': 'openai' } },
      { timeUnixNano: 6n, name: 'exception', attributes: { 'exception.type': 'Timeout', 'gateway.response.body': 'partial' } },
    ],
  },
);
const plainSpan = testSpan({ 'http.route': '/health' }, { spanId: 'a'.repeat(16) });
const batch = (contentExpireAt?: number): RecordBatch => ({ spans: [span, plainSpan], logs: [], summaries: [], metadata: [], expireAt: ROWS, ...(contentExpireAt === undefined ? {} : { contentExpireAt }) });

let ch: ClickHouse;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'consentry-native-'));
  ch = openClickHouse({ url: '', dataDir: dir });
  await migrate(ch.client);
}, 120_000);
afterAll(async () => {
  await ch?.close();
  await rm(dir, { recursive: true, force: true });
});

const select = async <T>(query: string): Promise<T[]> => (await ch.client.query({ query, format: 'JSONEachRow' })).json<T>();

/** A batch's spans as a Native block in a file. */
async function blockFile(b: RecordBatch): Promise<string> {
  const file = join(dir, `block-${Math.random().toString(36).slice(2)}.native`);
  await writeFile(file, traceBlock(b, ctx), 'latin1');
  return file;
}

/** The rows of a block as ClickHouse reads them (its own Native reader), every column as JSON. */
async function readBlock(b: RecordBatch): Promise<Array<Record<string, unknown>>> {
  const file = await blockFile(b);
  try {
    return await select(`SELECT * FROM file(${sqlString(file)}, 'Native') SETTINGS output_format_json_quote_64bit_integers = 0`);
  } finally {
    await rm(file, { force: true });
  }
}

describe('otel_traces as Native', () => {
  it('has the columns of the table after the migrations: names, order and types', async () => {
    const table = await select<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = '${DATABASE}' AND table = 'otel_traces' ORDER BY position`);
    expect(TRACE_COLUMNS).toEqual(table);
  });

  it('reads back every value, strings that need escaping in text formats included', async () => {
    const tricky = testSpan(
      { [TRICKY]: TRICKY, lone: 'a\ud800b' },
      {
        name: TRICKY,
        traceState: TRICKY,
        statusMessage: TRICKY,
        flags: 0x301,
        startTimeUnixNano: 1_700_000_000_123_456_789n,
        endTimeUnixNano: 1_700_000_001_123_456_789n,
        events: [{ timeUnixNano: 1_700_000_000_500_000_001n, name: TRICKY, attributes: { k: TRICKY } }],
        links: [{ traceId: 'b'.repeat(32), spanId: 'c'.repeat(16), traceState: TRICKY, attributes: { [TRICKY]: 'v' } }],
      },
    );
    const [row] = await readBlock({ ...batch(), spans: [tricky] });
    expect(row).toMatchObject({
      TenantId: 't',
      Tier: 'lunogen',
      Timestamp: '2023-11-14 22:13:20.123456789',
      SpanName: TRICKY,
      SpanKind: 'SPAN_KIND_SERVER',
      TraceState: TRICKY,
      StatusMessage: TRICKY,
      SpanAttributes: { [TRICKY]: TRICKY, lone: 'a\ufffdb' },
      Duration: 1_000_000_000,
      SpanFlags: 0x301,
      'Events.Timestamp': ['2023-11-14 22:13:20.500000001'],
      'Events.Name': [TRICKY],
      'Events.Attributes': [{ k: TRICKY }],
      'Links.TraceId': ['b'.repeat(32)],
      'Links.SpanId': ['c'.repeat(16)],
      'Links.TraceState': [TRICKY],
      'Links.Attributes': [{ [TRICKY]: 'v' }],
      ExpireAt: '2027-01-15 08:00:00',
    });
  });

  it('content that lives as long as its row: where the OpenTelemetry Collector exporter puts it, ContentExpireAt = ExpireAt', async () => {
    const [withContent] = await readBlock(batch());
    expect(withContent!['SpanAttributes']).toMatchObject({ 'gen_ai.input.messages': '[{"role":"user","content":"hi"}]' });
    expect(withContent!['Events.Attributes']).toEqual([{ 'gen_ai.prompt': 'hi', 'gen_ai.system': 'openai' }, { 'exception.type': 'Timeout', 'gateway.response.body': 'partial' }]);
    expect([withContent!['ContentExpireAt'], withContent!['ContentAttributes'], withContent!['EventsContentAttributes']]).toEqual([withContent!['ExpireAt'], {}, []]);
    const [never] = await select<{ t: number }>(`SELECT toUnixTimestamp(ContentExpireAt) AS t FROM file(${sqlString(await blockFile({ ...batch(), expireAt: undefined }))}, 'Native')`);
    expect(never!.t).toBe(NEVER_EXPIRES);
  });

  it('content expiring first: span and event content in the content columns, metadata in place', async () => {
    const [withContent, plain] = await readBlock(batch(CONTENT));
    expect(withContent!['SpanAttributes']).toEqual({ 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': '3', 'http.request.header.user-agent': 'sdk/1' });
    expect(withContent!['ContentAttributes']).toEqual({ 'gen_ai.input.messages': '[{"role":"user","content":"hi"}]', 'http.request.header.x-trace': 'abc' });
    // A GenAI event is content whole; another event keeps what is not content. One map per event, in order.
    expect(withContent!['Events.Name']).toEqual(['gen_ai.content.prompt', 'exception']);
    expect(withContent!['Events.Attributes']).toEqual([{}, { 'exception.type': 'Timeout' }]);
    expect(withContent!['EventsContentAttributes']).toEqual([{ 'gen_ai.prompt': 'hi', 'gen_ai.system': 'openai' }, { 'gateway.response.body': 'partial' }]);
    expect([withContent!['ExpireAt'], withContent!['ContentExpireAt']]).toEqual(['2027-01-15 08:00:00', '2023-12-14 00:00:00']);
    // A span without content keeps the row's expiry for its (empty) content columns.
    expect([plain!['SpanAttributes'], plain!['ContentExpireAt'], plain!['ContentAttributes'], plain!['EventsContentAttributes']]).toEqual([{ 'http.route': '/health' }, '2027-01-15 08:00:00', {}, []]);
  });

  it('blocks of several requests in one insert; a retry with the same token adds nothing', async () => {
    const many = (tenantId: string, n: number) => encodeRows({ ...batch(), spans: Array.from({ length: n }, (_, i) => testSpan({ i: String(i) }, { name: `${tenantId}-${i % 3}` })) }, { ...ctx, tenantId }).otel_traces;
    const parts = [many('native-a', 5), many('native-b', 300), many('native-c', 1)];
    for (let attempt = 0; attempt < 2; attempt++) await insertRows(ch.client, 'otel_traces', parts, 'native-test-1', ch.spoolDir);
    const counts = await select<{ TenantId: string; n: number; names: number }>(
      `SELECT TenantId, count() AS n, uniqExact(SpanName) AS names FROM ${DATABASE}.otel_traces WHERE TenantId LIKE 'native-%' GROUP BY TenantId ORDER BY TenantId`,
    );
    expect(counts).toEqual([
      { TenantId: 'native-a', n: 5, names: 3 },
      { TenantId: 'native-b', n: 300, names: 3 },
      { TenantId: 'native-c', n: 1, names: 1 },
    ]);
  });
});
