import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { expectGolden } from '../../test/helpers/golden-file.ts';
import { SpanKind, StatusCode, type RecordBatch, type SpanRecord, type SummaryRecord } from '../../core/record.ts';
import type { ProcessorEnv } from '../processor.ts';
import { RESOURCE, SCOPE, T0_NS, T0_SECONDS, batchOf, ctxFor, makeSpan, type SpanInput } from './fixtures.ts';
import { summarize } from './processor.ts';
import { MIN_BUCKET, bucketOf } from './sketch.ts';
import { loadPriceTable } from '../cost/prices.ts';

/** The shipped price table: calls are priced as in production. */
const PRICES = loadPriceTable('');

function recordingEnv(): ProcessorEnv & { counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return { hmacKey: Buffer.alloc(32), counts, count: (name, n) => counts.set(name, (counts.get(name) ?? 0) + n), prices: PRICES };
}

function run(spans: SpanRecord[], env = recordingEnv()): RecordBatch {
  return summarize.create({}, env)(batchOf(spans), ctxFor());
}

/** Summaries as plain JSON values: buckets as an object with sorted numeric keys. */
function plain(s: SummaryRecord): Record<string, unknown> {
  const sorted = (m: Map<number, number>): Record<string, number> => {
    const buckets: Record<string, number> = {};
    for (const [k, c] of [...m].sort((a, b) => a[0] - b[0])) buckets[String(k)] = c;
    return buckets;
  };
  return { ...s, latencyBuckets: sorted(s.latencyBuckets), callLatencyBuckets: sorted(s.callLatencyBuckets), costPicoUsd: s.costPicoUsd.toString() };
}

const ZERO = { requests: 1, errors: 0, calls: 0, callErrors: 0, inputTokens: 0, outputTokens: 0, costPicoUsd: 0n, unpricedCalls: 0, requestBytes: 0, responseBytes: 0 };

describe('summarize: one request span', () => {
  it.each<{ name: string; span: SpanInput; want: Partial<SummaryRecord> }>([
    {
      name: 'all attributes',
      span: {
        durationMs: 250,
        attributes: {
          'http.route': '/v1/chat/completions',
          'http.response.status_code': '200',
          'gen_ai.provider.name': 'openai',
          'gen_ai.system': 'ignored',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.response.model': 'gpt-4o-2024-08-06',
          'gen_ai.usage.input_tokens': '100',
          'gen_ai.usage.output_tokens': '20',
          'http.request.body.size': '300',
          'http.response.body.size': '400',
          'gateway.request.body': 'ignored: size given',
        },
      },
      // gpt-4o-2024-08-06 is priced as gpt-4o (date suffix): 100 x $2.50 + 20 x $10 per million tokens = $0.00045.
      want: { provider: 'openai', endpoint: '/v1/chat/completions', model: 'gpt-4o-2024-08-06', statusClass: '2xx', calls: 1, inputTokens: 100, outputTokens: 20, costPicoUsd: 450_000_000n, requestBytes: 300, responseBytes: 400 },
    },
    {
      name: 'fallbacks: gen_ai.system, request model, templated url.path',
      span: { attributes: { 'url.path': '/v1/files/12345', 'gen_ai.system': 'anthropic', 'gen_ai.request.model': 'claude', 'http.response.status_code': '201' } },
      want: { provider: 'anthropic', endpoint: '/v1/files/:id', model: 'claude', statusClass: '2xx', calls: 1, unpricedCalls: 1 },
    },
    {
      name: 'missing everything',
      span: { attributes: {} },
      want: { provider: '', endpoint: '', model: '', statusClass: 'unset' },
    },
    {
      name: 'body lengths in UTF-8 bytes',
      span: { attributes: { 'gateway.request.body': 'héllo', 'gateway.response.body': '€' } },
      want: { requestBytes: 6, responseBytes: 3 },
    },
    {
      name: 'numbers parsed defensively',
      span: {
        attributes: {
          'gen_ai.usage.input_tokens': 'lots',
          'gen_ai.usage.output_tokens': '-5',
          'http.request.body.size': '12.7',
          'http.response.body.size': 'Infinity',
          'gateway.response.body': 'not used: size present',
        },
      },
      want: { calls: 1, inputTokens: 0, outputTokens: 0, unpricedCalls: 1, requestBytes: 12, responseBytes: 0 },
    },
  ])('$name', ({ span, want }) => {
    const out = run([makeSpan(span)]);
    expect(out.summaries).toHaveLength(1);
    expect(out.summaries[0]).toMatchObject({ minute: T0_SECONDS, ...ZERO, ...want });
  });
});

describe('summarize: status class and errors', () => {
  it.each([
    { name: '200', status: '200', code: StatusCode.UNSET, statusClass: '2xx', errors: 0 },
    { name: '101 (websocket upgrade)', status: '101', code: StatusCode.UNSET, statusClass: '1xx', errors: 0 },
    { name: '301', status: '301', code: StatusCode.UNSET, statusClass: '3xx', errors: 0 },
    { name: '404', status: '404', code: StatusCode.UNSET, statusClass: '4xx', errors: 0 },
    { name: '429 with span ERROR: the client\'s fault', status: '429', code: StatusCode.ERROR, statusClass: '4xx', errors: 0 },
    { name: '500', status: '500', code: StatusCode.UNSET, statusClass: '5xx', errors: 1 },
    { name: '503 with ERROR', status: '503', code: StatusCode.ERROR, statusClass: '5xx', errors: 1 },
    { name: '200 with ERROR (stream broke)', status: '200', code: StatusCode.ERROR, statusClass: '2xx', errors: 1 },
    { name: 'ERROR without status', status: undefined, code: StatusCode.ERROR, statusClass: 'error', errors: 1 },
    { name: 'OK without status', status: undefined, code: StatusCode.OK, statusClass: 'unset', errors: 0 },
    { name: 'UNSET without status', status: undefined, code: StatusCode.UNSET, statusClass: 'unset', errors: 0 },
    { name: 'not a number', status: 'abc', code: StatusCode.UNSET, statusClass: 'unset', errors: 0 },
    { name: 'out of range', status: '700', code: StatusCode.ERROR, statusClass: 'error', errors: 1 },
    { name: 'not an integer', status: '200.5', code: StatusCode.UNSET, statusClass: 'unset', errors: 0 },
  ])('$name -> $statusClass, errors $errors', ({ status, code, statusClass, errors }) => {
    const attributes: Record<string, string> = status === undefined ? {} : { 'http.response.status_code': status };
    const [s] = run([makeSpan({ status: code, attributes })]).summaries;
    expect(s).toMatchObject({ statusClass, errors, requests: 1 });
  });
});

describe('summarize: minutes and latency', () => {
  it('splits at the minute boundary and groups within it', () => {
    const out = run([makeSpan({ atMs: 0 }), makeSpan({ atMs: 59_999 }), makeSpan({ atMs: 60_000 }), makeSpan({ atMs: -1 })]);
    expect(out.summaries.map((s) => [s.minute, s.requests])).toEqual([
      [T0_SECONDS, 2],
      [T0_SECONDS + 60, 1],
      [T0_SECONDS - 60, 1],
    ]);
  });

  it('uses the receipt minute for a span without start time', () => {
    const span = { ...makeSpan(), startTimeUnixNano: 0n, endTimeUnixNano: 5_000_000n };
    expect(run([span]).summaries[0]).toMatchObject({ minute: T0_SECONDS + 60, latencyBuckets: new Map([[bucketOf(5), 1]]) });
  });

  it('counts durations in ms buckets; end before start is the minimum bucket', () => {
    const backwards = { ...makeSpan(), endTimeUnixNano: T0_NS - 1n };
    const [s] = run([makeSpan({ durationMs: 250 }), makeSpan({ durationMs: 250.1 }), makeSpan({ durationMs: 1000 }), backwards]).summaries;
    expect(plain(s!)['latencyBuckets']).toEqual({ [MIN_BUCKET]: 1, [bucketOf(250)]: 2, [bucketOf(1000)]: 1 });
  });
});

describe('summarize: what a span counts as (the counting rule)', () => {
  const http = { 'http.request.method': 'POST' };
  const chat = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': '10', 'gen_ai.usage.output_tokens': '2' };
  const parent = 'aaaaaaaaaaaaaaaa';
  const LOCAL = 0x100; // HAS_IS_REMOTE: the sender says the parent is local (or there is none)
  const REMOTE = 0x300; // HAS_IS_REMOTE | IS_REMOTE
  it.each<{ name: string; spans: SpanInput[]; requests: number; calls: number; tokens?: number; neither?: number }>([
    { name: 'SERVER root without attributes', spans: [{ kind: SpanKind.SERVER }], requests: 1, calls: 0 },
    { name: 'SERVER with a remote parent (flags)', spans: [{ kind: SpanKind.SERVER, parentSpanId: parent, flags: REMOTE }], requests: 1, calls: 0 },
    { name: 'SERVER with a parent, no flags', spans: [{ kind: SpanKind.SERVER, parentSpanId: parent }], requests: 1, calls: 0 },
    { name: 'SERVER with a local parent (flags)', spans: [{ kind: SpanKind.SERVER, parentSpanId: parent, flags: LOCAL }], neither: 1, requests: 0, calls: 0 },
    { name: 'telemetrygen: CLIENT root and its SERVER child', spans: [{ kind: SpanKind.CLIENT, spanId: parent, flags: LOCAL }, { kind: SpanKind.SERVER, parentSpanId: parent, flags: LOCAL }], neither: 1, requests: 1, calls: 0 },
    { name: 'application SERVER around a CLIENT LLM span', spans: [{ kind: SpanKind.SERVER, spanId: parent, attributes: http, flags: LOCAL }, { kind: SpanKind.CLIENT, parentSpanId: parent, attributes: chat, flags: LOCAL }], requests: 1, calls: 1, tokens: 12 },
    { name: 'application INTERNAL root around a CLIENT LLM span', spans: [{ kind: SpanKind.INTERNAL, spanId: parent, flags: LOCAL }, { kind: SpanKind.CLIENT, parentSpanId: parent, attributes: chat, flags: LOCAL }], requests: 1, calls: 1, tokens: 12 },
    { name: 'CLIENT LLM span exported before its parent', spans: [{ kind: SpanKind.CLIENT, parentSpanId: parent, attributes: chat, flags: LOCAL }], requests: 0, calls: 1, tokens: 12 },
    { name: 'CLIENT LLM span with a parent, no flags', spans: [{ kind: SpanKind.CLIENT, parentSpanId: parent, attributes: chat }], requests: 0, calls: 1, tokens: 12 },
    { name: 'root CLIENT LLM span (openai-v2, OpenLLMetry)', spans: [{ kind: SpanKind.CLIENT, attributes: chat }], requests: 1, calls: 1, tokens: 12 },
    { name: 'root CLIENT without attributes', spans: [{ kind: SpanKind.CLIENT }], requests: 1, calls: 0 },
    { name: 'gateway SERVER span with gen_ai attributes (interceptor)', spans: [{ kind: SpanKind.SERVER, attributes: { ...http, 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': '5' } }], requests: 1, calls: 1, tokens: 5 },
    {
      name: 'gateway SERVER span with gen_ai attributes and its upstream CLIENT leg repeating them (no operation)',
      spans: [{ kind: SpanKind.SERVER, spanId: parent, attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': '5' } }, { kind: SpanKind.CLIENT, parentSpanId: parent, flags: LOCAL, attributes: { ...http, 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': '5' } }],
      requests: 1,
      calls: 1,
      tokens: 5,
      neither: 1,
    },
    { name: 'gateway SERVER span with two upstream CLIENT calls (retry)', spans: [{ kind: SpanKind.SERVER, spanId: parent, attributes: http }, { kind: SpanKind.CLIENT, parentSpanId: parent, flags: LOCAL, attributes: chat, status: StatusCode.ERROR }, { kind: SpanKind.CLIENT, parentSpanId: parent, flags: LOCAL, attributes: chat }], requests: 1, calls: 2, tokens: 24 },
    { name: 'INTERNAL with a remote parent (flags)', spans: [{ kind: SpanKind.INTERNAL, parentSpanId: parent, flags: REMOTE, attributes: http }], requests: 1, calls: 0 },
    { name: 'INTERNAL with a parent, no flags', spans: [{ kind: SpanKind.INTERNAL, parentSpanId: parent, attributes: http }], neither: 1, requests: 0, calls: 0 },
    { name: 'OpenInference LLM span as root (INTERNAL)', spans: [{ kind: SpanKind.INTERNAL, attributes: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o', 'llm.token_count.prompt': '7', 'llm.token_count.completion': '3' } }], requests: 1, calls: 1, tokens: 10 },
    { name: 'OpenInference CHAIN root around an LLM span', spans: [{ kind: SpanKind.INTERNAL, spanId: parent, flags: LOCAL, attributes: { 'openinference.span.kind': 'CHAIN', 'llm.model_name': 'ignored' } }, { kind: SpanKind.INTERNAL, parentSpanId: parent, flags: LOCAL, attributes: { 'openinference.span.kind': 'LLM', 'llm.token_count.prompt': '7' } }], requests: 1, calls: 1, tokens: 7 },
    { name: 'agent span with tokens is not a call', spans: [{ kind: SpanKind.INTERNAL, attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': '99' } }], requests: 1, calls: 0, tokens: 0 },
    { name: 'LiteLLM: litellm_request root and raw_gen_ai_request child', spans: [{ kind: SpanKind.INTERNAL, spanId: parent, flags: LOCAL, attributes: { 'gen_ai.system': 'openai', 'llm.request.type': 'acompletion', 'gen_ai.usage.prompt_tokens': '4', 'gen_ai.usage.completion_tokens': '1' } }, { kind: SpanKind.INTERNAL, parentSpanId: parent, flags: LOCAL, attributes: { 'llm.openai.model': 'gpt-4o', 'llm.openai.messages': '[...]' } }], neither: 1, requests: 1, calls: 1, tokens: 5 },
    { name: 'CONSUMER with a parent, no flags', spans: [{ kind: SpanKind.CONSUMER, parentSpanId: parent }], requests: 1, calls: 0 },
    { name: 'PRODUCER child with http', spans: [{ kind: SpanKind.PRODUCER, parentSpanId: parent, attributes: http }], neither: 1, requests: 0, calls: 0 },
  ])('$name: $requests requests, $calls calls', ({ spans, requests, calls, tokens, neither = 0 }) => {
    const env = recordingEnv();
    const out = run(spans.map(makeSpan), env);
    const sum = (f: (s: SummaryRecord) => number) => out.summaries.reduce((n, s) => n + f(s), 0);
    expect(sum((s) => s.requests)).toBe(requests);
    expect(sum((s) => s.calls)).toBe(calls);
    if (tokens !== undefined) expect(sum((s) => s.inputTokens + s.outputTokens)).toBe(tokens);
    expect(out.spans).toEqual([]);
    expect(env.counts.get('non-request-span') ?? 0).toBe(neither);
  });

  it('takes model and provider of a call from the call span, and errors of calls apart from requests', () => {
    const spans: SpanInput[] = [
        { kind: SpanKind.SERVER, spanId: parent, attributes: { 'http.route': '/chat', 'http.response.status_code': '200' } },
        { kind: SpanKind.CLIENT, parentSpanId: parent, flags: LOCAL, status: StatusCode.ERROR, attributes: { ...chat, 'gen_ai.provider.name': 'openai', 'error.type': 'RateLimitError' } },
    ];
    const out = run(spans.map((i) => makeSpan(i)));
    expect(out.summaries.map((s) => [s.provider, s.model, s.endpoint, s.statusClass, s.requests, s.errors, s.calls, s.callErrors])).toEqual([
      ['', '', '/chat', '2xx', 1, 0, 0, 0],
      ['openai', 'gpt-4o', '', 'error', 0, 0, 1, 1],
    ]);
    expect(out.summaries[0]!.callLatencyBuckets.size).toBe(0);
    expect(out.summaries[1]!.latencyBuckets.size).toBe(0);
  });
});

describe('summarize: the batch', () => {
  it('drops spans, keeps summaries already there, leaves logs, metadata and expireAt alone', () => {
    const existing: SummaryRecord = { minute: 60, provider: 'p', endpoint: '/e', model: 'm', statusClass: '2xx', ...ZERO, requests: 3, latencyBuckets: new Map([[1, 3]]), callLatencyBuckets: new Map() };
    const log = { resource: RESOURCE, scope: SCOPE, timeUnixNano: 1n, observedTimeUnixNano: 1n, severityNumber: 9, severityText: 'INFO', body: 'b', attributes: {}, traceId: '', spanId: '', flags: 0, eventName: '' };
    const input: RecordBatch = { spans: [makeSpan()], logs: [log], summaries: [existing], metadata: [], expireAt: 123 };
    const out = summarize.create({}, recordingEnv())(input, ctxFor());
    expect(out.spans).toEqual([]);
    expect(out.summaries).toHaveLength(2);
    expect(out.summaries[0]).toBe(existing);
    expect(out.logs).toBe(input.logs);
    expect(out.metadata).toBe(input.metadata);
    expect(out.expireAt).toBe(123);
  });

  it('templates every raw path, also past the endpoint cache size', () => {
    const spans = Array.from({ length: 10_050 }, (_, i) => makeSpan({ attributes: { 'url.path': `/users/${i}/keys` } }));
    const p = summarize.create({}, recordingEnv());
    expect(p(batchOf(spans), ctxFor()).summaries.map((s) => [s.endpoint, s.requests])).toEqual([['/users/:id/keys', 10_050]]);
    expect(p(batchOf(spans.slice(0, 3)), ctxFor()).summaries.map((s) => [s.endpoint, s.requests])).toEqual([['/users/:id/keys', 3]]);
  });

  it('returns a batch without spans as it is', () => {
    const input = batchOf([]);
    expect(summarize.create({}, recordingEnv())(input, ctxFor())).toBe(input);
  });

  it('does not mutate its input', () => {
    const input = batchOf([makeSpan({ attributes: { 'url.path': '/users/42', 'http.response.status_code': '500' } }), makeSpan({ kind: SpanKind.CLIENT, parentSpanId: 'ab' })]);
    const before = structuredClone(input);
    const p = summarize.create({}, recordingEnv());
    const first = p(input, ctxFor());
    expect(input).toEqual(before);
    expect(p(input, ctxFor())).toEqual(first); // same batch, same result
  });
});

describe('summarize: config', () => {
  it.each([
    { name: 'empty', config: {}, ok: true },
    { name: 'unknown key', config: { minuteSeconds: 60 }, ok: false },
    { name: 'not an object', config: 'x', ok: false },
  ])('$name: valid $ok', ({ config, ok }) => {
    expect(Value.Check(summarize.schema, config)).toBe(ok);
  });
});

// Golden: a realistic gateway export and the summaries it must give, side by
// side in testdata/. Regenerate on purpose (UPDATE_GOLDEN=1) and review the diff.
describe('summarize: golden', () => {
  interface GoldenSpan {
    traceId: string;
    spanId: string;
    parentSpanId: string;
    kind: number;
    start: string;
    end: string;
    status: number;
    attributes: Record<string, string>;
  }
  const dir = new URL('./testdata/', import.meta.url);
  const input = JSON.parse(readFileSync(new URL('gateway.input.json', dir), 'utf8')) as { receivedAtMs: number; spans: GoldenSpan[] };
  const spans = input.spans.map((g) => ({
    ...makeSpan({ kind: g.kind, status: g.status, attributes: g.attributes, traceId: g.traceId, spanId: g.spanId, parentSpanId: g.parentSpanId }),
    startTimeUnixNano: BigInt(g.start),
    endTimeUnixNano: BigInt(g.end),
  }));
  const env = recordingEnv();
  const out = summarize.create({}, env)(batchOf(spans), { ...ctxFor(), receivedAtMs: input.receivedAtMs });
  const actual = { nonRequestSpans: env.counts.get('non-request-span') ?? 0, summaries: out.summaries.map(plain) };

  it('matches testdata/gateway.expected.json', () => {
    expectGolden(new URL('gateway.expected.json', dir), actual);
    expect(out.spans).toEqual([]);
  });

  it('lets no trace id, span id, address, user id, user agent, body or query string out', () => {
    const json = JSON.stringify(actual);
    const secret = new Set<string>();
    for (const g of input.spans) {
      secret.add(g.traceId).add(g.spanId);
      if (g.parentSpanId !== '') secret.add(g.parentSpanId);
      for (const k of ['client.address', 'user.id', 'user_agent.original', 'gateway.request.body', 'gateway.response.body', 'url.full', 'url.query']) {
        const v = g.attributes[k];
        if (v !== undefined) secret.add(v);
      }
    }
    for (const s of [...secret, 'SSN', '078-05-1120', '203.0.113', 'alice', 'api-version', 'token=', 'file-BK7', 'thread_abc', 'api.openai.com']) {
      expect(json).not.toContain(s);
    }
    expect(json).not.toMatch(/[0-9a-f]{16}/);
  });
});
