// What a bench scenario runs against: a whole Consentry deployment on
// 127.0.0.1 with free ports and temp data, started here as real processes and
// measured from outside (/proc, /metrics, SQL), never from inside.
//
// - embedded: one collector process (`node --import tsx app/collector-main.ts`),
//   chdb inside it, the in-process transport.
// - kafka: a broker (scripts/kafka/broker.ts), a chdb HTTP server process
//   (app/chdb-server.ts) as CONSENTRY_CLICKHOUSE_URL, the
//   collector producing to Kafka, and the sink (`npm run sink`) consuming into
//   ClickHouse. Started only when those pieces exist (`kafkaAvailability`).
//
// Lag (ingest-to-queryable) needs a way to look for marker spans:
// - `sql-query-api`: POST /api/query with the tenant's query key, when the
//   collector has it (collector/api/query.ts);
// - `sql-clickhouse`: SQL straight to the ClickHouse server (Kafka mode);
// - `ack`: embedded without a query API: the marker's own 200. In embedded
//   mode a 200 is sent only after the ClickHouse insert holding the rows
//   returned, and MergeTree rows are visible to queries once the insert
//   returns, so the ack time is the time to durable and queryable, measured
//   without polling (no poll-interval error) but not observed through SQL.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Child, Processes } from './procs.ts';

export type DeploymentKind = 'embedded' | 'kafka';

export interface TenantKeys {
  id: string;
  tier: string;
  ingestKey: string;
  queryKey: string;
}

export type LagMethod = 'sql-query-api' | 'sql-clickhouse' | 'ack';

export interface LagProbe {
  method: LagMethod;
  /** What the figure measures, for the report. */
  description: string;
  /** Marker ids among `ids` whose rows a query sees now; only for the sql methods. */
  visible?(tenant: TenantKeys, ids: readonly string[]): Promise<Set<string>>;
}

/** SQL access to stored rows: marker lookups and per-tenant row counts. */
export interface SqlProbe extends LagProbe {
  visible(tenant: TenantKeys, ids: readonly string[]): Promise<Set<string>>;
  /**
   * What `tenant` has stored, seen through SQL: spans in otel_traces (rows), or
   * requests folded into request_summaries (sum(Requests): its row count
   * shrinks as background merges fold rows together).
   */
  count(tenant: TenantKeys, what: 'spans' | 'summarized'): Promise<number>;
}

/** How often marker rows are looked for, ms (the lag's resolution). */
export const POLL_MS = 200;

/**
 * Node flags of the service processes, as `npm start`, `npm run sink` and deploy/
 * run them: a 32 MB young generation halves scavenge time for the
 * per-request garbage of decoding (summary tier: main thread 71% -> 61% busy at
 * 60k spans/s, no RSS change; issue 7 note).
 */
const SERVICE_NODE_FLAGS = ['--max-semi-space-size=32'];
/** The compiled services, as `npm start`, `npm run sink` and `npm run chdb-server` run them (`npm run bench` builds first). */
const COLLECTOR_SCRIPT = 'dist/app/collector-main.js';
const SINK_SCRIPT = 'dist/app/sink-main.js';
const CHDB_SCRIPT = 'dist/app/chdb-server.js';
/** The environment `npm start` and `npm run sink` give the services (package.json). */
const SERVICE_ENV = { UV_THREADPOOL_SIZE: '16' };

export const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;

export interface Deployment {
  kind: DeploymentKind;
  otlpUrl: string;
  /** The collector's OTLP/gRPC endpoint, http://host:port. */
  otlpGrpcUrl: string;
  apiUrl: string;
  /** Processes to measure (CPU, RSS), collector first. */
  measured: Child[];
  createTenant(id: string, tier: string): Promise<TenantKeys>;
  /** Rows written so far per table (cumulative). */
  rowsStored(tenants: readonly TenantKeys[]): Promise<Record<string, number>>;
  /** How rowsStored counts, for the report. */
  rowsMethod: string;
  lag: LagProbe;
  /** SQL on stored rows, when the deployment has a way (query API or server). */
  sql?: SqlProbe;
  /** Waits until nothing is in flight (collector answered everything; Kafka: sink caught up), at most timeoutMs; returns whether it settled. */
  settle(timeoutMs: number): Promise<boolean>;
  /** Collector metrics, parsed. */
  metrics(): Promise<PromSamples>;
  stop(): Promise<void>;
}

export interface DeploymentOptions {
  procs: Processes;
  repoDir: string;
  /** Scratch folder of this deployment (data, logs). */
  workDir: string;
  /** Start the collector with `--cpu-prof --cpu-prof-dir=<dir>`. */
  cpuProfileDir?: string;
  /** CONSENTRY_* settings given with `--set`: override the deployment's for the collector and sink. */
  settings: Record<string, string>;
  /** Node.js flags given with `--node-flag`, after the services' own (`npm start`'s) for the collector and sink. */
  nodeFlags: string[];
  log: (line: string) => void;
}

/** Markers are visible through these tables in these tiers; others store nothing per request. */
export const MARKER_COLUMN: Readonly<Record<string, { table: string; column: string }>> = {
  full: { table: 'otel_traces', column: 'SpanName' },
  summary: { table: 'request_summaries', column: 'Model' },
};

// ---------------------------------------------------------------- Prometheus

/** Samples of a Prometheus text exposition: `name{labels}` -> value. */
export type PromSamples = Map<string, number>;

export function parseProm(text: string): PromSamples {
  const out: PromSamples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m !== null) out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
export function promSum(samples: PromSamples, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of samples) {
    if (!(key === name || key.startsWith(name + '{'))) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

// ---------------------------------------------------------------- helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits for `pattern` in a log file (the child writes its stdout there); fails early if the child exits. */
async function waitForLog(child: Child, file: string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const m = pattern.exec(text);
    if (m !== null) return m;
    if (exited) throw new Error(`${child.name} exited during start; last lines of ${file}:\n${tail(file)}`);
    if (Date.now() > deadline) throw new Error(`${child.name} did not start within ${timeoutMs} ms; last lines of ${file}:\n${tail(file)}`);
    await sleep(100);
  }
}

/** Reads /metrics of every process of a run (collector and sink), which needs a token. */
const METRICS_TOKEN = randomBytes(18).toString('base64url');

/** Environment for a Consentry process: ours, without CONSENTRY_* settings from the caller's shell. */
function consentryEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CONSENTRY_')) env[k] = v;
  return { ...env, CONSENTRY_METRICS_TOKEN: METRICS_TOKEN, ...extra };
}

interface Collector {
  child: Child;
  otlpUrl: string;
  otlpGrpcUrl: string;
  apiUrl: string;
  adminToken: string;
}

async function startCollector(o: DeploymentOptions, env: Record<string, string>): Promise<Collector> {
  const adminToken = randomBytes(18).toString('base64url');
  const logFile = join(o.workDir, 'collector.log');
  const child = o.procs.spawnNode({
    name: 'collector',
    script: COLLECTOR_SCRIPT,
    nodeFlags: [...SERVICE_NODE_FLAGS, ...o.nodeFlags, ...(o.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`])],
    cwd: o.repoDir,
    logFile,
    env: consentryEnv({
      ...SERVICE_ENV,
      CONSENTRY_HOST: '127.0.0.1',
      CONSENTRY_OTLP_PORT: '0',
      CONSENTRY_OTLP_GRPC_PORT: '0',
      CONSENTRY_API_PORT: '0',
      CONSENTRY_DATA_DIR: join(o.workDir, 'collector-data'),
      CONSENTRY_ADMIN_TOKEN: adminToken,
      CONSENTRY_LOG_LEVEL: 'warn',
      ...env,
      ...o.settings,
    }),
  });
  const m = await waitForLog(child, logFile, /OTLP\/HTTP\s+(http:\/\/\S+)\/v1\/traces[\s\S]*?OTLP\/gRPC\s+(http:\/\/\S+)[\s\S]*?management API\s+(http:\/\/\S+)\/api/, 90_000);
  return { child, otlpUrl: m[1]!, otlpGrpcUrl: m[2]!, apiUrl: m[3]!, adminToken };
}

async function createTenant(c: Collector, id: string, tier: string): Promise<TenantKeys> {
  const res = await fetch(`${c.apiUrl}/api/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, tier }),
  });
  const body = (await res.json()) as { ingestKey?: string; queryKey?: string; message?: string };
  if (res.status !== 201 || body.ingestKey === undefined || body.queryKey === undefined) {
    throw new Error(`creating tenant ${id} (${tier}): ${res.status} ${JSON.stringify(body)}`);
  }
  return { id, tier, ingestKey: body.ingestKey, queryKey: body.queryKey };
}

async function scrape(url: string): Promise<PromSamples> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return parseProm(await res.text());
}

const sqlList = (ids: readonly string[], prefix: string): string => ids.map((id) => `'${prefix}${id.replace(/[^0-9a-z]/g, '')}'`).join(',');

/** The first cell of each row of a query API answer (`{columns, rows}`; rows as arrays or objects). */
function firstCells(body: unknown): string[] {
  const rows = (body as { rows?: unknown[] } | null)?.rows ?? (body as { data?: unknown[] } | null)?.data ?? [];
  return rows.map((r) => String(Array.isArray(r) ? r[0] : typeof r === 'object' && r !== null ? Object.values(r)[0] : r));
}

/** POST /api/query, when the collector has it: a probe that answers 404 means it does not. */
async function queryApiProbe(apiUrl: string, tenant: TenantKeys, markerPrefix: string): Promise<SqlProbe | undefined> {
  const post = async (t: TenantKeys, sql: string): Promise<string[]> => {
    const res = await fetch(`${apiUrl}/api/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.queryKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql }),
    });
    if (res.status !== 200) throw new Error(`POST /api/query: ${res.status} ${(await res.text()).slice(0, 300)}`);
    return firstCells(await res.json());
  };
  const probe = await fetch(`${apiUrl}/api/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.queryKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql: 'SELECT count() FROM otel_traces' }),
  }).catch(() => undefined);
  if (probe === undefined) return undefined;
  await probe.text();
  if (probe.status !== 200) return undefined;
  return {
    method: 'sql-query-api',
    description: `marker span sent -> its row seen by SQL through POST /api/query with the tenant's query key (polled every ${POLL_MS} ms)`,
    async visible(t, ids) {
      const where = MARKER_COLUMN[t.tier];
      if (where === undefined || ids.length === 0) return new Set();
      const names = await post(t, `SELECT DISTINCT ${where.column} FROM ${where.table} WHERE ${where.column} IN (${sqlList(ids, markerPrefix)})`);
      return new Set(names.map((name) => name.slice(markerPrefix.length)));
    },
    async count(t, what) {
      const sql = what === 'spans' ? 'SELECT count() FROM otel_traces' : 'SELECT sum(Requests) FROM request_summaries';
      return Number((await post(t, sql))[0] ?? 0);
    },
  };
}

// ---------------------------------------------------------------- embedded

export async function startEmbedded(o: DeploymentOptions, markerPrefix: string): Promise<Deployment> {
  mkdirSync(o.workDir, { recursive: true });
  const c = await startCollector(o, {});
  const ack: LagProbe = {
    method: 'ack',
    description:
      'marker batch due -> its 200 (embedded acks only after the ClickHouse insert returned, when rows are queryable); no SQL query API in this build (POST /api/query answered 404)',
  };
  let probed = false;
  // `lag` becomes the query API once a tenant exists and POST /api/query answers.
  const d: Deployment = {
    kind: 'embedded',
    otlpUrl: c.otlpUrl,
    otlpGrpcUrl: c.otlpGrpcUrl,
    apiUrl: c.apiUrl,
    measured: [c.child],
    async createTenant(id, tier) {
      const t = await createTenant(c, id, tier);
      if (!probed) {
        probed = true;
        const viaApi = await queryApiProbe(c.apiUrl, t, markerPrefix);
        if (viaApi !== undefined) d.lag = d.sql = viaApi;
      }
      return t;
    },
    rowsMethod: 'collector /metrics: sum of consentry_insert_rows per table (rows handed to ClickHouse inserts)',
    async rowsStored() {
      const s = await scrape(`${c.apiUrl}/metrics`);
      const out: Record<string, number> = {};
      for (const table of TABLES) out[table] = promSum(s, 'consentry_insert_rows_sum', { table });
      out['failed_inserts'] = promSum(s, 'consentry_insert_duration_seconds_count', { outcome: 'error' });
      return out;
    },
    lag: ack,
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const s = await scrape(`${c.apiUrl}/metrics`).catch(() => undefined);
        if (s !== undefined && promSum(s, 'consentry_inflight_bytes') === 0) return true;
        await sleep(100);
      }
      return false;
    },
    metrics: () => scrape(`${c.apiUrl}/metrics`),
    async stop() {
      await c.child.stop(60_000);
    },
  };
  return d;
}

// ---------------------------------------------------------------- kafka

/** Whether this checkout has everything Kafka mode needs (the compiled services, the broker script); otherwise why not. */
export function kafkaAvailability(repoDir: string): { ok: true; sinkScript: string } | { ok: false; reason: string } {
  const missing = [SINK_SCRIPT, CHDB_SCRIPT, 'scripts/kafka/broker.ts'].filter((f) => !existsSync(join(repoDir, f)));
  return missing.length === 0 ? { ok: true, sinkScript: SINK_SCRIPT } : { ok: false, reason: `not available: missing ${missing.join(', ')} (run \`npm run build\`)` };
}

export async function startKafkaDeployment(o: DeploymentOptions, markerPrefix: string, sinkScript: string): Promise<Deployment> {
  mkdirSync(o.workDir, { recursive: true });
  const { startKafka } = await import('../scripts/kafka/broker.ts');
  const broker = await startKafka({ dataDir: join(o.workDir, 'kafka'), onProgress: () => undefined });
  const brokerChild = o.procs.adopt('kafka', broker.pid, broker.exited, () => broker.stop({ timeoutMs: 20_000 }));

  // The ClickHouse server that the collector (migrations, tenants, tiers, queries) and the sink share.
  const chLog = join(o.workDir, 'chdb-server.log');
  const chdb = o.procs.spawnNode({
    name: 'clickhouse',
    script: CHDB_SCRIPT,
    args: ['--data-dir', join(o.workDir, 'chdb-data'), '--port', '0', '--host', '127.0.0.1'],
    cwd: o.repoDir,
    logFile: chLog,
    env: consentryEnv({}),
  });
  const clickhouseUrl = (await waitForLog(chdb, chLog, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1]!;
  const shared = {
    CONSENTRY_KAFKA_BROKERS: broker.brokers,
    CONSENTRY_CLICKHOUSE_URL: clickhouseUrl,
    CONSENTRY_KAFKA_TOPIC_PREFIX: 'bench.',
    CONSENTRY_SINK_GROUP: 'bench-sink',
    CONSENTRY_HMAC_KEY: randomBytes(32).toString('base64'),
  };
  const c = await startCollector(o, shared);
  const sinkLog = join(o.workDir, 'sink.log');
  const sink = o.procs.spawnNode({
    name: 'sink',
    script: sinkScript,
    nodeFlags: [...SERVICE_NODE_FLAGS, ...o.nodeFlags],
    cwd: o.repoDir,
    logFile: sinkLog,
    env: consentryEnv({ ...SERVICE_ENV, ...shared, CONSENTRY_HOST: '127.0.0.1', CONSENTRY_SINK_PORT: '0', CONSENTRY_DATA_DIR: join(o.workDir, 'sink-data'), CONSENTRY_LOG_LEVEL: 'warn', ...o.settings }),
  });
  const sinkUrl = (await waitForLog(sink, sinkLog, /sink is running[\s\S]*?(http:\/\/127\.0\.0\.1:\d+)\/healthz/, 90_000))[1]!;

  const ch: ClickHouseClient = createClient({ url: clickhouseUrl, request_timeout: 60_000 });
  const sql: SqlProbe = {
    method: 'sql-clickhouse',
    description: `marker span sent -> its row seen by SQL on the ClickHouse server (polled every ${POLL_MS} ms)`,
    async visible(t, ids) {
      const where = MARKER_COLUMN[t.tier];
      if (where === undefined || ids.length === 0) return new Set();
      const res = await ch.query({
        query: `SELECT DISTINCT ${where.column} AS v FROM consentry.${where.table} WHERE TenantId = '${t.id.replace(/[^\w-]/g, '')}' AND ${where.column} IN (${sqlList(ids, markerPrefix)})`,
        format: 'JSONEachRow',
      });
      return new Set((await res.json<{ v: string }>()).map((r) => r.v.slice(markerPrefix.length)));
    },
    async count(t, what) {
      const expr = what === 'spans' ? 'count() FROM consentry.otel_traces' : 'sum(Requests) FROM consentry.request_summaries';
      const res = await ch.query({ query: `SELECT ${expr.replace(' FROM', ' AS n FROM')} WHERE TenantId = '${t.id.replace(/[^\w-]/g, '')}'`, format: 'JSONEachRow' });
      return Number((await res.json<{ n: string | number }>())[0]?.n ?? 0);
    },
  };
  const sinkMetrics = (): Promise<PromSamples> => scrape(`${sinkUrl}/metrics`);
  const d: Deployment = {
    kind: 'kafka',
    otlpUrl: c.otlpUrl,
    otlpGrpcUrl: c.otlpGrpcUrl,
    apiUrl: c.apiUrl,
    measured: [c.child, sink, chdb, brokerChild],
    createTenant: (id, tier) => createTenant(c, id, tier),
    rowsMethod: 'sink /metrics: consentry_sink_rows_inserted_total per table (rows in inserts that returned)',
    async rowsStored() {
      const s = await sinkMetrics();
      const out: Record<string, number> = {};
      for (const table of TABLES) out[table] = promSum(s, 'consentry_sink_rows_inserted_total', { table });
      out['failed_inserts'] = promSum(s, 'consentry_sink_insert_retries_total');
      return out;
    },
    lag: sql,
    sql,
    async settle(timeoutMs) {
      // The collector answered everything, then the sink caught up: no lag, nothing buffered, rows stable.
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const s = await scrape(`${c.apiUrl}/metrics`).catch(() => undefined);
        if (s !== undefined && promSum(s, 'consentry_inflight_bytes') === 0) break;
        await sleep(100);
      }
      let last = -1;
      while (Date.now() < deadline) {
        const s = await sinkMetrics().catch(() => undefined);
        if (s !== undefined) {
          const rows = promSum(s, 'consentry_sink_rows_inserted_total');
          if (promSum(s, 'consentry_sink_lag_messages') === 0 && promSum(s, 'consentry_sink_buffered_bytes') === 0 && rows === last) return true;
          last = rows;
        }
        await sleep(500);
      }
      return false;
    },
    metrics: () => scrape(`${c.apiUrl}/metrics`),
    async stop() {
      await c.child.stop(60_000);
      await sink.stop(60_000);
      await ch.close().catch(() => undefined);
      await chdb.stop(30_000);
      await brokerChild.stop();
    },
  };
  return d;
}
