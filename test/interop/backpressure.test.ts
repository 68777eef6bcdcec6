// Backpressure as a real exporter meets it: the OpenTelemetry JS SDK's
// OTLP/HTTP exporter (from npm, its own retry policy) against a collector that
// refuses work. The in-flight budget is one byte, so a request is let in only
// while no other is unanswered, and each answer waits for its batch insert
// (CONSENTRY_BATCH_MAX_DELAY_MS): exporters sending at once must be refused
// with 429 + Retry-After, retry on their own, and every span must be stored
// once. Nothing here drives the retries but the exporter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';

const EXPORTERS = 3;
const SPANS_PER_EXPORT = 40;

/** Finished spans from the SDK itself, `n` per exporter, named after it. */
function spansFor(exporter: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('backpressure-test');
  for (let i = 0; i < SPANS_PER_EXPORT; i++) tracer.startSpan(`exporter-${exporter} span-${i}`, { attributes: { 'http.request.method': 'POST' } }).end();
  return memory.getFinishedSpans();
}

function exportOnce(exporter: OTLPTraceExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

describe('backpressure meets a real exporter (OpenTelemetry JS SDK, OTLP/HTTP)', () => {
  let c: TestConsentry;
  let ingestKey: string;

  beforeAll(async () => {
    c = await startTestConsentry({ maxInflightBytes: 1, batchMaxDelayMs: 500 });
    ({ ingestKey } = await c.createTenant('bp', 'full'));
  });
  afterAll(async () => c.close());

  it('exporters refused with 429 retry by themselves and every span is stored once', async () => {
    const exporters = Array.from({ length: EXPORTERS }, () => new OTLPTraceExporter({ url: `${c.otlpUrl}/v1/traces`, headers: { authorization: `Bearer ${ingestKey}` }, timeoutMillis: 30_000 }));
    const results = await Promise.all(exporters.map((e, i) => exportOnce(e, spansFor(i))));
    await Promise.all(exporters.map((e) => e.shutdown()));

    expect(results.map((r) => [r.code, r.error?.message])).toEqual(exporters.map(() => [ExportResultCode.SUCCESS, undefined]));
    const answers = (await c.metrics.requests.get()).values.filter((v) => v.labels.signal === 'traces');
    const count = (code: number): number => answers.filter((v) => String(v.labels.code) === String(code)).reduce((s, v) => s + v.value, 0);
    // Each export was let in once; the others' first tries met the budget.
    expect(count(200)).toBe(EXPORTERS);
    expect(count(429)).toBeGreaterThanOrEqual(EXPORTERS - 1);
    const rows = await c.rows<{ name: string; n: string }>(`SELECT SpanName AS name, count() AS n FROM consentry.otel_traces WHERE TenantId = 'bp' GROUP BY name`);
    expect(rows).toHaveLength(EXPORTERS * SPANS_PER_EXPORT);
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
  });
});
