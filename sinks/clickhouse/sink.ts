// The ClickHouse end of the pipeline, shared by both transports: records ->
// (reduced to the tenant's current tier if it has been downgraded since) ->
// rows -> batched insert. Rows already encoded by an ingest worker skip the
// first steps when nothing changed for the tenant since they were processed.
import type { BatchContext, RecordBatch } from '../../processors/record.ts';
import { encodeBatch, joinRows, type JoinedRows } from './encode.ts';
import type { ClickHouseBatcher } from './batcher.ts';

/** Reduces a batch processed under an older, more permissive tier to the tenant's current one. */
export type Downgrade = (batch: RecordBatch, ctx: BatchContext) => { batch: RecordBatch; ctx: BatchContext };

export interface ClickHouseSinkOptions {
  batcher: ClickHouseBatcher;
  downgrade: Downgrade;
  /** True when a batch processed under `ctx` needs no downgrade or erasure now, so its rows can be written as encoded. */
  isCurrent?: (ctx: BatchContext) => boolean;
}

export class ClickHouseSink {
  constructor(private readonly opts: ClickHouseSinkOptions) {}

  async write(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    const current = this.opts.downgrade(batch, ctx);
    await this.opts.batcher.write(joinRows(encodeBatch(current.batch, current.ctx)));
  }

  /**
   * Writes rows encoded (by an ingest worker) from a batch processed under
   * `ctx`, when that batch is still current; false, having written nothing,
   * when it is not: the caller then writes the records, which get the downgrade.
   */
  async writeRows(rows: JoinedRows, ctx: BatchContext): Promise<boolean> {
    if (this.opts.isCurrent?.(ctx) !== true) return false;
    await this.opts.batcher.write(rows);
    return true;
  }

  drain(): Promise<void> {
    return this.opts.batcher.drain();
  }
}
