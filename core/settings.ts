// Settings come from the environment. Each setting is declared once, as a
// TypeBox schema that carries its variable, default (as the operator would
// write it), documentation and validation; the Settings type is the schema's
// decoded type and the README's table is checked against it. Every error is
// reported at once with the variable's name, and nothing starts until all of
// them are valid.
import { availableParallelism } from 'node:os';
import { FormatRegistry, KindGuard, Type, type StaticDecode, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** What every setting declares besides its type. */
interface EnvOptions {
  /** The environment variable; unset or empty means `default`. */
  env: string;
  /** The variable's text when unset, as the README shows it. */
  default: string;
  /** The README's description. */
  description: string;
}

/** A setting's schema as the loader reads it: the builders below add `expected`. */
// TSchema's `default` is optional and untyped: the fields of EnvOptions are restated.
interface SettingSchema extends TSchema {
  env: string;
  default: string;
  description: string;
  /** Ends "must be ...", the error message of a refused value. */
  expected: string;
  /** What a refused value's message may repeat of it (never a key or a password); unset: all of it. */
  shown?: (raw: string) => string | undefined;
}

interface Range {
  minimum: number;
  maximum: number;
  expected: string;
}
const PORT: Range = { minimum: 0, maximum: 65535, expected: 'a port number 0-65535' };
const POSITIVE: Range = { minimum: 1, maximum: Number.MAX_SAFE_INTEGER, expected: 'a positive integer' };
const NON_NEGATIVE: Range = { minimum: 0, maximum: Number.MAX_SAFE_INTEGER, expected: 'a non-negative integer' };
// Kafka refuses to let a consumer join with less than its group.min.session.timeout.ms.
const SESSION_TIMEOUT: Range = { minimum: 6000, maximum: Number.MAX_SAFE_INTEGER, expected: "an integer of at least 6000 (the broker's group.min.session.timeout.ms)" };

// TypeBox checks a string's `format` through its process-wide registry.
FormatRegistry.Set('consentry-http-url', (raw) => URL.canParse(raw) && ['http:', 'https:'].includes(new URL(raw).protocol));
FormatRegistry.Set('consentry-hmac-key', (raw) => Buffer.from(raw, 'base64').length >= 32);

const text = (o: EnvOptions) => Type.String({ ...o, expected: 'text' });
const integer = (range: Range, o: EnvOptions) => Type.Integer({ ...range, ...o });
/** An integer, or a keyword that stands for a value computed at load (`auto`) or for none (`off`). */
function integerOr<K extends string, V>(keyword: K, range: Range, decode: () => V, o: EnvOptions) {
  return Type.Transform(Type.Union([Type.Literal(keyword), Type.Integer(range)], { ...o, expected: `${range.expected} or ${keyword}` }))
    .Decode((v) => (typeof v === 'number' ? v : decode()))
    .Encode((v) => (typeof v === 'number' ? v : keyword));
}
/** Letters, digits, '.', '_' and '-' (Kafka topic and group names), at least `minLength` of them. */
const name = (minLength: number, o: EnvOptions) => Type.String({ ...o, minLength, pattern: '^[\\w.-]*$', expected: "letters, digits, '.', '_' or '-'" });
function oneOf<const T extends string[]>(values: T, o: EnvOptions) {
  const expected = values.length > 2 ? `one of ${values.join(', ')}` : values.join(' or ');
  // Unsafe only types it: the schema stays a union of literals, checked as such.
  return Type.Unsafe<T[number]>(Type.Union(values.map((v) => Type.Literal(v)), { ...o, expected }));
}
const list = (o: EnvOptions) =>
  Type.Transform(Type.String({ ...o, expected: 'comma-separated' }))
    .Decode((raw) => raw.split(',').map((s) => s.trim()).filter(Boolean))
    .Encode((items) => items.join(','));
// A URL may hold a password: only its protocol is repeated.
const httpUrl = (o: EnvOptions) =>
  Type.Union([Type.Literal(''), Type.String({ format: 'consentry-http-url' })], {
    ...o,
    expected: 'an http(s) URL such as http://default:@127.0.0.1:8123',
    shown: (raw: string) => (URL.canParse(raw) ? `protocol "${new URL(raw).protocol}"` : undefined),
  });
const base64Key = (o: EnvOptions) =>
  Type.Union([Type.Literal(''), Type.String({ format: 'consentry-hmac-key' })], { ...o, expected: 'base64 of at least 32 bytes, e.g. `openssl rand -base64 32`', shown: () => undefined });

const SettingsSchema = Type.Object({
  host: text({ env: 'CONSENTRY_HOST', default: '127.0.0.1', description: 'interface both servers bind to' }),
  otlpPort: integer(PORT, { env: 'CONSENTRY_OTLP_PORT', default: '4318', description: 'OTLP/HTTP port (`/v1/traces`, `/v1/logs`); 0 picks a free port' }),
  otlpGrpcPort: integerOr('off', PORT, () => undefined, { env: 'CONSENTRY_OTLP_GRPC_PORT', default: '4317', description: 'OTLP/gRPC port (`TraceService/Export`, `LogsService/Export`); 0 picks a free port; `off`: no gRPC receiver' }),
  apiPort: integer(PORT, { env: 'CONSENTRY_API_PORT', default: '8080', description: 'management API port (`/api`, `/healthz`, `/readyz`, `/metrics`); 0 picks a free port' }),
  dataDir: text({ env: 'CONSENTRY_DATA_DIR', default: './data', description: 'embedded ClickHouse data and generated secrets' }),
  adminToken: text({ env: 'CONSENTRY_ADMIN_TOKEN', default: '', description: 'admin token; unset: generated at first start into `<data>/admin-token`' }),
  metricsToken: text({ env: 'CONSENTRY_METRICS_TOKEN', default: '', description: 'bearer token that reads `/metrics` only (for Prometheus), on the API and sink ports; unset: `/metrics` takes the admin token only' }),
  httpHeadersTimeoutMs: integer(POSITIVE, { env: 'CONSENTRY_HTTP_HEADERS_TIMEOUT_MS', default: '10000', description: 'longest time a client may take to send the headers of a request, on every port, ms (then 408 and the connection is closed)' }),
  httpRequestTimeoutMs: integer(POSITIVE, { env: 'CONSENTRY_HTTP_REQUEST_TIMEOUT_MS', default: '30000', description: 'longest time a client may take to send a whole request, headers and body, on every port, ms (then 408 and the connection is closed); waiting for the answer does not count' }),
  httpIdleTimeoutMs: integer(POSITIVE, { env: 'CONSENTRY_HTTP_IDLE_TIMEOUT_MS', default: '65000', description: 'how long an idle keep-alive connection stays open between requests, on every port, ms' }),
  clickhouseUrl: httpUrl({ env: 'CONSENTRY_CLICKHOUSE_URL', default: '', description: 'ClickHouse server over HTTP, e.g. `http://default:@127.0.0.1:8123`; unset: embedded chdb' }),
  clickhouseQueryUrl: httpUrl({ env: 'CONSENTRY_CLICKHOUSE_QUERY_URL', default: '', description: 'ClickHouse server URL of the read-only user that tenant SQL queries run as, under row policies on TenantId (deploy/README.md, "Tenant queries"); unset: the user of `CONSENTRY_CLICKHOUSE_URL`' }),
  kafkaBrokers: list({ env: 'CONSENTRY_KAFKA_BROKERS', default: '', description: 'comma-separated brokers; unset: in-process transport' }),
  kafkaTopicPrefix: name(0, { env: 'CONSENTRY_KAFKA_TOPIC_PREFIX', default: '', description: 'prefix of every Kafka topic name (`<prefix>consentry.spans.v3`); unset: none' }),
  kafkaPartitions: integer(POSITIVE, { env: 'CONSENTRY_KAFKA_PARTITIONS', default: '6', description: 'partitions of the data topics when Consentry creates them (the most sink processes that share the work)' }),
  kafkaReplicationFactor: integer(NON_NEGATIVE, { env: 'CONSENTRY_KAFKA_REPLICATION_FACTOR', default: '0', description: "replication factor of the topics Consentry creates; 0: the broker's default.replication.factor" }),
  kafkaRetentionHours: integer(POSITIVE, { env: 'CONSENTRY_KAFKA_RETENTION_HOURS', default: '24', description: 'how long the data topics keep records, hours (how long a sink outage can last without loss)' }),
  kafkaSendTimeoutMs: integer(POSITIVE, { env: 'CONSENTRY_KAFKA_SEND_TIMEOUT_MS', default: '5000', description: 'longest wait for the broker to acknowledge a request before answering 503 + Retry-After, ms; while the oldest request waiting to be sent has waited half of it, new ones get 503 at once' }),
  kafkaMaxPendingBytes: integer(POSITIVE, { env: 'CONSENTRY_KAFKA_MAX_PENDING_BYTES', default: String(64 << 20), description: 'encoded bytes waiting for the broker; above it new requests get 503 at once (bounded memory while the broker is slow or down)' }),
  kafkaCompression: oneOf(['zstd', 'gzip', 'none'], { env: 'CONSENTRY_KAFKA_COMPRESSION', default: 'gzip', description: 'producer compression: zstd, gzip or none; a sink reads all three, but sinks of 0.2.0 and older read no zstd: set zstd once every sink is upgraded' }),
  sinkGroup: name(1, { env: 'CONSENTRY_SINK_GROUP', default: 'consentry-sink', description: 'Kafka consumer group of the sink processes (`npm run sink`)' }),
  sinkPort: integer(PORT, { env: 'CONSENTRY_SINK_PORT', default: '8081', description: 'sink health and metrics port (`/healthz`, `/readyz`, `/metrics`); 0 picks a free port' }),
  sinkMaxBytes: integer(POSITIVE, { env: 'CONSENTRY_SINK_MAX_BYTES', default: String(16 << 20), description: 'Kafka message bytes a sink gathers per partition before it inserts (rows: CONSENTRY_BATCH_MAX_ROWS); also the most a fetch from the broker brings, a quarter of it per partition' }),
  sinkMaxDelayMs: integer(POSITIVE, { env: 'CONSENTRY_SINK_MAX_DELAY_MS', default: '400', description: 'longest time a sink holds a record before inserting, ms' }),
  sinkSessionTimeoutMs: integer(SESSION_TIMEOUT, { env: 'CONSENTRY_SINK_SESSION_TIMEOUT_MS', default: '30000', description: "sink's Kafka session timeout: a crashed sink's partitions move to the others after this long, ms" }),
  hmacKey: base64Key({ env: 'CONSENTRY_HMAC_KEY', default: '', description: 'base64 key (32 bytes or more) for API-key HMACs; set the same one on every instance; unset: generated into `<data>/hmac-key`' }),
  maxBodyBytes: integer(POSITIVE, { env: 'CONSENTRY_MAX_BODY_BYTES', default: String(8 << 20), description: 'largest OTLP body as received, bytes (413 above)' }),
  maxDecompressedBytes: integer(POSITIVE, { env: 'CONSENTRY_MAX_DECOMPRESSED_BYTES', default: String(32 << 20), description: 'largest OTLP body after gzip decompression, bytes (413 above)' }),
  maxInflightBytes: integer(POSITIVE, { env: 'CONSENTRY_MAX_INFLIGHT_BYTES', default: String(128 << 20), description: 'decompressed bytes of unanswered OTLP requests; above it new requests get 429 + Retry-After' }),
  maxEventLoopDelayMs: integer(POSITIVE, { env: 'CONSENTRY_MAX_EVENT_LOOP_DELAY_MS', default: '500', description: 'event-loop delay above which new OTLP requests get 429 + Retry-After, ms (the collector is behind)' }),
  ingestWorkers: integerOr('auto', NON_NEGATIVE, () => Math.min(availableParallelism(), 4), { env: 'CONSENTRY_INGEST_WORKERS', default: 'auto', description: 'worker threads that decode OTLP, apply tiers and encode rows beside the event loop (about 60 MB each); `auto`: one per CPU, at most 4; 0: all on the main thread' }),
  batchMaxRows: integer(POSITIVE, { env: 'CONSENTRY_BATCH_MAX_ROWS', default: '20000', description: 'rows that start a ClickHouse insert without waiting for the delay (an insert never splits a request)' }),
  batchMaxDelayMs: integer(POSITIVE, { env: 'CONSENTRY_BATCH_MAX_DELAY_MS', default: '200', description: 'longest wait for a batch to fill before it is inserted, ms' }),
  queryConcurrency: integer(POSITIVE, { env: 'CONSENTRY_QUERY_CONCURRENCY', default: '2', description: 'tenant SQL queries (POST /api/query) running at once per tenant, held below the total (one tenant never takes every slot); more are answered 429 QUERY_BUSY with Retry-After' }),
  queryConcurrencyTotal: integerOr('auto', POSITIVE, () => defaultQueryTotal(), { env: 'CONSENTRY_QUERY_CONCURRENCY_TOTAL', default: 'auto', description: "tenant SQL queries running at once, all tenants together; `auto`: libuv's thread pool (`UV_THREADPOOL_SIZE`: 16 with `npm start` and the image, Node's default 4 otherwise) less 2 kept for ingest, at most 4" }),
  queryTimeoutSeconds: integer(POSITIVE, { env: 'CONSENTRY_QUERY_TIMEOUT_SECONDS', default: '30', description: 'longest a tenant SQL query may run, seconds (enforced by ClickHouse; 422 QUERY_LIMIT above)' }),
  queryMaxResultRows: integer(POSITIVE, { env: 'CONSENTRY_QUERY_MAX_RESULT_ROWS', default: '100000', description: "most rows in a tenant query's result (422 QUERY_LIMIT above)" }),
  queryMaxMemoryBytes: integer(POSITIVE, { env: 'CONSENTRY_QUERY_MAX_MEMORY_BYTES', default: String(1 << 30), description: 'most memory one tenant query may use, bytes (enforced by ClickHouse; 422 QUERY_LIMIT above)' }),
  engineMaxMemoryBytes: integer(NON_NEGATIVE, { env: 'CONSENTRY_ENGINE_MAX_MEMORY_BYTES', default: '0', description: "embedded ClickHouse: most memory the engine may use (queries, inserts, merges, caches), bytes; above it ClickHouse refuses work (inserts are retried, then 503); 0: every tenant query at its limit (`CONSENTRY_QUERY_CONCURRENCY_TOTAL` x `CONSENTRY_QUERY_MAX_MEMORY_BYTES`) plus 1 GiB; a server's own configuration applies with `CONSENTRY_CLICKHOUSE_URL`" }),
  engineCacheBytes: integer(POSITIVE, { env: 'CONSENTRY_ENGINE_CACHE_BYTES', default: String(256 << 20), description: "embedded ClickHouse: its mark, primary-index and skip-index caches together, bytes (ClickHouse's default is 5 GiB each); `/metrics` has the engine's memory as `consentry_engine_memory_bytes`" }),
  queryMaxThreads: integer(POSITIVE, { env: 'CONSENTRY_QUERY_MAX_THREADS', default: '1', description: "ClickHouse threads one tenant query may use (`max_threads`); 1 leaves the other cores to ingest and other tenants' queries" }),
  defaultTier: text({ env: 'CONSENTRY_DEFAULT_TIER', default: 'minimal', description: 'tier of a tenant created without one (the most private by default)' }),
  pricesFile: text({ env: 'CONSENTRY_PRICES_FILE', default: '', description: 'price table of LLM calls (YAML, the format of `processors/cost/prices.yaml`), which replaces the shipped one; validated at start (file and line of each problem); unset: the shipped table' }),
  erasureTraceHours: integer(POSITIVE, { env: 'CONSENTRY_ERASURE_TRACE_HOURS', default: '24', description: "how long after an erasure later-arriving spans and logs of the subject's traces are dropped, hours (with Kafka: at least `CONSENTRY_KAFKA_RETENTION_HOURS`)" }),
  erasureMaxTraces: integer(POSITIVE, { env: 'CONSENTRY_ERASURE_MAX_TRACES', default: '250000', description: 'erased traces each writer (embedded collector, sink) holds in memory to drop their later pieces, about 95 bytes each; past it more are not held (logged), and a later erasure of the subject removes what they let through' }),
  tierSwitchTimeoutMs: integer(POSITIVE, { env: 'CONSENTRY_TIER_SWITCH_TIMEOUT_MS', default: '10000', description: 'longest wait of a downgrade for data received under the old tier to be written or reduced (with Kafka: for every sink to confirm), ms; then 503 `TIER_SWITCH_PENDING`' }),
  tiersDir: text({ env: 'CONSENTRY_TIERS_DIR', default: '', description: 'folder of extra tier YAML files; unset: built-in tiers and presets only' }),
  secretRulesFile: text({ env: 'CONSENTRY_SECRET_RULES_FILE', default: '', description: 'YAML file of your own secret formats (`extraRules`) and header and key names (`extraHeaderNames`, `extraKeyNames`) that the scrubber redacts besides the built-in ones, in every tier and in the logs ("Your own secret formats" above); checked at start; unset: built-in rules only' }),
  logLevel: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { env: 'CONSENTRY_LOG_LEVEL', default: 'info', description: 'log level' }),
});

export type Settings = StaticDecode<typeof SettingsSchema>;

const SCHEMAS = Object.entries(SettingsSchema.properties) as unknown as [keyof Settings, SettingSchema][];

/** Every setting's variable, default and description: the README's table is checked against it, `bench --set` takes its names. */
export const SETTINGS = SCHEMAS.map(([key, s]) => ({ key, env: s.env, default: s.default, doc: s.description }));

/**
 * The environment's text as the value its schema checks. Integers go through
 * Number(), which refuses "1.5" and "true"; TypeBox's Value.Convert would read
 * them as 1.
 */
function fromText(schema: TSchema, raw: string): unknown {
  if (KindGuard.IsInteger(schema)) return Number(raw);
  if (KindGuard.IsUnion(schema)) return schema.anyOf.map((s) => fromText(s, raw)).find((v, i) => Value.Check(schema.anyOf[i]!, v)) ?? raw;
  return raw;
}

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

/** Configuration the operator must fix before anything starts (settings, tier files): every problem at once. */
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
  const set = Object.fromEntries(SETTINGS.flatMap((s) => (env[s.env] ? [[s.key, env[s.env]]] : [])));
  const texts = Value.Default(SettingsSchema, set) as Record<keyof Settings, string>;
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, schema] of SCHEMAS) {
    const value = fromText(schema, texts[key]);
    if (Value.Check(schema, value)) values[key] = value;
    else {
      const given = schema.shown ? schema.shown(texts[key]) : `"${texts[key]}"`;
      problems.push(`${schema.env}: must be ${schema.expected}${given === undefined ? '' : `, got ${given}`}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const settings = { ...Value.Decode(SettingsSchema, values), ...overrides };
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
  if (problems.length === 0 && settings.engineMaxMemoryBytes > 0 && settings.engineMaxMemoryBytes < settings.queryConcurrencyTotal * settings.queryMaxMemoryBytes) {
    // Tenant queries at their limits would fill the engine and make inserts fail.
    problems.push(`CONSENTRY_ENGINE_MAX_MEMORY_BYTES: must be at least CONSENTRY_QUERY_CONCURRENCY_TOTAL x CONSENTRY_QUERY_MAX_MEMORY_BYTES (${settings.queryConcurrencyTotal * settings.queryMaxMemoryBytes}), or 0; lower those or raise this`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}
