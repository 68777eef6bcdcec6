// `summarize`: the span pipeline of the `summary` tier (DESIGN.md, Tiers). Every
// span of the batch is either folded into a per-minute SummaryRecord or
// dropped; the returned batch has no spans. Summaries already in the batch
// (a batch reduced again after a downgrade) pass unchanged; logs and metadata
// are not touched.
//
// What leaves: minute, provider, endpoint (route template), model, status
// class, and sums. No trace or span id, address, user id, header or body, and
// nothing per request. Attributes are read, never copied.
//
// Which spans are requests. A gateway emits one SERVER span per proxied
// request and often CLIENT (or INTERNAL gen_ai) spans for the upstream call
// inside it; counting both would double every request. A span counts as one
// request when
//   1. its kind is SERVER; or
//   2. it is INTERNAL or UNSPECIFIED, looks like a request (has
//      `http.request.method` or a `gen_ai.*` attribute), and its parent is not
//      in the batch: a hand-made gateway span (tracer.startSpan defaults to
//      INTERNAL) whose parent is the caller's, propagated by `traceparent`; or
//   3. it is CLIENT, PRODUCER or CONSUMER, looks like a request, and is a root
//      span (no parent at all): an outbound call made outside any served
//      request, e.g. from a batch job.
// A CLIENT span with a parent never counts, even when the parent is not in the
// batch: an SDK exports a child as soon as it ends, before its parent, so
// "parent not in this batch" would count the upstream leg of a request whose
// SERVER span arrives in the next batch. The remaining risk is rule 2 for an
// INTERNAL request-like child exported apart from its SERVER parent; gateways
// following the conventions put gen_ai attributes on the SERVER span itself.
// Non-request spans add nothing (their tokens included) and are counted as
// `non-request-span` drops.
//
// Errors: a request is an error when its status class is 5xx, or when the
// span status is ERROR and the HTTP status is not 4xx (no status: class
// `error`; a 2xx with ERROR: a stream that broke after the headers were sent).
// 4xx are the client's fault (OTel HTTP semantic conventions leave a SERVER
// span's status unset for them): counted in their status class only.
import { SpanKind, StatusCode, type Attributes, type BatchContext, type RecordBatch, type SpanRecord, type SummaryRecord } from '../record.ts';
import { defineProcessor, type Processor, type ProcessorEnv, type SpanReads } from '../processor.ts';
import { SummarizeConfigSchema } from './config.ts';
import { endpointSource, templatePath } from './endpoint.ts';
import { bucketOf } from './sketch.ts';

const NS_PER_MINUTE = 60_000_000_000n;

/** Distinct raw routes/paths kept templated per processor; past this the cache starts over. */
const ENDPOINT_CACHE_SIZE = 10_000;

/** A non-negative integer from an attribute; absent, empty, non-numeric, negative or infinite: 0. */
export function parseCount(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  return n > 0 && n < Infinity ? Math.floor(n) : 0;
}

/** `1xx`..`5xx` from `http.response.status_code`; '' when absent or not an HTTP status (100..599). */
function httpClass(value: string | undefined): string {
  if (value === undefined) return '';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 599) return '';
  return HTTP_CLASSES[Math.floor(n / 100)]!;
}
const HTTP_CLASSES = ['', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** UTF-8 length of a body attribute, or the declared size when the gateway sent one. */
function bytesOf(size: string | undefined, body: string | undefined): number {
  if (size !== undefined) return parseCount(size);
  return body === undefined ? 0 : Buffer.byteLength(body, 'utf8');
}

function looksLikeRequest(a: Attributes): boolean {
  if (a['http.request.method'] !== undefined) return true;
  for (const k in a) if (k.startsWith('gen_ai.')) return true;
  return false;
}

/** Non-empty first of `a[k1]`, `a[k2]`, else ''. */
function firstOf(a: Attributes, k1: string, k2: string): string {
  const v = a[k1];
  if (v !== undefined && v !== '') return v;
  return a[k2] ?? '';
}

type Groups = Map<number, Map<string, Map<string, Map<string, Map<string, SummaryRecord>>>>>;

/**
 * The fold of one processor: `(spans, receivedAtMs) -> summaries`. Keeps a
 * bounded cache of templated endpoints (routes repeat in every batch).
 */
export function createSpanFolder(): (spans: readonly SpanRecord[], receivedAtMs: number) => { summaries: SummaryRecord[]; nonRequests: number } {
  const endpoints = new Map<string, string>();
  const endpoint = (a: Attributes): string => {
    const raw = endpointSource(a);
    let e = endpoints.get(raw);
    if (e === undefined) {
      e = templatePath(raw);
      if (endpoints.size >= ENDPOINT_CACHE_SIZE) endpoints.clear();
      endpoints.set(raw, e);
    }
    return e;
  };

  return (spans, receivedAtMs) => {
    // Groups by minute -> status class -> provider -> model -> endpoint: nested
    // maps of short keys are ~5x faster here than one concatenated string key
    // (building and hashing a ~70-character key per span cost ~0.4 us).
    const groups: Groups = new Map();
    const summaries: SummaryRecord[] = [];
    let spanIds: Set<string> | undefined; // built on first need (rule 2)
    let nonRequests = 0;
    // Spans of a batch mostly share a minute: floor with bigint division only
    // when a span starts outside the minute of the previous one.
    let minuteStartNs = -1n;
    let minuteEndNs = -1n;
    let minute = 0;
    for (const span of spans) {
      const a = span.attributes;
      if (span.kind !== SpanKind.SERVER) {
        let counted = false;
        if (looksLikeRequest(a)) {
          if (span.parentSpanId === '') counted = true;
          else if (span.kind === SpanKind.INTERNAL || span.kind === SpanKind.UNSPECIFIED) {
            spanIds ??= new Set(spans.map((s) => s.spanId));
            counted = !spanIds.has(span.parentSpanId);
          }
        }
        if (!counted) {
          nonRequests++;
          continue;
        }
      }

      const start = span.startTimeUnixNano;
      if (start <= 0n) {
        // No start time: the minute of receipt.
        const seconds = Math.floor(receivedAtMs / 1000);
        minute = seconds - (seconds % 60);
        minuteStartNs = minuteEndNs = -1n;
      } else if (start < minuteStartNs || start >= minuteEndNs) {
        const m = start / NS_PER_MINUTE;
        minuteStartNs = m * NS_PER_MINUTE;
        minuteEndNs = minuteStartNs + NS_PER_MINUTE;
        minute = Number(m) * 60;
      }
      const provider = firstOf(a, 'gen_ai.provider.name', 'gen_ai.system');
      const route = endpoint(a);
      const model = firstOf(a, 'gen_ai.response.model', 'gen_ai.request.model');
      const failed = span.statusCode === StatusCode.ERROR;
      const http = httpClass(a['http.response.status_code']);
      const statusClass = http !== '' ? http : failed ? 'error' : 'unset';
      const isError = http === '5xx' || (failed && http !== '4xx');

      let byClass = groups.get(minute);
      if (byClass === undefined) groups.set(minute, (byClass = new Map()));
      let byProvider = byClass.get(statusClass);
      if (byProvider === undefined) byClass.set(statusClass, (byProvider = new Map()));
      let byModel = byProvider.get(provider);
      if (byModel === undefined) byProvider.set(provider, (byModel = new Map()));
      let byEndpoint = byModel.get(model);
      if (byEndpoint === undefined) byModel.set(model, (byEndpoint = new Map()));
      let g = byEndpoint.get(route);
      if (g === undefined) {
        g = {
          minute,
          provider,
          endpoint: route,
          model,
          statusClass,
          requests: 0,
          errors: 0,
          latencyBuckets: new Map(),
          inputTokens: 0,
          outputTokens: 0,
          requestBytes: 0,
          responseBytes: 0,
        };
        byEndpoint.set(route, g);
        summaries.push(g);
      }
      g.requests++;
      if (isError) g.errors++;
      const end = span.endTimeUnixNano;
      const bucket = bucketOf(end > start ? Number(end - start) / 1e6 : 0);
      g.latencyBuckets.set(bucket, (g.latencyBuckets.get(bucket) ?? 0) + 1);
      g.inputTokens += parseCount(a['gen_ai.usage.input_tokens']);
      g.outputTokens += parseCount(a['gen_ai.usage.output_tokens']);
      g.requestBytes += bytesOf(a['http.request.body.size'], a['gateway.request.body']);
      g.responseBytes += bytesOf(a['http.response.body.size'], a['gateway.response.body']);
    }
    return { summaries, nonRequests };
  };
}

export function createSummarize(env: ProcessorEnv): Processor {
  const fold = createSpanFolder();
  return (batch: RecordBatch, ctx: BatchContext): RecordBatch => {
    if (batch.spans.length === 0) return batch;
    const { summaries, nonRequests } = fold(batch.spans, ctx.receivedAtMs);
    if (nonRequests > 0) env.count('non-request-span', nonRequests);
    return { ...batch, spans: [], summaries: batch.summaries.length === 0 ? summaries : batch.summaries.concat(summaries) };
  };
}

/** Every span attribute the fold reads (looksLikeRequest, endpointSource, firstOf, parseCount, bytesOf). */
export const SUMMARIZE_READS: SpanReads = {
  spans: true,
  attributes: {
    keys: [
      'http.request.method',
      'http.route',
      'url.path',
      'url.full',
      'http.response.status_code',
      'http.request.body.size',
      'http.response.body.size',
      'gateway.request.body',
      'gateway.response.body',
    ],
    prefixes: ['gen_ai.'],
  },
  events: false,
  links: false,
};

export const summarize = defineProcessor({
  name: 'summarize',
  description: 'folds request spans into per-minute aggregates (requests, errors, latency sketch, tokens, bytes) and drops every span',
  schema: SummarizeConfigSchema,
  create: (_config, env) => createSummarize(env),
  spanReads: () => SUMMARIZE_READS,
});
