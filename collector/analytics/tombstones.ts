// Erasure tombstones: which end users (user.id) and tenants have been erased,
// and when. Every writer checks them before it stores a batch (the sink's
// downgrade step), so data received before an erasure but still in flight
// (in Kafka, in a batch waiting for its insert) is dropped, not written after
// the delete. Data received after the erasure is new data and is kept.
//
// ClickHouse (consentry.erasure_tombstones) is the record; each process keeps
// the whole set in memory, loads it at start and refreshes it periodically, so
// a Kafka sink in another process learns of an erasure within refreshMs.
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from '../../sinks/clickhouse/client.ts';
import { emptyBatch, type Attributes, type BatchContext, type RecordBatch } from '../../processors/record.ts';

export interface Tombstone {
  tenantId: string;
  /** The erased end user (`user.id`); '' for the whole tenant. */
  subject: string;
  /** Unix ms: records received at or before it are dropped. */
  erasedAtMs: number;
}

interface TenantTombstones {
  /** Whole tenant erased at (Unix ms); -Infinity when not. */
  tenantAt: number;
  /** The latest erasure of the tenant or any of its subjects (Unix ms). */
  latestAt: number;
  subjects: Map<string, number>;
}

export interface TombstonesOptions {
  client: ClickHouseClient;
  /** How often refresh() runs once start()ed, ms. Default 1000. */
  refreshMs?: number;
  onError?: (err: unknown) => void;
  /** Records dropped because of a tombstone, by signal. */
  onDrop?: (signal: 'spans' | 'logs' | 'summaries' | 'metadata', n: number) => void;
}

const toDateTime64 = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

export class ErasureTombstones {
  private byTenant = new Map<string, TenantTombstones>();
  /** Added here since start: kept across refreshes even before ClickHouse has them. */
  private readonly local: Tombstone[] = [];
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private loaded = false;

  constructor(private readonly opts: TombstonesOptions) {}

  get refreshMs(): number {
    return this.opts.refreshMs ?? 1000;
  }

  /** Whether load() has completed once. */
  get ready(): boolean {
    return this.loaded;
  }

  /** Reads every tombstone from ClickHouse, replacing what is in memory (local additions stay). */
  async load(): Promise<void> {
    const res = await this.opts.client.query({
      query: `SELECT TenantId, Subject, toUnixTimestamp64Milli(ErasedAt) AS At FROM ${DATABASE}.erasure_tombstones SETTINGS output_format_json_quote_64bit_integers = 0`,
      format: 'JSONEachRow',
    });
    const next = new Map<string, TenantTombstones>();
    const put = (t: Tombstone) => {
      let e = next.get(t.tenantId);
      if (e === undefined) next.set(t.tenantId, (e = { tenantAt: -Infinity, latestAt: -Infinity, subjects: new Map() }));
      e.latestAt = Math.max(e.latestAt, t.erasedAtMs);
      if (t.subject === '') e.tenantAt = Math.max(e.tenantAt, t.erasedAtMs);
      else e.subjects.set(t.subject, Math.max(e.subjects.get(t.subject) ?? -Infinity, t.erasedAtMs));
    };
    for (const r of await res.json<{ TenantId: string; Subject: string; At: number }>()) put({ tenantId: r.TenantId, subject: r.Subject, erasedAtMs: Number(r.At) });
    for (const t of this.local) put(t);
    this.byTenant = next;
    this.loaded = true;
  }

  /** load() again; concurrent calls share one read. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.refresh().catch((err: unknown) => this.opts.onError?.(err));
    }, this.refreshMs);
    this.timer.unref();
  }

  /** Stops the refresh and waits for one in progress, so ClickHouse can close after. Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.refreshing?.catch(() => undefined);
  }

  /** Puts a tombstone in force here at once, then records it in ClickHouse for the other processes. */
  async add(t: Tombstone): Promise<void> {
    this.local.push(t);
    let e = this.byTenant.get(t.tenantId);
    if (e === undefined) this.byTenant.set(t.tenantId, (e = { tenantAt: -Infinity, latestAt: -Infinity, subjects: new Map() }));
    e.latestAt = Math.max(e.latestAt, t.erasedAtMs);
    if (t.subject === '') e.tenantAt = Math.max(e.tenantAt, t.erasedAtMs);
    else e.subjects.set(t.subject, Math.max(e.subjects.get(t.subject) ?? -Infinity, t.erasedAtMs));
    await this.opts.client.insert({
      table: `${DATABASE}.erasure_tombstones`,
      values: [{ TenantId: t.tenantId, Subject: t.subject, ErasedAt: toDateTime64(t.erasedAtMs) }],
      format: 'JSONEachRow',
    });
  }

  /** Whether any record of `tenantId` received at `receivedAtMs` may be erased (an erasure at or after it). */
  affects(tenantId: string, receivedAtMs: number): boolean {
    const e = this.byTenant.get(tenantId);
    return e !== undefined && receivedAtMs <= e.latestAt;
  }

  /** Whether records of `subject` of `tenantId` received at `receivedAtMs` are erased. */
  isErased(tenantId: string, subject: string, receivedAtMs: number): boolean {
    const e = this.byTenant.get(tenantId);
    if (e === undefined) return false;
    if (receivedAtMs <= e.tenantAt) return true;
    const at = e.subjects.get(subject);
    return at !== undefined && receivedAtMs <= at;
  }

  /**
   * The writer's check, `(batch, ctx) => batch`: drops every record of an
   * erased tenant, and spans and logs whose `user.id` (record or resource
   * attribute) is an erased subject, with the other spans and logs of the same
   * traces in the batch. Received after the erasure: kept.
   */
  readonly filter = (batch: RecordBatch, ctx: BatchContext): RecordBatch => {
    const e = this.byTenant.get(ctx.tenantId);
    if (e === undefined) return batch;
    if (ctx.receivedAtMs <= e.tenantAt) {
      this.count(batch, emptyBatch());
      return batch.expireAt === undefined ? emptyBatch() : { ...emptyBatch(), expireAt: batch.expireAt };
    }
    if (e.subjects.size === 0 || (batch.spans.length === 0 && batch.logs.length === 0)) return batch;
    const erased = (a: Attributes, r: Attributes): boolean => {
      for (const u of [a['user.id'], r['user.id']]) {
        if (u === undefined) continue;
        const at = e.subjects.get(u);
        if (at !== undefined && ctx.receivedAtMs <= at) return true;
      }
      return false;
    };
    const traces = new Set<string>();
    for (const s of batch.spans) if (erased(s.attributes, s.resource.attributes)) traces.add(s.traceId);
    for (const l of batch.logs) if (l.traceId !== '' && erased(l.attributes, l.resource.attributes)) traces.add(l.traceId);
    const spans = batch.spans.filter((s) => !traces.has(s.traceId) && !erased(s.attributes, s.resource.attributes));
    const logs = batch.logs.filter((l) => !(l.traceId !== '' && traces.has(l.traceId)) && !erased(l.attributes, l.resource.attributes));
    if (spans.length === batch.spans.length && logs.length === batch.logs.length) return batch;
    const out = { ...batch, spans, logs };
    this.count(batch, out);
    return out;
  };

  private count(before: RecordBatch, after: RecordBatch): void {
    if (this.opts.onDrop === undefined) return;
    for (const s of ['spans', 'logs', 'summaries', 'metadata'] as const) {
      const n = before[s].length - after[s].length;
      if (n > 0) this.opts.onDrop(s, n);
    }
  }
}

const perClient = new WeakMap<ClickHouseClient, ErasureTombstones>();

/**
 * The one ErasureTombstones of a ClickHouse client in this process: the sink's
 * filter and the erasure API must share it. Created on first use; the privacy
 * routes load and start it when the API starts.
 */
export function erasureTombstones(client: ClickHouseClient): ErasureTombstones {
  let t = perClient.get(client);
  if (t === undefined) perClient.set(client, (t = new ErasureTombstones({ client })));
  return t;
}
