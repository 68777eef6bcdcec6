// The ClickHouse end of the pipeline, shared by both transports: records ->
// (reduced to the tenant's current tier if it has been downgraded since) ->
// rows -> batched insert. Rows already encoded by an ingest worker skip the
// first steps when nothing changed for the tenant since they were processed.
// Writes that passed the check are tracked per tenant until inserted, so a
// tier switch can wait for them (settled): after that, nothing received
// under the old tier is written under it.
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import { encodeRows } from './encode.ts';
import { type JoinedRows } from '../../storage/tables.ts';
import type { ClickHouseBatcher } from './batcher.ts';

/** Reduces a batch processed under an older, more permissive tier to the tenant's current one. */
export type Downgrade = (batch: RecordBatch, ctx: BatchContext) => { batch: RecordBatch; ctx: BatchContext };

export interface ClickHouseSinkOptions {
  batcher: ClickHouseBatcher;
  downgrade: Downgrade;
  /**
   * True when a batch processed under `ctx`, whose spans and logs belong to
   * `traceIds`, needs no downgrade or erasure now, so its rows can be written
   * as encoded.
   */
  isCurrent?: (ctx: BatchContext, traceIds: readonly string[]) => boolean;
}

export class ClickHouseSink {
  /** Per tenant: writes past the tier check, not yet inserted (or failed). */
  private readonly writing = new Map<string, Set<Promise<void>>>();

  constructor(private readonly opts: ClickHouseSinkOptions) {}

  async write(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    const current = this.opts.downgrade(batch, ctx);
    await this.track(ctx.tenantId, this.opts.batcher.write(encodeRows(current.batch, current.ctx)));
  }

  /**
   * Writes rows encoded (by an ingest worker) from a batch processed under
   * `ctx`, when that batch is still current; false, having written nothing,
   * when it is not: the caller then writes the records, which get the downgrade.
   */
  async writeRows(rows: JoinedRows, ctx: BatchContext, traceIds: readonly string[]): Promise<boolean> {
    if (this.opts.isCurrent?.(ctx, traceIds) !== true) return false;
    await this.track(ctx.tenantId, this.opts.batcher.write(rows));
    return true;
  }

  /**
   * Settles once every write of `tenantId` that passed the tier check before
   * this call is inserted or failed. Called after the tenant's tier changed:
   * later writes are checked against the new tier.
   */
  async settled(tenantId: string): Promise<void> {
    await Promise.allSettled([...(this.writing.get(tenantId) ?? [])]);
  }

  drain(): Promise<void> {
    return this.opts.batcher.drain();
  }

  /** Registered in the same tick as the check that let the write through. */
  private track(tenantId: string, write: Promise<void>): Promise<void> {
    let pending = this.writing.get(tenantId);
    if (pending === undefined) this.writing.set(tenantId, (pending = new Set()));
    const set = pending;
    set.add(write);
    const done = () => {
      set.delete(write);
      if (set.size === 0 && this.writing.get(tenantId) === set) this.writing.delete(tenantId);
    };
    write.then(done, done);
    return write;
  }
}
