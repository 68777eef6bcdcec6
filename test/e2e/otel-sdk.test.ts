// The real OpenTelemetry JS SDK sends spans and logs over OTLP/HTTP (protobuf
// and JSON) to a running Consentry; the rows in ClickHouse must carry exactly
// what was sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { hrToNanos, sdkClient, type Encoding } from '../helpers/otel.ts';

let c: TestConsentry;
let keys: { ingestKey: string; queryKey: string };

beforeAll(async () => {
  c = await startTestConsentry();
  keys = await c.createTenant('acme', 'full');
});
afterAll(async () => c?.close());

interface SpanRow {
  Timestamp: string;
  Ts: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  Duration: string | number;
  StatusCode: string;
  StatusMessage: string;
  SpanAttributes: Record<string, string>;
  ResourceAttributes: Record<string, string>;
  ScopeName: string;
  'Events.Name': string[];
  'Events.Attributes': Record<string, string>[];
  EventTs: string[];
  'Links.TraceId': string[];
  'Links.SpanId': string[];
  TenantId: string;
  Tier: string;
}

describe.each<Encoding>(['proto', 'json'])('OTel SDK over OTLP/%s', (encoding) => {
  it('stores spans with ids, parent, kind, ns timestamps, duration, status, attributes, events and links', async () => {
    const client = sdkClient({ otlpUrl: c.otlpUrl, ingestKey: keys.ingestKey, encoding, resource: { 'service.version': '1.2.3' } });
    const tracer = client.tracerProvider.getTracer('consentry-test', '0.0.1');
    const ended: ReadableSpan[] = [];
    const root = tracer.startSpan(`root-${encoding}`, { kind: SpanKind.SERVER, attributes: { 'http.route': '/v1/chat/completions', 'http.response.status_code': 200, 'gen_ai.usage.input_tokens': 12, 'gateway.streaming': true, ratio: 0.25 } });
    const ctx = (await import('@opentelemetry/api')).trace.setSpan((await import('@opentelemetry/api')).context.active(), root);
    const linked = tracer.startSpan(`linked-${encoding}`);
    linked.end();
    const child = tracer.startSpan(`child-${encoding}`, { kind: SpanKind.CLIENT, links: [{ context: linked.spanContext(), attributes: { why: 'retry' } }] }, ctx);
    child.addEvent('first-token', { 'gen_ai.token.index': 1 });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 502' });
    child.end();
    root.end();
    ended.push(root as unknown as ReadableSpan, child as unknown as ReadableSpan);
    await client.flush();
    await client.shutdown();

    const rows = await c.rows<SpanRow>(
      `SELECT *, toString(Timestamp) AS Ts, toUnixTimestamp64Nano(Timestamp) AS Timestamp, arrayMap(t -> toString(toUnixTimestamp64Nano(t)), Events.Timestamp) AS EventTs FROM consentry.otel_traces WHERE SpanName LIKE '%-${encoding}' ORDER BY SpanName`,
    );
    expect(rows.map((r) => r.SpanName)).toEqual([`child-${encoding}`, `linked-${encoding}`, `root-${encoding}`]);
    const [childRow, , rootRow] = rows as [SpanRow, SpanRow, SpanRow];
    const rootSpan = ended[0]!;
    const childSpan = ended[1]!;

    expect(rootRow.TraceId).toBe(root.spanContext().traceId);
    expect(rootRow.SpanId).toBe(root.spanContext().spanId);
    expect(rootRow.ParentSpanId).toBe('');
    expect(childRow.TraceId).toBe(root.spanContext().traceId);
    expect(childRow.ParentSpanId).toBe(root.spanContext().spanId);
    expect(rootRow.SpanKind).toBe('SPAN_KIND_SERVER');
    expect(childRow.SpanKind).toBe('SPAN_KIND_CLIENT');
    // Nanosecond precision survives: compare the exact integer.
    expect(String(rootRow.Timestamp)).toBe(hrToNanos(rootSpan.startTime));
    expect(BigInt(String(childRow.Duration))).toBe(BigInt(hrToNanos(childSpan.endTime)) - BigInt(hrToNanos(childSpan.startTime)));
    expect(rootRow.StatusCode).toBe('STATUS_CODE_UNSET');
    expect(childRow.StatusCode).toBe('STATUS_CODE_ERROR');
    expect(childRow.StatusMessage).toBe('upstream 502');
    expect(rootRow.SpanAttributes).toMatchObject({ 'http.route': '/v1/chat/completions', 'http.response.status_code': '200', 'gen_ai.usage.input_tokens': '12', 'gateway.streaming': 'true', ratio: '0.25' });
    expect(rootRow.ServiceName).toBe('test-gateway');
    expect(rootRow.ResourceAttributes).toMatchObject({ 'service.name': 'test-gateway', 'service.version': '1.2.3' });
    expect(rootRow.ScopeName).toBe('consentry-test');
    expect(childRow['Events.Name']).toEqual(['first-token']);
    expect(childRow['Events.Attributes']).toEqual([{ 'gen_ai.token.index': '1' }]);
    expect(childRow.EventTs[0]).toBe(hrToNanos((childSpan as unknown as { events: { time: [number, number] }[] }).events[0]!.time));
    expect(childRow['Links.TraceId']).toEqual([linked.spanContext().traceId]);
    expect(childRow['Links.SpanId']).toEqual([linked.spanContext().spanId]);
    expect(rootRow.TenantId).toBe('acme');
    expect(rootRow.Tier).toBe('full');
  });

  it('stores logs with severity, body, attributes and trace context', async () => {
    const client = sdkClient({ otlpUrl: c.otlpUrl, ingestKey: keys.ingestKey, encoding });
    const logger = client.loggerProvider.getLogger('gateway-log');
    const span = client.tracerProvider.getTracer('t').startSpan('for-log');
    const api = await import('@opentelemetry/api');
    logger.emit({
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      body: `upstream slow (${encoding})`,
      attributes: { 'code.function': 'proxy', attempt: 2 },
      context: api.trace.setSpan(api.context.active(), span),
    });
    span.end();
    await client.flush();
    await client.shutdown();
    const rows = await c.rows<{ Body: string; SeverityText: string; SeverityNumber: number; LogAttributes: Record<string, string>; TraceId: string; SpanId: string; ServiceName: string }>(
      `SELECT * FROM consentry.otel_logs WHERE Body = 'upstream slow (${encoding})'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ SeverityText: 'WARN', SeverityNumber: 13, ServiceName: 'test-gateway', TraceId: span.spanContext().traceId, SpanId: span.spanContext().spanId });
    expect(rows[0]!.LogAttributes).toEqual({ 'code.function': 'proxy', attempt: '2' });
  });
});

describe('keys and tenants', () => {
  const body = (name: string) =>
    JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name, kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000100000000' }] }] }] });
  const send = (key: string | undefined, name: string) =>
    fetch(`${c.otlpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) }, body: body(name) });

  it('refuses a missing or unknown key with 401 and stores nothing', async () => {
    expect((await send(undefined, 'no-key')).status).toBe(401);
    expect((await send('csk_ingest_nope', 'bad-key')).status).toBe(401);
    expect((await send(keys.queryKey, 'query-key')).status).toBe(401);
    const rows = await c.rows(`SELECT SpanName FROM consentry.otel_traces WHERE SpanName IN ('no-key', 'bad-key', 'query-key')`);
    expect(rows).toEqual([]);
  });

  it('stores data under the tenant of the key, whatever the payload says', async () => {
    const other = await c.createTenant('globex', 'full');
    const res = await fetch(`${c.otlpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${other.ingestKey}` },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'tenant.id', value: { stringValue: 'acme' } }] }, scopeSpans: [{ spans: [{ traceId: '1af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', name: 'forged', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000100000000', attributes: [{ key: 'TenantId', value: { stringValue: 'acme' } }] }] }] }] }),
    });
    expect(res.status).toBe(200);
    const rows = await c.rows<{ TenantId: string }>(`SELECT TenantId FROM consentry.otel_traces WHERE SpanName = 'forged'`);
    expect(rows).toEqual([{ TenantId: 'globex' }]);
  });
});
