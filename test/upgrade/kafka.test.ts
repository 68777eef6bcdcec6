// Upgrade from 0.1.0 through Kafka, on one broker and one ClickHouse: the
// data 0.1.0 wrote (fixtures/v0.1.0/data.tar.gz, served by this build's chdb
// server) and the records its collector left in Kafka, replayed as recorded.
//
// - 0.1.0's records are written by this build's sink exactly once, reduced
//   by what happened while they waited: an erasure (tombstone), a downgrade,
//   a deleted tenant.
// - A message in a layout newer than this sink reads pauses its partition,
//   uncommitted, and the others go on.
// - Rolling upgrade: this build's collector writes a layout 0.1.0's sink does
//   not read, so it writes to topics 0.1.0's sink never subscribed to (the
//   subscription recorded by make-fixture.ts), with control messages of the
//   shape 0.1.0 wrote. With 0.1.0's commit in the clone, the same live: 0.1.0's
//   collector and sink beside this build's, in both orders, nothing lost,
//   nothing twice, nothing dead-lettered.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../../scripts/kafka/broker.ts';
import { topicNames } from '../../sinks/kafka/config.ts';
import { CODEC_VERSION, encodeBatchMessage, READS } from '../../sinks/kafka/codec.ts';
import { testBatch, testSpan } from '../../processors/testing/records.ts';
import { ADMIN_TOKEN, api, kafkaEnv, startChdbServerProcess, startCollectorProcess, startSinkProcess, tempDir, until, type Code, type Proc } from '../kafka/processes.ts';
import { postUntilOk } from '../kafka/deployment.ts';
import { connectTestClients } from '../helpers/kafka.ts';
import { checkoutRelease, FIRST_RELEASE, releaseCommit } from './release.ts';
import { logsJson, readKafkaRecords, readManifest, spansJson, TIERS_DIR, unpackData } from './fixture.ts';

const manifest = readManifest();
let broker: KafkaBroker;
let chdb: Proc & { url: string };
let clickhouse: ClickHouseClient;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let dataDir: string;
const logDir = tempDir('consentry-upgrade-kafka-logs-');
const procs: Proc[] = [];

beforeAll(async () => {
  dataDir = unpackData();
  broker = await startKafka({ onProgress: () => undefined });
  chdb = await startChdbServerProcess({ dataDir: join(dataDir, 'clickhouse'), logDir });
  procs.push(chdb);
  clickhouse = createClient({ url: chdb.url, request_timeout: 60_000 });
  // The fixture is a snapshot: its tombstones are kept 90 days after the erasure by a TTL,
  // and the records in flight were received before it. Hold that one table as it was written.
  await clickhouse.command({ query: 'SYSTEM STOP MERGES consentry.erasure_tombstones' });
  ({ kafka, admin, producer } = await connectTestClients(broker.brokers, 'upgrade-test', { allowAutoTopicCreation: false }));
}, 180_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(20_000).catch(() => undefined)));
  await producer?.disconnect();
  await admin?.disconnect();
  await clickhouse?.close();
  await broker?.stop();
  rmSync(dirname(dataDir), { recursive: true, force: true });
  rmSync(logDir, { recursive: true, force: true });
}, 120_000);

const env = (prefix: string, extra: Record<string, string> = {}) =>
  kafkaEnv({ brokers: broker.brokers, clickhouseUrl: chdb.url, prefix, extra: { CONSENTRY_TIERS_DIR: TIERS_DIR, CONSENTRY_INGEST_WORKERS: '1', ...extra } });

async function sink(prefix: string, code?: Code): Promise<Proc & { url: string }> {
  const p = await startSinkProcess({ env: env(prefix), dataDir: tempDir('consentry-upgrade-sink-'), logDir, code });
  procs.push(p);
  return p;
}

async function collector(prefix: string, code?: Code, extra: Record<string, string> = {}): Promise<Proc & { otlpUrl: string; apiUrl: string }> {
  const p = await startCollectorProcess({ env: env(prefix, extra), dataDir: tempDir('consentry-upgrade-collector-'), logDir, code });
  procs.push(p);
  return p;
}

async function rows<T = Record<string, string>>(query: string): Promise<T[]> {
  return (await clickhouse.query({ query, format: 'JSONEachRow' })).json<T>();
}

/** Messages in a topic (end offsets summed), 0 when it does not exist. */
async function messagesIn(topic: string): Promise<number> {
  if (!(await admin.listTopics()).includes(topic)) return 0;
  return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
}

/** Committed offsets of a group equal the end of every topic it reads. */
async function caughtUp(group: string, topics: string[]): Promise<boolean> {
  for (const topic of topics) {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    for (const p of await admin.fetchTopicOffsets(topic)) {
      if (committed?.partitions.find((c) => c.partition === p.partition)?.offset !== p.high && p.high !== '0') return false;
    }
  }
  return true;
}

/** Spans and distinct span ids per user of a tenant. */
async function spansPerUser(tenant: string): Promise<Record<string, string>> {
  const r = await rows<{ u: string; n: string; d: string }>(
    `SELECT SpanAttributes['user.id'] AS u, count() AS n, uniqExact(SpanId) AS d FROM consentry.otel_traces WHERE TenantId = '${tenant}' GROUP BY u ORDER BY u`,
  );
  return Object.fromEntries(r.map((x) => [x.u, x.n === x.d ? x.n : `${x.n} rows, ${x.d} distinct`]));
}

describe('records 0.1.0\'s collector left in Kafka', () => {
  const prefix = 'up.';
  const group = `${prefix}sink`;
  let s: Proc & { url: string };

  beforeAll(async () => {
    const records = readKafkaRecords();
    await admin.createTopics({
      topics: Object.entries(manifest.kafkaPartitions).map(([topic, numPartitions]) => ({ topic: prefix + topic, numPartitions })),
      waitForLeaders: true,
    });
    for (const topic of new Set(records.map((r) => r.topic))) {
      await producer.send({
        topic: prefix + topic,
        acks: -1,
        messages: records
          .filter((r) => r.topic === topic)
          .map((r) => ({
            partition: r.partition,
            key: r.key === null ? null : Buffer.from(r.key, 'base64'),
            value: r.value === null ? null : Buffer.from(r.value, 'base64'),
            headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
          })),
      });
    }
    // Exactly the recorded records are in Kafka, so a row written twice below is the sink's doing.
    for (const topic of new Set(records.map((r) => r.topic))) expect(await messagesIn(prefix + topic), topic).toBe(records.filter((r) => r.topic === topic).length);
    s = await sink(prefix);
    await until('the sink caught up with 0.1.0\'s records', () => caughtUp(group, topicNames(prefix).read), 60_000, 200);
  }, 120_000);

  it('writes them once, with what happened while they waited: an erasure, a downgrade, a deleted tenant', async () => {
    // k-full: u-kerased was erased after its records were received; they are not written.
    expect(await spansPerUser('k-full')).toEqual({ 'u-keep': '4' });
    const logs = await rows(`SELECT TenantId, LogAttributes['user.id'] AS u, count() AS n FROM consentry.otel_logs WHERE TenantId LIKE 'k-%' GROUP BY TenantId, u ORDER BY TenantId, u`);
    expect(logs).toEqual([
      { TenantId: 'k-down', u: 'u-down', n: '3' },
      { TenantId: 'k-full', u: 'u-keep', n: '4' },
      { TenantId: 'k-sum', u: '', n: '5' },
    ]);
    // k-down: received under logorhythms, downgraded to fixture-meta while in Kafka: written reduced.
    const down = await rows<{ Tier: string; body: string; hash: string; n: string }>(
      `SELECT Tier, SpanAttributes['gateway.request.body'] AS body, length(SpanAttributes['gateway.api_key.hash']) AS hash, count() AS n FROM consentry.otel_traces WHERE TenantId = 'k-down' GROUP BY ALL`,
    );
    expect(down).toEqual([{ Tier: 'fixture-meta', body: '', hash: '32', n: '3' }]);
    // k-sum: the summaries 0.1.0's collector folded.
    const sums = await rows(`SELECT sum(Requests) AS r, sum(Errors) AS e, sum(InputTokens) AS i, sum(OutputTokens) AS o, sum(Calls) AS c FROM consentry.request_summaries WHERE TenantId = 'k-sum'`);
    expect(sums).toEqual([{ r: '5', e: '1', i: '60', o: '110', c: '0' }]);
    expect(await spansPerUser('k-sum')).toEqual({});
    // k-gone: deleted while its records waited.
    for (const table of ['otel_traces', 'otel_logs', 'gateway_metadata', 'request_summaries']) {
      expect(await rows(`SELECT count() AS n FROM consentry.${table} WHERE TenantId = 'k-gone'`), table).toEqual([{ n: '0' }]);
    }
    expect(await messagesIn(`${prefix}consentry.deadletter.v1`)).toBe(0);
  });

  it('writes nothing twice when a sink starts again on them', async () => {
    const before = await rows(`SELECT TenantId, count() AS n FROM consentry.otel_traces WHERE TenantId LIKE 'k-%' GROUP BY TenantId ORDER BY TenantId`);
    await s.kill();
    s = await sink(prefix);
    await until('the new sink in the group', async () => (await fetch(`${s.url}/readyz`)).status === 200, 60_000, 200);
    expect(await caughtUp(group, topicNames(prefix).read)).toBe(true);
    expect(await rows(`SELECT TenantId, count() AS n FROM consentry.otel_traces WHERE TenantId LIKE 'k-%' GROUP BY TenantId ORDER BY TenantId`)).toEqual(before);
    expect(await spansPerUser('k-full')).toEqual({ 'u-keep': '4' });
  });
});

describe('a message in a layout newer than the sink reads', () => {
  const prefix = 'nl.';
  const topic = topicNames(prefix).spans;
  const message = (user: string) =>
    encodeBatchMessage(testBatch({ spans: [testSpan({ 'user.id': user }, { spanId: Buffer.from(user).toString('hex').slice(0, 16) })] }), {
      tenantId: 'k-full',
      tier: 'logorhythms',
      tierVersion: 0,
      receivedAtMs: Date.now(),
    });

  it('pauses its partition at it, uncommitted and not dead-lettered, says so on /readyz, and the other partitions go on', async () => {
    const newer = Buffer.from(message('u-nl-newer'));
    const layout = CODEC_VERSION + 1;
    newer[2] = layout; // a layout after this build's
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { partition: 0, key: 'k-full', value: message('u-nl-before') },
        { partition: 0, key: 'k-full', value: newer },
        { partition: 0, key: 'k-full', value: message('u-nl-after') },
      ],
    });
    await producer.send({ topic, acks: -1, messages: [{ partition: 1, key: 'k-full', value: message('u-nl-other') }] });
    const s = await sink(prefix);
    const committed = async () => Object.fromEntries(((await admin.fetchOffsets({ groupId: `${prefix}sink`, topics: [topic] }))[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
    await until('the partitions committed up to the newer message and to the end', async () => JSON.stringify(await committed()) === JSON.stringify({ 0: '1', 1: '1' }), 60_000, 200);
    const ready = await until('/readyz naming the paused partition', async () => {
      const r = await fetch(`${s.url}/readyz`);
      const body = (await r.json()) as { checks: Record<string, string> };
      return r.status === 503 && body.checks['messages']?.includes(`${topic}/0 at offset 1 (layout ${layout})`) ? body : undefined;
    });
    expect(ready.checks['messages']).toMatch(new RegExp(`newer than this sink reads \\(${READS.join(', ')}\\), left in Kafka: .*; upgrade this sink`));
    expect(await spansPerUser('k-full')).toEqual({ 'u-keep': '4', 'u-nl-before': '1', 'u-nl-other': '1' });
    expect(s.log()).toContain(`${topic}/0 offset 1 is in record layout ${layout}, newer than this sink reads (${READS.join(', ')})`);
    const metrics = await (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/^consentry_sink_partitions_blocked 1$/m);
    expect(await messagesIn(`${prefix}consentry.deadletter.v1`)).toBe(0);
    // No crash loop: still running, and it stops cleanly with the message left where it is.
    expect(s.child.exitCode).toBeNull();
    expect(await s.stop()).toBe(0);
    expect(await committed()).toEqual({ 0: '1', 1: '1' });
  }, 120_000);
});

describe('a rolling upgrade from 0.1.0', () => {
  const tierKeys = (value: string) => Object.keys(JSON.parse(value) as object).sort();
  const recordedControl = (topic: string) =>
    readKafkaRecords()
      .filter((r) => r.topic === topic && r.value !== null)
      .map((r) => Buffer.from(r.value!, 'base64').toString());

  it('this build\'s collector writes no data to the topics 0.1.0\'s sink reads (its recorded subscription), and control messages of the shape 0.1.0 wrote', async () => {
    const prefix = 'rec.';
    // Recorded from 0.1.0's sink: it reads the layout 1 topics, and dead-letters layout 2 there.
    expect(manifest.oldSink.subscribedTopics).toEqual(['consentry.logs.v1', 'consentry.spans.v1']);
    expect(manifest.oldSink.layout2OnItsTopic).toMatchObject({ outcome: 'dead-lettered', headers: { reason: 'unknown encoding version 2 (this build reads 1)' } });
    const c = await collector(prefix);
    const created = await api(c.apiUrl, 'POST', '/api/tenants', { id: 'rec', tier: 'logorhythms' });
    expect(created.status).toBe(201);
    await postUntilOk(`${c.otlpUrl}/v1/traces`, created.body.ingestKey as string, spansJson('rec', 'u-rec', 3));
    await postUntilOk(`${c.otlpUrl}/v1/logs`, created.body.ingestKey as string, logsJson('rec', 'u-rec', 2));
    for (const t of manifest.oldSink.subscribedTopics) expect(await messagesIn(prefix + t), t).toBe(0);
    expect(await messagesIn(topicNames(prefix).spans)).toBeGreaterThan(0);
    // Tier and tenant notices: the keys 0.1.0 wrote and read.
    const control = async (topic: string) => {
      const consumer = kafka.consumer({ groupId: `rec-reader-${topic}` });
      const got: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: [prefix + topic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value?.toString() ?? '') });
      await until(`a message on ${topic}`, () => got.length > 0);
      await consumer.disconnect();
      return got;
    };
    for (const topic of ['consentry.tiers.v1', 'consentry.tenants.v1']) {
      const then = recordedControl(topic);
      const now = await control(topic);
      for (const m of now) {
        expect(then.map(tierKeys), topic).toContainEqual(tierKeys(m));
        expect(JSON.parse(m), topic).toMatchObject({ v: (JSON.parse(then[0]!) as { v: number }).v });
      }
    }
  }, 120_000);

  // Live: needs 0.1.0's code (git archive of its commit); only a shallow clone without the tag lacks it, and has the recorded checks above only.
  const hasRelease = releaseCommit(FIRST_RELEASE) !== undefined;
  it.skipIf(!hasRelease)(`live: ${FIRST_RELEASE}'s collector and sink beside this build's, through every mixed state of a rolling upgrade: every request written once, nothing dead-lettered`, async () => {
    const prefix = 'live.';
    const group = `${prefix}sink`;
    const release = checkoutRelease(FIRST_RELEASE);
    try {
      const oldSink = await sink(prefix, release.code);
      const oldCollector = await collector(prefix, release.code);
      const created = await api(oldCollector.apiUrl, 'POST', '/api/tenants', { id: 'live', tier: 'logorhythms' });
      expect(created.status).toBe(201);
      const key = created.body.ingestKey as string;
      const send = (c: { otlpUrl: string }, user: string) => postUntilOk(`${c.otlpUrl}/v1/traces`, key, spansJson('live', user, 3));
      const stored = (users: Record<string, string>) => until(`${JSON.stringify(users)} stored`, async () => JSON.stringify(await spansPerUser('live')) === JSON.stringify(users), 60_000, 200);

      // 0.1.0 alone.
      await send(oldCollector, 'u-a');
      await stored({ 'u-a': '3' });
      // A collector of this build joins: its records wait in Kafka (0.1.0's sink does not read their layout); 0.1.0's go on.
      const newCollector = await collector(prefix, undefined, { CONSENTRY_TIER_SWITCH_TIMEOUT_MS: '2000' });
      await send(newCollector, 'u-b');
      await send(oldCollector, 'u-c');
      await stored({ 'u-a': '3', 'u-c': '3' });
      expect(await messagesIn(topicNames(prefix).spans)).toBeGreaterThan(0);
      // A downgrade cannot be confirmed by 0.1.0's sink (it has no confirmations): in force and audited, answered 503.
      const down = await api(newCollector.apiUrl, 'PUT', '/api/tenants/live/tier', { tier: 'fixture-meta', reason: 'during the upgrade' });
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ error: 'TIER_SWITCH_PENDING', message: expect.stringMatching(/did not confirm within 2000 ms/) });
      // A sink of this build joins, 0.1.0's leaves: the waiting records are written.
      const newSink = await sink(prefix);
      await send(oldCollector, 'u-d');
      await send(newCollector, 'u-e');
      expect(await oldSink.stop()).toBe(0);
      await stored({ 'u-a': '3', 'u-b': '3', 'u-c': '3', 'u-d': '3', 'u-e': '3' });
      // 0.1.0's collector with sinks of this build only, then 0.1.0's collector leaves.
      await send(oldCollector, 'u-f');
      await stored({ 'u-a': '3', 'u-b': '3', 'u-c': '3', 'u-d': '3', 'u-e': '3', 'u-f': '3' });
      expect(await oldCollector.stop()).toBe(0);
      await send(newCollector, 'u-g');
      await stored({ 'u-a': '3', 'u-b': '3', 'u-c': '3', 'u-d': '3', 'u-e': '3', 'u-f': '3', 'u-g': '3' });
      await until('every topic read to its end', () => caughtUp(group, topicNames(prefix).read), 60_000, 200);
      expect(await messagesIn(`${prefix}consentry.deadletter.v1`)).toBe(0);
      expect(newSink.log()).not.toMatch(/dead-letter/);
    } finally {
      release.remove();
    }
  }, 240_000);
});
