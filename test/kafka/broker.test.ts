/**
 * The local broker script against kafkajs 2.2.4: the protocol versions the
 * pipeline uses (idempotent produce with acks=all, consumer groups, admin
 * createTopics with a compacted topic) and durability across a clean restart
 * and a crash on the same dataDir and port. Integration suite: needs Java 17
 * and Maven (the first run fetches the jars, ~15 s on a cold ~/.m2).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigResourceTypes, Kafka, logLevel, Partitioners, type Admin, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../../scripts/kafka/broker.ts';

const EVENTS = 'events';
const STATE = 'state';
const COUNT = 1000;
const STATE_KEYS = 10;
const STATE_VERSIONS = 5;

interface Received {
  partition: number;
  key: string;
  value: string;
}

/** Calls `fn` again while it fails with a retriable Kafka error, for at most 20 s. */
async function whileRetriable<T>(fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { retriable?: boolean }).retriable !== true || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('local Kafka broker (integration)', () => {
  let dataDir: string;
  let broker: KafkaBroker | undefined;
  let port: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'consentry-kafka-test-'));
    broker = await startKafka({ dataDir });
    port = broker.port;
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  const client = (b: KafkaBroker): Kafka =>
    new Kafka({ clientId: 'broker-test', brokers: [b.brokers], logLevel: logLevel.NOTHING });

  async function withAdmin<T>(b: KafkaBroker, fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = client(b).admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect();
    }
  }

  /** Consumes until `expected` messages arrived on `topic`, from the beginning for a new group. */
  async function consume(b: KafkaBroker, groupId: string, topic: string, expected: number): Promise<Received[]> {
    const consumer = client(b).consumer({ groupId, maxWaitTimeInMs: 100 });
    const received: Received[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolveDone, reject) => {
        const timer = setTimeout(() => reject(new Error(`${groupId}: ${received.length}/${expected} after 30 s`)), 30_000);
        consumer
          .run({
            eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
              received.push({ partition, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
              if (received.length >= expected) {
                clearTimeout(timer);
                resolveDone();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect(); // commits the offsets consumed so far
    }
    return received;
  }

  async function endOffsets(admin: Admin, topic: string): Promise<number> {
    // A broker that has just started may not lead its partitions yet (NOT_LEADER_FOR_PARTITION, retriable).
    const offsets = await whileRetriable(() => admin.fetchTopicOffsets(topic));
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  }

  it('creates a 3-partition topic and a compacted topic', { timeout: 30_000 }, async () => {
    const b = broker!;
    expect(b.brokers).toBe(`127.0.0.1:${port}`);
    await withAdmin(b, async (admin) => {
      const created = await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: EVENTS, numPartitions: 3 },
          { topic: STATE, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
        ],
      });
      expect(created).toBe(true);
      const meta = await admin.fetchTopicMetadata({ topics: [EVENTS, STATE] });
      expect(meta.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([
        [EVENTS, 3],
        [STATE, 1],
      ]);
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: STATE, configNames: ['cleanup.policy'] }],
      });
      expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('compact');
      // auto.create.topics.enable=false: a metadata request (kafkajs asks for
      // auto-creation by default) for an unknown topic does not create it.
      await admin.fetchTopicMetadata({ topics: ['nope'] }).catch(() => undefined);
      expect(await admin.listTopics()).not.toContain('nope');
    });
  });

  it('produces 1000 messages idempotently with acks=all and consumes them in a group', { timeout: 60_000 }, async () => {
    const b = broker!;
    const producer = client(b).producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let batch = 0; batch < COUNT; batch += 100) {
      await producer.send({
        topic: EVENTS,
        acks: -1,
        messages: Array.from({ length: 100 }, (_, i) => ({ key: `k-${batch + i}`, value: `v-${batch + i}` })),
      });
    }
    const state = [];
    for (let v = 0; v < STATE_VERSIONS; v++) {
      for (let k = 0; k < STATE_KEYS; k++) state.push({ key: `s-${k}`, value: `${k}@${v}` });
    }
    await producer.send({ topic: STATE, acks: -1, messages: state });
    await producer.disconnect();

    const received = await consume(b, 'group-a', EVENTS, COUNT);
    expect(received).toHaveLength(COUNT);
    const keys = new Set(received.map((r) => r.key));
    expect(keys.size).toBe(COUNT);
    for (let i = 0; i < COUNT; i++) expect(keys.has(`k-${i}`)).toBe(true);
    for (const r of received) expect(r.value).toBe(`v-${r.key.slice(2)}`);
    // The default partitioner spreads keys; within a partition order is production order.
    const partitions = new Set(received.map((r) => r.partition));
    expect(partitions.size).toBe(3);
    for (const p of partitions) {
      const seq = received.filter((r) => r.partition === p).map((r) => Number(r.key.slice(2)));
      expect(seq).toEqual([...seq].sort((x, y) => x - y));
    }
    await withAdmin(b, async (admin) => {
      // A group coordinator that has just started may still be loading its log (a retriable error).
      const committed = await whileRetriable(() => admin.fetchOffsets({ groupId: 'group-a', topics: [EVENTS] }));
      const sum = committed[0]?.partitions.reduce((s, p) => s + Number(p.offset), 0);
      expect(sum).toBe(COUNT);
    });
  });

  it('keeps topics, messages and group offsets across a clean stop and start on the same dataDir and port', { timeout: 60_000 }, async () => {
    await broker!.stop();
    broker = undefined;
    broker = await startKafka({ dataDir, port });
    const b = broker;
    expect(b.port).toBe(port);

    await withAdmin(b, async (admin) => {
      expect((await admin.listTopics()).sort()).toEqual(expect.arrayContaining([EVENTS, STATE]));
      expect(await endOffsets(admin, EVENTS)).toBe(COUNT);
      // A group coordinator that has just started may still be loading its log (a retriable error).
      const committed = await whileRetriable(() => admin.fetchOffsets({ groupId: 'group-a', topics: [EVENTS] }));
      expect(committed[0]?.partitions.reduce((s, p) => s + Number(p.offset), 0)).toBe(COUNT);
    });
    const again = await consume(b, 'group-b', EVENTS, COUNT);
    expect(new Set(again.map((r) => r.key)).size).toBe(COUNT);

    const state = await consume(b, 'group-state', STATE, STATE_KEYS * STATE_VERSIONS);
    const latest = new Map(state.map((r) => [r.key, r.value]));
    expect(latest.size).toBe(STATE_KEYS);
    for (let k = 0; k < STATE_KEYS; k++) expect(latest.get(`s-${k}`)).toBe(`${k}@${STATE_VERSIONS - 1}`);
  });

  it('recovers after a crash (SIGKILL) and accepts idempotent writes again', { timeout: 60_000 }, async () => {
    const before = broker!;
    broker = await before.restart({ hard: true });
    const b = broker;
    expect((await before.exited).signal).toBe('SIGKILL');
    expect(b.brokers).toBe(before.brokers);
    expect(b.pid).not.toBe(before.pid);

    const producer = client(b).producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: EVENTS, acks: -1, messages: [{ key: 'after-crash', value: 'x' }] });
    await producer.disconnect();
    await withAdmin(b, async (admin) => {
      expect(await endOffsets(admin, EVENTS)).toBe(COUNT + 1);
    });
  });
});
