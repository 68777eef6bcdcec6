// Test support for processor tests: record builders, a counting ProcessorEnv
// and a seeded PRNG. Imported by tests (and test fixtures) only, never by a
// processor.
import { SpanKind, StatusCode, type Attributes, type BatchContext, type LogRecord, type RecordBatch, type Resource, type Scope, type SpanRecord } from '../../core/record.ts';
import type { ProcessorEnv } from '../processor.ts';

/** Tenant `t1` under `full`, received 2023-11-14T22:13:20Z. */
export const TEST_CTX: BatchContext = { tenantId: 't1', tier: 'full', tierVersion: 1, receivedAtMs: 1_700_000_000_000 };
/** Shared by every record the builders make unless overridden: tests assert on its identity. */
export const TEST_RESOURCE: Resource = { attributes: { 'service.name': 'gw' }, schemaUrl: '' };
export const TEST_SCOPE: Scope = { name: 'gw', version: '1.0', attributes: {}, schemaUrl: '' };

/** A root SERVER span `POST /v1/chat/completions` with status UNSET; fresh event and link arrays. */
export function testSpan(attributes: Attributes = {}, overrides: Partial<SpanRecord> = {}): SpanRecord {
  return {
    resource: TEST_RESOURCE,
    scope: TEST_SCOPE,
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    traceState: '',
    name: 'POST /v1/chat/completions',
    kind: SpanKind.SERVER,
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes,
    events: [],
    links: [],
    statusCode: StatusCode.UNSET,
    statusMessage: '',
    flags: 0,
    ...overrides,
  };
}

/** An INFO log `request done` without trace context. */
export function testLog(attributes: Attributes = {}, overrides: Partial<LogRecord> = {}): LogRecord {
  return {
    resource: TEST_RESOURCE,
    scope: TEST_SCOPE,
    timeUnixNano: 1n,
    observedTimeUnixNano: 1n,
    severityNumber: 9,
    severityText: 'INFO',
    body: 'request done',
    attributes,
    traceId: '',
    spanId: '',
    flags: 0,
    eventName: '',
    ...overrides,
  };
}

/** A batch of the given parts; the others empty. */
export function testBatch(parts: Partial<RecordBatch> = {}): RecordBatch {
  return { spans: [], logs: [], summaries: [], metadata: [], ...parts };
}

/** A ProcessorEnv whose `count` adds up into `counts`, by name. */
export function testEnv(hmacKey: Buffer = Buffer.alloc(32, 1)): { env: ProcessorEnv; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return { env: { hmacKey, count: (name, n) => counts.set(name, (counts.get(name) ?? 0) + n) }, counts };
}

/** mulberry32: small, fast, seeded; good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
