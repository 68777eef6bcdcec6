// The OTLP/gRPC receiver of a running Consentry: the OpenTelemetry JS gRPC
// exporters (traces and logs, gzip on and off) per tier, checked in
// ClickHouse; then the answers as the OTLP/gRPC spec asks them, from a raw
// grpc-js client: OK with partial success, INVALID_ARGUMENT for a malformed
// message, UNAUTHENTICATED, RESOURCE_EXHAUSTED with RetryInfo when the
// collector is behind, without it when a message is too large. Attacks on the
// framing and the connection: test/faults/grpc.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { loadSettings } from '../../core/settings.ts';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { GrpcTestClient, LOGS_METHOD, TRACE_METHOD } from '../helpers/grpc.ts';
import { cat, fixed64, hex, len, vint } from '../helpers/protobuf.ts';

const MAX_BODY = 256 * 1024;
const MAX_INFLIGHT = 4096;
/** An OpenAI key in a captured header: scrubbed in every tier. */
const SECRET = 'sk-proj-' + 'Gq7xV2mN9pL4kR8sT1wY6zB3cD5fH0jK2aE7uI9oQ4';
const OK = 0;
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const UNAUTHENTICATED = 16;

let c: TestConsentry;
let key: string;
let client: GrpcTestClient;

beforeAll(async () => {
  c = await startTestConsentry({ maxBodyBytes: MAX_BODY, maxInflightBytes: MAX_INFLIGHT, maxEventLoopDelayMs: 500 });
  key = (await c.createTenant('grpc-answers', 'full')).ingestKey;
  client = new GrpcTestClient(c.otlpGrpcUrl!);
});
afterAll(async () => {
  client?.close();
  await c?.close();
});

/** ExportTraceServiceRequest with spans `name` (trace and span ids given, or valid ones), hand-encoded. */
function traces(...spans: Array<{ name: string; traceId?: string; spanId?: string; pad?: number }>): Buffer {
  const encoded = spans.map(({ name, traceId = '0af7651916cd43dd8448eb211c80319c', spanId = 'b7ad6b7169203331', pad = 0 }) =>
    len(
      2,
      cat(
        len(1, hex(traceId)),
        len(2, hex(spanId)),
        len(5, name),
        vint(6, 2),
        fixed64(7, 1_700_000_000_000_000_000n),
        fixed64(8, 1_700_000_000_100_000_000n),
        ...(pad > 0 ? [len(9, cat(len(1, 'pad'), len(2, len(1, 'y'.repeat(pad)))))] : []),
      ),
    ),
  );
  return len(1, len(2, cat(...encoded)));
}

const spanNames = async (pattern: string): Promise<string[]> =>
  (await c.rows<{ SpanName: string }>(`SELECT SpanName FROM consentry.otel_traces WHERE SpanName LIKE '${pattern}' ORDER BY SpanName`)).map((r) => r.SpanName);

describe.each([CompressionAlgorithm.NONE, CompressionAlgorithm.GZIP])('the OpenTelemetry JS gRPC exporters (compression %s), per tier', (compression) => {
  const tiers = ['full', 'summary', 'minimal'] as const;
  const tenants = new Map<string, string>();

  beforeAll(async () => {
    for (const tier of tiers) {
      const tenant = `grpc-js-${compression}-${tier}`;
      const { ingestKey } = await c.createTenant(tenant, tier);
      tenants.set(tier, tenant);
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${ingestKey}`);
      const resource = resourceFromAttributes({ 'service.name': 'grpc-gateway' });
      const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: c.otlpGrpcUrl, metadata, compression }))] });
      const loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: c.otlpGrpcUrl, metadata, compression }) })] });
      const tracer = tracerProvider.getTracer('grpc-test');
      const server = tracer.startSpan('POST /v1/chat/completions', {
        kind: SpanKind.SERVER,
        attributes: {
          'http.route': '/v1/chat/completions',
          'http.response.status_code': 200,
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.usage.input_tokens': 12,
          'gen_ai.usage.output_tokens': 34,
          'http.request.header.authorization': `Bearer ${SECRET}`,
        },
      });
      tracer.startSpan('upstream call', { kind: SpanKind.CLIENT }, trace.setSpan(context.active(), server)).end();
      server.end();
      loggerProvider.getLogger('grpc-test').emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: `upstream slow (${compression})` });
      await tracerProvider.forceFlush();
      await loggerProvider.forceFlush();
      await tracerProvider.shutdown();
      await loggerProvider.shutdown();
    }
  });

  const rows = (table: string, tier: string, columns = '*') => c.rows<Record<string, unknown>>(`SELECT ${columns} FROM consentry.${table} WHERE TenantId = '${tenants.get(tier)}'`);

  it('full: every span with its attributes, the secret scrubbed; the log', async () => {
    const spans = await rows('otel_traces', 'full', 'SpanName, SpanKind, ServiceName, SpanAttributes, Tier');
    expect(spans.map((s) => s['SpanName']).sort()).toEqual(['POST /v1/chat/completions', 'upstream call']);
    const server = spans.find((s) => s['SpanKind'] === 'SPAN_KIND_SERVER')!;
    expect(server).toMatchObject({ ServiceName: 'grpc-gateway', Tier: 'full' });
    expect(server['SpanAttributes']).toMatchObject({ 'http.route': '/v1/chat/completions', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': '12' });
    expect(JSON.stringify(spans)).not.toContain(SECRET);
    expect(await rows('otel_logs', 'full', 'Body, SeverityText')).toEqual([{ Body: `upstream slow (${compression})`, SeverityText: 'WARN' }]);
  });

  it('summary: no span, one request with its model and tokens; the log', async () => {
    expect(await rows('otel_traces', 'summary')).toEqual([]);
    const summaries = await eventually(async () => {
      const r = await rows('request_summaries', 'summary', 'sum(Requests) AS requests, sum(InputTokens) AS input, groupArray(Model) AS models');
      return Number(r[0]?.['requests'] ?? 0) > 0 ? r : undefined;
    });
    expect(summaries).toEqual([{ requests: 1, input: 12, models: ['gpt-4o-mini'] }]);
    expect(await rows('otel_logs', 'summary', 'Body')).toEqual([{ Body: `upstream slow (${compression})` }]);
  });

  it('minimal: no span and no summary; the log', async () => {
    expect(await rows('otel_traces', 'minimal')).toEqual([]);
    expect(await rows('request_summaries', 'minimal')).toEqual([]);
    expect(await rows('otel_logs', 'minimal', 'Body')).toEqual([{ Body: `upstream slow (${compression})` }]);
  });
});

describe('answers', () => {
  it('OK with an empty response for a valid request, stored', async () => {
    const r = await client.call(TRACE_METHOD, traces({ name: 'grpc-ok' }), `Bearer ${key}`);
    expect(r).toMatchObject({ code: OK });
    expect(r.response).toHaveLength(0);
    expect(await spanNames('grpc-ok')).toEqual(['grpc-ok']);
  });

  it('OK with partial success when some spans are invalid, and the valid ones stored', async () => {
    const r = await client.call(TRACE_METHOD, traces({ name: 'grpc-partial-good', spanId: 'c7ad6b7169203331' }, { name: 'grpc-partial-bad', traceId: '00000000000000000000000000000000' }), `Bearer ${key}`);
    expect(r.code).toBe(OK);
    const response = ProtobufTraceSerializer.deserializeResponse(r.response!);
    expect(Number(response.partialSuccess?.rejectedSpans)).toBe(1);
    expect(response.partialSuccess?.errorMessage).toMatch(/trace_?id/i);
    expect(await spanNames('grpc-partial-%')).toEqual(['grpc-partial-good']);
  });

  it('INVALID_ARGUMENT with the reason for a malformed message, and the logs service too', async () => {
    const valid = traces({ name: 'x' });
    for (const method of [TRACE_METHOD, LOGS_METHOD]) {
      const r = await client.call(method, valid.subarray(0, valid.length - 3), `Bearer ${key}`);
      expect(r.code).toBe(INVALID_ARGUMENT);
      expect(r.details.length).toBeGreaterThan(0);
      expect(r.retryDelaySeconds).toBeUndefined();
    }
  });

  it('accepts a gzip-compressed message (grpc-encoding: gzip)', async () => {
    const gzip = new GrpcTestClient(c.otlpGrpcUrl!, { gzip: true });
    try {
      expect((await gzip.call(TRACE_METHOD, traces({ name: 'grpc-gzipped', spanId: 'd7ad6b7169203331' }), `Bearer ${key}`)).code).toBe(OK);
    } finally {
      gzip.close();
    }
    expect(await spanNames('grpc-gzipped')).toEqual(['grpc-gzipped']);
  });

  // The HTTP port's forms (test/receiver/otlp-http.test.ts): OTEL_EXPORTER_OTLP_HEADERS values are URL-encoded.
  it.each([
    { name: 'Bearer <key>', header: () => `Bearer ${key}`, code: OK },
    { name: 'bearer, two spaces', header: () => `bearer  ${key}`, code: OK },
    { name: 'Bearer%20<key>', header: () => `Bearer%20${key}`, code: OK },
    { name: 'no authorization', header: () => undefined, code: UNAUTHENTICATED },
    { name: 'Basic <key>', header: () => `Basic ${key}`, code: UNAUTHENTICATED },
    { name: 'the key alone', header: () => key, code: UNAUTHENTICATED },
    { name: 'an unknown key', header: () => 'Bearer csk_ingest_nope', code: UNAUTHENTICATED },
  ])('authorization $name: code $code', async ({ header, code }) => {
    const r = await client.call(TRACE_METHOD, traces({ name: 'grpc-auth-form' }), header());
    expect(r.code).toBe(code);
    if (code === UNAUTHENTICATED) expect(r.details).toMatch(/ingest key/);
  });

  it('an exporter configured by OTEL_EXPORTER_OTLP_HEADERS with %20 is accepted', async () => {
    const before = process.env['OTEL_EXPORTER_OTLP_HEADERS'];
    process.env['OTEL_EXPORTER_OTLP_HEADERS'] = `Authorization=Bearer%20${key}`;
    try {
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: c.otlpGrpcUrl }))] });
      provider.getTracer('env').startSpan('grpc-from-env-headers').end();
      await provider.forceFlush();
      await provider.shutdown();
    } finally {
      if (before === undefined) delete process.env['OTEL_EXPORTER_OTLP_HEADERS'];
      else process.env['OTEL_EXPORTER_OTLP_HEADERS'] = before;
    }
    expect(await spanNames('grpc-from-env-headers')).toEqual(['grpc-from-env-headers']);
  });

  it('RESOURCE_EXHAUSTED without RetryInfo for a message over the size limit: not to be retried as it is', async () => {
    const r = await client.call(TRACE_METHOD, traces({ name: 'grpc-big', pad: MAX_BODY }), `Bearer ${key}`);
    expect(r.code).toBe(RESOURCE_EXHAUSTED);
    expect(r.details).toMatch(/larger than/);
    expect(r.retryDelaySeconds).toBeUndefined();
    expect(r.retryTrailerSeconds).toBeUndefined();
  });

  it('RESOURCE_EXHAUSTED with RetryInfo while the event loop is behind, OK again once it caught up', async () => {
    // Consentry runs in this process: a busy loop here is a collector that fell behind.
    const end = Date.now() + 800;
    while (Date.now() < end);
    await new Promise((r) => setTimeout(r, 120));
    const refused = await client.call(TRACE_METHOD, traces({ name: 'grpc-while-behind' }), `Bearer ${key}`);
    expect(refused).toMatchObject({ code: RESOURCE_EXHAUSTED, retryDelaySeconds: 1, retryTrailerSeconds: 1 });
    expect(refused.details).toMatch(/behind/);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await client.call(TRACE_METHOD, traces({ name: 'grpc-caught-up' }), `Bearer ${key}`)).code).toBe(OK);
  });

  it('RESOURCE_EXHAUSTED with RetryInfo when the in-flight budget is spent, and every OK stored', async () => {
    const calls = Array.from({ length: 30 }, (_, i) => traces({ name: `grpc-inflight-${String(i).padStart(2, '0')}`, spanId: (0x1000000000000000n + BigInt(i)).toString(16), pad: 1500 }));
    const answers = await Promise.all(calls.map((body) => client.call(TRACE_METHOD, body, `Bearer ${key}`)));
    const refused = answers.filter((a) => a.code === RESOURCE_EXHAUSTED);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.every((a) => a.code === OK || a.code === RESOURCE_EXHAUSTED)).toBe(true);
    for (const a of refused) expect(a).toMatchObject({ retryDelaySeconds: 1, retryTrailerSeconds: 1 });
    const accepted = answers.flatMap((a, i) => (a.code === OK ? [`grpc-inflight-${String(i).padStart(2, '0')}`] : []));
    expect(await spanNames('grpc-inflight-%')).toEqual(accepted.sort());
  });

  it('counts calls per signal and gRPC status in /metrics, naming no tenant', async () => {
    const res = await fetch(`${c.apiUrl}/metrics`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    const text = await res.text();
    expect(text).toMatch(/consentry_otlp_grpc_requests_total\{signal="traces",code="OK"\} \d+/);
    expect(text).toMatch(/consentry_otlp_grpc_requests_total\{signal="traces",code="UNAUTHENTICATED"\} \d+/);
    expect(text).not.toContain('grpc-answers');
  });
});

describe('CONSENTRY_OTLP_GRPC_PORT', () => {
  it.each([
    ['unset: 4317', {}, 4317],
    ['0: a free port', { CONSENTRY_OTLP_GRPC_PORT: '0' }, 0],
    ['off: no gRPC receiver', { CONSENTRY_OTLP_GRPC_PORT: 'off' }, undefined],
  ])('%s', (_name, env, port) => {
    expect(loadSettings(env).otlpGrpcPort).toBe(port);
  });

  it.each([
    ['not a port', { CONSENTRY_OTLP_GRPC_PORT: 'grpc' }, 'CONSENTRY_OTLP_GRPC_PORT: must be a port number 0-65535 or off, got "grpc"'],
    ['the OTLP/HTTP port', { CONSENTRY_OTLP_GRPC_PORT: '4318' }, 'CONSENTRY_OTLP_GRPC_PORT: must differ from CONSENTRY_OTLP_PORT and CONSENTRY_API_PORT'],
    ['the API port', { CONSENTRY_OTLP_GRPC_PORT: '8080' }, 'CONSENTRY_OTLP_GRPC_PORT: must differ from CONSENTRY_OTLP_PORT and CONSENTRY_API_PORT'],
  ])('refuses %s, naming the variable', (_name, env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });

});
