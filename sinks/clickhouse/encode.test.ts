// Where encode.ts writes the content of logs: in place when it lives as long
// as its row, into the content columns (storage/sql/010_content_retention.sql)
// when the tier expires it first. Spans (Native): native.test.ts. Integration
// with ClickHouse itself: test/analytics/content-retention.test.ts.
import { describe, expect, it } from 'vitest';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import { testLog } from '../../processors/testing/records.ts';
import { encodeRows } from './encode.ts';

const ctx: BatchContext = { tenantId: 't', tier: 'lunogen', tierVersion: 1, receivedAtMs: 1_700_000_000_000 };
const ROWS = 1_800_000_000;
const CONTENT = 1_702_512_000;
const logs = [
  testLog({ 'gen_ai.system': 'openai' }, { eventName: 'gen_ai.user.message', body: '{"content":"hi"}' }),
  testLog({ 'gen_ai.prompt': 'hi', 'code.function': 'send' }, { body: 'sent' }),
  testLog({ 'http.route': '/x' }, { body: 'plain line' }),
];
const batch = (contentExpireAt?: number): RecordBatch => ({ spans: [], logs, summaries: [], metadata: [], expireAt: ROWS, ...(contentExpireAt === undefined ? {} : { contentExpireAt }) });

const logLines = (b: RecordBatch): Array<Record<string, unknown>> => encodeRows(b, ctx).otel_logs.body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('encodeRows: content of logs', () => {
  it('lives as long as its row: where the OpenTelemetry Collector exporter puts it, ContentExpireAt defaults to ExpireAt', () => {
    for (const row of logLines(batch())) {
      expect(row['ExpireAt']).toBe(ROWS);
      expect('ContentExpireAt' in row || 'ContentAttributes' in row).toBe(false); // the column defaults: ExpireAt, {}
    }
  });

  it('expiring first: a GenAI event log goes whole; another record with content loses attributes and body; a plain line stays', () => {
    const [event, instrumented, plain] = logLines(batch(CONTENT));
    expect(event).toMatchObject({ ExpireAt: CONTENT, ContentExpireAt: CONTENT, Body: '{"content":"hi"}', EventName: 'gen_ai.user.message' });
    expect(instrumented).toMatchObject({ ExpireAt: ROWS, ContentExpireAt: CONTENT, Body: 'sent', LogAttributes: { 'code.function': 'send' }, ContentAttributes: { 'gen_ai.prompt': 'hi' } });
    expect(plain).toMatchObject({ ExpireAt: ROWS, Body: 'plain line', LogAttributes: { 'http.route': '/x' } });
    expect('ContentExpireAt' in plain!).toBe(false);
  });

  it('rows without expiry: a GenAI event log expires at its content expiry', () => {
    const [event] = logLines({ ...batch(CONTENT), expireAt: undefined });
    expect(event).toMatchObject({ ExpireAt: CONTENT, ContentExpireAt: CONTENT });
  });
});
