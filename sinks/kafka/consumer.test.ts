// The sink consumer: its pure parts (plans in offset metadata, deduplication
// tokens), and the consumer itself on a real broker (scripts/kafka) with a
// stand-in insert function in place of ClickHouse (the real inserts: test/kafka
// and test/faults/kafka-sink.test.ts). Cutting batches by rows, bytes and
// delay; the plan committed before the insert and the offset after it; inserts
// ClickHouse refuses split in halves with their own tokens down to the refused
// message, which goes to the dead-letter topic; retries with the same token;
// a replay after a crash cutting the planned range again; shutdown; what the
// collector's transport produced with each compression read whatever the
// sink's own setting.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_DIRS, startKafka, type KafkaBroker } from '../../scripts/kafka/broker.ts';
import { connectTestClients, testKafkaSettings } from '../../test/helpers/kafka.ts';
import { until } from '../../test/kafka/processes.ts';
import { createLogger } from '../../core/logger.ts';
import type { Table } from '../../storage/tables.ts';
import { testBatch, testLog } from '../../processors/testing/records.ts';
import { encodeBatchMessage } from './codec.ts';
import { createKafka, type Compression } from './config.ts';
import { committedPlan, insertToken, KafkaSinkConsumer, planMetadata, type KafkaSinkOptions } from './consumer.ts';
import { KafkaTransport } from './transport.ts';

describe('plans and tokens', () => {
  it.each([
    { name: 'a plan', offset: 10, metadata: planMetadata(17), plan: { first: 10, last: 17 } },
    { name: 'a plan of one message', offset: 10, metadata: planMetadata(10), plan: { first: 10, last: 10 } },
    { name: 'no metadata (a batch done)', offset: 18, metadata: '', plan: undefined },
    { name: 'metadata of another tool', offset: 18, metadata: 'checkpoint 7', plan: undefined },
    { name: 'a plan ending before its start', offset: 10, metadata: planMetadata(9), plan: undefined },
    { name: 'a plan with no number', offset: 10, metadata: 'consentry-plan:v1:x', plan: undefined },
    { name: 'a plan of an unknown version', offset: 10, metadata: 'consentry-plan:v2:17', plan: undefined },
  ])('committed offset with $name', ({ offset, metadata, plan }) => {
    expect(committedPlan({ offset, metadata })).toEqual(plan);
  });

  it('a token names the topic, partition, offset range and table: the same range gives the same token', () => {
    expect(insertToken('consentry.logs.v1', 2, 100, 199, 'otel_logs')).toBe('consentry.logs.v1-2-100-199-otel_logs');
    // What insertRows accepts as a deduplication token.
    expect(insertToken('p.consentry.spans.v1', 0, 0, 0, 'request_summaries')).toMatch(/^[\w.:-]+$/);
  });
});

interface Attempt {
  table: Table;
  token: string;
  /** Log bodies of the rows. */
  bodies: string[];
}

let broker: KafkaBroker;
let admin: Admin;
let producer: Producer;
const logger = createLogger({ level: 'silent', scrub: (s) => s });

beforeAll(async () => {
  broker = await startKafka({ onProgress: () => undefined });
  ({ admin, producer } = await connectTestClients(broker.brokers, 'consumer-test'));
}, 180_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.stop();
}, 60_000);

/** A fresh set of topics (one partition) and a consumer group of its own. */
function scenario() {
  const settings = testKafkaSettings(broker.brokers, `sink-${randomUUID()}`);
  const topic = settings.topics.logs;
  const groupId = settings.sinkGroup;
  const consumers: KafkaSinkConsumer[] = [];
  return {
    settings,
    topic,
    consumers,
    /** A consumer whose inserts go to `insert`. */
    consumer(insert: (a: Attempt) => Promise<void>, over: Partial<KafkaSinkOptions> = {}): KafkaSinkConsumer {
      const c = new KafkaSinkConsumer({
        kafka: createKafka({ brokers: settings.brokers, clientId: `${settings.instanceId}-${consumers.length}`, logger }),
        settings,
        groupId,
        insert: (table, parts, token) => insert({ table, token, bodies: parts.flatMap((p) => p.body.split('\n')).map((l) => (JSON.parse(l) as { Body: string }).Body) }),
        reduce: (batch, ctx) => ({ batch, ctx }),
        tierVersion: () => 1,
        refreshTiers: () => Promise.resolve(),
        maxRows: 1000,
        maxBytes: 16 << 20,
        maxDelayMs: 100,
        sessionTimeoutMs: 10_000,
        logger,
        ...over,
      });
      consumers.push(c);
      return c;
    },
    /** One message per body, each a request of one log, in order. */
    async produce(...bodies: string[]): Promise<void> {
      const messages = bodies.map((body) => ({ key: 'acme', value: encodeBatchMessage(testBatch({ logs: [testLog({}, { body })] }), { tenantId: 'acme', tier: 'full', tierVersion: 1, receivedAtMs: Date.now() }) }));
      await producer.send({ topic, acks: -1, messages });
    },
    async produceRaw(value: Buffer): Promise<void> {
      await producer.send({ topic, acks: -1, messages: [{ key: 'acme', value }] });
    },
    /** The group's committed offset of the partition and its metadata. */
    async committed(): Promise<{ offset: number; metadata: string }> {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const p = t!.partitions.find((x) => x.partition === 0)!;
      return { offset: Number(p.offset), metadata: p.metadata ?? '' };
    },
    token: (first: number, last: number) => insertToken(topic, 0, first, last, 'otel_logs'),
    async stop(): Promise<void> {
      await Promise.all(consumers.map((c) => c.shutdown(5000)));
    },
  };
}

/** Records every insert attempt; `fail` decides its error (none: it succeeds). */
function recorder(fail: (a: Attempt) => Error | undefined = () => undefined) {
  const attempts: Attempt[] = [];
  return {
    attempts,
    insert: (a: Attempt): Promise<void> => {
      attempts.push(a);
      const err = fail(a);
      return err === undefined ? Promise.resolve() : Promise.reject(err);
    },
    stored: () => attempts.filter((a) => fail(a) === undefined).flatMap((a) => a.bodies),
  };
}

const clickhouseError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

async function deadLetters(s: ReturnType<typeof scenario>, count: number): Promise<Array<{ body: string; headers: Record<string, string>; key: string }>> {
  const out: Array<{ body: string; headers: Record<string, string>; key: string }> = [];
  const reader = new Kafka({ clientId: 'dlq-reader', brokers: [broker.brokers], logLevel: logLevel.NOTHING }).consumer({ groupId: `dlq-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await reader.connect();
  await reader.subscribe({ topic: s.settings.topics.deadletter, fromBeginning: true });
  await reader.run({
    eachMessage: ({ message: m }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.headers ?? {})) if (k !== 'consentry-failed-at') headers[k] = String(v);
      out.push({ body: m.value?.toString('latin1') ?? '', headers, key: m.key?.toString() ?? '' });
      return Promise.resolve();
    },
  });
  try {
    await until(`${count} dead letters`, () => out.length >= count);
  } finally {
    await reader.disconnect();
  }
  return out;
}

describe('sink consumer on a real broker', () => {
  it('shutdown without start resolves, twice', async () => {
    const s = scenario();
    const c = s.consumer(recorder().insert);
    await c.shutdown(1000);
    await c.shutdown(1000);
    expect(c.ready()).toBe(false);
  });

  it('start, consume, shutdown: commits the plan before the insert and the next offset after it', { timeout: 60_000 }, async () => {
    const s = scenario();
    const seenAtInsert: Array<{ offset: number; metadata: string }> = [];
    const r = recorder();
    const c = s.consumer(async (a) => {
      seenAtInsert.push(await s.committed());
      await r.insert(a);
    });
    await c.start();
    await s.produce('a', 'b', 'c', 'd', 'e');
    await until('the batch committed', async () => (await s.committed()).offset === 5);
    expect(r.attempts).toEqual([{ table: 'otel_logs', token: s.token(0, 4), bodies: ['a', 'b', 'c', 'd', 'e'] }]);
    expect(seenAtInsert).toEqual([{ offset: 0, metadata: planMetadata(4) }]);
    expect(await s.committed()).toEqual({ offset: 5, metadata: '' });
    await until('ready', () => c.ready());
    expect(c.status()).toEqual({ kafka: 'ok', clickhouse: 'ok', messages: 'ok' });
    await s.stop();
    await c.shutdown();
    expect(c.ready()).toBe(false);
  });

  // The codec of a record batch: bits 0-2 of its attributes (Kafka's record batch v2: baseOffset 8 bytes, length 4, leader epoch 4, magic 1, crc 4, then attributes 2).
  const CODEC_IDS: Record<Compression, number> = { none: 0, gzip: 1, zstd: 4 };
  it.each(['zstd', 'gzip', 'none'] as const)('a request the collector produced with %s compression is stored by a sink whose own setting is none; the broker holds it with that codec', { timeout: 60_000 }, async (compression) => {
    const s = scenario();
    const transport = new KafkaTransport({ kafka: createKafka({ brokers: s.settings.brokers, clientId: `collector-${compression}`, logger }), settings: { ...s.settings, compression }, logger });
    await transport.start();
    const r = recorder();
    const c = s.consumer(r.insert);
    await c.start();
    const bodies = Array.from({ length: 50 }, (_, i) => `{"model":"gpt-4o","messages":[{"role":"user","content":"request ${i}: summarise the ticket"}]}`);
    await transport.send(testBatch({ logs: bodies.map((body) => testLog({}, { body })) }), { tenantId: 'acme', tier: 'full', tierVersion: 1, receivedAtMs: Date.now() });
    await until('the request committed', async () => (await s.committed()).offset === 1);
    expect(r.stored()).toEqual(bodies);
    const segment = await readFile(join(broker.dataDir, LOG_DIRS, `${s.topic}-0`, '00000000000000000000.log'));
    expect(segment.readInt8(16), 'record batch magic').toBe(2);
    expect(segment.readInt16BE(21) & 0x07, 'codec of the stored batch').toBe(CODEC_IDS[compression]);
    await transport.shutdown(5000);
    await s.stop();
  });

  it.each([
    { name: 'rows', over: { maxRows: 3 }, batches: [['m0', 'm1', 'm2'], ['m3', 'm4', 'm5'], ['m6']] },
    { name: 'bytes', over: { maxBytes: 1 }, batches: [['m0'], ['m1'], ['m2'], ['m3'], ['m4'], ['m5'], ['m6']] },
  ])('cuts batches by $name, the rest after maxDelayMs; each insert names its offset range', { timeout: 60_000 }, async ({ over, batches }) => {
    const s = scenario();
    const r = recorder();
    const c = s.consumer(r.insert, { maxDelayMs: 300, ...over });
    await c.start();
    await s.produce('m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6');
    await until('all committed', async () => (await s.committed()).offset === 7);
    let first = 0;
    expect(r.attempts).toEqual(
      batches.map((bodies) => {
        const token = s.token(first, first + bodies.length - 1);
        first += bodies.length;
        return { table: 'otel_logs', token, bodies };
      }),
    );
    await s.stop();
  });

  it('an insert ClickHouse refuses is split in halves with their own tokens down to the refused message; it goes to the dead-letter topic, the rest is stored once', { timeout: 60_000 }, async () => {
    const s = scenario();
    const refused = clickhouseError('117', 'Cannot parse input: bad row');
    const r = recorder((a) => (a.bodies.includes('bad') ? refused : undefined));
    const c = s.consumer(r.insert, { maxRows: 5 });
    await c.start();
    await s.produce('m0', 'm1', 'bad', 'm3', 'm4');
    await until('all committed', async () => (await s.committed()).offset === 5);
    expect(r.attempts.map((a) => [a.token, a.bodies])).toEqual([
      [s.token(0, 4), ['m0', 'm1', 'bad', 'm3', 'm4']],
      [s.token(0, 1), ['m0', 'm1']],
      [s.token(2, 4), ['bad', 'm3', 'm4']],
      [s.token(2, 2), ['bad']],
      [s.token(3, 4), ['m3', 'm4']],
    ]);
    expect(r.stored()).toEqual(['m0', 'm1', 'm3', 'm4']);
    const [dead] = await deadLetters(s, 1);
    expect(dead!.headers).toEqual({
      'consentry-stage': 'insert',
      'consentry-table': 'otel_logs',
      'consentry-source': `${s.topic}/0/2`,
      'consentry-reason': 'ClickHouse refused the rows (code 117): Cannot parse input: bad row',
    });
    expect(dead!.key).toBe(`${s.topic}/0/2/otel_logs`);
    expect(dead!.body).toContain('bad');
    await s.stop();
  });

  it('a message that cannot be decoded goes to the dead-letter topic; the others are inserted', { timeout: 60_000 }, async () => {
    const s = scenario();
    const r = recorder();
    const c = s.consumer(r.insert, { maxRows: 3 });
    await c.start();
    await s.produce('m0');
    await s.produceRaw(Buffer.from('not a Consentry message'));
    await s.produce('m2');
    await until('all committed', async () => (await s.committed()).offset === 3);
    expect(r.attempts.map((a) => [a.token, a.bodies])).toEqual([[s.token(0, 2), ['m0', 'm2']]]);
    const [dead] = await deadLetters(s, 1);
    expect(dead!.headers).toMatchObject({ 'consentry-stage': 'decode', 'consentry-source': `${s.topic}/0/1` });
    expect(dead!.body).toBe('not a Consentry message');
    await s.stop();
  });

  it('ClickHouse unavailable: the insert is retried with the same token, nothing committed meanwhile, inserts reported failing until one succeeds', { timeout: 60_000 }, async () => {
    const s = scenario();
    let down = true;
    const r = recorder(() => (down ? clickhouseError('210', 'Connection refused') : undefined));
    const c = s.consumer(r.insert, { maxRows: 2 });
    await c.start();
    await s.produce('m0', 'm1');
    await until('two failed attempts', () => r.attempts.length >= 2);
    expect(c.insertsSucceed()).toBe(false);
    expect(c.status()['clickhouse']).toBe('inserts failing: Connection refused');
    expect(await s.committed()).toEqual({ offset: 0, metadata: planMetadata(1) });
    down = false;
    await until('committed', async () => (await s.committed()).offset === 2);
    expect(new Set(r.attempts.map((a) => a.token))).toEqual(new Set([s.token(0, 1)]));
    expect(c.insertsSucceed()).toBe(true);
    await s.stop();
  });

  it('after a crash between the plan and the insert, the next consumer cuts the planned range again with the same token, then batches freely', { timeout: 90_000 }, async () => {
    const s = scenario();
    // The first consumer's insert never succeeds: it stands for a process that died mid-insert.
    let release: (err: Error) => void = () => undefined;
    const first: Attempt[] = [];
    const crashed = s.consumer((a) => {
      first.push(a);
      return new Promise((_r, reject) => (release = reject));
    }, { maxRows: 3 });
    await crashed.start();
    await s.produce('m0', 'm1', 'm2');
    await until('the first insert', () => first.length === 1);
    expect(await s.committed()).toEqual({ offset: 0, metadata: planMetadata(2) });
    await s.produce('m3', 'm4');
    // Stopped past its deadline: the running insert gives up without committing.
    const stopping = crashed.shutdown(50);
    await new Promise((r) => setTimeout(r, 100));
    release(clickhouseError('210', 'Connection refused'));
    await stopping;
    expect(await s.committed()).toEqual({ offset: 0, metadata: planMetadata(2) });

    const r = recorder();
    const next = s.consumer(r.insert, { maxRows: 1000 });
    await next.start();
    await until('all committed', async () => (await s.committed()).offset === 5);
    expect(first.map((a) => [a.token, a.bodies])).toEqual([[s.token(0, 2), ['m0', 'm1', 'm2']]]);
    expect(r.attempts.map((a) => [a.token, a.bodies])).toEqual([
      [s.token(0, 2), ['m0', 'm1', 'm2']],
      [s.token(3, 4), ['m3', 'm4']],
    ]);
    await s.stop();
  });
});
