// Settings come from the environment. One table gives each setting its type,
// default, validation and documentation; every error is reported at once with
// the variable's name, and nothing starts until all of them are valid.
import { availableParallelism } from 'node:os';

export interface Settings {
  /** Interface both servers bind to. */
  host: string;
  /** OTLP/HTTP receiver port. */
  otlpPort: number;
  /** OTLP/gRPC receiver port; undefined: no gRPC receiver (`off`). */
  otlpGrpcPort: number | undefined;
  /** Management API port (never the ingest port). */
  apiPort: number;
  /** Embedded ClickHouse data, generated secrets. */
  dataDir: string;
  /** Admin token; empty means generated at first start into `<dataDir>/admin-token`. */
  adminToken: string;
  /** Bearer token that reads /metrics only (Prometheus), besides the admin token; empty: the admin token only. */
  metricsToken: string;
  /** Longest time a client may take to send a request's headers, on every port, ms. */
  httpHeadersTimeoutMs: number;
  /** Longest time a client may take to send a whole request, headers and body, on every port, ms. */
  httpRequestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests, on every port, ms. */
  httpIdleTimeoutMs: number;
  /** ClickHouse HTTP URL; empty means embedded chdb under `<dataDir>/clickhouse`. */
  clickhouseUrl: string;
  /** ClickHouse HTTP URL of the read-only user tenant queries run as; empty: clickhouseUrl's user. */
  clickhouseQueryUrl: string;
  /** Comma-separated Kafka brokers; empty means the in-process transport. */
  kafkaBrokers: string[];
  /** Prepended to every Kafka topic name (`<prefix>consentry.spans.v3`); empty: none. */
  kafkaTopicPrefix: string;
  /** Partitions of the data topics when Consentry creates them. */
  kafkaPartitions: number;
  /** Replication factor of the topics Consentry creates; 0 means the broker's default.replication.factor. */
  kafkaReplicationFactor: number;
  /** How long the data topics keep records, hours. */
  kafkaRetentionHours: number;
  /** Longest wait for the broker to acknowledge a request's records before answering 503, milliseconds. */
  kafkaSendTimeoutMs: number;
  /** Encoded bytes waiting for the broker, summed over requests; above it new requests get 503 at once. */
  kafkaMaxPendingBytes: number;
  /** Producer compression: gzip or none. */
  kafkaCompression: string;
  /** Consumer group of the sink processes. */
  sinkGroup: string;
  /** Sink health and metrics port (`/healthz`, `/readyz`, `/metrics`). */
  sinkPort: number;
  /** Kafka message bytes a sink gathers per partition before it inserts. */
  sinkMaxBytes: number;
  /** Longest time a sink holds a record before inserting, milliseconds. */
  sinkMaxDelayMs: number;
  /** Kafka consumer session timeout of the sink: a crashed sink's partitions move after this long, milliseconds. */
  sinkSessionTimeoutMs: number;
  /** Base64 key (32 bytes or more) for API-key HMACs, shared by every instance; empty: generated into `<dataDir>/hmac-key`. */
  hmacKey: string;
  /** Largest request body as received (compressed), bytes. */
  maxBodyBytes: number;
  /** Largest request body after decompression, bytes. */
  maxDecompressedBytes: number;
  /** Decompressed bytes of requests not yet answered, summed over all requests; past it the receiver answers 429. */
  maxInflightBytes: number;
  /** Worker threads that decode and apply tiers; 0: the main thread does. */
  ingestWorkers: number;
  /** Event-loop delay above which new OTLP requests get 429, ms. */
  maxEventLoopDelayMs: number;
  /** Rows that start a ClickHouse insert without waiting for the delay. */
  batchMaxRows: number;
  /** How long a row waits for its batch to fill before the insert goes anyway, milliseconds. */
  batchMaxDelayMs: number;
  /** Tenant SQL queries (POST /api/query) running at once per tenant (held below queryConcurrencyTotal). */
  queryConcurrency: number;
  /** Tenant SQL queries running at once, all tenants together. */
  queryConcurrencyTotal: number;
  /** Longest a tenant query may run, seconds (engine-enforced). */
  queryTimeoutSeconds: number;
  /** Most rows in a tenant query's result. */
  queryMaxResultRows: number;
  /** Most memory one tenant query may use, bytes (engine-enforced). */
  queryMaxMemoryBytes: number;
  /** Engine threads one tenant query may use. */
  queryMaxThreads: number;
  /** Tier of tenants created without one. */
  defaultTier: string;
  /** Price table of LLM calls (YAML); empty: the shipped processors/cost/prices.yaml. */
  pricesFile: string;
  /** How long after an erasure later-arriving spans and logs of the subject's traces are dropped, hours. */
  erasureTraceHours: number;
  /** Erased traces each writing process holds in memory, at most. */
  erasureMaxTraces: number;
  /** Longest wait of a downgrade (PUT /api/tenants/:id/tier) for data received under the old tier to be written or reduced, ms. */
  tierSwitchTimeoutMs: number;
  /** Folder of extra tier YAML files; empty means only the built-in tiers and presets. */
  tiersDir: string;
  /** YAML file of extra secret rules and header/key names for the scrubber; empty: the built-in ones only. */
  secretRulesFile: string;
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  logLevel: string;
}

interface SettingSpec<K extends keyof Settings> {
  key: K;
  env: string;
  default: string;
  parse: (raw: string) => Settings[K] | Error;
  doc: string;
}

const port = (raw: string): number | Error => {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : new Error(`must be a port number 0-65535, got "${raw}"`);
};
const positiveInt = (raw: string): number | Error => {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : new Error(`must be a positive integer, got "${raw}"`);
};
const nonNegativeInt = (raw: string): number | Error => {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : new Error(`must be a non-negative integer, got "${raw}"`);
};
const text = (raw: string): string => raw;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// Exported so that the README's configuration table can be checked against it.
export const SETTINGS: { [K in keyof Settings]: SettingSpec<K> }[keyof Settings][] = [
  { key: 'host', env: 'CONSENTRY_HOST', default: '127.0.0.1', parse: text, doc: 'interface both servers bind to' },
  { key: 'otlpPort', env: 'CONSENTRY_OTLP_PORT', default: '4318', parse: port, doc: 'OTLP/HTTP port (`/v1/traces`, `/v1/logs`); 0 picks a free port' },
  { key: 'otlpGrpcPort', env: 'CONSENTRY_OTLP_GRPC_PORT', default: '4317', parse: (raw) => (raw === 'off' ? undefined : port(raw)), doc: 'OTLP/gRPC port (`TraceService/Export`, `LogsService/Export`); 0 picks a free port; `off`: no gRPC receiver' },
  { key: 'apiPort', env: 'CONSENTRY_API_PORT', default: '8080', parse: port, doc: 'management API port (`/api`, `/healthz`, `/readyz`, `/metrics`); 0 picks a free port' },
  { key: 'dataDir', env: 'CONSENTRY_DATA_DIR', default: './data', parse: text, doc: 'embedded ClickHouse data and generated secrets' },
  { key: 'adminToken', env: 'CONSENTRY_ADMIN_TOKEN', default: '', parse: text, doc: 'admin token; unset: generated at first start into `<data>/admin-token`' },
  { key: 'metricsToken', env: 'CONSENTRY_METRICS_TOKEN', default: '', parse: text, doc: 'bearer token that reads `/metrics` only (for Prometheus), on the API and sink ports; unset: `/metrics` takes the admin token only' },
  { key: 'httpHeadersTimeoutMs', env: 'CONSENTRY_HTTP_HEADERS_TIMEOUT_MS', default: '10000', parse: positiveInt, doc: 'longest time a client may take to send the headers of a request, on every port, ms (then 408 and the connection is closed)' },
  { key: 'httpRequestTimeoutMs', env: 'CONSENTRY_HTTP_REQUEST_TIMEOUT_MS', default: '30000', parse: positiveInt, doc: 'longest time a client may take to send a whole request, headers and body, on every port, ms (then 408 and the connection is closed); waiting for the answer does not count' },
  { key: 'httpIdleTimeoutMs', env: 'CONSENTRY_HTTP_IDLE_TIMEOUT_MS', default: '65000', parse: positiveInt, doc: 'how long an idle keep-alive connection stays open between requests, on every port, ms' },
  { key: 'clickhouseUrl', env: 'CONSENTRY_CLICKHOUSE_URL', default: '', parse: (raw) => validUrl(raw), doc: 'ClickHouse server over HTTP, e.g. `http://default:@127.0.0.1:8123`; unset: embedded chdb' },
  { key: 'clickhouseQueryUrl', env: 'CONSENTRY_CLICKHOUSE_QUERY_URL', default: '', parse: (raw) => validUrl(raw), doc: 'ClickHouse server URL of the read-only user that tenant SQL queries run as, under row policies on TenantId (deploy/README.md, "Tenant queries"); unset: the user of `CONSENTRY_CLICKHOUSE_URL`' },
  { key: 'kafkaBrokers', env: 'CONSENTRY_KAFKA_BROKERS', default: '', parse: (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean), doc: 'comma-separated brokers; unset: in-process transport' },
  { key: 'kafkaTopicPrefix', env: 'CONSENTRY_KAFKA_TOPIC_PREFIX', default: '', parse: (raw) => (/^[\w.-]*$/.test(raw) ? raw : new Error(`must be letters, digits, '.', '_' or '-', got "${raw}"`)), doc: 'prefix of every Kafka topic name (`<prefix>consentry.spans.v3`); unset: none' },
  { key: 'kafkaPartitions', env: 'CONSENTRY_KAFKA_PARTITIONS', default: '6', parse: positiveInt, doc: 'partitions of the data topics when Consentry creates them (the most sink processes that share the work)' },
  { key: 'kafkaReplicationFactor', env: 'CONSENTRY_KAFKA_REPLICATION_FACTOR', default: '0', parse: nonNegativeInt, doc: "replication factor of the topics Consentry creates; 0: the broker's default.replication.factor" },
  { key: 'kafkaRetentionHours', env: 'CONSENTRY_KAFKA_RETENTION_HOURS', default: '24', parse: positiveInt, doc: 'how long the data topics keep records, hours (how long a sink outage can last without loss)' },
  { key: 'kafkaSendTimeoutMs', env: 'CONSENTRY_KAFKA_SEND_TIMEOUT_MS', default: '5000', parse: positiveInt, doc: 'longest wait for the broker to acknowledge a request before answering 503 + Retry-After, ms' },
  { key: 'kafkaMaxPendingBytes', env: 'CONSENTRY_KAFKA_MAX_PENDING_BYTES', default: String(64 << 20), parse: positiveInt, doc: 'encoded bytes waiting for the broker; above it new requests get 503 at once (bounded memory while the broker is slow or down)' },
  { key: 'kafkaCompression', env: 'CONSENTRY_KAFKA_COMPRESSION', default: 'gzip', parse: (raw) => (['gzip', 'none'].includes(raw) ? raw : new Error(`must be gzip or none, got "${raw}"`)), doc: 'producer compression: gzip or none' },
  { key: 'sinkGroup', env: 'CONSENTRY_SINK_GROUP', default: 'consentry-sink', parse: (raw) => (/^[\w.-]+$/.test(raw) ? raw : new Error(`must be letters, digits, '.', '_' or '-', got "${raw}"`)), doc: 'Kafka consumer group of the sink processes (`npm run sink`)' },
  { key: 'sinkPort', env: 'CONSENTRY_SINK_PORT', default: '8081', parse: port, doc: 'sink health and metrics port (`/healthz`, `/readyz`, `/metrics`); 0 picks a free port' },
  { key: 'sinkMaxBytes', env: 'CONSENTRY_SINK_MAX_BYTES', default: String(16 << 20), parse: positiveInt, doc: 'Kafka message bytes a sink gathers per partition before it inserts (rows: CONSENTRY_BATCH_MAX_ROWS)' },
  { key: 'sinkMaxDelayMs', env: 'CONSENTRY_SINK_MAX_DELAY_MS', default: '400', parse: positiveInt, doc: 'longest time a sink holds a record before inserting, ms' },
  { key: 'sinkSessionTimeoutMs', env: 'CONSENTRY_SINK_SESSION_TIMEOUT_MS', default: '30000', parse: (raw) => { const n = positiveInt(raw); return typeof n === 'number' && n < 6000 ? new Error(`must be at least 6000 (the broker's group.min.session.timeout.ms), got "${raw}"`) : n; }, doc: "sink's Kafka session timeout: a crashed sink's partitions move to the others after this long, ms" },
  { key: 'hmacKey', env: 'CONSENTRY_HMAC_KEY', default: '', parse: (raw) => (raw === '' || Buffer.from(raw, 'base64').length >= 32 ? raw : new Error('must be base64 of at least 32 bytes, e.g. `openssl rand -base64 32`')), doc: 'base64 key (32 bytes or more) for API-key HMACs; set the same one on every instance; unset: generated into `<data>/hmac-key`' },
  { key: 'maxBodyBytes', env: 'CONSENTRY_MAX_BODY_BYTES', default: String(8 << 20), parse: positiveInt, doc: 'largest OTLP body as received, bytes (413 above)' },
  { key: 'maxDecompressedBytes', env: 'CONSENTRY_MAX_DECOMPRESSED_BYTES', default: String(32 << 20), parse: positiveInt, doc: 'largest OTLP body after gzip decompression, bytes (413 above)' },
  { key: 'maxInflightBytes', env: 'CONSENTRY_MAX_INFLIGHT_BYTES', default: String(128 << 20), parse: positiveInt, doc: 'decompressed bytes of unanswered OTLP requests; above it new requests get 429 + Retry-After' },
  { key: 'maxEventLoopDelayMs', env: 'CONSENTRY_MAX_EVENT_LOOP_DELAY_MS', default: '500', parse: positiveInt, doc: 'event-loop delay above which new OTLP requests get 429 + Retry-After, ms (the collector is behind)' },
  { key: 'ingestWorkers', env: 'CONSENTRY_INGEST_WORKERS', default: 'auto', parse: (raw) => (raw === 'auto' ? Math.min(availableParallelism(), 4) : nonNegativeInt(raw)), doc: 'worker threads that decode OTLP, apply tiers and encode rows beside the event loop (about 60 MB each); `auto`: one per CPU, at most 4; 0: all on the main thread' },
  { key: 'batchMaxRows', env: 'CONSENTRY_BATCH_MAX_ROWS', default: '20000', parse: positiveInt, doc: 'rows that start a ClickHouse insert without waiting for the delay (an insert never splits a request)' },
  { key: 'batchMaxDelayMs', env: 'CONSENTRY_BATCH_MAX_DELAY_MS', default: '200', parse: positiveInt, doc: 'longest wait for a batch to fill before it is inserted, ms' },
  { key: 'queryConcurrency', env: 'CONSENTRY_QUERY_CONCURRENCY', default: '2', parse: positiveInt, doc: 'tenant SQL queries (POST /api/query) running at once per tenant, held below the total (one tenant never takes every slot); more are answered 429 QUERY_BUSY with Retry-After' },
  { key: 'queryConcurrencyTotal', env: 'CONSENTRY_QUERY_CONCURRENCY_TOTAL', default: 'auto', parse: (raw) => (raw === 'auto' ? defaultQueryTotal() : positiveInt(raw)), doc: "tenant SQL queries running at once, all tenants together; `auto`: libuv's thread pool (`UV_THREADPOOL_SIZE`: 16 with `npm start` and the image, Node's default 4 otherwise) less 2 kept for ingest, at most 4" },
  { key: 'queryTimeoutSeconds', env: 'CONSENTRY_QUERY_TIMEOUT_SECONDS', default: '30', parse: positiveInt, doc: 'longest a tenant SQL query may run, seconds (enforced by ClickHouse; 422 QUERY_LIMIT above)' },
  { key: 'queryMaxResultRows', env: 'CONSENTRY_QUERY_MAX_RESULT_ROWS', default: '100000', parse: positiveInt, doc: "most rows in a tenant query's result (422 QUERY_LIMIT above)" },
  { key: 'queryMaxMemoryBytes', env: 'CONSENTRY_QUERY_MAX_MEMORY_BYTES', default: String(1 << 30), parse: positiveInt, doc: 'most memory one tenant query may use, bytes (enforced by ClickHouse; 422 QUERY_LIMIT above)' },
  { key: 'queryMaxThreads', env: 'CONSENTRY_QUERY_MAX_THREADS', default: '1', parse: positiveInt, doc: "ClickHouse threads one tenant query may use (`max_threads`); 1 leaves the other cores to ingest and other tenants' queries" },
  { key: 'defaultTier', env: 'CONSENTRY_DEFAULT_TIER', default: 'minimal', parse: text, doc: 'tier of a tenant created without one (the most private by default)' },
  { key: 'pricesFile', env: 'CONSENTRY_PRICES_FILE', default: '', parse: text, doc: 'price table of LLM calls (YAML, the format of `processors/cost/prices.yaml`), which replaces the shipped one; validated at start (file and line of each problem); unset: the shipped table' },
  { key: 'erasureTraceHours', env: 'CONSENTRY_ERASURE_TRACE_HOURS', default: '24', parse: positiveInt, doc: "how long after an erasure later-arriving spans and logs of the subject's traces are dropped, hours (with Kafka: at least CONSENTRY_KAFKA_RETENTION_HOURS)" },
  { key: 'erasureMaxTraces', env: 'CONSENTRY_ERASURE_MAX_TRACES', default: '250000', parse: positiveInt, doc: 'erased traces each writer (embedded collector, sink) holds in memory to drop their later spans, about 95 bytes each; past it more are not held (logged), and a later erasure of the subject removes what they let through' },
  { key: 'tierSwitchTimeoutMs', env: 'CONSENTRY_TIER_SWITCH_TIMEOUT_MS', default: '10000', parse: positiveInt, doc: 'longest wait of a downgrade for data received under the old tier to be written or reduced (with Kafka: for every sink to confirm), ms; then 503 TIER_SWITCH_PENDING' },
  { key: 'tiersDir', env: 'CONSENTRY_TIERS_DIR', default: '', parse: text, doc: 'folder of extra tier YAML files; unset: built-in tiers and presets only' },
  { key: 'secretRulesFile', env: 'CONSENTRY_SECRET_RULES_FILE', default: '', parse: text, doc: 'YAML file of your own secret formats (`extraRules`) and header and key names (`extraHeaderNames`, `extraKeyNames`) that the scrubber redacts besides the built-in ones, in every tier and in the logs ("Your own secret formats" above); checked at start; unset: built-in rules only' },
  { key: 'logLevel', env: 'CONSENTRY_LOG_LEVEL', default: 'info', parse: (raw) => (LOG_LEVELS.includes(raw) ? raw : new Error(`must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`)), doc: 'log level' },
];

function validUrl(raw: string): string | Error {
  if (raw === '') return raw;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return new Error(`must be an http(s) URL, got protocol "${u.protocol}"`);
    return raw;
  } catch {
    return new Error('must be an http(s) URL such as http://default:@127.0.0.1:8123');
  }
}

/** Configuration the operator must fix before anything starts (settings, tier files): every problem at once. */
// Tenant SQL queries each hold a thread of libuv's pool while they run (collector/analytics/query-gate.ts).
/** libuv's pool size for this process (UV_THREADPOOL_SIZE, read by libuv at its first use; default 4). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env['UV_THREADPOOL_SIZE']);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** Threads of libuv's pool kept for ingest (inserts, spool files, gunzip) whatever tenants query. */
export const INGEST_RESERVED_THREADS = 2;

/** Default total, whatever the pool: each query may use CONSENTRY_QUERY_MAX_MEMORY_BYTES, so the total bounds their memory too. */
export const DEFAULT_QUERY_TOTAL = 4;

/** The default total: the pool less the ingest reserve, at most DEFAULT_QUERY_TOTAL, at least one. */
export function defaultQueryTotal(pool = threadPoolSize()): number {
  return Math.max(1, Math.min(pool - INGEST_RESERVED_THREADS, DEFAULT_QUERY_TOTAL));
}

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    subject = 'configuration',
  ) {
    super(`invalid ${subject}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads every setting from `env`; throws one ConfigError that lists every problem. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Settings> = {}): Settings {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const spec of SETTINGS) {
    const raw = env[spec.env];
    const value = (spec.parse as (r: string) => unknown)(raw === undefined || raw === '' ? spec.default : raw);
    if (value instanceof Error) problems.push(`${spec.env}: ${value.message}`);
    else out[spec.key] = value;
  }
  const settings = { ...(out as unknown as Settings), ...overrides };
  if (problems.length === 0 && settings.maxDecompressedBytes < settings.maxBodyBytes) {
    problems.push('CONSENTRY_MAX_DECOMPRESSED_BYTES: must be at least CONSENTRY_MAX_BODY_BYTES');
  }
  if (problems.length === 0 && settings.clickhouseQueryUrl !== '' && settings.clickhouseUrl === '') {
    problems.push('CONSENTRY_CLICKHOUSE_QUERY_URL: needs CONSENTRY_CLICKHOUSE_URL (embedded chdb has no users or row policies)');
  }
  if (problems.length === 0 && settings.httpHeadersTimeoutMs > settings.httpRequestTimeoutMs) {
    problems.push('CONSENTRY_HTTP_HEADERS_TIMEOUT_MS: must be at most CONSENTRY_HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)');
  }
  if (problems.length === 0 && settings.otlpPort !== 0 && settings.otlpPort === settings.apiPort) {
    problems.push('CONSENTRY_API_PORT: must differ from CONSENTRY_OTLP_PORT (the admin API never shares the ingest port)');
  }
  if (problems.length === 0 && settings.otlpGrpcPort !== undefined && settings.otlpGrpcPort !== 0 && [settings.otlpPort, settings.apiPort].includes(settings.otlpGrpcPort)) {
    problems.push('CONSENTRY_OTLP_GRPC_PORT: must differ from CONSENTRY_OTLP_PORT and CONSENTRY_API_PORT (each server needs a port of its own)');
  }
  if (problems.length === 0 && settings.kafkaBrokers.length > 0 && settings.erasureTraceHours < settings.kafkaRetentionHours) {
    // A piece of an erased trace can wait in Kafka that long before a sink sees it.
    problems.push(`CONSENTRY_ERASURE_TRACE_HOURS: must be at least CONSENTRY_KAFKA_RETENTION_HOURS (${settings.kafkaRetentionHours}) with Kafka`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}
