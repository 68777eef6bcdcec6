// The seam between the collector and storage. `send` resolves only once the
// batch is durable: written to ClickHouse (in-process transport) or
// acknowledged by every in-sync Kafka replica (Kafka transport). The collector
// answers the gateway after that, so a 200 is a promise.
import type { BatchContext, RecordBatch } from '../core/record.ts';
import type { JoinedRows } from './tables.ts';

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

/** Why a transport refused a batch for good: the data itself, never the transport's state. */
export type RefusedBecause = 'invalid' | 'too-large';

/**
 * A batch could not be made durable. Either `retryable`: storage or the broker
 * is unavailable now, and the same data may succeed after `retryAfterSeconds`;
 * or refused (`refused` says why): the data itself cannot be stored, and
 * sending it again will fail again. The receiver maps both to OTLP answers in
 * one place (collector/otlp/receiver.ts, failureReply).
 */
export class TransportError extends Error {
  private constructor(
    message: string,
    /** Seconds to wait before sending the same data again (retryable errors). */
    readonly retryAfterSeconds: number,
    /** Set when the data itself is refused. */
    readonly refused: RefusedBecause | undefined,
    cause: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TransportError';
  }

  get retryable(): boolean {
    return this.refused === undefined;
  }

  /** Storage or the broker is unavailable: try again after `retryAfterSeconds`. */
  static retryable(message: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}): TransportError {
    return new TransportError(message, options.retryAfterSeconds ?? 5, undefined, options.cause);
  }

  /** The data itself cannot be stored; it must not be sent again as it is. */
  static refused(message: string, because: RefusedBecause, cause?: unknown): TransportError {
    return new TransportError(message, 0, because, cause);
  }
}
