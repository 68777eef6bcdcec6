// Embedded-mode writer: rows from many requests are gathered per table and
// inserted together, by row count or after a delay, whichever comes first.
// A request's promise settles when the insert holding its rows has settled, so
// the gateway's 200 means the rows are stored.
//
// One request's bad rows never fail another request: when ClickHouse refuses
// an insert's data (isPermanentInsertError), the requests are split in halves
// and each half inserted again, down to the single requests whose rows are
// refused. A refused insert writes nothing (one block: the whole body is parsed
// before a part is written), and each half gets its own deduplication token
// (`<token>.0`, `<token>.1`), so every row is written once.
import { randomUUID } from 'node:crypto';
import { insertParts, isPermanentInsertError, type InsertParts, type InsertTarget } from './insert.ts';
import { TABLES, type JoinedRows, type Table, type TableRows } from '../../storage/tables.ts';

/** Where inserts go (a client, with the spool folder of embedded chdb), and the limits. */
export type BatcherOptions = InsertTarget & BatcherLimits;

export interface BatcherLimits {
  /** Rows that trigger an insert without waiting for the delay. */
  maxRows: number;
  /** Longest time a row waits for its batch to fill, ms. */
  maxDelayMs: number;
  /** Called after every insert, for metrics. */
  onInsert?: (table: string, rows: number, seconds: number, error?: unknown) => void;
}

/** One request's rows of a table (TableRows), and its promise. */
interface Part extends TableRows {
  resolve: () => void;
  reject: (err: unknown) => void;
}

class TableBatch {
  private parts: Part[] = [];
  private rows = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly table: Table,
    private readonly opts: BatcherLimits,
    private readonly insertParts: InsertParts,
  ) {}

  add({ body, rows }: TableRows): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.parts.push({ body, rows, resolve, reject });
      this.rows += rows;
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
    if (this.inflight !== undefined || this.parts.length === 0) return;
    // Everything pending goes in one insert: a request's rows are never split
    // across inserts, so each request settles with exactly one successful
    // insert. A batch can exceed maxRows by at most one request (bounded by the
    // body limit).
    const { parts } = this;
    this.parts = [];
    this.rows = 0;
    this.inflight = this.insert(parts, randomUUID());
    void this.inflight.finally(() => {
      this.inflight = undefined;
      if (this.parts.length > 0 && this.rows >= this.opts.maxRows) this.flush();
      else if (this.parts.length > 0) this.timer ??= setTimeout(() => this.flush(), this.opts.maxDelayMs);
    });
  }

  /** Inserts the parts together; when ClickHouse refuses the data, each half again (see the top of the file). Never rejects. */
  private async insert(parts: Part[], token: string): Promise<void> {
    let rows = 0;
    for (const p of parts) rows += p.rows;
    const started = performance.now();
    try {
      await this.insertParts(this.table, parts, token);
      this.opts.onInsert?.(this.table, rows, (performance.now() - started) / 1000);
      for (const p of parts) p.resolve();
    } catch (err) {
      this.opts.onInsert?.(this.table, rows, (performance.now() - started) / 1000, err);
      if (parts.length === 1 || !isPermanentInsertError(err)) {
        for (const p of parts) p.reject(err);
        return;
      }
      const half = parts.length >>> 1;
      await this.insert(parts.slice(0, half), `${token}.0`);
      await this.insert(parts.slice(half), `${token}.1`);
    }
  }

  async drain(): Promise<void> {
    while (this.parts.length > 0 || this.inflight !== undefined) {
      this.flush();
      await this.inflight?.catch(() => undefined);
    }
  }
}

export class ClickHouseBatcher {
  private readonly tables: Map<Table, TableBatch>;

  constructor(opts: BatcherOptions) {
    const insert = insertParts(opts);
    this.tables = new Map(TABLES.map((t) => [t, new TableBatch(t, opts, insert)]));
  }

  /** Queues the rows; resolves once every row is inserted, rejects if an insert failed. */
  async write(rows: JoinedRows): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [table, batch] of this.tables) {
      if (rows[table].rows > 0) pending.push(batch.add(rows[table]));
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
