// Every setting: its default is accepted and decodes to the value the README
// promises; a bad value is refused with a message that names the variable,
// says what was expected and repeats what was given (never a key or password).
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS, defaultQueryTotal, loadSettings, type Settings } from './settings.ts';

/** The problems loadSettings reports for `env`, or [] when it accepts it. */
function problems(env: Record<string, string>, overrides: Partial<Settings> = {}): string[] {
  try {
    loadSettings(env, overrides);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

// Settings whose default is not its own text read as a number.
const DECODED_DEFAULTS: Partial<Record<keyof Settings, unknown>> = {
  kafkaBrokers: [],
  ingestWorkers: Math.min(availableParallelism(), 4),
  queryConcurrencyTotal: defaultQueryTotal(),
};

// Any text is accepted: nothing to refuse.
const FREE_TEXT = ['CONSENTRY_HOST', 'CONSENTRY_DATA_DIR', 'CONSENTRY_ADMIN_TOKEN', 'CONSENTRY_METRICS_TOKEN', 'CONSENTRY_KAFKA_BROKERS', 'CONSENTRY_DEFAULT_TIER', 'CONSENTRY_PRICES_FILE', 'CONSENTRY_TIERS_DIR', 'CONSENTRY_SECRET_RULES_FILE'];

type Refused = [env: string, bad: string, problem: string];
const got = (env: string, bad: string, expected: string): Refused => [env, bad, `${env}: must be ${expected}, got "${bad}"`];
const port = (env: string) => got(env, '70000', 'a port number 0-65535');
const positive = (env: string) => got(env, '0', 'a positive integer');
const URL_EXPECTED = 'an http(s) URL such as http://default:@127.0.0.1:8123, got protocol "ftp:"';
const REFUSED: Refused[] = [
  ...['CONSENTRY_OTLP_PORT', 'CONSENTRY_API_PORT', 'CONSENTRY_SINK_PORT'].map(port),
  got('CONSENTRY_OTLP_GRPC_PORT', 'grpc', 'a port number 0-65535 or off'),
  ...[
    'CONSENTRY_HTTP_HEADERS_TIMEOUT_MS', 'CONSENTRY_HTTP_REQUEST_TIMEOUT_MS', 'CONSENTRY_HTTP_IDLE_TIMEOUT_MS', 'CONSENTRY_KAFKA_PARTITIONS',
    'CONSENTRY_KAFKA_RETENTION_HOURS', 'CONSENTRY_KAFKA_SEND_TIMEOUT_MS', 'CONSENTRY_KAFKA_MAX_PENDING_BYTES', 'CONSENTRY_SINK_MAX_BYTES',
    'CONSENTRY_SINK_MAX_DELAY_MS', 'CONSENTRY_MAX_BODY_BYTES', 'CONSENTRY_MAX_DECOMPRESSED_BYTES', 'CONSENTRY_MAX_INFLIGHT_BYTES',
    'CONSENTRY_MAX_EVENT_LOOP_DELAY_MS', 'CONSENTRY_BATCH_MAX_ROWS', 'CONSENTRY_BATCH_MAX_DELAY_MS', 'CONSENTRY_QUERY_CONCURRENCY',
    'CONSENTRY_QUERY_TIMEOUT_SECONDS', 'CONSENTRY_QUERY_MAX_RESULT_ROWS', 'CONSENTRY_QUERY_MAX_MEMORY_BYTES', 'CONSENTRY_QUERY_MAX_THREADS', 'CONSENTRY_ENGINE_CACHE_BYTES',
    'CONSENTRY_ERASURE_TRACE_HOURS', 'CONSENTRY_ERASURE_MAX_TRACES', 'CONSENTRY_TIER_SWITCH_TIMEOUT_MS',
  ].map(positive),
  got('CONSENTRY_KAFKA_REPLICATION_FACTOR', '-1', 'a non-negative integer'),
  got('CONSENTRY_ENGINE_MAX_MEMORY_BYTES', '-1', 'a non-negative integer'),
  got('CONSENTRY_INGEST_WORKERS', 'many', 'a non-negative integer or auto'),
  got('CONSENTRY_QUERY_CONCURRENCY_TOTAL', '0', 'a positive integer or auto'),
  got('CONSENTRY_SINK_SESSION_TIMEOUT_MS', '5999', "an integer of at least 6000 (the broker's group.min.session.timeout.ms)"),
  got('CONSENTRY_KAFKA_TOPIC_PREFIX', 'a/b', "letters, digits, '.', '_' or '-'"),
  got('CONSENTRY_SINK_GROUP', 'sink group', "letters, digits, '.', '_' or '-'"),
  got('CONSENTRY_KAFKA_COMPRESSION', 'lz4', 'one of zstd, gzip, none'),
  got('CONSENTRY_LOG_LEVEL', 'loud', 'one of fatal, error, warn, info, debug, trace, silent'),
  ['CONSENTRY_CLICKHOUSE_URL', 'ftp://writer:hunter2@db:8123', `CONSENTRY_CLICKHOUSE_URL: must be ${URL_EXPECTED}`],
  ['CONSENTRY_CLICKHOUSE_QUERY_URL', 'ftp://reader:hunter2@db:8123', `CONSENTRY_CLICKHOUSE_QUERY_URL: must be ${URL_EXPECTED}`],
  ['CONSENTRY_HMAC_KEY', Buffer.alloc(31, 7).toString('base64'), 'CONSENTRY_HMAC_KEY: must be base64 of at least 32 bytes, e.g. `openssl rand -base64 32`'],
];

describe('settings', () => {
  const defaults = loadSettings({});

  it.each(SETTINGS.map((s) => [s.env, s]))('%s: its default, unset or written out, decodes to the documented value', (_env, s) => {
    const expected = s.key in DECODED_DEFAULTS ? DECODED_DEFAULTS[s.key] : /^\d+$/.test(s.default) ? Number(s.default) : s.default;
    expect(defaults[s.key]).toEqual(expected);
    expect(loadSettings({ [s.env]: s.default })[s.key]).toEqual(expected);
    expect(s.doc.length).toBeGreaterThan(0);
  });

  it('has a refused value below for every setting that is not free text', () => {
    expect([...REFUSED.map(([env]) => env), ...FREE_TEXT].sort()).toEqual(SETTINGS.map((s) => s.env).sort());
  });

  it.each(REFUSED)('%s=%j is refused, naming the variable', (env, bad, problem) => {
    expect(problems({ [env]: bad })).toEqual([problem]);
  });

  it('never repeats a key or a password in a message', () => {
    const key = 'c2hvcnQtYnV0LXNlY3JldA==';
    const message = problems({ CONSENTRY_HMAC_KEY: key, CONSENTRY_CLICKHOUSE_URL: 'http://writer:hunter2@db:port', CONSENTRY_CLICKHOUSE_QUERY_URL: 'ftp://reader:hunter2@db' }).join('\n');
    expect(message).toContain('CONSENTRY_HMAC_KEY');
    expect(message).toContain('CONSENTRY_CLICKHOUSE_URL: must be an http(s) URL such as http://default:@127.0.0.1:8123\n');
    expect(message).not.toContain(key);
    expect(message).not.toContain('hunter2');
  });

  it('reports every problem at once, in the order of the table', () => {
    expect(problems({ CONSENTRY_LOG_LEVEL: 'loud', CONSENTRY_OTLP_PORT: '-1', CONSENTRY_BATCH_MAX_ROWS: 'many' })).toEqual([
      'CONSENTRY_OTLP_PORT: must be a port number 0-65535, got "-1"',
      'CONSENTRY_BATCH_MAX_ROWS: must be a positive integer, got "many"',
      'CONSENTRY_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  // Number() reads the text, as before TypeBox: its Value.Convert would read "1.5" and "true" as 1.
  it.each([
    ['1.5', undefined],
    ['true', undefined],
    ['9007199254740992', undefined],
    ['Infinity', undefined],
    ['1e3', 1000],
    [' 42 ', 42],
  ])('reads CONSENTRY_BATCH_MAX_ROWS=%j as %j', (raw, rows) => {
    if (rows === undefined) expect(problems({ CONSENTRY_BATCH_MAX_ROWS: raw })).toEqual([`CONSENTRY_BATCH_MAX_ROWS: must be a positive integer, got "${raw}"`]);
    else expect(loadSettings({ CONSENTRY_BATCH_MAX_ROWS: raw }).batchMaxRows).toBe(rows);
  });

  it.each([
    ['CONSENTRY_OTLP_GRPC_PORT', 'off', 'otlpGrpcPort', undefined],
    ['CONSENTRY_OTLP_GRPC_PORT', '0', 'otlpGrpcPort', 0],
    ['CONSENTRY_INGEST_WORKERS', '0', 'ingestWorkers', 0],
    ['CONSENTRY_QUERY_CONCURRENCY_TOTAL', '7', 'queryConcurrencyTotal', 7],
    ['CONSENTRY_KAFKA_BROKERS', ' a:9092 , ,b:9092', 'kafkaBrokers', ['a:9092', 'b:9092']],
    ['CONSENTRY_KAFKA_TOPIC_PREFIX', 'team-a.', 'kafkaTopicPrefix', 'team-a.'],
    ['CONSENTRY_CLICKHOUSE_URL', 'https://u:p@db:8443', 'clickhouseUrl', 'https://u:p@db:8443'],
    ['CONSENTRY_HMAC_KEY', Buffer.alloc(32, 7).toString('base64'), 'hmacKey', Buffer.alloc(32, 7).toString('base64')],
    ['CONSENTRY_SINK_SESSION_TIMEOUT_MS', '6000', 'sinkSessionTimeoutMs', 6000],
  ] as const)('%s=%j decodes to %s %j', (env, raw, key, value) => {
    expect(loadSettings({ [env]: raw })[key]).toEqual(value);
  });

  it('checks settings against each other after the overrides', () => {
    expect(problems({}, { apiPort: 4318 })).toEqual(['CONSENTRY_API_PORT: must differ from CONSENTRY_OTLP_PORT (the admin API never shares the ingest port)']);
    expect(problems({ CONSENTRY_KAFKA_BROKERS: 'b:9092', CONSENTRY_ERASURE_TRACE_HOURS: '2' })).toEqual([
      'CONSENTRY_ERASURE_TRACE_HOURS: must be at least CONSENTRY_KAFKA_RETENTION_HOURS (24) with Kafka',
    ]);
  });
});
