// Embedded-mode writer: rows from many requests are gathered per table and
// inserted together, by row count or after a delay, whichever comes first.
// A request's promise settles when the insert holding its rows has settled, so
// the gateway's 200 means the rows are stored.
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { insertRows } from './insert.ts';
import { TABLES, type JoinedRows, type Table } from './encode.ts';

export interface BatcherOptions {
  client: ClickHouseClient;
  /** Embedded chdb: insert through files (ClickHouse.spoolDir). */
  spoolDir?: string;
  /** Rows that trigger an insert without waiting for the delay. */
  maxRows: number;
  /** Longest time a row waits for its batch to fill, ms. */
  maxDelayMs: number;
  /** Called after every insert, for metrics. */
  onInsert?: (table: string, rows: number, seconds: number, error?: unknown) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

class TableBatch {
  /** Each request's rows, joined (JoinedRows). */
  private parts: string[] = [];
  private rows = 0;
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly table: Table,
    private readonly opts: BatcherOptions,
  ) {}

  add(text: string, rows: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.parts.push(text);
      this.rows += rows;
      this.waiters.push({ resolve, reject });
      if (this.rows >= this.opts.maxRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.maxDelayMs);
    });
  }

  get pendingRows(): number {
    return this.rows;
  }

  /** Starts an insert of what is pending, unless one is running (it re-flushes when done). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inflight !== undefined || this.waiters.length === 0) return;
    // Everything pending goes in one insert: a request's rows are never split
    // across inserts, so each request settles with exactly one insert. A batch
    // can exceed maxRows by at most one request (bounded by the body limit).
    const { parts, rows, waiters } = this;
    this.parts = [];
    this.rows = 0;
    this.waiters = [];
    const started = performance.now();
    this.inflight = insertRows(this.opts.client, this.table, parts, randomUUID(), this.opts.spoolDir).then(
      () => {
        this.opts.onInsert?.(this.table, rows, (performance.now() - started) / 1000);
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        this.opts.onInsert?.(this.table, rows, (performance.now() - started) / 1000, err);
        for (const w of waiters) w.reject(err);
      },
    );
    void this.inflight.finally(() => {
      this.inflight = undefined;
      if (this.waiters.length > 0 && this.rows >= this.opts.maxRows) this.flush();
      else if (this.waiters.length > 0) this.timer ??= setTimeout(() => this.flush(), this.opts.maxDelayMs);
    });
  }

  async drain(): Promise<void> {
    while (this.waiters.length > 0 || this.inflight !== undefined) {
      this.flush();
      await this.inflight?.catch(() => undefined);
    }
  }
}

export class ClickHouseBatcher {
  private readonly tables: Map<Table, TableBatch>;

  constructor(opts: BatcherOptions) {
    this.tables = new Map(TABLES.map((t) => [t, new TableBatch(t, opts)]));
  }

  /** Queues the rows; resolves once every row is inserted, rejects if an insert failed. */
  async write(rows: JoinedRows): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [table, batch] of this.tables) {
      const { text, rows: n } = rows[table];
      if (n > 0) pending.push(batch.add(text, n));
    }
    await Promise.all(pending);
  }

  get pendingRows(): number {
    let n = 0;
    for (const b of this.tables.values()) n += b.pendingRows;
    return n;
  }

  /** Inserts everything pending and waits for it; failed inserts reject their writers, not this. */
  async drain(): Promise<void> {
    await Promise.all([...this.tables.values()].map((b) => b.drain()));
  }
}
