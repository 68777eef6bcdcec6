// How an OTLP export ends, whichever port carried it, and how each protocol
// says it: one list of outcomes, an OTLP/HTTP rendering (status code,
// Retry-After) and an OTLP/gRPC one (status code, RetryInfo).
// https://opentelemetry.io/docs/specs/otlp/#failures (HTTP) and
// https://opentelemetry.io/docs/specs/otlp/#failures-1 (gRPC): a sender retries
// 429/503 and UNAVAILABLE, and RESOURCE_EXHAUSTED only when RetryInfo comes
// with it; everything else is final.
import { TransportError } from '../../storage/transport.ts';
import { IngestUnavailable } from './ingest.ts';
import { OtlpDecodeError } from './errors.ts';

/** Why a request was not taken. Data the sender must fix never gets a retryable answer, so a bad record cannot make its sender retry forever. */
export type Failure =
  /** Missing or unknown ingest key. */
  | { kind: 'unauthenticated'; message: string }
  /** A body, frame or gzip stream that cannot be read, or records storage refuses as they are. */
  | { kind: 'malformed'; message: string }
  /** Over a size limit, before or after decompression: send smaller batches (not retried as it is). */
  | { kind: 'too-large'; message: string }
  /** An encoding or content type Consentry does not speak. */
  | { kind: 'unsupported'; message: string }
  /** The collector is behind (in-flight budget, event-loop delay): retry after the delay. */
  | { kind: 'busy'; message: string; retryAfterSeconds: number }
  /** Storage, the broker or an ingest worker is unavailable: retry after the delay. */
  | { kind: 'unavailable'; message: string; retryAfterSeconds: number };

/** Taken and durable; `rejected` invalid records (with why) make it a partial success. */
export interface Accepted {
  kind: 'accepted';
  rejected: number;
  message: string;
}

export type Outcome = Accepted | Failure;

/**
 * The failure of an export that failed after admission, for every expected
 * error in one place; undefined when the error is not an expected one (a bug:
 * HTTP 500, gRPC INTERNAL).
 */
export function failureOf(err: unknown): Failure | undefined {
  if (err instanceof OtlpDecodeError) return { kind: 'malformed', message: err.message };
  if (err instanceof IngestUnavailable) return { kind: 'unavailable', message: `${err.message}, retry later`, retryAfterSeconds: 1 };
  if (!(err instanceof TransportError)) return undefined;
  switch (err.refused) {
    case undefined:
      return { kind: 'unavailable', message: 'storage unavailable, retry later', retryAfterSeconds: err.retryAfterSeconds };
    case 'too-large':
      return { kind: 'too-large', message: `${err.message}; not stored` };
    case 'invalid':
      return { kind: 'malformed', message: `${err.message}; not stored: fix the records, do not send them again as they are` };
  }
}

/** google.rpc.Code values Consentry answers with (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcCode = {
  OK: 0,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** The OTLP/HTTP rendering: status code; the Retry-After header is the failure's retryAfterSeconds. */
export const HTTP_STATUS: Record<Failure['kind'], number> = {
  unauthenticated: 401,
  malformed: 400,
  'too-large': 413,
  unsupported: 415,
  busy: 429,
  unavailable: 503,
};

/**
 * The OTLP/gRPC rendering: status code; busy and unavailable carry RetryInfo
 * with retryAfterSeconds. The OTLP/HTTP Status body carries the same code.
 */
export const GRPC_CODE: Record<Failure['kind'], GrpcCode> = {
  unauthenticated: GrpcCode.UNAUTHENTICATED,
  malformed: GrpcCode.INVALID_ARGUMENT,
  // Without RetryInfo, which a sender reads as "do not retry".
  'too-large': GrpcCode.RESOURCE_EXHAUSTED,
  unsupported: GrpcCode.UNIMPLEMENTED,
  busy: GrpcCode.RESOURCE_EXHAUSTED,
  unavailable: GrpcCode.UNAVAILABLE,
};

/** Seconds a sender should wait before sending the same data again; undefined: final. */
export function retryAfterOf(f: Failure): number | undefined {
  return f.kind === 'busy' || f.kind === 'unavailable' ? f.retryAfterSeconds : undefined;
}
