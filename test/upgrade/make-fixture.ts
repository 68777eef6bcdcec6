// Writes the upgrade fixture of the first release (fixtures/v0.1.0/) with that
// release's own code, driven through its public API only:
//
//   npx tsx test/upgrade/make-fixture.ts        (needs 0.1.0's commit: tag v0.1.0 or main's history; about a minute)
//
// 1. Kafka: the release's chdb server and its collector in Kafka mode, no sink:
//    tenants, spans and logs (summaries for a summarising tier), then, while
//    the records wait in Kafka, an erasure, a downgrade and a tenant deletion.
//    Every record of its topics is written to kafka-records.json.
// 2. The release's sink on topics of its own: its consumer-group membership,
//    and what it does with a message of layout 2 on a topic it reads.
// 3. Embedded, on the same data directory: the release's collector with its
//    own ClickHouse: tenants, operator tier files (tiers/), data, an erasure,
//    a deletion, switches (one temporary until 2099, one until moments after
//    the release stops, so the next start finds it due), and the release's
//    answers to the queries of fixture.ts QUERIES and its API, per tenant.
// The data directory (ClickHouse, admin-token, hmac-key) is data.tar.gz.
// Run it again only to change the fixture: the tests compare against it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssignerProtocol, Kafka, logLevel, type Admin } from 'kafkajs';
import { startKafka, type KafkaBroker } from '../../scripts/kafka/broker.ts';
import { encodeBatchMessage } from '../../sinks/kafka/codec.ts';
import { testBatch, testSpan } from '../../processors/testing/records.ts';
import { api, startChdbServerProcess, startCollectorProcess, startSinkProcess, tempDir, until, type Proc } from '../kafka/processes.ts';
import { checkoutRelease, FIRST_RELEASE, type Release } from './release.ts';
import { FIXTURE_DIR, FIXTURE_PREFIX, logsJson, PLAN, QUERIES, spansJson, TIERS_DIR, type Manifest, type QueryAnswer, type RecordedMessage, type TenantPlan } from './fixture.ts';

const DASHBOARD = { from: '2026-12-01T10:00:00.000Z', to: '2026-12-01T10:05:00.000Z' };
/** How long after its switch the temporary tier of t-revert ends: the release must have stopped by then. */
const REVERT_AFTER_MS = 45_000;

const log = (line: string) => process.stderr.write(`make-fixture: ${line}\n`);

const call = (url: string, token: string, method: string, path: string, body?: unknown) => api(url, method, path, body, token);

async function ok(what: string, p: Promise<{ status: number; body: any }>): Promise<any> {
  const r = await p;
  if (r.status < 200 || r.status > 299) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function postOtlp(otlpUrl: string, key: string, signal: 'traces' | 'logs', body: string): Promise<void> {
  const res = await fetch(`${otlpUrl}/v1/${signal}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`OTLP ${signal} answered ${res.status}: ${text}`);
}

interface Running {
  collector: Proc & { otlpUrl: string; apiUrl: string };
  admin: string;
}

/** Creates the plan's tenants of one phase and sends their traffic. */
async function sendTraffic(c: Running, plans: TenantPlan[], keys: Manifest['tenants']): Promise<void> {
  for (const p of plans) {
    const created = await ok(`creating ${p.id}`, call(c.collector.apiUrl, c.admin, 'POST', '/api/tenants', { id: p.id, tier: p.tier }));
    keys[p.id] = { ingestKey: created.ingestKey, queryKey: created.queryKey };
    for (const [user, n] of Object.entries(p.spans)) {
      await postOtlp(c.collector.otlpUrl, created.ingestKey, 'traces', spansJson(p.id, user, n));
      await postOtlp(c.collector.otlpUrl, created.ingestKey, 'logs', logsJson(p.id, user, n));
    }
  }
}

/** The plan's erasures, permanent switches and deletions of one phase (temporary switches of `until: 'soon'` excepted). */
async function applyChanges(c: Running, plans: TenantPlan[]): Promise<void> {
  for (const p of plans) {
    if (p.erase !== undefined) await ok(`erasing ${p.id}/${p.erase}`, call(c.collector.apiUrl, c.admin, 'DELETE', `/api/tenants/${p.id}/subjects/${p.erase}`));
    if (p.switchTo !== undefined && p.switchTo.until !== 'soon') await ok(`switching ${p.id}`, call(c.collector.apiUrl, c.admin, 'PUT', `/api/tenants/${p.id}/tier`, p.switchTo));
    if (p.deleted === true) await ok(`deleting ${p.id}`, call(c.collector.apiUrl, c.admin, 'DELETE', `/api/tenants/${p.id}`));
  }
}

/** Every record of the deployment's topics, in topic, partition and offset order, and the partitions of each topic. */
async function readTopics(kafka: Kafka, admin: Admin): Promise<{ records: RecordedMessage[]; partitions: Record<string, number> }> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(FIXTURE_PREFIX)).sort();
  const ends = new Map<string, number>();
  const partitions: Record<string, number> = {};
  for (const t of topics) {
    const offsets = await admin.fetchTopicOffsets(t);
    partitions[t.slice(FIXTURE_PREFIX.length)] = offsets.length;
    for (const p of offsets) ends.set(`${t}/${p.partition}`, Number(p.high));
  }
  const want = [...ends.values()].reduce((a, b) => a + b, 0);
  const out: RecordedMessage[] = [];
  const consumer = kafka.consumer({ groupId: `fixture-reader-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      out.push({
        topic: topic.slice(FIXTURE_PREFIX.length),
        partition,
        offset: message.offset,
        key: message.key?.toString('base64') ?? null,
        value: message.value?.toString('base64') ?? null,
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : String(v)])),
      });
    },
  });
  await until(`all ${want} records of ${topics.join(', ')}`, () => out.length >= want, 60_000);
  await consumer.disconnect();
  return { records: out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || Number(a.offset) - Number(b.offset)), partitions };
}

/** Phase 1: the release's Kafka deployment, no sink. */
async function kafkaPhase(release: Release, broker: KafkaBroker, data: string, logDir: string, keys: Manifest['tenants']): ReturnType<typeof readTopics> {
  const chdb = await startChdbServerProcess({ dataDir: join(data, 'clickhouse'), logDir, code: release.code });
  const collector = await startCollectorProcess({
    env: {
      CONSENTRY_KAFKA_BROKERS: broker.brokers,
      CONSENTRY_CLICKHOUSE_URL: chdb.url,
      CONSENTRY_KAFKA_TOPIC_PREFIX: FIXTURE_PREFIX,
      CONSENTRY_KAFKA_PARTITIONS: '2',
      CONSENTRY_SINK_GROUP: `${FIXTURE_PREFIX}sink`,
      CONSENTRY_TIERS_DIR: TIERS_DIR,
      CONSENTRY_INGEST_WORKERS: '1',
    },
    dataDir: data,
    logDir,
    code: release.code,
  });
  const admin = (await readFile(join(data, 'admin-token'), 'utf8')).trim();
  const running = { collector, admin };
  const plans = PLAN.filter((p) => p.via === 'kafka');
  await sendTraffic(running, plans, keys);
  await applyChanges(running, plans);
  if ((await collector.stop()) !== 0) throw new Error(`the release's collector did not stop cleanly:\n${collector.log().slice(-2000)}`);
  await chdb.stop();
  const kafka = new Kafka({ clientId: 'make-fixture', brokers: [broker.brokers], logLevel: logLevel.NOTHING });
  const kadmin = kafka.admin();
  await kadmin.connect();
  try {
    return await readTopics(kafka, kadmin);
  } finally {
    await kadmin.disconnect();
  }
}

/** Phase 2: the release's sink, on topics of its own and a throwaway ClickHouse. */
async function probeOldSink(release: Release, broker: KafkaBroker, logDir: string): Promise<Manifest['oldSink']> {
  const prefix = 'probe.';
  const group = `${prefix}sink`;
  const topic = `${prefix}consentry.spans.v1`;
  const kafka = new Kafka({ clientId: 'make-fixture-probe', brokers: [broker.brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  // What a collector of this build writes (layout 2), on the topic the release's sink reads.
  const value = encodeBatchMessage(testBatch({ spans: [testSpan({ 'user.id': 'u-probe' })] }), { tenantId: 'probe', tier: 'full', tierVersion: 1, receivedAtMs: Date.now() });
  await producer.send({ topic, acks: -1, messages: [{ key: 'probe', value }] });
  const chdbDir = tempDir('consentry-probe-chdb-');
  const chdb = await startChdbServerProcess({ dataDir: chdbDir, logDir, code: release.code });
  const sink = await startSinkProcess({
    env: { CONSENTRY_KAFKA_BROKERS: broker.brokers, CONSENTRY_CLICKHOUSE_URL: chdb.url, CONSENTRY_KAFKA_TOPIC_PREFIX: prefix, CONSENTRY_SINK_GROUP: group, CONSENTRY_SINK_SESSION_TIMEOUT_MS: '6000' },
    dataDir: tempDir('consentry-probe-data-'),
    logDir,
    code: release.code,
  });
  try {
    const described = await until('the release sink in its group', async () => {
      const { groups } = await admin.describeGroups([group]);
      return groups[0]?.state === 'Stable' && groups[0].members.length === 1 ? groups[0] : undefined;
    });
    const metadata = AssignerProtocol.MemberMetadata.decode(described.members[0]!.memberMetadata);
    if (metadata === null) throw new Error('the release sink joined without member metadata');
    // Its verdict on the message: stored, dead-lettered, or left (committed offset).
    const headers = await until('the release sink deciding on the layout-2 message', async () => {
      const [dlq] = await admin.fetchTopicOffsets(`${prefix}consentry.deadletter.v1`);
      if (Number(dlq?.high ?? 0) === 0) return undefined;
      const consumer = kafka.consumer({ groupId: `probe-reader-${Date.now()}` });
      const got: Record<string, string>[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: [`${prefix}consentry.deadletter.v1`], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void got.push(Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]))) });
      await until('the dead letter', () => got.length > 0);
      await consumer.disconnect();
      return got[0];
    });
    return {
      protocol: described.protocol,
      subscribedTopics: metadata.topics.map((t) => t.slice(prefix.length)).sort(),
      userDataBytes: metadata.userData.length,
      layout2OnItsTopic: { topic: topic.slice(prefix.length), outcome: 'dead-lettered', headers: { reason: headers['consentry-reason'] ?? '', stage: headers['consentry-stage'] ?? '' } },
    };
  } finally {
    await sink.stop();
    await chdb.stop();
    await producer.disconnect();
    await admin.disconnect();
    rmSync(chdbDir, { recursive: true, force: true });
  }
}

/** The release's answers for one tenant: its query API with the tenant's query key, and its management API. */
async function answersOf(c: Running, tenant: string, queryKey: string): Promise<Manifest['answers'][string]> {
  const queries = {} as Record<keyof typeof QUERIES, QueryAnswer>;
  for (const [name, sql] of Object.entries(QUERIES) as Array<[keyof typeof QUERIES, string]>) {
    queries[name] = (await ok(`${tenant}: ${name}`, call(c.collector.apiUrl, queryKey, 'POST', '/api/query', { sql }))) as QueryAnswer;
  }
  const get = (path: string) => ok(`${tenant}: GET ${path}`, call(c.collector.apiUrl, c.admin, 'GET', path));
  return {
    queries,
    tier: await get(`/api/tenants/${tenant}/tier`),
    audit: await get(`/api/tenants/${tenant}/audit`),
    erasures: await get(`/api/tenants/${tenant}/erasures`),
    dashboard: await get(`/api/tenants/${tenant}/dashboard?from=${DASHBOARD.from}&to=${DASHBOARD.to}`),
  };
}

/** Phase 3: the release's embedded collector on the same data. */
async function embeddedPhase(release: Release, data: string, logDir: string, keys: Manifest['tenants']): Promise<Pick<Manifest, 'answers' | 'times'>> {
  const collector = await startCollectorProcess({ env: { CONSENTRY_TIERS_DIR: TIERS_DIR, CONSENTRY_INGEST_WORKERS: '1', CONSENTRY_BATCH_MAX_DELAY_MS: '50' }, dataDir: data, logDir, code: release.code });
  const admin = (await readFile(join(data, 'admin-token'), 'utf8')).trim();
  const running = { collector, admin };
  const plans = PLAN.filter((p) => p.via === 'embedded');
  await sendTraffic(running, plans, keys);
  await applyChanges(running, plans);
  const answers: Manifest['answers'] = {};
  const erasedAt: Record<string, string> = {};
  for (const p of PLAN.filter((q) => q.deleted !== true)) {
    answers[p.id] = await answersOf(running, p.id, keys[p.id]!.queryKey);
    for (const e of (answers[p.id]!.erasures as { erasures: Array<{ subject: string; at: string }> }).erasures) erasedAt[`${p.id}/${e.subject}`] = e.at;
  }
  // Last: a temporary switch that ends moments after the release stops.
  const revert = PLAN.find((p) => p.switchTo?.until === 'soon')!;
  const revertUntil = new Date(Date.now() + REVERT_AFTER_MS).toISOString();
  await ok(`switching ${revert.id}`, call(collector.apiUrl, admin, 'PUT', `/api/tenants/${revert.id}/tier`, { ...revert.switchTo, until: revertUntil }));
  answers[revert.id] = await answersOf(running, revert.id, keys[revert.id]!.queryKey);
  if ((await collector.stop()) !== 0) throw new Error(`the release's collector did not stop cleanly:\n${collector.log().slice(-2000)}`);
  const stoppedAt = new Date().toISOString();
  if (stoppedAt >= revertUntil) throw new Error(`the release stopped at ${stoppedAt}, after the until of ${revert.id} (${revertUntil}): it may have reverted the switch itself; run again`);
  return { answers, times: { erasedAt, revertUntil, stoppedAt } };
}

/** JSON with one line per key, and per tenant under `answers` (diffs show what changed). */
function readableJson(m: Manifest): string {
  const entries = Object.entries(m).map(([k, v]) =>
    k === 'answers'
      ? `"answers": {\n${Object.entries(v as object).map(([t, a]) => `  ${JSON.stringify(t)}: ${JSON.stringify(a)}`).join(',\n')}\n }`
      : `${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  );
  return `{\n ${entries.join(',\n ')}\n}\n`;
}

async function main(): Promise<void> {
  const release = checkoutRelease(FIRST_RELEASE);
  const work = tempDir('consentry-make-fixture-');
  const data = join(work, 'data');
  const logDir = join(work, 'logs');
  mkdirSync(logDir, { recursive: true });
  log(`${FIRST_RELEASE} (${release.commit}) in ${release.dir}; logs in ${logDir}`);
  const broker = await startKafka({ onProgress: (l) => log(l) });
  const keys: Manifest['tenants'] = {};
  try {
    log('1/3 Kafka: the release collector, no sink');
    const { records, partitions } = await kafkaPhase(release, broker, data, logDir, keys);
    log(`${records.length} records recorded; 2/3 the release sink`);
    const oldSink = await probeOldSink(release, broker, logDir);
    log('3/3 embedded: the release collector on the same data');
    const { answers, times } = await embeddedPhase(release, data, logDir, keys);

    rmSync(join(data, 'insert-spool'), { recursive: true, force: true });
    execFileSync('tar', ['-czf', join(FIXTURE_DIR, 'data.tar.gz'), '--sort=name', '-C', work, 'data']);
    writeFileSync(join(FIXTURE_DIR, 'kafka-records.json'), `[\n${records.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
    const kafkaRecords: Record<string, number> = {};
    for (const r of records) kafkaRecords[r.topic] = (kafkaRecords[r.topic] ?? 0) + 1;
    const manifest: Manifest = {
      release: FIRST_RELEASE,
      commit: release.commit,
      generatedAt: new Date().toISOString(),
      node: process.version,
      tenants: keys,
      times,
      answers,
      dashboardWindow: DASHBOARD,
      kafkaRecords,
      kafkaPartitions: partitions,
      oldSink,
    };
    writeFileSync(join(FIXTURE_DIR, 'manifest.json'), readableJson(manifest));
    log(`written to ${FIXTURE_DIR}: data.tar.gz ${(statSync(join(FIXTURE_DIR, 'data.tar.gz')).size / 1024).toFixed(0)} KiB, ${records.length} Kafka records`);
    rmSync(work, { recursive: true, force: true });
  } finally {
    await broker.stop();
    release.remove();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`make-fixture failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
