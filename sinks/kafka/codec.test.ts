// The Kafka record encoding: exact round trips (bigint nanoseconds, ids,
// attributes, shared resources), splitting, and typed errors for anything that
// is not a complete message of a known version.
import { readFileSync } from 'node:fs';
import { Writer } from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import type { BatchContext, RecordBatch, Resource, Scope } from '../../core/record.ts';
import { CODEC_VERSION, CodecError, decodeBatchMessage, encodeBatchMessage, encodeBatchMessages, encodeRequestMessages, newerLayout, peekCounts, READS } from './codec.ts';
import { topicNames } from './config.ts';

const resource: Resource = { attributes: { 'service.name': 'gw', 'deployment.environment': 'prod', 'ünïcode': '日本語 ✓' }, schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' };
const other: Resource = { attributes: {}, schemaUrl: '' };
const scope: Scope = { name: 'interceptor', version: '1.2.3', attributes: { a: 'b' }, schemaUrl: '' };
const ctx: BatchContext = { tenantId: 'acme', tier: 'full', tierVersion: 1_732_000_000_123, receivedAtMs: 1_732_000_000_456 };
const MAX_U64 = (1n << 64n) - 1n;

function batch(n = 3): RecordBatch {
  return {
    spans: Array.from({ length: n }, (_, i) => ({
      resource: i === 1 ? other : resource,
      scope,
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: `eee19b7ec3c1b17${i}`,
      parentSpanId: i === 0 ? '' : 'eee19b7ec3c1b170',
      traceState: 'k=v',
      name: `POST /v1/chat/completions ${i}`,
      kind: 2,
      startTimeUnixNano: 1_700_000_000_123_456_789n + BigInt(i),
      endTimeUnixNano: i === 2 ? MAX_U64 : 1_700_000_000_987_654_321n,
      attributes: { 'http.route': '/v1/chat/completions', 'gateway.request.body': '{"q":"\\u0000 \n \t"}', empty: '' },
      events: i === 0 ? [{ timeUnixNano: 0n, name: 'first-token', attributes: { index: '1' } }] : [],
      links: i === 0 ? [{ traceId: 'NOT-HEX', spanId: 'abc', traceState: '', attributes: { why: 'retry' } }] : [],
      statusCode: 2,
      statusMessage: 'upstream 502',
      flags: i === 1 ? 0x301 : 0x100,
    })),
    logs: [
      {
        resource,
        scope,
        timeUnixNano: 1_700_000_000_000_000_001n,
        observedTimeUnixNano: 1_700_000_000_000_000_002n,
        severityNumber: 17,
        severityText: 'ERROR',
        body: 'boom',
        attributes: { 'exception.type': 'Error' },
        traceId: '',
        spanId: '',
        flags: 1,
        eventName: 'gen_ai.choice',
      },
    ],
    summaries: [
      {
        minute: 1_700_000_040,
        provider: 'openai',
        endpoint: '/v1/chat/completions',
        model: 'gpt-4o',
        statusClass: '2xx',
        requests: 10,
        errors: 1,
        latencyBuckets: new Map([
          [-3, 1],
          [0, 2],
          [1234, 7],
        ]),
        calls: 12,
        callErrors: 2,
        callLatencyBuckets: new Map([
          [-1, 3],
          [77, 9],
        ]),
        inputTokens: 1e12,
        outputTokens: 5,
        costPicoUsd: 123_456_789_012_345_678_901_234n,
        unpricedCalls: 3,
        requestBytes: 0,
        responseBytes: 1.5,
      },
    ],
    metadata: [{ timeUnixNano: 1n, serviceName: 'gw', serviceVersion: '2', instanceId: 'i-1', uptimeSeconds: 12.5, unexpectedRestarts: 0, environment: { TZ: 'UTC' }, policyConfig: '{}' }],
    expireAt: 4_102_444_800,
    contentExpireAt: 4_100_000_000,
  };
}

describe('Kafka record codec', () => {
  it('round-trips every record kind exactly, with the context', () => {
    const b = batch();
    const out = decodeBatchMessage(encodeBatchMessage(b, ctx));
    expect(out.ctx).toEqual(ctx);
    expect(out.batch).toEqual(b);
    // Records that shared a Resource share one decoded object (the row encoder serialises it once).
    expect(out.batch.spans[0]!.resource).toBe(out.batch.spans[2]!.resource);
    expect(out.batch.spans[0]!.resource).toBe(out.batch.logs[0]!.resource);
  });

  it('reads a version 1 message (written before an upgrade, still in Kafka) with span flags, event name and calls at their defaults', () => {
    // Encoded by the version 1 codec (main before issue 13); see testdata/.
    const v1 = Buffer.from(readFileSync(new URL('./testdata/v1-message.hex', import.meta.url), 'utf8').trim(), 'hex');
    expect(v1[2]).toBe(1);
    expect(peekCounts(v1)).toEqual({ spans: 1, logs: 1, summaries: 1, metadata: 0 });
    const { batch: b, ctx: c } = decodeBatchMessage(v1);
    expect(c).toEqual({ tenantId: 'acme', tier: 'summary', tierVersion: 3, receivedAtMs: 1_700_000_000_123 });
    expect(b.spans[0]).toMatchObject({ name: 'POST /v1/chat/completions', attributes: { 'gen_ai.usage.input_tokens': '42' }, flags: 0 });
    expect(b.logs[0]).toMatchObject({ body: 'hello', attributes: { 'event.name': 'gen_ai.choice' }, eventName: '' });
    expect(b.summaries[0]).toEqual({
      minute: 1_700_000_040,
      provider: 'openai',
      endpoint: '/v1/chat/completions',
      model: 'gpt-4o',
      statusClass: '2xx',
      requests: 3,
      errors: 1,
      latencyBuckets: new Map([[300, 3]]),
      calls: 0,
      callErrors: 0,
      callLatencyBuckets: new Map(),
      inputTokens: 10,
      outputTokens: 20,
      costPicoUsd: 0n,
      unpricedCalls: 0,
      requestBytes: 30,
      responseBytes: 40,
    });
    expect('contentExpireAt' in b).toBe(false);
  });

  it('reads a version 2 message with the content expiry unset and every call unpriced', () => {
    // The version 2 layout is version 3 without the content expiry and the summaries' last two fields.
    const b = batch();
    const v3 = encodeBatchMessage(b, ctx);
    const s = b.summaries[0]!;
    const tail = Buffer.concat([varintString(s.costPicoUsd.toString()), double(s.unpricedCalls)]);
    const summaryEnd = v3.indexOf(tail);
    const contentExpiry = double(b.contentExpireAt! + 1);
    const at = v3.indexOf(contentExpiry);
    expect(summaryEnd).toBeGreaterThan(0);
    expect(at).toBeGreaterThan(0);
    const v2 = Buffer.concat([v3.subarray(0, at), v3.subarray(at + 8, summaryEnd), v3.subarray(summaryEnd + tail.length)]);
    v2[2] = 2;
    const out = decodeBatchMessage(v2);
    expect('contentExpireAt' in out.batch).toBe(false);
    expect(out.batch.expireAt).toBe(b.expireAt);
    expect(out.batch.summaries[0]).toEqual({ ...s, costPicoUsd: 0n, unpricedCalls: s.calls });
    expect(out.batch.spans).toEqual(b.spans);
  });

  it('writes version 3, with span flags, the log event name, the calls, their cost and the content expiry', () => {
    const out = decodeBatchMessage(encodeBatchMessage(batch(), ctx));
    expect(CODEC_VERSION).toBe(3);
    expect(out.batch.contentExpireAt).toBe(4_100_000_000);
    expect(out.batch.summaries[0]).toMatchObject({ costPicoUsd: 123_456_789_012_345_678_901_234n, unpricedCalls: 3 });
    expect(out.batch.spans.map((s) => s.flags)).toEqual([0x100, 0x301, 0x100]);
    expect(out.batch.logs[0]!.eventName).toBe('gen_ai.choice');
    expect(out.batch.summaries[0]).toMatchObject({ calls: 12, callErrors: 2, callLatencyBuckets: new Map([[-1, 3], [77, 9]]) });
  });

  it('keeps expireAt unset when unset, and an empty batch is a valid message', () => {
    const b: RecordBatch = { spans: [], logs: [], summaries: [], metadata: [] };
    const out = decodeBatchMessage(encodeBatchMessage(b, ctx));
    expect(out.batch).toEqual(b);
    expect('expireAt' in out.batch).toBe(false);
    expect('contentExpireAt' in out.batch).toBe(false);
  });

  it('reads the record counts from the header alone', () => {
    expect(peekCounts(encodeBatchMessage(batch(5), ctx))).toEqual({ spans: 5, logs: 1, summaries: 1, metadata: 1 });
  });

  it('splits a large batch into messages under the limit whose union is the batch', () => {
    const b = batch(200);
    const whole = encodeBatchMessage(b, ctx);
    const parts = encodeBatchMessages(b, ctx, Math.ceil(whole.length / 5));
    expect(parts.length).toBeGreaterThan(4);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(Math.ceil(whole.length / 5));
    const decoded = parts.map((p) => decodeBatchMessage(p).batch);
    expect(decoded.flatMap((d) => d.spans)).toEqual(b.spans);
    expect(decoded.flatMap((d) => d.logs)).toEqual(b.logs);
    expect(decoded.flatMap((d) => d.summaries)).toEqual(b.summaries);
    expect(decoded.flatMap((d) => d.metadata)).toEqual(b.metadata);
    for (const d of decoded) expect([d.expireAt, d.contentExpireAt]).toEqual([b.expireAt, b.contentExpireAt]);
    expect(encodeBatchMessages(b, ctx, whole.length)).toHaveLength(1);
  });

  it('is compact: ids as bytes, repeated keys and resources once', () => {
    const b = batch(100);
    const json = JSON.stringify(b.spans, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(encodeBatchMessage(b, ctx).length).toBeLessThan(json.length / 2);
  });

  it.each([
    ['empty', Buffer.alloc(0), /too short/],
    ['bad magic', Buffer.from('not a consentry message'), /bad magic/],
    ['unknown version', Buffer.from([0x43, 0x53, CODEC_VERSION + 1, 0, 0, 0, 0]), /unknown encoding version/],
  ])('refuses %s with a CodecError', (_name, value, message) => {
    expect(() => decodeBatchMessage(value)).toThrow(CodecError);
    expect(() => decodeBatchMessage(value)).toThrow(message);
  });

  it.each([
    ['a newer layout', Buffer.from([0x43, 0x53, CODEC_VERSION + 1, 0, 0, 0, 0]), CODEC_VERSION + 1],
    ['a newer layout written as a two-byte varint', Buffer.from([0x43, 0x53, 0x80, 0x01, 0, 0, 0, 0]), 128],
    ['this layout', encodeBatchMessage(batch(1), ctx), undefined],
    ['the first layout', Buffer.from(readFileSync(new URL('./testdata/v1-message.hex', import.meta.url), 'utf8').trim(), 'hex'), undefined],
    ['an older unknown layout', Buffer.from([0x43, 0x53, 0, 0, 0, 0, 0]), undefined],
    ['bad magic', Buffer.from([0x00, 0x53, CODEC_VERSION + 1, 0]), undefined],
    ['a header cut short', Buffer.from([0x43, 0x53]), undefined],
  ])('tells %s apart (newerLayout: left in Kafka for a newer sink, not dead-lettered)', (_name, value, newer) => {
    expect(newerLayout(value)).toBe(newer);
  });

  it('refuses every truncation and trailing bytes with a CodecError, never anything else', () => {
    const full = encodeBatchMessage(batch(2), ctx);
    for (let n = 0; n < full.length; n++) {
      let err: unknown;
      try {
        decodeBatchMessage(full.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(err, `truncated at ${n}`).toBeInstanceOf(CodecError);
    }
    expect(() => decodeBatchMessage(Buffer.concat([full, Buffer.from([0])]))).toThrow(/left after the last record/);
  });
});

describe('topics per layout', () => {
  it('writes the layout it writes to topics of its own, and reads the topics of every layout it reads', () => {
    const t = topicNames('p.');
    expect([t.spans, t.logs]).toEqual([`p.consentry.spans.v${CODEC_VERSION}`, `p.consentry.logs.v${CODEC_VERSION}`]);
    expect(READS.at(-1)).toBe(CODEC_VERSION);
    // 0.1.0's collectors wrote layout 1 to consentry.{spans,logs}.v1: sinks of this release still read them.
    expect(t.read).toEqual(READS.flatMap((v) => [`p.consentry.spans.v${v}`, `p.consentry.logs.v${v}`]));
    expect(t.read).toContain('p.consentry.spans.v1');
  });
});

describe('a request\'s messages by topic', () => {
  it('puts logs on the logs topic, spans with their summaries and metadata on the spans topic, both with the expiry', () => {
    const b = batch(3);
    const out = encodeRequestMessages(b, ctx);
    expect(out.logs).toHaveLength(1);
    expect(out.spans).toHaveLength(1);
    const logs = decodeBatchMessage(out.logs[0]!).batch;
    const spans = decodeBatchMessage(out.spans[0]!).batch;
    expect(logs).toEqual({ spans: [], logs: b.logs, summaries: [], metadata: [], expireAt: b.expireAt, contentExpireAt: b.contentExpireAt });
    expect(spans).toEqual({ spans: b.spans, logs: [], summaries: b.summaries, metadata: b.metadata, expireAt: b.expireAt, contentExpireAt: b.contentExpireAt });
  });

  it('sends one signal to its own topic only, metadata alone to the spans topic, and nothing for an empty batch', () => {
    const b = batch(2);
    expect(encodeRequestMessages({ ...b, spans: [], summaries: [], metadata: [] }, ctx).spans).toEqual([]);
    expect(encodeRequestMessages({ ...b, logs: [] }, ctx).logs).toEqual([]);
    const meta = encodeRequestMessages({ spans: [], logs: [], summaries: [], metadata: b.metadata }, ctx);
    expect([meta.spans.length, meta.logs.length]).toEqual([1, 0]);
    expect(encodeRequestMessages({ spans: [], logs: [], summaries: [], metadata: [] }, ctx)).toEqual({ spans: [], logs: [] });
  });
});

/** protobufjs Writer encodings of a length-prefixed string and a double, to find fields in a message. */
function varintString(text: string): Buffer {
  const w = Writer.create();
  w.string(text);
  return Buffer.from(w.finish());
}
function double(n: number): Buffer {
  const w = Writer.create();
  w.double(n);
  return Buffer.from(w.finish());
}
