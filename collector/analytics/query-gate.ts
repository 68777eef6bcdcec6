// How many tenant SQL queries run at once. A query holds a thread of libuv's
// pool for as long as it runs (embedded chdb waits for each statement there),
// the pool that ClickHouse inserts, insert spool files and gunzip of OTLP
// bodies also use. So the total stays below that pool, and one tenant never
// gets every slot: whatever tenant A runs, tenant B's ingest keeps its threads
// and B's next query finds a free slot. Past either cap the answer is 429
// QUERY_BUSY at once, never a queue. (CPU is shared by the engine's own
// limits: one thread per query, at a lower OS priority: sql-guard.ts.)

export interface QueryGateOptions {
  /** Queries of all tenants at once. */
  total: number;
  /** Queries of one tenant at once; held below `total` when total > 1. */
  perTenant: number;
}

export type Admission = { ok: true; release(): void } | { ok: false; message: string };

export class QueryGate {
  readonly total: number;
  readonly perTenant: number;
  private running = 0;
  private readonly byTenant = new Map<string, number>();

  constructor(opts: QueryGateOptions) {
    this.total = opts.total;
    this.perTenant = Math.max(1, opts.total > 1 ? Math.min(opts.perTenant, opts.total - 1) : 1);
  }

  /** A slot for one query of `tenantId` (release it exactly once), or why not. */
  admit(tenantId: string): Admission {
    const mine = this.byTenant.get(tenantId) ?? 0;
    if (mine >= this.perTenant) {
      return { ok: false, message: `${mine} queries of this tenant are running (at most ${this.perTenant}): retry after the Retry-After seconds` };
    }
    if (this.running >= this.total) {
      return { ok: false, message: `${this.running} tenant queries are running (at most ${this.total} in all): retry after the Retry-After seconds` };
    }
    this.running++;
    this.byTenant.set(tenantId, mine + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        const left = (this.byTenant.get(tenantId) ?? 1) - 1;
        if (left === 0) this.byTenant.delete(tenantId);
        else this.byTenant.set(tenantId, left);
      },
    };
  }
}
