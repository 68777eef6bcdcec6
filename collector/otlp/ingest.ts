// Decode + apply the tier (+ encode rows): the CPU-heavy middle of a request,
// as one function of plain data so it runs the same on the event loop or in a
// worker thread (ingest-pool.ts). The receiver does everything around it
// (HTTP, auth, backpressure, the transport). Rows rather than records come back
// from a worker when the transport stores rows itself, one joined string per
// table: strings cross threads far more cheaply than object graphs (structured
// clone of full-tier records made garbage collection 45% of the main thread).
// Kafka mode gets records: encoding the Kafka messages in the workers instead
// measured 40% more collector CPU per span (README, Benchmarks).
import { batchOf, type BatchContext, type Decoded, type LogRecord, type RecordBatch, type SpanRecord } from '../../core/record.ts';
import type { SpanProjection } from '../../processors/projection.ts';
import type { TierEngine } from '../../processors/tiers/engine.ts';
import { decodeLogsProto, decodeTracesProto } from './decode-proto.ts';
import { decodeLogsJson, decodeTracesJson } from './decode-json.ts';
import type { JoinedRows } from '../../storage/tables.ts';

export type Signal = 'traces' | 'logs';
export type Format = 'proto' | 'json';
/** What a result carries: records, or ClickHouse rows (Transport.sendRows). */
export type Encoding = 'records' | 'rows';

export interface IngestJob {
  signal: Signal;
  format: Format;
  /** The (decompressed) request body. */
  body: Uint8Array;
  /** Tenant and the tier in force when the request arrived. */
  ctx: BatchContext;
  encode: Encoding;
}

export interface IngestResult {
  /** What may be stored, under `ctx`, in the job's encoding. */
  batch?: RecordBatch;
  rows?: JoinedRows;
  /** With rows: the trace ids of the spans and logs they hold (the writer's erased-trace check). */
  traceIds?: string[];
  ctx: BatchContext;
  /** Records decoded, and rejected as invalid (OTLP partial success). */
  accepted: number;
  rejected: number;
  rejectionMessage: string;
}

/** Ingest could not run now (a worker died): the request is answered 503 and retried by the gateway. */
export class IngestUnavailable extends Error {
  override readonly name = 'IngestUnavailable';
}

/** Decodes and applies the tier; rejects with OtlpDecodeError (malformed body) or IngestUnavailable. */
export type Ingest = (job: IngestJob) => Promise<IngestResult>;

/** What runs a job: a tier engine, and the row encoding of the writer (sinks/clickhouse/encode.ts, given by the app). */
export interface IngestStages {
  engine: TierEngine;
  encodeRows: (batch: RecordBatch, ctx: BatchContext) => JoinedRows;
}

// JSON is decoded whole (projections are a protobuf fast path; the result is the same).
const DECODERS: Record<Signal, Record<Format, (buf: Uint8Array, spans: SpanProjection) => Decoded<SpanRecord> | Decoded<LogRecord>>> = {
  traces: { proto: decodeTracesProto, json: decodeTracesJson },
  logs: { proto: decodeLogsProto, json: decodeLogsJson },
};

/**
 * OTLP times of 0 mean "not set" (README, OTLP answers). A span without start
 * time and a log record without time or observed time take the time the
 * collector received them (the OTel log data model's observed time: when the
 * collector saw the record); a span event without time takes its span's start.
 * Times past what storage holds were rejected by the decoders.
 */
function stampUnsetTimes(batch: RecordBatch, receivedAtMs: number): void {
  const received = BigInt(receivedAtMs) * 1_000_000n;
  for (const log of batch.logs) if (log.timeUnixNano === 0n) log.timeUnixNano = received;
  for (const span of batch.spans) {
    if (span.startTimeUnixNano === 0n) span.startTimeUnixNano = received;
    for (const event of span.events) if (event.timeUnixNano === 0n) event.timeUnixNano = span.startTimeUnixNano;
  }
}

/** The work itself; throws OtlpDecodeError for a malformed body. */
export function ingest({ engine, encodeRows }: IngestStages, job: IngestJob): IngestResult {
  const decoded = DECODERS[job.signal][job.format](job.body, engine.spanProjection(job.ctx.tier));
  const batch = job.signal === 'traces' ? batchOf({ spans: decoded.records as SpanRecord[] }) : batchOf({ logs: decoded.records as LogRecord[] });
  stampUnsetTimes(batch, job.ctx.receivedAtMs);
  const processed = engine.process(batch, job.ctx);
  return {
    ...(job.encode === 'rows' ? { rows: encodeRows(processed, job.ctx), traceIds: traceIdsOf(processed) } : { batch: processed }),
    ctx: job.ctx,
    accepted: decoded.records.length,
    rejected: decoded.rejected,
    rejectionMessage: decoded.rejectionMessage,
  };
}

function traceIdsOf(batch: RecordBatch): string[] {
  const ids = new Set<string>();
  for (const s of batch.spans) ids.add(s.traceId);
  for (const l of batch.logs) if (l.traceId !== '') ids.add(l.traceId);
  return [...ids];
}

/** Ingest on the calling thread (CONSENTRY_INGEST_WORKERS=0, and tests of the receiver alone). */
export function ingestInline(stages: IngestStages): Ingest {
  return async (job) => ingest(stages, job);
}
