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
// Which spans count, and as what: processors/conventions/counting.ts. An
// entry span adds a request (count, errors, latency, bytes); a call span adds
// an LLM call (count, errors, latency, tokens); a span that is both adds both
// to its row; a span that is neither adds nothing and is counted as a
// `non-request-span` drop. Provider and model are the span's own (mapping:
// processors/conventions/genai.ts), so a request whose entry span names no
// model (an application SERVER span around a CLIENT LLM span) is a row with
// provider and model '' and its call a row with them: requests and calls are
// different figures, and nothing is joined across spans or batches.
//
// Errors: a span is an error when its status class is 5xx, or when it failed
// (status ERROR or an error.type) and the HTTP status is not 4xx (no status:
// class `error`; a 2xx with ERROR: a stream that broke after the headers were
// sent). 4xx are the client's fault (OTel HTTP semantic conventions leave a
// SERVER span's status unset for them): counted in their status class only.
import type { Attributes, BatchContext, RecordBatch, SpanRecord, SummaryRecord } from '../../core/record.ts';
import { defineProcessor, type Processor, type ProcessorEnv, type SpanReads } from '../processor.ts';
import { failedOf, inputTokensOf, isCallSpan, isEntrySpan, modelOf, outputTokensOf, parseCount, providerOf } from '../conventions/counting.ts';
import { FIELDS, keysOf } from '../conventions/genai.ts';
import { SummarizeConfigSchema } from './config.ts';
import { endpointSource, templatePath } from './endpoint.ts';
import { bucketOf } from './sketch.ts';
import { callCostPico } from '../cost/processor.ts';
import type { PriceTable } from '../cost/prices.ts';

const NS_PER_MINUTE = 60_000_000_000n;

/** Distinct raw routes/paths kept templated per processor; past this the cache starts over. */
const ENDPOINT_CACHE_SIZE = 10_000;

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

type Groups = Map<number, Map<string, Map<string, Map<string, Map<string, SummaryRecord>>>>>;

/**
 * The fold of one processor: `(spans, receivedAtMs) -> summaries`. Keeps a
 * bounded cache of templated endpoints (routes repeat in every batch). Calls
 * are priced by `prices` (absent: every call is unpriced).
 */
export function createSpanFolder(prices?: PriceTable): (spans: readonly SpanRecord[], receivedAtMs: number) => { summaries: SummaryRecord[]; nonRequests: number } {
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
    let nonRequests = 0;
    // Spans of a batch mostly share a minute: floor with bigint division only
    // when a span starts outside the minute of the previous one.
    let minuteStartNs = -1n;
    let minuteEndNs = -1n;
    let minute = 0;
    for (const span of spans) {
      const a = span.attributes;
      const entry = isEntrySpan(span);
      const call = isCallSpan(a, entry);
      if (!entry && !call) {
        nonRequests++;
        continue;
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
      const provider = providerOf(a);
      const route = endpoint(a);
      const model = modelOf(a);
      const failed = failedOf(span);
      const http = httpClass(a['http.response.status_code']);
      const statusClass = http !== '' ? http : failed ? 'error' : 'unset';
      const isError = http === '5xx' || (failed && http !== '4xx');

      let byClass = groups.get(minute);
      if (byClass === undefined) groups.set(minute, (byClass = new Map<string, Map<string, Map<string, Map<string, SummaryRecord>>>>()));
      let byProvider = byClass.get(statusClass);
      if (byProvider === undefined) byClass.set(statusClass, (byProvider = new Map<string, Map<string, Map<string, SummaryRecord>>>()));
      let byModel = byProvider.get(provider);
      if (byModel === undefined) byProvider.set(provider, (byModel = new Map<string, Map<string, SummaryRecord>>()));
      let byEndpoint = byModel.get(model);
      if (byEndpoint === undefined) byModel.set(model, (byEndpoint = new Map<string, SummaryRecord>()));
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
          calls: 0,
          callErrors: 0,
          callLatencyBuckets: new Map(),
          inputTokens: 0,
          outputTokens: 0,
          costPicoUsd: 0n,
          unpricedCalls: 0,
          requestBytes: 0,
          responseBytes: 0,
        };
        byEndpoint.set(route, g);
        summaries.push(g);
      }
      const end = span.endTimeUnixNano;
      const bucket = bucketOf(end > start ? Number(end - start) / 1e6 : 0);
      if (entry) {
        g.requests++;
        if (isError) g.errors++;
        g.latencyBuckets.set(bucket, (g.latencyBuckets.get(bucket) ?? 0) + 1);
        g.requestBytes += bytesOf(a['http.request.body.size'], a['gateway.request.body']);
        g.responseBytes += bytesOf(a['http.response.body.size'], a['gateway.response.body']);
      }
      if (call) {
        g.calls++;
        if (isError) g.callErrors++;
        g.callLatencyBuckets.set(bucket, (g.callLatencyBuckets.get(bucket) ?? 0) + 1);
        g.inputTokens += inputTokensOf(a);
        g.outputTokens += outputTokensOf(a);
        const cost = prices === undefined ? undefined : callCostPico(prices, a);
        if (cost === undefined) g.unpricedCalls++;
        else g.costPicoUsd += cost;
      }
    }
    return { summaries, nonRequests };
  };
}

export function createSummarize(env: ProcessorEnv): Processor {
  const fold = createSpanFolder(env.prices);
  return (batch: RecordBatch, ctx: BatchContext): RecordBatch => {
    if (batch.spans.length === 0) return batch;
    const { summaries, nonRequests } = fold(batch.spans, ctx.receivedAtMs);
    if (nonRequests > 0) env.count('non-request-span', nonRequests);
    return { ...batch, spans: [], summaries: batch.summaries.length === 0 ? summaries : batch.summaries.concat(summaries) };
  };
}

/**
 * Every span attribute the fold reads (endpointSource, bytesOf, and the fields
 * of the conventions mapping it uses): the decoder skips the rest, content
 * such as gen_ai.input.messages included.
 */
export const SUMMARIZE_READS: SpanReads = {
  spans: true,
  attributes: {
    keys: [
      'http.route',
      'url.path',
      'url.full',
      'http.response.status_code',
      'http.request.body.size',
      'http.response.body.size',
      'gateway.request.body',
      'gateway.response.body',
      ...[FIELDS.provider, FIELDS.model, FIELDS.operation, FIELDS.inputTokens, FIELDS.outputTokens, FIELDS.error].flatMap((f) => keysOf(f)),
    ],
    prefixes: [],
  },
  events: false,
  links: false,
};

export const summarize = defineProcessor({
  name: 'summarize',
  description: 'folds spans into per-minute aggregates (requests, LLM calls, errors, latency sketches, tokens, bytes) and drops every span',
  schema: SummarizeConfigSchema,
  create: (_config, env) => createSummarize(env),
  spanReads: () => SUMMARIZE_READS,
});
