// The seam between the collector and storage. `send` resolves only once the
// batch is durable: written to ClickHouse (in-process transport) or
// acknowledged by every in-sync Kafka replica (Kafka transport). The collector
// answers the gateway after that, so a 200 is a promise.
import type { BatchContext, RecordBatch } from '../processors/record.ts';
import type { JoinedRows } from './clickhouse/encode.ts';

export interface Transport {
  /** `in-process` or `kafka`, for logs and /readyz. */
  readonly name: string;
  /** Connects; the collector accepts data only after it resolved. */
  start(): Promise<void>;
  /** Resolves when the batch is durable; rejects with a TransportError otherwise. */
  send(batch: RecordBatch, ctx: BatchContext): Promise<void>;
  /**
   * Transports that store ClickHouse rows themselves take rows already encoded
   * from a batch processed under `ctx` (by an ingest worker), with the trace
   * ids of their spans and logs: resolves true once durable, or false at once
   * when the batch needs the downgrade or erasure check first (then `send` the
   * records). Same errors as `send`.
   */
  sendRows?(rows: JoinedRows, ctx: BatchContext, traceIds: readonly string[]): Promise<boolean>;
  /** Whether the transport can take data now (for /readyz and early 503s). */
  ready(): boolean;
  /** Flushes what is pending, then disconnects. Idempotent, safe without start(). */
  shutdown(): Promise<void>;
}

/**
 * A batch could not be made durable. `retryable` errors are answered with
 * 503 + Retry-After; the others are the sender's fault (400).
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}
