// OTLP response bodies: the export response (with partial success) and
// the google.rpc.Status of an error reply, in the request's encoding; for
// gRPC, the RetryInfo of a retryable failure.
// https://opentelemetry.io/docs/specs/otlp/#otlphttp-response
import { Writer } from 'protobufjs/minimal.js';

export interface ExportResponseOptions {
  /** Which service answers: ExportTraceServiceResponse or ExportLogsServiceResponse. */
  signal: 'traces' | 'logs';
  /** Encoding of the request, which the response mirrors. */
  format: 'proto' | 'json';
  /** Records dropped as invalid; 0 with an empty message means full success. */
  rejected: number;
  /** Why records were rejected (or a warning); empty for none. */
  message: string;
}

export interface StatusOptions {
  format: 'proto' | 'json';
  /** gRPC status code (google.rpc.Code), e.g. 3 INVALID_ARGUMENT for a malformed body. */
  code: number;
  /** Developer-facing message. */
  message: string;
  /** Protobuf only: a RetryInfo detail with this delay (OTLP/gRPC's retryable RESOURCE_EXHAUSTED and UNAVAILABLE). */
  retryAfterSeconds?: number;
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * Export{Trace,Logs}ServiceResponse { partial_success = 1: { rejected_spans |
 * rejected_log_records = 1 int64, error_message = 2 string } }. Full success is
 * the empty message (0 bytes) or `{}`; partial_success is set only when
 * something was rejected or there is a message, as the spec asks.
 */
export function encodeExportResponse(opts: ExportResponseOptions): Buffer {
  const { signal, format, rejected, message } = opts;
  const partial = rejected > 0 || message !== '';
  if (format === 'json') {
    if (!partial) return Buffer.from('{}');
    const body: Record<string, string> = {};
    // protojson writes int64 as a decimal string; receivers accept both.
    if (rejected > 0) body[signal === 'traces' ? 'rejectedSpans' : 'rejectedLogRecords'] = String(rejected);
    if (message !== '') body['errorMessage'] = message;
    return Buffer.from(JSON.stringify({ partialSuccess: body }));
  }
  if (!partial) return Buffer.alloc(0);
  const w = Writer.create();
  w.uint32((1 << 3) | 2).fork();
  if (rejected > 0) w.uint32((1 << 3) | 0).int64(rejected);
  if (message !== '') w.uint32((2 << 3) | 2).string(message);
  w.ldelim();
  return toBuffer(w.finish());
}

/**
 * google.rpc.Status { code = 1 int32, message = 2 string, details = 3
 * repeated Any }: the body of every OTLP/HTTP error reply, and gRPC's
 * `grpc-status-details-bin`.
 */
export function encodeStatus(opts: StatusOptions): Buffer {
  const { format, code, message, retryAfterSeconds } = opts;
  if (format === 'json') return Buffer.from(JSON.stringify({ code, message }));
  const w = Writer.create();
  if (code !== 0) w.uint32((1 << 3) | 0).int32(code);
  if (message !== '') w.uint32((2 << 3) | 2).string(message);
  if (retryAfterSeconds !== undefined) {
    // Any { type_url = 1 string, value = 2 bytes }
    w.uint32((3 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(RETRY_INFO_TYPE);
    w.uint32((2 << 3) | 2).bytes(encodeRetryInfo(retryAfterSeconds));
    w.ldelim();
  }
  return toBuffer(w.finish());
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** google.rpc.RetryInfo { retry_delay = 1 google.protobuf.Duration { seconds = 1 int64, nanos = 2 int32 } }. */
export function encodeRetryInfo(seconds: number): Buffer {
  const whole = Math.floor(seconds);
  const nanos = Math.round((seconds - whole) * 1e9);
  const w = Writer.create();
  w.uint32((1 << 3) | 2).fork();
  if (whole !== 0) w.uint32((1 << 3) | 0).int64(whole);
  if (nanos !== 0) w.uint32((2 << 3) | 0).int32(nanos);
  w.ldelim();
  return toBuffer(w.finish());
}
