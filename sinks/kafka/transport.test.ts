// The collector's Kafka transport against a test double of the kafkajs
// producer and admin (its behaviour against a real broker: test/kafka,
// test/faults/kafka-sink.test.ts): a send resolves once the broker acknowledged
// its messages; one produce request in flight, the requests that arrive
// meanwhile gathered into the next, up to maxRequestBytes; bounded pending
// bytes; per-request timeouts that never send what gave up; refusals blamed
// on a request only when it was sent alone; readiness through the probe;
// shutdown.
import type { Kafka, ProducerBatch } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BatchContext } from '../../core/record.ts';
import { createLogger } from '../../core/logger.ts';
import { TransportError } from '../../storage/transport.ts';
import { testBatch, testLog, testSpan } from '../../processors/testing/records.ts';
import { encodeRequestMessages } from './codec.ts';
import { topicNames, type KafkaSettings } from './config.ts';
import { testKafkaSettings } from '../../test/helpers/kafka.ts';
import { KafkaTransport, type KafkaTransportOptions } from './transport.ts';

const TOPICS = topicNames('t.');
const ctx: BatchContext = { tenantId: 'acme', tier: 'full', tierVersion: 1, receivedAtMs: 1_700_000_000_000 };
const spans = (name: string, n = 1) => testBatch({ spans: Array.from({ length: n }, (_, i) => testSpan({}, { name: `${name}-${i}` })) });
/** Encoded bytes of a request of `spans(name, n)`: what the transport counts as pending. */
const bytesOf = (name: string, n = 1) => encodeRequestMessages(spans(name, n), ctx).spans.reduce((s, b) => s + b.length, 0);

/** A kafkajs error as the client reports it. */
const kafkaError = (type: string, retriable: boolean): Error => Object.assign(new Error(`broker says ${type}`), { type, retriable });

/** One produce request the double received, and how to answer it. */
interface Produce {
  request: ProducerBatch;
  ack(): void;
  fail(err: Error): void;
}

/** The kafkajs client the transport uses: a producer whose sendBatch waits for the test to answer, and an admin. */
function kafkaDouble() {
  const produced: Produce[] = [];
  const calls: string[] = [];
  let metadataFails = false;
  const producer = {
    connect: () => (calls.push('producer.connect'), Promise.resolve()),
    disconnect: () => (calls.push('producer.disconnect'), Promise.resolve()),
    sendBatch: (request: ProducerBatch) =>
      new Promise<unknown>((resolve, reject) => {
        produced.push({ request, ack: () => resolve([]), fail: reject });
      }),
  };
  const admin = {
    connect: () => (calls.push('admin.connect'), Promise.resolve()),
    disconnect: () => (calls.push('admin.disconnect'), Promise.resolve()),
    listTopics: () => Promise.resolve([]),
    createTopics: (req: { topics: Array<{ topic: string }> }) => (calls.push(`createTopics ${req.topics.map((t) => t.topic).join(',')}`), Promise.resolve(true)),
    fetchTopicMetadata: () => (calls.push('fetchTopicMetadata'), metadataFails ? Promise.reject(new Error('no leader')) : Promise.resolve({ topics: [] })),
  };
  const kafka = { producer: () => producer, admin: () => admin } as unknown as Kafka;
  return {
    kafka,
    produced,
    calls,
    setMetadataFails: (v: boolean) => (metadataFails = v),
  };
}

const settings = (over: Partial<KafkaSettings> = {}): KafkaSettings => ({ ...testKafkaSettings('127.0.0.1:9', 'collector-test', 't.'), ...over });

const transports: KafkaTransport[] = [];
function transport(k: ReturnType<typeof kafkaDouble>, over: Partial<KafkaSettings> = {}, opts: Partial<KafkaTransportOptions> = {}): KafkaTransport {
  const t = new KafkaTransport({ kafka: k.kafka, settings: settings(over), logger: createLogger({ level: 'silent', scrub: (s) => s }), ...opts });
  transports.push(t);
  return t;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(transports.splice(0).map((t) => t.shutdown(0)));
});

/** Settles a promise into 'pending', 'ok' or its error, without waiting for it. */
async function state(p: Promise<unknown>): Promise<unknown> {
  return Promise.race([p.then(() => 'ok', (e: unknown) => e), new Promise((r) => setTimeout(() => r('pending'), 10))]);
}

describe('lifecycle', () => {
  it('shutdown without start: resolves, twice; sends are refused as retryable', async () => {
    const k = kafkaDouble();
    const t = transport(k);
    await t.shutdown();
    await t.shutdown();
    expect([t.ready(), t.status()]).toEqual([false, 'not started']);
    const err = await t.send(spans('a'), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ retryable: true, message: 'Kafka transport not running' });
    expect(k.produced).toEqual([]);
  });

  it('start, send, shutdown: creates the topics, connects, and a send resolves once the broker acknowledged it', async () => {
    const k = kafkaDouble();
    const t = transport(k);
    await t.start();
    expect(k.calls).toEqual(['admin.connect', `createTopics ${[...TOPICS.read, TOPICS.deadletter, TOPICS.tiers, TOPICS.tenants, TOPICS.operators, TOPICS.tierAcks].join(',')}`, 'producer.connect']);
    expect([t.ready(), t.status()]).toEqual([true, 'ok']);
    const batch = testBatch({ spans: [testSpan()], logs: [testLog()] });
    const send = t.send(batch, ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    const { request } = k.produced[0]!;
    expect(request).toMatchObject({ acks: -1 });
    const encoded = encodeRequestMessages(batch, ctx);
    expect(request.topicMessages).toEqual([
      { topic: TOPICS.logs, messages: encoded.logs.map((value) => ({ key: 'acme', value })) },
      { topic: TOPICS.spans, messages: encoded.spans.map((value) => ({ key: 'acme', value })) },
    ]);
    expect(await state(send)).toBe('pending');
    k.produced[0]!.ack();
    await send;
    await t.shutdown();
    await t.shutdown();
    expect(k.calls.slice(3)).toEqual(['producer.disconnect', 'admin.disconnect']);
    expect(t.status()).toBe('stopped');
  });

  it('shutdown lets the requests already accepted finish before it disconnects', async () => {
    const k = kafkaDouble();
    const t = transport(k);
    await t.start();
    const inflight = t.send(spans('a'), ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    const queued = t.send(spans('b'), ctx);
    let stopped = false;
    const stopping = t.shutdown(5000).then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    k.produced[0]!.ack();
    await vi.waitFor(() => expect(k.produced).toHaveLength(2));
    expect(stopped).toBe(false);
    k.produced[1]!.ack();
    await stopping;
    await Promise.all([inflight, queued]);
    expect(k.calls.slice(-2)).toEqual(['producer.disconnect', 'admin.disconnect']);
    const late = await t.send(spans('c'), ctx).catch((e: unknown) => e);
    expect(late).toMatchObject({ retryable: true, message: 'Kafka transport not running' });
  });

  it('shutdown fails the requests never sent when the produce in flight outlives the deadline', async () => {
    const k = kafkaDouble();
    const t = transport(k);
    await t.start();
    void t.send(spans('a'), ctx).catch(() => undefined);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    const queued = t.send(spans('b'), ctx).catch((e: unknown) => e);
    await t.shutdown(50);
    expect(await queued).toMatchObject({ retryable: true, message: 'shutting down' });
    expect(k.produced).toHaveLength(1);
  });
});

describe('produce requests', () => {
  it('a request left with nothing to store resolves at once, without a produce', async () => {
    const k = kafkaDouble();
    const t = transport(k);
    await t.start();
    await t.send(testBatch(), ctx);
    expect(k.produced).toEqual([]);
  });

  it('keeps one produce in flight and gathers the requests that arrive meanwhile into the next', async () => {
    const k = kafkaDouble();
    const t = transport(k);
    await t.start();
    const first = t.send(spans('a'), ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    const more = [t.send(spans('b'), { ...ctx, tenantId: 'b' }), t.send(spans('c', 2), { ...ctx, tenantId: 'c' }), t.send(spans('d'), { ...ctx, tenantId: 'd' })];
    await new Promise((r) => setTimeout(r, 20));
    expect(k.produced).toHaveLength(1);
    k.produced[0]!.ack();
    await first;
    await vi.waitFor(() => expect(k.produced).toHaveLength(2));
    const next = k.produced[1]!.request.topicMessages!;
    expect(next.map((tm) => [tm.topic, tm.messages.map((m) => m.key)])).toEqual([[TOPICS.spans, ['b', 'c', 'd']]]);
    expect(await Promise.all(more.map(state))).toEqual(['pending', 'pending', 'pending']);
    k.produced[1]!.ack();
    await Promise.all(more);
  });

  it('a produce request carries at most maxRequestBytes, but always at least one request', async () => {
    const k = kafkaDouble();
    const one = bytesOf('r');
    const t = transport(k, {}, { maxRequestBytes: 2 * one });
    await t.start();
    const first = t.send(spans('r'), ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    const queued = ['r', 'r', 'r'].map((n) => t.send(spans(n), ctx));
    const big = t.send(spans('r', 40), ctx);
    expect(bytesOf('r', 40)).toBeGreaterThan(2 * one);
    for (let i = 0; i < 3; i++) {
      k.produced[i]!.ack();
      await vi.waitFor(() => expect(k.produced).toHaveLength(i + 2));
    }
    k.produced[3]!.ack();
    await Promise.all([first, ...queued, big]);
    // r | r r (two fit) | r (the big one would not fit with it) | big alone
    expect(k.produced.map((p) => p.request.topicMessages![0]!.messages.length)).toEqual([1, 2, 1, 1]);
  });
});

describe('backpressure and failures', () => {
  it('refuses a request at once while the bytes waiting for the broker would pass maxPendingBytes, and is not ready while they do', async () => {
    const k = kafkaDouble();
    const one = bytesOf('a');
    const t = transport(k, { maxPendingBytes: 2 * one });
    await t.start();
    const sent = [t.send(spans('a'), ctx), t.send(spans('a'), ctx)];
    expect([t.ready(), t.status()]).toEqual([false, 'producer queue full']);
    const err = await t.send(spans('a'), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ retryable: true, message: `Kafka producer queue full (${2 * one} bytes waiting for the broker)` });
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    k.produced[0]!.ack();
    await vi.waitFor(() => expect(k.produced).toHaveLength(2));
    k.produced[1]!.ack();
    await Promise.all(sent);
    expect(t.ready()).toBe(true);
  });

  it('takes one request larger than maxPendingBytes when nothing else waits (it could never be sent otherwise)', async () => {
    const k = kafkaDouble();
    const t = transport(k, { maxPendingBytes: 10 });
    await t.start();
    const send = t.send(spans('big', 5), ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    k.produced[0]!.ack();
    await send;
  });

  it('refuses a request at once while the oldest one waiting to be sent has waited half of sendTimeoutMs (the rest can still be sent in time)', async () => {
    const k = kafkaDouble();
    const t = transport(k, { sendTimeoutMs: 400 });
    await t.start();
    const inflight = t.send(spans('a'), ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    // Queued behind the produce in flight: taken while the wait is short.
    const queued = [t.send(spans('b'), ctx), t.send(spans('c'), ctx)];
    await new Promise((r) => setTimeout(r, 250));
    const refused = await t.send(spans('d'), ctx).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TransportError);
    expect(refused).toMatchObject({ retryable: true, message: expect.stringMatching(/^Kafka is behind \(the oldest request waiting to be sent has waited \d+ ms\)$/) });
    k.produced[0]!.ack();
    await inflight;
    await vi.waitFor(() => expect(k.produced).toHaveLength(2));
    k.produced[1]!.ack();
    await Promise.all(queued);
    const sent = k.produced.flatMap((p) => p.request.topicMessages!.flatMap((tm) => tm.messages.map((m) => String(m.value))));
    expect(sent.some((v) => v.includes('d-0')), 'the refused request is never sent').toBe(false);
    expect(sent.filter((v) => v.includes('b-0') || v.includes('c-0'))).toHaveLength(2);
  });

  it('a request not acknowledged within sendTimeoutMs fails as retryable; one that timed out before it was sent is never sent', async () => {
    const k = kafkaDouble();
    const t = transport(k, { sendTimeoutMs: 50 });
    await t.start();
    const inflight = t.send(spans('a'), ctx).catch((e: unknown) => e);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    const queued = t.send(spans('b'), ctx).catch((e: unknown) => e);
    expect(await inflight).toMatchObject({ retryable: true, message: 'Kafka did not acknowledge within 50 ms' });
    expect(await queued).toMatchObject({ retryable: true, message: 'Kafka did not acknowledge within 50 ms' });
    expect(t.ready()).toBe(false);
    k.produced[0]!.ack();
    await new Promise((r) => setTimeout(r, 20));
    expect(k.produced, 'the abandoned request is not sent').toHaveLength(1);
  });

  it.each([
    { name: 'message too large, sent alone', type: 'MESSAGE_TOO_LARGE', alone: true, want: { retryable: false, refused: 'too-large' } },
    { name: 'record list too large, sent alone', type: 'RECORD_LIST_TOO_LARGE', alone: true, want: { retryable: false, refused: 'too-large' } },
    { name: 'corrupt message, sent alone', type: 'CORRUPT_MESSAGE', alone: true, want: { retryable: false, refused: 'invalid' } },
    { name: 'invalid record, sent alone', type: 'INVALID_RECORD', alone: true, want: { retryable: false, refused: 'invalid' } },
    { name: 'message too large, sent with another request', type: 'MESSAGE_TOO_LARGE', alone: false, want: { retryable: true, refused: undefined } },
    { name: 'authorization failed (the operator to fix)', type: 'TOPIC_AUTHORIZATION_FAILED', alone: true, want: { retryable: true, refused: undefined } },
  ])('broker error: $name', async ({ type, alone, want }) => {
    const k = kafkaDouble();
    const t = transport(k);
    await t.start();
    const first = t.send(spans('first'), ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    k.produced[0]!.ack();
    await first;
    // Hold a produce so that the next requests are gathered into one.
    const holder = t.send(spans('holder'), ctx);
    await vi.waitFor(() => expect(k.produced).toHaveLength(2));
    const requests = (alone ? ['x'] : ['x', 'y']).map((n) => t.send(spans(n), ctx).catch((e: unknown) => e));
    k.produced[1]!.ack();
    await holder;
    await vi.waitFor(() => expect(k.produced).toHaveLength(3));
    k.produced[2]!.fail(kafkaError(type, false));
    for (const err of await Promise.all(requests)) {
      expect(err).toBeInstanceOf(TransportError);
      expect(err).toMatchObject({ ...want, message: `Kafka produce failed: broker says ${type}` });
    }
    // Errors the broker calls final are not an outage: still ready.
    expect(t.ready()).toBe(true);
  });

  it('a retriable produce error: not ready until the probe finds the broker answering', async () => {
    vi.useFakeTimers();
    const k = kafkaDouble();
    const t = transport(k);
    await t.start();
    const send = t.send(spans('a'), ctx).catch((e: unknown) => e);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    k.produced[0]!.fail(kafkaError('LEADER_NOT_AVAILABLE', true));
    expect(await send).toMatchObject({ retryable: true, message: 'Kafka produce failed: broker says LEADER_NOT_AVAILABLE' });
    expect([t.ready(), t.status()]).toEqual([false, 'broker unreachable or slow: broker says LEADER_NOT_AVAILABLE']);
    k.setMetadataFails(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(k.calls.filter((c) => c === 'fetchTopicMetadata')).toHaveLength(1);
    expect([t.ready(), t.status()]).toEqual([false, 'broker unreachable or slow: no leader']);
    k.setMetadataFails(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect([t.ready(), t.status()]).toEqual([true, 'ok']);
    await vi.advanceTimersByTimeAsync(3000);
    expect(k.calls.filter((c) => c === 'fetchTopicMetadata'), 'no probe while healthy').toHaveLength(2);
  });

  it('counts what the broker acknowledged and what it did not take', async () => {
    const k = kafkaDouble();
    const registry = new Registry();
    const t = transport(k, { maxPendingBytes: 1 }, { registry });
    await t.start();
    const ok = t.send(spans('a', 3), ctx);
    const full = await t.send(spans('b'), ctx).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(TransportError);
    await vi.waitFor(() => expect(k.produced).toHaveLength(1));
    k.produced[0]!.ack();
    await ok;
    const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels['reason'] ?? '', v.value]);
    expect(await value('consentry_kafka_messages_produced_total')).toEqual([['', 1]]);
    expect(await value('consentry_kafka_bytes_produced_total')).toEqual([['', bytesOf('a', 3)]]);
    expect(await value('consentry_kafka_send_failures_total')).toEqual([['queue_full', 1]]);
    expect(await value('consentry_kafka_pending_bytes')).toEqual([['', 0]]);
  });
});
