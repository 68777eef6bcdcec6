// Pre-encoded OTLP/protobuf trace batches for the open-loop generator: spans
// made by the real OTel SDK (BasicTracerProvider, seeded ids) from the traffic
// model, serialized once with the SDK's own ProtobufTraceSerializer, then sent
// as they are, so the generator spends nothing per span while it runs.
//
// Marker spans measure ingest-to-queryable lag. A marker template is a normal
// batch whose first span is a SERVER span named `bench-marker-################`
// with the same placeholder as its `gen_ai.response.model`; `markerBatch`
// copies the bytes and overwrites the 16 `#` with a unique id (same length, so
// the protobuf stays valid). The name makes the span findable in otel_traces
// (full tier); the model gives it a summary row of its own (summary tier).
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { GatewayTraffic, Rng, gatewayResource, spanAttributes, spanName, type GatewayRequest } from './traffic.ts';

export const MARKER_PREFIX = 'bench-marker-';
export const MARKER_ID_LENGTH = 16;
const PLACEHOLDER = Buffer.from(MARKER_PREFIX + '#'.repeat(MARKER_ID_LENGTH));

export interface MarkerTemplate {
  bytes: Buffer;
  /** Offsets of the 16 placeholder characters, one per occurrence. */
  offsets: number[];
}

export interface BatchPool {
  tenantId: string;
  spansPerBatch: number;
  batches: Buffer[];
  markerTemplates: MarkerTemplate[];
  /** Mean protobuf bytes per span over the pool. */
  bytesPerSpan: number;
  /** Spans carrying a planted secret, over the pool. */
  plantedSecrets: number;
}

export interface BuildPoolOptions {
  tenantId: string;
  seed: number;
  /** Request and response bodies (the `full` profile, ~1.5 KB spans) or not (~0.7 KB). */
  bodies: boolean;
  spansPerBatch: number;
  /** Distinct batches in the pool (sent round-robin). */
  batches: number;
  /** Distinct marker templates (at least 1). */
  markerTemplates: number;
  /** Span times start here, Unix ms. */
  baseTimeMs: number;
  /** Requests per second the span timestamps are spread at. */
  requestsPerSecond: number;
  /** Share of spans with a planted secret; default 0.01. */
  secretRate?: number;
}

/** A seeded id generator, so that the same seed gives the same bytes. */
function seededIds(seed: number): { generateTraceId(): string; generateSpanId(): string } {
  const rng = new Rng(seed ^ 0x5bd1e995);
  return { generateTraceId: () => rng.hex(32), generateSpanId: () => rng.hex(16) };
}

/** The attributes a marker request carries: an ordinary successful chat call with a unique name and model. */
export function markerRequest(base: GatewayRequest, placeholder: string): { name: string; attributes: Record<string, string | number | boolean> } {
  const attributes = spanAttributes({ ...base, status: 200, errorType: undefined, secret: undefined, responseModel: placeholder });
  return { name: placeholder, attributes };
}

export function buildPool(opts: BuildPoolOptions): BatchPool {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(gatewayResource(opts.tenantId, opts.seed % 8)),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    idGenerator: seededIds(opts.seed),
  });
  const tracer = provider.getTracer('consentry-bench-gateway', '1.0.0');
  const traffic = new GatewayTraffic({ seed: opts.seed, bodies: opts.bodies, secretRate: opts.secretRate, requestsPerSecond: opts.requestsPerSecond });
  const rng = new Rng(opts.seed + 1);
  const placeholder = PLACEHOLDER.toString();
  let spanBytes = 0;
  let spans = 0;
  let plantedSecrets = 0;

  const record = (r: GatewayRequest, marker: boolean): void => {
    const start = opts.baseTimeMs + r.startOffsetMs;
    const { name, attributes } = marker ? markerRequest(r, placeholder) : { name: spanName(r), attributes: spanAttributes(r) };
    if (!marker && r.secret !== undefined) plantedSecrets++;
    // 30% of requests continue a caller's trace (traceparent from the client).
    const parent =
      rng.next() < 0.3 ? trace.setSpanContext(context.active(), { traceId: rng.hex(32), spanId: rng.hex(16), traceFlags: 1, isRemote: true }) : context.active();
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: start, attributes }, parent);
    if (!marker && r.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `upstream returned ${r.status}` });
    span.end(start + r.durationMs);
  };

  const encode = (): Buffer => {
    const bytes = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
    exporter.reset();
    if (bytes === undefined) throw new Error('ProtobufTraceSerializer returned nothing');
    return Buffer.from(bytes);
  };

  const batches: Buffer[] = [];
  for (let b = 0; b < opts.batches; b++) {
    for (let i = 0; i < opts.spansPerBatch; i++) record(traffic.next(), false);
    const buf = encode();
    spanBytes += buf.length;
    spans += opts.spansPerBatch;
    batches.push(buf);
  }
  const markerTemplates: MarkerTemplate[] = [];
  for (let b = 0; b < Math.max(1, opts.markerTemplates); b++) {
    record(traffic.next(), true);
    for (let i = 1; i < opts.spansPerBatch; i++) record(traffic.next(), false);
    const bytes = encode();
    const offsets: number[] = [];
    for (let at = bytes.indexOf(PLACEHOLDER); at !== -1; at = bytes.indexOf(PLACEHOLDER, at + 1)) offsets.push(at + MARKER_PREFIX.length);
    if (offsets.length === 0) throw new Error('marker placeholder not found in the encoded batch');
    markerTemplates.push({ bytes, offsets });
  }
  void provider.shutdown();
  return { tenantId: opts.tenantId, spansPerBatch: opts.spansPerBatch, batches, markerTemplates, bytesPerSpan: spanBytes / Math.max(1, spans), plantedSecrets };
}

/** A copy of the template with the marker id written in; `id` is MARKER_ID_LENGTH characters of [0-9a-z]. */
export function markerBatch(t: MarkerTemplate, id: string): Buffer {
  if (id.length !== MARKER_ID_LENGTH) throw new Error(`marker id must be ${MARKER_ID_LENGTH} characters`);
  const out = Buffer.from(t.bytes);
  for (const at of t.offsets) out.write(id, at, 'latin1');
  return out;
}

/** Marker span name of a marker id. */
export function markerName(id: string): string {
  return MARKER_PREFIX + id;
}
