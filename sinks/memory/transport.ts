// The embedded default: no broker, the collector writes to ClickHouse itself
// and answers the gateway once the insert holding its rows succeeded.
import type { BatchContext, RecordBatch } from '../../processors/record.ts';
import type { ClickHouseSink } from '../clickhouse/sink.ts';
import type { JoinedRows } from '../clickhouse/encode.ts';
import { TransportError, type Transport } from '../transport.ts';
import { isPermanentInsertError } from '../clickhouse/insert.ts';

export class InProcessTransport implements Transport {
  readonly name = 'in-process';
  private healthy = true;
  private stopped = false;

  constructor(private readonly sink: ClickHouseSink) {}

  async start(): Promise<void> {}

  send(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    return this.storing(() => this.sink.write(batch, ctx));
  }

  sendRows(rows: JoinedRows, ctx: BatchContext, traceIds: readonly string[]): Promise<boolean> {
    return this.storing(() => this.sink.writeRows(rows, ctx, traceIds));
  }

  private async storing<T>(write: () => Promise<T>): Promise<T> {
    if (this.stopped) throw new TransportError('shutting down', true);
    try {
      const out = await write();
      this.healthy = true;
      return out;
    } catch (err) {
      const permanent = isPermanentInsertError(err);
      if (!permanent) this.healthy = false;
      throw new TransportError(`ClickHouse insert failed: ${(err as Error).message}`, !permanent, { cause: err });
    }
  }

  ready(): boolean {
    return this.healthy && !this.stopped;
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.sink.drain();
  }
}
