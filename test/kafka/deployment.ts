// A Kafka-mode deployment for one test file: a real broker
// (scripts/kafka/broker.ts), the chdb HTTP server as ClickHouse, and helpers to
// start collectors and sinks as child processes against them, to send OTLP
// and to read ClickHouse. Each test file has its own broker, topic prefix and
// data, so files stay independent; everything stops in stop().
import { rmSync } from 'node:fs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { startKafka, type KafkaBroker } from '../../scripts/kafka/broker.ts';
import { topicNames, type Topics } from '../../sinks/kafka/config.ts';
import {
  api,
  kafkaEnv,
  startChdbServerProcess,
  startCollectorProcess,
  startSinkProcess,
  tempDir,
  type Proc,
} from './processes.ts';

export interface Deployment {
  broker: KafkaBroker;
  chdb: Proc & { url: string; port: number };
  clickhouse: ClickHouseClient;
  kafka: Kafka;
  admin: Admin;
  prefix: string;
  topics: Topics;
  env: Record<string, string>;
  logDir: string;
  collector(extra?: Record<string, string>): Promise<Proc & { otlpUrl: string; apiUrl: string }>;
  sink(extra?: Record<string, string>): Promise<Proc & { url: string }>;
  /** Restarts the chdb server on the same data and port. */
  restartChdb(): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Sum over the data topics' partitions: [committed by the sink group, end offsets]. */
  offsets(): Promise<{ committed: number; end: number }>;
  stop(): Promise<void>;
}

export async function startDeployment(opts: { prefix: string; env?: Record<string, string> }): Promise<Deployment> {
  const logDir = tempDir(`consentry-${opts.prefix}logs-`);
  const chdbDir = tempDir(`consentry-${opts.prefix}chdb-`);
  const dataRoot = tempDir(`consentry-${opts.prefix}data-`);
  const procs: Proc[] = [];
  let broker = await startKafka({ onProgress: () => undefined });
  let chdb = await startChdbServerProcess({ dataDir: chdbDir, logDir });
  const clickhouse = createClient({ url: chdb.url, request_timeout: 60_000 });
  const kafka = new Kafka({ clientId: `${opts.prefix}test`, brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 } });
  const admin = kafka.admin();
  await admin.connect();
  const env = kafkaEnv({ brokers: broker.brokers, clickhouseUrl: chdb.url, prefix: opts.prefix, extra: opts.env });
  const topics = topicNames(opts.prefix);
  let n = 0;
  const d: Deployment = {
    get broker() {
      return broker;
    },
    set broker(b: KafkaBroker) {
      broker = b;
    },
    get chdb() {
      return chdb;
    },
    clickhouse,
    kafka,
    admin,
    prefix: opts.prefix,
    topics,
    env,
    logDir,
    async collector(extra = {}) {
      const p = await startCollectorProcess({ env: { ...env, ...extra }, dataDir: `${dataRoot}/collector-${n++}`, logDir });
      procs.push(p);
      return p;
    },
    async sink(extra = {}) {
      const p = await startSinkProcess({ env: { ...env, ...extra }, dataDir: `${dataRoot}/sink-${n++}`, logDir });
      procs.push(p);
      return p;
    },
    async restartChdb() {
      chdb = await startChdbServerProcess({ dataDir: chdbDir, logDir, port: chdb.port });
      procs.push(chdb);
    },
    async rows<T>(sql: string) {
      const res = await clickhouse.query({ query: sql, format: 'JSONEachRow' });
      return res.json<T>();
    },
    async offsets() {
      let committed = 0;
      let end = 0;
      for (const topic of [topics.spans, topics.logs]) {
        for (const p of await admin.fetchTopicOffsets(topic)) end += Number(p.high);
        const [group] = await admin.fetchOffsets({ groupId: env['CONSENTRY_SINK_GROUP']!, topics: [topic] });
        for (const p of group?.partitions ?? []) committed += Math.max(0, Number(p.offset));
      }
      return { committed, end };
    },
    async stop() {
      await Promise.all(procs.map((p) => p.stop(20_000).catch(() => undefined)));
      await admin.disconnect().catch(() => undefined);
      await clickhouse.close().catch(() => undefined);
      await chdb.stop().catch(() => undefined);
      await broker.stop().catch(() => undefined);
      for (const dir of [chdbDir, dataRoot]) rmSync(dir, { recursive: true, force: true });
      if (process.env['KEEP_KAFKA_TEST_LOGS'] === undefined) rmSync(logDir, { recursive: true, force: true });
    },
  };
  procs.push(chdb);
  return d;
}

/** Creates a tenant through a collector's API; returns its ingest key. */
export async function createTenant(apiUrl: string, id: string, tier: string): Promise<string> {
  const r = await api(apiUrl, 'POST', '/api/tenants', { id, tier });
  if (r.status !== 201) throw new Error(`creating tenant ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.ingestKey as string;
}

/** OTLP/JSON spans with ids derived from `seq` (unique per test run), as a request body. */
export function spansBody(opts: { from: number; count: number; tag: string; bodies?: boolean }): string {
  const spans: string[] = [];
  for (let i = opts.from; i < opts.from + opts.count; i++) {
    const id = (i + 1).toString(16).padStart(16, '0'); // never all zeros: an invalid id
    const attrs = [
      `{"key":"http.route","value":{"stringValue":"/v1/chat/completions"}}`,
      `{"key":"http.response.status_code","value":{"intValue":"200"}}`,
      `{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o-mini"}}`,
      `{"key":"test.tag","value":{"stringValue":"${opts.tag}"}}`,
    ];
    if (opts.bodies === true) {
      attrs.push(`{"key":"gateway.request.body","value":{"stringValue":"{\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"hello ${i}\\"}]}"}}`);
      attrs.push(`{"key":"gateway.response.body","value":{"stringValue":"{\\"choices\\":[{\\"text\\":\\"hi ${i}\\"}]}"}}`);
    }
    spans.push(
      `{"traceId":"${id}${id}","spanId":"${id}","name":"POST /v1/chat/completions","kind":2,"startTimeUnixNano":"${1_700_000_000_000_000_000n + BigInt(i) * 1000n + 7n}","endTimeUnixNano":"${1_700_000_000_250_000_000n + BigInt(i) * 1000n}","attributes":[${attrs.join(',')}]}`,
    );
  }
  return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gw-${opts.tag}"}}]},"scopeSpans":[{"scope":{"name":"test"},"spans":[${spans.join(',')}]}]}]}`;
}

/** OTLP/JSON logs, each with a body and a request-body attribute (kept in full, removed in minimal). */
export function logsBody(opts: { from: number; count: number; tag: string }): string {
  const logs: string[] = [];
  for (let i = opts.from; i < opts.from + opts.count; i++) {
    logs.push(
      `{"timeUnixNano":"${1_700_000_000_000_000_000n + BigInt(i)}","severityNumber":13,"severityText":"WARN","body":{"stringValue":"upstream slow ${i}"},"attributes":[{"key":"gateway.request.body","value":{"stringValue":"{\\"prompt\\":\\"secret plans ${i}\\"}"}},{"key":"log.seq","value":{"intValue":"${i}"}}]}`,
    );
  }
  return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gw-${opts.tag}"}}]},"scopeLogs":[{"scope":{"name":"test"},"logRecords":[${logs.join(',')}]}]}]}`;
}

/** POSTs an OTLP/JSON body; returns status and the time it took. */
export async function post(url: string, key: string, body: string): Promise<{ status: number; ms: number; retryAfter: string | null }> {
  const t = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t, retryAfter: res.headers.get('retry-after') };
  } catch {
    return { status: 0, ms: performance.now() - t, retryAfter: null };
  }
}

/** POSTs until 200, retrying 429/503/network errors (bounded). */
export async function postUntilOk(url: string, key: string, body: string, deadlineMs = 60_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const r = await post(url, key, body);
    if (r.status === 200) return;
    if (r.status !== 503 && r.status !== 429 && r.status !== 0) throw new Error(`OTLP request answered ${r.status}`);
    if (Date.now() > end) throw new Error(`OTLP request not accepted within ${deadlineMs} ms (last ${r.status})`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
