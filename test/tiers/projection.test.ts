// Span projections are an optimisation only: for every tier, decoding with the
// tier's projection and then applying the tier must give exactly what decoding
// everything and applying the tier gives. Traffic: the benchmark's gateway model
// (bodies, planted secrets, gen_ai attributes, 30% remote parents) plus SDK spans
// of every kind with events, links and odd attribute shapes.
import { describe, expect, it } from 'vitest';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { DECODE_ALL } from '../../processors/projection.ts';
import type { BatchContext } from '../../core/record.ts';
import { decodeTracesProto } from '../../collector/otlp/decode-proto.ts';
import { buildPool } from '../../bench/otlp-batches.ts';
import { builtinTierEngine } from '../helpers/tier-engine.ts';

const engine = builtinTierEngine();

/** Spans of every kind, with events, links, arrays, non-ASCII and gen_ai attributes, parents in and out of the batch. */
function oddSpans(): Buffer {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('projection-test', '1.0.0');
  const t0 = 1_763_892_000_000;
  const server = tracer.startSpan('POST /v1/chat/completions', {
    kind: SpanKind.SERVER,
    startTime: t0,
    attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': 200, 'user.id': 'u-7', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 12, 'gen_ai.usage.output_tokens': 40, 'gateway.request.body': '{"q":"héllo ✓"}', tags: ['a', 'b'] },
    links: [{ context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }, attributes: { 'link.kind': 'retry' } }],
  });
  server.addEvent('first-token', { 'gen_ai.latency_ms': 120 }, t0 + 120);
  const inner = trace.setSpan(context.active(), server);
  const client = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, startTime: t0 + 5, attributes: { 'gen_ai.system': 'openai', 'url.full': 'https://api.openai.com/v1/chat/completions?key=x', 'gen_ai.usage.input_tokens': 12 } }, inner);
  client.end(t0 + 900);
  const internal = tracer.startSpan('route', { kind: SpanKind.INTERNAL, startTime: t0 + 1, attributes: { 'http.request.method': 'GET', 'url.path': '/users/42/files', 'http.response.status_code': 404, 'http.response.body.size': 77 } });
  internal.setStatus({ code: SpanStatusCode.ERROR, message: 'not found' });
  internal.end(t0 + 3);
  const failed = tracer.startSpan('POST /v1/messages', { kind: SpanKind.SERVER, startTime: t0 + 61_000, attributes: { 'gen_ai.provider.name': 'anthropic', 'gen_ai.response.model': 'claude-3-5-sonnet', 'http.route': '/v1/messages' } });
  failed.setStatus({ code: SpanStatusCode.ERROR, message: 'stream broke' });
  failed.end(t0 + 62_000);
  const plain = tracer.startSpan('cron', { kind: SpanKind.INTERNAL, startTime: t0, attributes: { 'job.name': 'refresh' } });
  plain.end(t0 + 10);
  server.end(t0 + 1000);
  const bytes = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
  void provider.shutdown();
  return Buffer.from(bytes!);
}

const BODIES = buildPool({ tenantId: 't', seed: 7, bodies: true, spansPerBatch: 200, batches: 2, markerTemplates: 1, baseTimeMs: 1_763_892_000_000, requestsPerSecond: 500, secretRate: 0.1 });
const LEAN = buildPool({ tenantId: 't', seed: 8, bodies: false, spansPerBatch: 200, batches: 1, markerTemplates: 1, baseTimeMs: 1_763_892_000_000, requestsPerSecond: 500 });
const REQUESTS: Array<[string, Buffer]> = [
  ['gateway traffic with bodies', BODIES.batches[0]!],
  ['gateway traffic with bodies, second batch', BODIES.batches[1]!],
  ['gateway traffic without bodies', LEAN.batches[0]!],
  ['spans of every kind with events and links', oddSpans()],
];

describe.each(engine.names())('tier %s', (tier) => {
  const projection = engine.spanProjection(tier);
  const ctx: BatchContext = { tenantId: 't', tier, tierVersion: 1, receivedAtMs: 1_763_892_030_000 };
  const apply = (spans: ReturnType<typeof decodeTracesProto>['records']) => engine.process({ spans, logs: [], summaries: [], metadata: [] }, ctx);

  it.each(REQUESTS)('stores the same for %s decoded with its projection as decoded whole', (_name, body) => {
    const whole = decodeTracesProto(body, DECODE_ALL);
    expect(whole.records.length).toBeGreaterThan(0);
    const expected = apply(whole.records);
    if (!projection.spans) {
      // The receiver answers without decoding: nothing from spans may survive the tier.
      expect([expected.spans.length, expected.summaries.length]).toEqual([0, 0]);
      return;
    }
    const projected = decodeTracesProto(body, projection);
    expect(projected.records).toHaveLength(whole.records.length);
    expect(apply(projected.records)).toEqual(expected);
  });
});

it('skips what the summary tier does not read', () => {
  const body = oddSpans();
  const spans = decodeTracesProto(body, engine.spanProjection('summary')).records;
  const server = spans.find((s) => s.name === 'POST /v1/chat/completions')!;
  expect(Object.keys(server.attributes).sort()).toEqual(['gateway.request.body', 'gen_ai.request.model', 'gen_ai.system', 'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'http.response.status_code', 'http.route']);
  expect([server.events, server.links]).toEqual([[], []]);
  expect(decodeTracesProto(body).records.find((s) => s.name === server.name)!.events).toHaveLength(1);
});

it('compares on traffic the summary fold counts', () => {
  // Otherwise "the same output" could be two empty batches.
  const summary = engine.process({ spans: decodeTracesProto(BODIES.batches[0]!).records, logs: [], summaries: [], metadata: [] }, { tenantId: 't', tier: 'summary', tierVersion: 1, receivedAtMs: 0 });
  expect(summary.summaries.reduce((n, s) => n + s.requests, 0)).toBe(200);
});
