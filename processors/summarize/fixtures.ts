// Test and benchmark inputs for `summarize`: span builders and realistic gateway
// batches. Not used by the processor itself.
import { SpanKind, StatusCode, type Attributes, type BatchContext, type RecordBatch, type Resource, type Scope, type SpanRecord } from '../../core/record.ts';
import { prng, testBatch, testSpan } from '../testing/records.ts';

export const RESOURCE: Resource = {
  attributes: { 'service.name': 'gateway', 'service.version': '1.4.2', 'service.instance.id': 'gw-1' },
  schemaUrl: '',
};
export const SCOPE: Scope = { name: 'gateway', version: '1.4.2', attributes: {}, schemaUrl: '' };

/** 2023-11-14T22:14:00Z: the start of a minute. */
export const T0_SECONDS = 1_700_000_040;
export const T0_NS = BigInt(T0_SECONDS) * 1_000_000_000n;

export function ctxFor(tenantId = 'tenant-a', tier = 'summary'): BatchContext {
  return { tenantId, tier, tierVersion: 1, receivedAtMs: T0_SECONDS * 1000 + 90_000 };
}

let nextId = 1;
function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export interface SpanInput {
  kind?: number;
  /** Offset of the start from T0, in ms. */
  atMs?: number;
  /** Absolute start; overrides atMs. */
  startNs?: bigint;
  durationMs?: number;
  status?: number;
  attributes?: Attributes;
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  /** OTLP Span.flags; default 0 (the sender did not say whether the parent is remote). */
  flags?: number;
}

/** A span of the gateway; defaults: SERVER, at T0, 100 ms, status UNSET, fresh ids, root. */
export function makeSpan(i: SpanInput = {}): SpanRecord {
  const id = nextId++;
  const start = i.startNs ?? T0_NS + BigInt(Math.round((i.atMs ?? 0) * 1e6));
  return testSpan(i.attributes, {
    resource: RESOURCE,
    scope: SCOPE,
    traceId: i.traceId ?? hex(id, 32),
    spanId: i.spanId ?? hex(id, 16),
    parentSpanId: i.parentSpanId ?? '',
    name: 'POST',
    kind: i.kind ?? SpanKind.SERVER,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round((i.durationMs ?? 100) * 1e6)),
    statusCode: i.status ?? StatusCode.UNSET,
    flags: i.flags ?? 0,
  });
}

export function batchOf(spans: SpanRecord[]): RecordBatch {
  return testBatch({ spans });
}

/** Lognormal latencies in ms: median `medianMs`, log-space standard deviation `sigma`. */
export function lognormal(rand: () => number, medianMs: number, sigma: number): () => number {
  return () => {
    const u = 1 - rand(); // (0, 1]
    const v = rand();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return medianMs * Math.exp(sigma * z);
  };
}

const ROUTES = ['/v1/chat/completions', '/v1/embeddings', '/v1/messages', '/v1/responses'];
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-sonnet-20241022', 'text-embedding-3-small'];
const PROVIDERS = ['openai', 'openai', 'anthropic', 'openai'];
const STATUSES = ['200', '200', '200', '200', '200', '200', '200', '429', '500', '400'];

/**
 * A batch like a gateway's BatchSpanProcessor sends: `n` SERVER spans of about
 * 20 attributes (no bodies, ~0.7 KB), spread over `minutes` minutes.
 */
export function gatewayBatch(n: number, seed: number, minutes = 1): SpanRecord[] {
  const rand = prng(seed);
  const latency = lognormal(rand, 400, 0.8);
  const spans: SpanRecord[] = [];
  for (let i = 0; i < n; i++) {
    const r = Math.floor(rand() * ROUTES.length);
    const status = STATUSES[Math.floor(rand() * STATUSES.length)]!;
    const withRoute = rand() < 0.8;
    spans.push(
      makeSpan({
        atMs: Math.floor(rand() * minutes * 60_000),
        durationMs: latency(),
        status: status === '500' ? StatusCode.ERROR : StatusCode.UNSET,
        attributes: {
          'http.request.method': 'POST',
          ...(withRoute ? { 'http.route': ROUTES[r]! } : {}),
          'url.path': withRoute ? ROUTES[r]! : `/v1/threads/thread_${Math.floor(rand() * 1e12).toString(36)}x9/runs`,
          'url.scheme': 'https',
          'server.address': 'api.gateway.example',
          'server.port': '443',
          'client.address': `10.0.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`,
          'user_agent.original': 'openai-python/1.54.0',
          'http.response.status_code': status,
          'network.protocol.version': '1.1',
          'gen_ai.provider.name': PROVIDERS[r]!,
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': MODELS[r]!,
          'gen_ai.response.model': `${MODELS[r]!}-2024-07-18`,
          'gen_ai.usage.input_tokens': String(Math.floor(rand() * 2000)),
          'gen_ai.usage.output_tokens': String(Math.floor(rand() * 800)),
          'http.request.body.size': String(Math.floor(rand() * 8000)),
          'http.response.body.size': String(Math.floor(rand() * 4000)),
          'gateway.streaming': rand() < 0.3 ? 'true' : 'false',
          'user.id': `user-${Math.floor(rand() * 1000)}`,
          'gateway.upstream': 'primary',
        },
      }),
    );
  }
  return spans;
}
