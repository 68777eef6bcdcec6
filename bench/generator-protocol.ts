// Messages between the bench runner and its load generator process (IPC of
// child_process.fork). The generator runs in its own process so that its CPU
// is its own and measured apart from the collector's.

export interface GeneratorTenant {
  id: string;
  tier: string;
  ingestKey: string;
  /** Spans with request/response bodies (~1.5 KB) or without (~0.7 KB). */
  bodies: boolean;
}

export interface GeneratorConfig {
  /** Base URL of the receiver of `protocol`, e.g. http://127.0.0.1:4318 (HTTP) or http://127.0.0.1:4317 (gRPC); only loopback is accepted. */
  otlpUrl: string;
  /** OTLP/HTTP (POST /v1/traces), or OTLP/gRPC (TraceService/Export; preencoded mode only). */
  protocol: 'http' | 'grpc';
  tenants: GeneratorTenant[];
  /** Spans per OTLP request. */
  batchSize: number;
  /**
   * `preencoded`: protobuf batches built once (real SDK spans, SDK serializer) and sent
   * open-loop at the target rate, no retries. `sdk`: the real OTel SDK (tracer,
   * BatchSpanProcessor, OTLP/proto exporter) creates and exports spans live.
   */
  mode: 'preencoded' | 'sdk';
  seed: number;
  /** Spans in the pre-encoded pool over all tenants (sent round-robin). */
  poolSpans: number;
  /** A marker span every this many ms (0: none). */
  markerIntervalMs: number;
  /** Tenants (ids) that get markers, in turn; empty: none. */
  markerTenants: string[];
  /** Keep-alive connections to the receiver, at most (gRPC: HTTP/2 connections, calls spread over them). */
  connections: number;
  /** Requests sent and not answered, at most; past it a due request is skipped and counted. */
  maxOutstanding: number;
  /** Per-request timeout, ms; a request past it counts as `other`. */
  requestTimeoutMs: number;
}

export interface StepRequest {
  /** Target spans per second, over all tenants. */
  rate: number;
  /** Seconds of sending. */
  durationS: number;
  /** Pre-encoded mode: a `progress` message every this many ms of sending, and one when sending ends (absent: none). */
  progressEveryMs?: number;
}

/** Outcome counts of requests (HTTP status classes, gRPC RESOURCE_EXHAUSTED as 429 and UNAVAILABLE as 503; `other` includes network errors and timeouts). */
export interface StatusCounts {
  '2xx': number;
  '429': number;
  '503': number;
  other: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  n: number;
}

/** Answers so far in a step (cumulative), sent while it runs. */
export interface StepProgress {
  /** Ms since the step started sending. */
  elapsedMs: number;
  requests: StatusCounts;
  spans: StatusCounts;
  /** 429/503 answers without a Retry-After header (OTLP/HTTP). */
  refusedWithoutRetryAfter: number;
}

export interface MarkerEvent {
  id: string;
  tenantId: string;
  tier: string;
  /** Wall clock (Unix ms) at which the marker's batch was due (pre-encoded) or its span ended (sdk). */
  sentAtMs: number;
  /** Wall clock at which the answer arrived, and its status (0: no answer). */
  ackAtMs: number;
  status: number;
}

export interface StepResult {
  /** Wall clock of the first and last scheduled send, Unix ms. */
  startedAtMs: number;
  sendingEndedAtMs: number;
  /** When the last answer arrived (or timed out), Unix ms. */
  doneAtMs: number;
  /** Seconds the step was sending. */
  durationS: number;
  offeredSpans: number;
  offeredRequests: number;
  /** Requests actually sent (offered minus skipped). */
  sentRequests: number;
  /** Due requests not sent because maxOutstanding requests were unanswered. */
  skippedRequests: number;
  /** Spans offered but never sent: those of skipped requests, or (sdk mode) those the SDK's queue dropped. */
  skippedSpans: number;
  requests: StatusCounts;
  spans: StatusCounts;
  /** 429/503 answers without a Retry-After header (OTLP/HTTP; gRPC and the SDK's exporter are not checked). */
  refusedWithoutRetryAfter: number;
  /** Schedule-to-answer latency of 2xx requests, ms (measured from the time a request was due: no coordinated omission). */
  ackLatencyMs: Percentiles;
  /** How late the generator sent requests behind schedule, ms: large values mean the generator itself was short of CPU. */
  sendLatenessMs: Percentiles;
  /** Generator CPU over the step, seconds. */
  cpuUserS: number;
  cpuSystemS: number;
  /** Generator peak RSS so far, MB. */
  maxRssMb: number;
  markers: MarkerEvent[];
}

export interface PoolStats {
  buildSeconds: number;
  bytesPerSpan: number;
  poolSpans: number;
  plantedSecrets: number;
}

export type ToGenerator = { type: 'prepare'; config: GeneratorConfig } | { type: 'step'; step: StepRequest } | { type: 'exit' };

export type FromGenerator =
  | { type: 'ready'; pool: PoolStats }
  | { type: 'marker'; marker: MarkerEvent }
  | { type: 'sent'; atMs: number }
  | { type: 'progress'; progress: StepProgress }
  | { type: 'result'; result: StepResult }
  | { type: 'error'; message: string };
