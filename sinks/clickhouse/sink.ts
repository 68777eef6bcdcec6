// The ClickHouse end of the pipeline, shared by both transports: records ->
// (reduced to the tenant's current tier if it has been downgraded since) ->
// rows -> batched insert.
import type { BatchContext, RecordBatch } from '../../processors/record.ts';
import { encodeBatch } from './encode.ts';
import type { ClickHouseBatcher } from './batcher.ts';

/** Reduces a batch processed under an older, more permissive tier to the tenant's current one. */
export type Downgrade = (batch: RecordBatch, ctx: BatchContext) => { batch: RecordBatch; ctx: BatchContext };

export interface ClickHouseSinkOptions {
  batcher: ClickHouseBatcher;
  downgrade: Downgrade;
}

export class ClickHouseSink {
  constructor(private readonly opts: ClickHouseSinkOptions) {}

  async write(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    const current = this.opts.downgrade(batch, ctx);
    await this.opts.batcher.write(encodeBatch(current.batch, current.ctx));
  }

  drain(): Promise<void> {
    return this.opts.batcher.drain();
  }
}
