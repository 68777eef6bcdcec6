// Interceptor options: one table gives each option's type, default and
// validation; unknown keys are rejected and every problem is reported at once,
// with the option's name, before anything starts.
import type { FastifyRequest } from 'fastify';

/** A header name (matched lower-cased) or a function of the request; undefined or '' from the function: none. */
export type RequestValue = string | ((request: FastifyRequest) => string | undefined);

export interface InterceptorOptions {
  /** Consentry's OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318` (CONSENTRY_OTLP_URL); not the gRPC port, which has no capture endpoint. Required. */
  url: string;
  /** The tenant's ingest key (CONSENTRY_INGEST_KEY). Required. */
  ingestKey: string;
  /** Resource `service.name`. Default `gateway`. */
  serviceName?: string;
  /** Resource `service.version`. Default: none. */
  serviceVersion?: string;
  /** Extra resource attributes (`service.instance.id`, `deployment.environment.name`, ...). Default: none. */
  resource?: Record<string, string>;
  /** `user.id`: a request header name (e.g. `x-user-id`) or a function. Default: none. */
  userId?: RequestValue;
  /** `gen_ai.provider.name`: a fixed name or a function; default: from the upstream host or the response's shape. */
  provider?: RequestValue;
  /** Largest request or response body captured, UTF-8 bytes; longer ones are cut and flagged `.truncated`. Default 65536; 0 captures no body. */
  maxBodyBytes?: number;
  /** Largest JSON response body parsed for token usage, bytes. Default 1048576; 0 parses none (SSE streams are always scanned). */
  maxParseBytes?: number;
  /** Spans held in memory (queued or being exported); more are dropped and counted. Default 2048; at least 1. */
  maxQueueSize?: number;
  /** Spans per OTLP request. Default 512; at most maxQueueSize. */
  maxExportBatchSize?: number;
  /** Longest wait before a partial batch is sent, ms. Default 1000. */
  scheduledDelayMillis?: number;
  /** Deadline of one OTLP export including retries, ms. Default 10000. */
  exportTimeoutMillis?: number;
  /** OTLP request compression. Default `gzip`. */
  compression?: 'gzip' | 'none';
  /** Longest interval between capture-policy refreshes, ms; Consentry's ttlSeconds may shorten it. Default 10000. */
  policyRefreshMillis?: number;
  /** A policy not refreshed for this long is forgotten and nothing is captured (fail closed), ms. Default 60000. */
  policyMaxAgeMillis?: number;
}

export type ResolvedOptions = Required<Omit<InterceptorOptions, 'serviceVersion' | 'userId' | 'provider'>> &
  Pick<InterceptorOptions, 'serviceVersion' | 'userId' | 'provider'>;

export class InterceptorConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid Consentry interceptor options:\n  ${problems.join('\n  ')}`);
    this.name = 'InterceptorConfigError';
  }
}

type Check = (v: unknown) => string | undefined;

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v) =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`;
const nonEmpty: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : `must be a non-empty string, got ${JSON.stringify(v)}`);
const httpUrl: Check = (v) => {
  if (typeof v !== 'string' || v === '') return 'must be the http(s) URL of Consentry\'s OTLP port, e.g. http://127.0.0.1:4318 (CONSENTRY_OTLP_URL)';
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : `must be an http(s) URL, got protocol "${u.protocol}"`;
  } catch {
    return `must be a URL, got "${v}"`;
  }
};
const stringMap: Check = (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string') ? undefined : 'must be an object of strings';
const headerOrFunction: Check = (v) => (typeof v === 'function' || (typeof v === 'string' && v !== '') ? undefined : 'must be a header name or a function (request) => string | undefined');

const SPEC: { [K in keyof InterceptorOptions]-?: { check: Check; default?: InterceptorOptions[K] } } = {
  url: { check: httpUrl },
  ingestKey: { check: nonEmpty },
  serviceName: { check: nonEmpty, default: 'gateway' },
  serviceVersion: { check: nonEmpty },
  resource: { check: stringMap, default: {} },
  userId: { check: headerOrFunction },
  provider: { check: headerOrFunction },
  maxBodyBytes: { check: int(0, 64 << 20), default: 65536 },
  maxParseBytes: { check: int(0, 64 << 20), default: 1 << 20 },
  maxQueueSize: { check: int(1), default: 2048 },
  maxExportBatchSize: { check: int(1), default: 512 },
  scheduledDelayMillis: { check: int(1), default: 1000 },
  exportTimeoutMillis: { check: int(1), default: 10_000 },
  compression: { check: (v) => (v === 'gzip' || v === 'none' ? undefined : `must be "gzip" or "none", got ${JSON.stringify(v)}`), default: 'gzip' },
  policyRefreshMillis: { check: int(100), default: 10_000 },
  policyMaxAgeMillis: { check: int(1000), default: 60_000 },
};

/** Validates every option and applies defaults; throws one InterceptorConfigError listing every problem. */
export function resolveOptions(options: InterceptorOptions): ResolvedOptions {
  const problems: string[] = [];
  const given = options as unknown as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in SPEC)) problems.push(`${key}: unknown option; known: ${Object.keys(SPEC).join(', ')}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SPEC) as [string, { check: Check; default?: unknown }][]) {
    const value = given[key];
    if (value === undefined) {
      if (spec.default !== undefined) out[key] = spec.default;
      else if (key === 'url' || key === 'ingestKey') problems.push(`${key}: ${spec.check(value) ?? 'required'}`);
      continue;
    }
    const problem = spec.check(value);
    if (problem !== undefined) problems.push(`${key}: ${problem}`);
    else out[key] = value;
  }
  const r = out as unknown as ResolvedOptions;
  if (problems.length === 0 && r.maxExportBatchSize > r.maxQueueSize) problems.push(`maxExportBatchSize: must be at most maxQueueSize (${r.maxQueueSize})`);
  if (problems.length > 0) throw new InterceptorConfigError(problems);
  r.url = r.url.replace(/\/+$/, '');
  return r;
}
