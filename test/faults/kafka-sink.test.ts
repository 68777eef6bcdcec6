// Fault suite (issue 12, items 3 and 4), the Kafka path: a sink (in this
// process, embedded chdb) on a real broker (scripts/kafka). A record storage
// cannot hold, between other tenants' records in the same partition and so
// in the same insert, goes to the dead-letter topic with the reason; the
// others are inserted once, and the offsets committed only after both. The
// sink's /readyz turns not ready while inserts fail and ready again by itself;
// its port has the same timeouts and token on /metrics as the collector's.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../../scripts/kafka/broker.ts';
import { loadSettings, type Settings } from '../../core/settings.ts';
import { startSinkService, type SinkService } from '../../app/sink.ts';
import { encodeBatchMessage } from '../../sinks/kafka/codec.ts';
import { testBatch, testLog } from '../../processors/testing/records.ts';
import { KafkaTransport } from '../../sinks/kafka/transport.ts';
import { createKafka, kafkaSettings, topicNames } from '../../sinks/kafka/config.ts';
import { TransportError } from '../../storage/transport.ts';
import { createLogger } from '../../core/logger.ts';
import { until } from '../kafka/processes.ts';
import { connectTestClients } from '../helpers/kafka.ts';
import { RawConnection } from './raw-http.ts';

const ADMIN = 'sink-fault-admin';
const METRICS = 'sink-fault-metrics';

let broker: KafkaBroker;
let dataDir: string;
let settings: Settings;
let sink: SinkService;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  broker = await startKafka({ onProgress: () => undefined });
  dataDir = mkdtempSync(join(tmpdir(), 'consentry-sink-faults-'));
  settings = loadSettings(
    {},
    {
      kafkaBrokers: [broker.brokers],
      kafkaTopicPrefix: 'faults.',
      // One partition: every message below lands in the same batch as its neighbours.
      kafkaPartitions: 1,
      dataDir,
      sinkPort: 0,
      sinkMaxDelayMs: 200,
      adminToken: ADMIN,
      metricsToken: METRICS,
      logLevel: 'silent',
      httpHeadersTimeoutMs: 500,
      httpRequestTimeoutMs: 1000,
      httpIdleTimeoutMs: 1500,
    },
  );
  sink = await startSinkService(settings);
  for (const tenant of ['sink-a', 'sink-b']) await sink.registry.assign(tenant, { tier: 'full', reason: 'fault suite', actor: 'test', action: 'create' });
  ({ admin, producer } = await connectTestClients(broker.brokers, 'sink-faults'));
}, 180_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await sink?.stop();
  await broker?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

const logsTopic = () => topicNames(settings.kafkaTopicPrefix).logs;
const rows = async <T>(sql: string): Promise<T[]> => (await sink.clickhouse.client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
const logCount = async (tenant: string, body: string): Promise<number> => Number((await rows<{ n: string }>(`SELECT count() AS n FROM consentry.otel_logs WHERE TenantId = '${tenant}' AND Body = '${body}'`))[0]!.n);

/** A Kafka message as the collector produces it: one request's log records. */
const message = (tenant: string, body: string, timeUnixNano: bigint) =>
  encodeBatchMessage(testBatch({ logs: [testLog({}, { body, timeUnixNano, observedTimeUnixNano: timeUnixNano })] }), { tenantId: tenant, tier: 'full', tierVersion: 1, receivedAtMs: Date.now() });

async function committedAll(): Promise<boolean> {
  const [committed] = await admin.fetchOffsets({ groupId: settings.sinkGroup, topics: [logsTopic()] });
  const ends = await admin.fetchTopicOffsets(logsTopic());
  return ends.every((e) => committed!.partitions.find((p) => p.partition === e.partition)?.offset === e.high);
}

async function deadLetters(count: number): Promise<Array<{ value: Buffer | null; headers: Record<string, string> }>> {
  const out: Array<{ value: Buffer | null; headers: Record<string, string> }> = [];
  const consumer = new Kafka({ clientId: 'dlq-reader', brokers: [broker.brokers], logLevel: logLevel.NOTHING }).consumer({ groupId: `dlq-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: `${settings.kafkaTopicPrefix}consentry.deadletter.v1`, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message: m }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries((m.headers ?? {}))) headers[k] = String(v);
      out.push({ value: m.value, headers });
    },
  });
  try {
    await until(`${count} dead letters`, () => out.length >= count, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe('a record storage cannot hold, between other records of its insert', () => {
  it('goes to the dead-letter topic with the reason; the others are inserted once; offsets committed after', { timeout: 120_000 }, async () => {
    const ROUNDS = 2;
    const poison: Buffer[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const good = [`good-${round}-1-${randomUUID()}`, `good-${round}-2-${randomUUID()}`];
      // Written by a collector that did not check times: 2264-09-12, past DateTime64(9).
      const bad = message('sink-a', `poison-${round}`, 9_300_000_000_000_000_000n);
      poison.push(bad);
      await producer.send({
        topic: logsTopic(),
        acks: -1,
        messages: [message('sink-b', good[0]!, 1_700_000_000_000_000_000n), bad, message('sink-b', good[1]!, 1_700_000_000_000_000_001n)].map((value) => ({ key: 'same-partition', value })),
      });
      await until(`round ${round}: the good records stored`, async () => (await logCount('sink-b', good[0]!)) === 1 && (await logCount('sink-b', good[1]!)) === 1, 60_000);
      await until(`round ${round}: offsets committed`, committedAll, 30_000);
      for (const g of good) expect(await logCount('sink-b', g)).toBe(1);
    }
    expect(await logCount('sink-a', 'poison-0')).toBe(0);
    const dead = await deadLetters(ROUNDS);
    expect(dead).toHaveLength(ROUNDS);
    for (const [i, d] of dead.entries()) {
      expect(Buffer.compare(d.value!, poison[i]!)).toBe(0);
      expect(d.headers).toMatchObject({ 'consentry-stage': 'insert', 'consentry-table': 'otel_logs' });
      expect(d.headers['consentry-reason']).toMatch(/^ClickHouse refused the rows \(code 407\): Decimal math overflow/);
    }
    expect(sink.consumer.insertsSucceed()).toBe(true);
  });
});

describe("the collector's Kafka transport", () => {
  it('refuses a record too large for a Kafka message alone (413); the requests sent with it are acknowledged', { timeout: 120_000 }, async () => {
    const logger = createLogger({ level: 'silent', scrub: (t) => t });
    const transport = new KafkaTransport({ kafka: createKafka({ brokers: [broker.brokers], clientId: 'faults-collector', logger }), settings: kafkaSettings(settings, 'collector'), logger });
    await transport.start();
    try {
      const ctx = (tenantId: string) => ({ tenantId, tier: 'full', tierVersion: 1, receivedAtMs: Date.now() });
      // Random bytes as base64: about 17 MiB even after gzip, over the topics' 16 MiB max.message.bytes.
      const huge = testBatch({ logs: [testLog({}, { body: randomBytes(17 << 20).toString('base64') })] });
      const small = (i: number) => testBatch({ logs: [testLog({}, { body: `small-${i}` })] });
      for (let round = 0; round < 3; round++) {
        const [big, ...others] = await Promise.allSettled([transport.send(huge, ctx('sink-a')), transport.send(small(1), ctx('sink-b')), transport.send(small(2), ctx('sink-b'))]);
        expect(big.status).toBe('rejected');
        const err = (big as PromiseRejectedResult).reason as TransportError;
        expect(err).toBeInstanceOf(TransportError);
        expect(err.refused).toBe('too-large');
        expect(err.message).toMatch(/^Kafka produce failed: .*larger than the max message size/);
        expect(others.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
      }
    } finally {
      await transport.shutdown();
    }
  });
});

describe('the sink port', () => {
  const readyz = async () => {
    const res = await fetch(`${sink.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
  };

  it('/readyz: not ready while inserts fail, ready again by itself once they work, nothing lost', { timeout: 120_000 }, async () => {
    await until('ready', async () => (await readyz()).status === 200, 30_000);
    const spool = sink.clickhouse.spoolDir!;
    rmSync(spool, { recursive: true, force: true });
    writeFileSync(spool, 'not a directory');
    const body = `during-outage-${randomUUID()}`;
    try {
      await producer.send({ topic: logsTopic(), acks: -1, messages: [{ key: 'same-partition', value: message('sink-b', body, 1_700_000_000_000_000_000n) }] });
      await until('not ready', async () => (await readyz()).status === 503, 30_000);
      const down = await readyz();
      expect(down.body.checks['clickhouse']).toMatch(/^inserts failing: .*ENOTDIR/);
      expect(await logCount('sink-b', body)).toBe(0);
    } finally {
      rmSync(spool, { force: true });
      mkdirSync(spool, { recursive: true });
    }
    await until('ready again', async () => (await readyz()).status === 200, 60_000);
    await until('the record stored', async () => (await logCount('sink-b', body)) === 1, 30_000);
  });

  it('/metrics needs the admin or the metrics token', async () => {
    for (const token of [undefined, 'wrong']) {
      const res = await fetch(`${sink.url}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('consentry_');
    }
    for (const token of [ADMIN, METRICS]) {
      const res = await fetch(`${sink.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('consentry_sink_deadletter_total{stage="insert"}');
    }
  });

  it('a body nobody reads is not read: answered, then closed while the client still sends', async () => {
    const conn = await RawConnection.open(sink.url);
    try {
      // Under the body limit (a larger one is refused as 413 up front): the 404 is what answers before the body.
      conn.write(`POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n`);
      conn.trickleBody(1024, 50);
      expect(await conn.answer()).toMatch(/^HTTP\/1\.1 404 [\s\S]*\r\nconnection: close\r\n/i);
      expect(await conn.closesWithin(6000)).toBe(true);
    } finally {
      conn.destroy();
    }
  });

  it('headers sent slowly: 408 and closed after the headers timeout', async () => {
    const conn = await RawConnection.open(sink.url);
    const slow = setInterval(() => conn.write('a'), 100);
    try {
      conn.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      expect(await conn.closesWithin(6000)).toBe(true);
      expect(conn.received).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(slow);
      conn.destroy();
    }
  });
});
