// Where encode.ts writes content: in place when it lives as long as its row,
// into the content columns (storage/sql/010_content_retention.sql) when the
// tier expires it first. Integration with ClickHouse itself:
// test/analytics/content-retention.test.ts.
import { describe, expect, it } from 'vitest';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import { testLog, testSpan } from '../../processors/testing/records.ts';
import { encodeBatch, INSERT_FORMATS, NEVER_EXPIRES } from './encode.ts';

const ctx: BatchContext = { tenantId: 't', tier: 'lunogen', tierVersion: 1, receivedAtMs: 1_700_000_000_000 };
const ROWS = 1_800_000_000;
const CONTENT = 1_702_512_000;
const COLUMNS = INSERT_FORMATS.otel_traces.columns!.slice(1, -1).split(', ').map((c) => c.slice(1, -1));

/** One TabSeparated line as column -> field text. */
const fields = (line: string): Record<string, string> => Object.fromEntries(line.split('\t').map((v, i) => [COLUMNS[i]!, v]));

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
const logs = [
  testLog({ 'gen_ai.system': 'openai' }, { eventName: 'gen_ai.user.message', body: '{"content":"hi"}' }),
  testLog({ 'gen_ai.prompt': 'hi', 'code.function': 'send' }, { body: 'sent' }),
  testLog({ 'http.route': '/x' }, { body: 'plain line' }),
];
const batch = (contentExpireAt?: number): RecordBatch => ({ spans: [span, plainSpan], logs, summaries: [], metadata: [], expireAt: ROWS, ...(contentExpireAt === undefined ? {} : { contentExpireAt }) });

describe('encodeBatch: content', () => {
  it('lives as long as its row: where the OpenTelemetry Collector exporter puts it, ContentExpireAt = ExpireAt', () => {
    const rows = encodeBatch(batch(), ctx);
    const f = fields(rows.otel_traces[0]!);
    expect(f['SpanAttributes']).toContain("'gen_ai.input.messages':'[{\"role\":\"user\",\"content\":\"hi\"}]'");
    expect(f['Events.Attributes']).toContain("'gen_ai.prompt':'hi'");
    expect([f['ExpireAt'], f['ContentExpireAt'], f['ContentAttributes'], f['EventsContentAttributes']]).toEqual([String(ROWS), String(ROWS), '{}', '[]']);
    for (const l of rows.otel_logs) {
      const row = JSON.parse(l) as Record<string, unknown>;
      expect(row['ExpireAt']).toBe(ROWS);
      expect('ContentExpireAt' in row || 'ContentAttributes' in row).toBe(false); // the column defaults: ExpireAt, {}
    }
    expect(fields(encodeBatch({ ...batch(), expireAt: undefined }, ctx).otel_traces[0]!)['ContentExpireAt']).toBe(String(NEVER_EXPIRES));
  });

  it('expiring first: span and event content in the content columns, metadata in place', () => {
    const [withContent, plain] = encodeBatch(batch(CONTENT), ctx).otel_traces.map(fields);
    expect(withContent!['SpanAttributes']).toBe("{'gen_ai.request.model':'gpt-4o','gen_ai.usage.input_tokens':'3','http.request.header.user-agent':'sdk/1'}");
    expect(withContent!['ContentAttributes']).toBe("{'gen_ai.input.messages':'[{\"role\":\"user\",\"content\":\"hi\"}]','http.request.header.x-trace':'abc'}");
    // A GenAI event is content whole; another event keeps what is not content. One map per event, in order.
    expect(withContent!['Events.Name']).toBe("['gen_ai.content.prompt','exception']");
    expect(withContent!['Events.Attributes']).toBe("[{},{'exception.type':'Timeout'}]");
    expect(withContent!['EventsContentAttributes']).toBe("[{'gen_ai.prompt':'hi','gen_ai.system':'openai'},{'gateway.response.body':'partial'}]");
    expect([withContent!['ExpireAt'], withContent!['ContentExpireAt']]).toEqual([String(ROWS), String(CONTENT)]);
    // A span without content keeps the row's expiry for its (empty) content columns.
    expect([plain!['SpanAttributes'], plain!['ContentExpireAt'], plain!['ContentAttributes'], plain!['EventsContentAttributes']]).toEqual(["{'http.route':'/health'}", String(ROWS), '{}', '[]']);
  });

  it('expiring first: a GenAI event log goes whole; another record with content loses attributes and body; a plain line stays', () => {
    const [event, instrumented, plain] = encodeBatch(batch(CONTENT), ctx).otel_logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(event).toMatchObject({ ExpireAt: CONTENT, ContentExpireAt: CONTENT, Body: '{"content":"hi"}', EventName: 'gen_ai.user.message' });
    expect(instrumented).toMatchObject({ ExpireAt: ROWS, ContentExpireAt: CONTENT, Body: 'sent', LogAttributes: { 'code.function': 'send' }, ContentAttributes: { 'gen_ai.prompt': 'hi' } });
    expect(plain).toMatchObject({ ExpireAt: ROWS, Body: 'plain line', LogAttributes: { 'http.route': '/x' } });
    expect('ContentExpireAt' in plain!).toBe(false);
  });

  it('rows without expiry: a GenAI event log expires at its content expiry', () => {
    const [event] = encodeBatch({ ...batch(CONTENT), expireAt: undefined }, ctx).otel_logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(event).toMatchObject({ ExpireAt: CONTENT, ContentExpireAt: CONTENT });
  });
});
