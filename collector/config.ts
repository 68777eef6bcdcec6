// Settings come from the environment. One table gives each setting its type,
// default, validation and documentation; every error is reported at once with
// the variable's name, and nothing starts until all of them are valid.

export interface Settings {
  /** Interface both servers bind to. */
  host: string;
  /** OTLP/HTTP receiver port. */
  otlpPort: number;
  /** Management API port (never the ingest port). */
  apiPort: number;
  /** Embedded ClickHouse data, generated secrets. */
  dataDir: string;
  /** Admin token; empty means generated at first start into `<dataDir>/admin-token`. */
  adminToken: string;
  /** ClickHouse HTTP URL; empty means embedded chdb under `<dataDir>/clickhouse`. */
  clickhouseUrl: string;
  /** Comma-separated Kafka brokers; empty means the in-process transport. */
  kafkaBrokers: string[];
  /** Largest request body as received (compressed), bytes. */
  maxBodyBytes: number;
  /** Largest request body after decompression, bytes. */
  maxDecompressedBytes: number;
  /** Decompressed bytes of requests not yet answered, summed over all requests; past it the receiver answers 429. */
  maxInflightBytes: number;
  /** Rows that start a ClickHouse insert without waiting for the delay. */
  batchMaxRows: number;
  /** How long a row waits for its batch to fill before the insert goes anyway, milliseconds. */
  batchMaxDelayMs: number;
  /** Tier of tenants created without one. */
  defaultTier: string;
  /** Folder of extra tier YAML files; empty means only the built-in tiers and presets. */
  tiersDir: string;
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
const text = (raw: string): string => raw;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// Exported so that the README's configuration table can be checked against it.
export const SETTINGS: { [K in keyof Settings]: SettingSpec<K> }[keyof Settings][] = [
  { key: 'host', env: 'CONSENTRY_HOST', default: '127.0.0.1', parse: text, doc: 'interface both servers bind to' },
  { key: 'otlpPort', env: 'CONSENTRY_OTLP_PORT', default: '4318', parse: port, doc: 'OTLP/HTTP port (`/v1/traces`, `/v1/logs`); 0 picks a free port' },
  { key: 'apiPort', env: 'CONSENTRY_API_PORT', default: '8080', parse: port, doc: 'management API port (`/api`, `/healthz`, `/readyz`, `/metrics`); 0 picks a free port' },
  { key: 'dataDir', env: 'CONSENTRY_DATA_DIR', default: './data', parse: text, doc: 'embedded ClickHouse data and generated secrets' },
  { key: 'adminToken', env: 'CONSENTRY_ADMIN_TOKEN', default: '', parse: text, doc: 'admin token; unset: generated at first start into `<data>/admin-token`' },
  { key: 'clickhouseUrl', env: 'CONSENTRY_CLICKHOUSE_URL', default: '', parse: (raw) => validUrl(raw), doc: 'ClickHouse server over HTTP, e.g. `http://default:@127.0.0.1:8123`; unset: embedded chdb' },
  { key: 'kafkaBrokers', env: 'CONSENTRY_KAFKA_BROKERS', default: '', parse: (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean), doc: 'comma-separated brokers; unset: in-process transport' },
  { key: 'maxBodyBytes', env: 'CONSENTRY_MAX_BODY_BYTES', default: String(8 << 20), parse: positiveInt, doc: 'largest OTLP body as received, bytes (413 above)' },
  { key: 'maxDecompressedBytes', env: 'CONSENTRY_MAX_DECOMPRESSED_BYTES', default: String(32 << 20), parse: positiveInt, doc: 'largest OTLP body after gzip decompression, bytes (413 above)' },
  { key: 'maxInflightBytes', env: 'CONSENTRY_MAX_INFLIGHT_BYTES', default: String(128 << 20), parse: positiveInt, doc: 'decompressed bytes of unanswered OTLP requests; above it new requests get 429 + Retry-After' },
  { key: 'batchMaxRows', env: 'CONSENTRY_BATCH_MAX_ROWS', default: '20000', parse: positiveInt, doc: 'rows that start a ClickHouse insert without waiting for the delay (an insert never splits a request)' },
  { key: 'batchMaxDelayMs', env: 'CONSENTRY_BATCH_MAX_DELAY_MS', default: '200', parse: positiveInt, doc: 'longest wait for a batch to fill before it is inserted, ms' },
  { key: 'defaultTier', env: 'CONSENTRY_DEFAULT_TIER', default: 'minimal', parse: text, doc: 'tier of a tenant created without one (the most private by default)' },
  { key: 'tiersDir', env: 'CONSENTRY_TIERS_DIR', default: '', parse: text, doc: 'folder of extra tier YAML files; unset: built-in tiers and presets only' },
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

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
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
  if (problems.length === 0 && settings.otlpPort !== 0 && settings.otlpPort === settings.apiPort) {
    problems.push('CONSENTRY_API_PORT: must differ from CONSENTRY_OTLP_PORT (the admin API never shares the ingest port)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}
