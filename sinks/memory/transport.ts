// The embedded default: no broker, the collector writes to ClickHouse itself
// and answers the gateway once the insert holding its rows succeeded.
//
// Readiness follows the inserts: a failed insert (ClickHouse down, disk full,
// spool not writable) makes the transport not ready, and while it is, a probe
// inserts one row (sinks/clickhouse/insert.ts, probeInsert) every
// probeIntervalMs, one at a time, so it turns ready again by itself once
// inserts work, with or without traffic.
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import type { ClickHouseSink } from '../clickhouse/sink.ts';
import type { JoinedRows } from '../../storage/tables.ts';
import { TransportError, type Transport } from '../../storage/transport.ts';
import { describeInsertError, isPermanentInsertError } from '../clickhouse/insert.ts';

export interface InProcessTransportOptions {
  sink: ClickHouseSink;
  /** One small insert through the data's path; resolves once ClickHouse takes inserts. */
  probe: () => Promise<void>;
  /** Time between probes while inserts fail, ms. Default 1000. */
  probeIntervalMs?: number;
}

export class InProcessTransport implements Transport {
  readonly name = 'in-process';
  private lastError: string | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;

  constructor(private readonly opts: InProcessTransportOptions) {}

  async start(): Promise<void> {}

  send(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    return this.storing(() => this.opts.sink.write(batch, ctx));
  }

  sendRows(rows: JoinedRows, ctx: BatchContext, traceIds: readonly string[]): Promise<boolean> {
    return this.storing(() => this.opts.sink.writeRows(rows, ctx, traceIds));
  }

  private async storing<T>(write: () => Promise<T>): Promise<T> {
    if (this.stopped) throw TransportError.retryable('shutting down');
    try {
      const out = await write();
      this.healthy();
      return out;
    } catch (err) {
      // The batcher has split the insert down to this request's own rows: the data is the sender's.
      if (isPermanentInsertError(err)) throw TransportError.refused(`storage refused the records: ${describeInsertError(err)}`, 'invalid', err);
      this.failing((err as Error).message);
      throw TransportError.retryable(`ClickHouse insert failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private healthy(): void {
    this.lastError = undefined;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  private failing(message: string): void {
    this.lastError = message;
    if (this.probeTimer !== undefined || this.stopped) return;
    this.probeTimer = setInterval(() => void this.probe(), this.opts.probeIntervalMs ?? 1000);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.probing || this.lastError === undefined) return;
    this.probing = true;
    try {
      await this.opts.probe();
      this.healthy();
    } catch (err) {
      this.lastError = (err as Error).message;
    } finally {
      this.probing = false;
    }
  }

  ready(): boolean {
    return this.lastError === undefined && !this.stopped;
  }

  /** Why ready() is false, for /readyz. */
  status(): string {
    if (this.stopped) return 'stopped';
    return this.lastError === undefined ? 'ok' : `inserts failing: ${this.lastError}`;
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.probeTimer);
    await this.opts.sink.drain();
  }
}
