// OTLP/HTTP response bodies: the export response (with partial success) and
// the google.rpc.Status of an error reply, in the request's encoding.
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

/** google.rpc.Status { code = 1 int32, message = 2 string }, the body of every OTLP/HTTP error reply. */
export function encodeStatus(opts: StatusOptions): Buffer {
  const { format, code, message } = opts;
  if (format === 'json') return Buffer.from(JSON.stringify({ code, message }));
  const w = Writer.create();
  if (code !== 0) w.uint32((1 << 3) | 0).int32(code);
  if (message !== '') w.uint32((2 << 3) | 2).string(message);
  return toBuffer(w.finish());
}
