// The internal record: what the collector decodes OTLP into, what processors
// transform, what transports carry and what sinks encode into rows. Wire formats
// (OTLP protobuf/JSON, the Kafka encoding, ClickHouse rows) convert to and from
// these types and nothing else.

/**
 * Attribute values flattened to strings, as the OpenTelemetry Collector's
 * ClickHouse exporter stores them (`Map(LowCardinality(String), String)`):
 * strings as they are, booleans `true`/`false`, integers in decimal, doubles in
 * shortest round-trip form, bytes in base64, arrays and maps as JSON.
 */
export type Attributes = Record<string, string>;

/** Shared by every span or log of one ResourceSpans / ResourceLogs. Treat as immutable. */
export interface Resource {
  readonly attributes: Attributes;
  readonly schemaUrl: string;
}

/** Shared by every span or log of one ScopeSpans / ScopeLogs. Treat as immutable. */
export interface Scope {
  readonly name: string;
  readonly version: string;
  readonly attributes: Attributes;
  readonly schemaUrl: string;
}

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes;
}

/** OTLP `Span.SpanKind` numbers. */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;

/** OTLP `Status.StatusCode` numbers. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface SpanRecord {
  resource: Resource;
  scope: Scope;
  /** Lower-case hex, 32 characters. */
  traceId: string;
  /** Lower-case hex, 16 characters. */
  spanId: string;
  /** Lower-case hex, 16 characters, or empty for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: SpanEvent[];
  links: SpanLink[];
  statusCode: number;
  statusMessage: string;
  /**
   * OTLP `Span.flags`: W3C trace flags in bits 0-7; bit 8 (SPAN_FLAGS_HAS_IS_REMOTE)
   * says the sender knows whether the parent is remote, bit 9 (SPAN_FLAGS_IS_REMOTE)
   * that it is. 0 when the sender did not set it (older SDKs, hand-made spans).
   */
  flags: number;
}

/** OTLP span flag bits (trace/v1 SpanFlags). */
export const SpanFlags = { HAS_IS_REMOTE: 0x100, IS_REMOTE: 0x200 } as const;

export interface LogRecord {
  resource: Resource;
  scope: Scope;
  /** Event time; falls back to the observed time when the sender left it zero. */
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  /** Body as a string; non-string bodies are JSON, as the exporter stores them. */
  body: string;
  attributes: Attributes;
  /** Lower-case hex or empty. */
  traceId: string;
  spanId: string;
  flags: number;
  /**
   * OTLP `LogRecord.event_name` (the logs/events API fills it), or '' when the
   * sender left it empty. Senders that predate the field put the name in an
   * attribute instead: see eventNameOf (processors/conventions/classify.ts).
   */
  eventName: string;
}

/** What a decoder hands back: the records it could read and those it rejected. */
export interface Decoded<T> {
  records: T[];
  /** Records dropped as invalid (bad ids, ...): reported as OTLP partial success. */
  rejected: number;
  /** Why the first rejected record was rejected, for the partial-success message. */
  rejectionMessage: string;
}

/**
 * One row of the `summary` tier: spans of one minute folded together per
 * tenant, provider, endpoint (route template), model and status class. Every
 * field merges by addition, so minutes and collector instances combine in SQL.
 * Requests (entry spans) and LLM calls (call spans) are separate figures; one
 * span may be both (processors/conventions/counting.ts).
 */
export interface SummaryRecord {
  /** Start of the minute, Unix seconds. */
  minute: number;
  provider: string;
  /** Route template (`/v1/chat/completions`, `/users/:id`), never a raw path. */
  endpoint: string;
  model: string;
  /** `2xx`, `4xx`, `5xx`, ... or `error` for a failed request without a status. */
  statusClass: string;
  requests: number;
  errors: number;
  /** Log-scale latency bucket index -> count of requests (see processors/summarize/sketch.ts). */
  latencyBuckets: Map<number, number>;
  /** LLM calls, failed ones, and their latency sketch. */
  calls: number;
  callErrors: number;
  callLatencyBuckets: Map<number, number>;
  /** Tokens of the LLM calls. */
  inputTokens: number;
  outputTokens: number;
  /** Cost of the priced LLM calls, picodollars (processors/cost/), and how many calls had no price. */
  costPicoUsd: bigint;
  unpricedCalls: number;
  requestBytes: number;
  responseBytes: number;
}

/** Gateway metadata kept in every tier: version, instance, uptime, restarts. */
export interface GatewayMetadataRecord {
  timeUnixNano: bigint;
  serviceName: string;
  serviceVersion: string;
  instanceId: string;
  uptimeSeconds: number;
  unexpectedRestarts: number;
  /** Allow-listed, scrubbed environment variables. */
  environment: Attributes;
  /** Policy configuration snapshot as sent by the gateway (scrubbed). */
  policyConfig: string;
}

/** Everything one request produced, after decoding or after a processor. */
export interface RecordBatch {
  spans: SpanRecord[];
  logs: LogRecord[];
  summaries: SummaryRecord[];
  metadata: GatewayMetadataRecord[];
  /** Unix seconds after which storage removes these rows (set by the retention processor); unset: kept. */
  expireAt?: number;
  /**
   * Unix seconds after which storage removes the content of these rows
   * (processors/conventions/content.ts), when the tier keeps content for less
   * time than rows (contentRetentionDays); unset: content lives as long as its row.
   */
  contentExpireAt?: number;
}

/** Who and when a batch belongs to: one request, one tenant, one tier. */
export interface BatchContext {
  tenantId: string;
  /** Name of the tier in force when the collector received the request. */
  tier: string;
  /** Monotonic version of the tenant's tier assignment, for the downgrade check. */
  tierVersion: number;
  /** Receipt time, Unix milliseconds. */
  receivedAtMs: number;
}

/** The kinds of records a batch holds: the one list every walk over a batch by kind uses. */
export const RECORD_KINDS = ['spans', 'logs', 'summaries', 'metadata'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** A batch of the given records, every other kind empty. */
export function batchOf(parts: Partial<Pick<RecordBatch, RecordKind>> = {}): RecordBatch {
  return { spans: parts.spans ?? [], logs: parts.logs ?? [], summaries: parts.summaries ?? [], metadata: parts.metadata ?? [] };
}

export function emptyBatch(): RecordBatch {
  return batchOf();
}

/** Calls `report` with each kind of record `after` has fewer of than `before`, and how many fewer. */
export function forEachDropped(before: RecordBatch, after: RecordBatch, report: (kind: RecordKind, n: number) => void): void {
  for (const kind of RECORD_KINDS) {
    const n = before[kind].length - after[kind].length;
    if (n > 0) report(kind, n);
  }
}
