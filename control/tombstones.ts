// Erasure tombstones: which end users (user.id) and tenants have been erased,
// and when, and which traces were theirs. Every writer checks them before it
// stores a batch (the sink's downgrade step), so data received before an
// erasure but still in flight (in Kafka, in a batch waiting for its insert) is
// dropped, not written after the delete. Data of the subject received after
// the erasure is new data and is kept.
//
// Traces. Only some spans of a request carry user.id (the SERVER span); the
// others (upstream calls, with the prompt) reach the writer in other requests,
// before or after. So the erasure records the subject's traces
// (consentry.erased_traces), and writers drop every span and log of those
// traces that arrives up to `traceBlockMs` after the erasure. A writer that
// drops a span of the subject in flight records that span's trace as well, so
// the erasure's next delete pass and later erasures of the subject find the
// trace's other rows.
//
// Bounds. Subject and tenant tombstones: the whole set, in memory (a row per
// erasure, 90 days in ClickHouse). Traces: only those of erasures in the last
// traceBlockMs whose newest span is at most traceBlockMs older than the
// erasure (finished traces get no late spans), at most maxTraces of them, about
// 95 bytes each (a Map entry: 32-character trace id and a number; measured with
// Node 20); past maxTraces further traces are not held (onFull; a restart
// holds the newest), and their pieces are removed by a later erasure of the subject.
//
// ClickHouse is the record; each process loads it before it takes data and
// refreshes every refreshMs (traces: only rows recorded since the last read),
// so a Kafka sink in another process learns of an erasure within refreshMs.
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from '../storage/clickhouse.ts';
import { emptyBatch, forEachDropped, type Attributes, type BatchContext, type RecordBatch } from '../core/record.ts';

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
  /** How long after an erasure later-arriving spans and logs of the subject's traces are dropped, ms (CONSENTRY_ERASURE_TRACE_HOURS). */
  traceBlockMs: number;
  /** Erased traces held in memory at most (CONSENTRY_ERASURE_MAX_TRACES); 0: none (a process that writes nothing). */
  maxTraces: number;
  onError?: (err: unknown) => void;
  /** Records dropped because of a tombstone, by signal. */
  onDrop?: (signal: 'spans' | 'logs' | 'summaries' | 'metadata', n: number) => void;
  /** maxTraces was reached: `skipped` erased traces are not held (once per refresh that skipped some). */
  onFull?: (skipped: number) => void;
  /**
   * The filter found erased traces in flight (recorded in ClickHouse now):
   * the writer deletes what it stored of them before (erasure.ts deleteTraces).
   */
  onLearned?: (tenantId: string, traceIds: string[]) => Promise<void>;
}

/** Rows recorded at most this long before the newest one seen may still become visible: read again. */
const RECORDED_SLACK_MS = 10_000;
const PRUNE_EVERY_MS = 60_000;

const toDateTime64 = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

export class ErasureTombstones {
  private byTenant = new Map<string, TenantTombstones>();
  /** Added here since start: kept across refreshes even before ClickHouse has them. */
  private readonly local: Tombstone[] = [];
  /** Erased traces per tenant: trace id -> until (Unix ms) spans and logs of it received are dropped. */
  private readonly traces = new Map<string, Map<string, number>>();
  private held = 0;
  private skipped = 0;
  /** RecordedAt of the newest erased_traces row read (Unix ms, ClickHouse's clock). */
  private recordedUpTo = 0;
  private prunedAt = 0;
  /** Traces learned by the filter, waiting to be recorded in ClickHouse. */
  private learned: Array<{ TenantId: string; Subject: string; TraceId: string; ErasedAt: string; LastSpanAt: string }> = [];
  private learnedTotal = 0;
  private recording: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private nextRead: Promise<void> | undefined;
  private loaded = false;

  constructor(private readonly opts: TombstonesOptions) {}

  get refreshMs(): number {
    return this.opts.refreshMs ?? 1000;
  }

  /** Whether load() has completed once. */
  get ready(): boolean {
    return this.loaded;
  }

  /** Erased traces held in memory now. */
  get heldTraces(): number {
    return this.held;
  }

  /** Traces the filter has learned of and held since start: a writer that filtered a group of batches while this changed filters them again. */
  get learnedCount(): number {
    return this.learnedTotal;
  }

  /** Reads every tombstone from ClickHouse (local additions stay) and the erased traces recorded since the last read. */
  async load(): Promise<void> {
    const res = await this.opts.client.query({
      query: `SELECT TenantId, Subject, toUnixTimestamp64Milli(ErasedAt) AS At FROM ${DATABASE}.erasure_tombstones SETTINGS output_format_json_quote_64bit_integers = 0`,
      format: 'JSONEachRow',
    });
    const next = new Map<string, TenantTombstones>();
    for (const r of await res.json<{ TenantId: string; Subject: string; At: number }>()) put(next, { tenantId: r.TenantId, subject: r.Subject, erasedAtMs: Number(r.At) });
    for (const t of this.local) put(next, t);
    this.byTenant = next;
    if (this.opts.maxTraces > 0) await this.loadTraces();
    this.loaded = true;
  }

  private async loadTraces(): Promise<void> {
    const now = Date.now();
    if (now - this.prunedAt >= PRUNE_EVERY_MS) this.prune(now);
    // Newest erasures first: they are the ones held when there are more than maxTraces.
    const res = await this.opts.client.query({
      query:
        `SELECT TenantId, TraceId, toUnixTimestamp64Milli(max(ErasedAt)) AS At, toUnixTimestamp64Milli(max(RecordedAt)) AS Recorded FROM ${DATABASE}.erased_traces ` +
        `WHERE RecordedAt >= fromUnixTimestamp64Milli({since:Int64}) AND ErasedAt >= fromUnixTimestamp64Milli({from:Int64}) ` +
        `AND LastSpanAt >= ErasedAt - toIntervalMillisecond({block:Int64}) ` +
        `GROUP BY TenantId, TraceId ORDER BY At DESC LIMIT {max:UInt64} SETTINGS output_format_json_quote_64bit_integers = 0`,
      query_params: { since: Math.max(0, this.recordedUpTo - RECORDED_SLACK_MS), from: now - this.opts.traceBlockMs, block: this.opts.traceBlockMs, max: this.opts.maxTraces },
      format: 'JSONEachRow',
    });
    const skippedBefore = this.skipped;
    for (const r of await res.json<{ TenantId: string; TraceId: string; At: number; Recorded: number }>()) {
      this.hold(r.TenantId, r.TraceId, Number(r.At) + this.opts.traceBlockMs);
      this.recordedUpTo = Math.max(this.recordedUpTo, Number(r.Recorded));
    }
    if (this.skipped > skippedBefore) this.opts.onFull?.(this.skipped - skippedBefore);
  }

  /** Holds an erased trace until `until` (Unix ms); false when it is not held (expired, or maxTraces reached). */
  private hold(tenantId: string, traceId: string, until: number): boolean {
    if (until < Date.now()) return false;
    let m = this.traces.get(tenantId);
    const had = m?.get(traceId);
    if (had !== undefined) {
      if (until > had) m!.set(traceId, until);
      return true;
    }
    if (this.held >= this.opts.maxTraces) {
      this.skipped++;
      return false;
    }
    if (m === undefined) this.traces.set(tenantId, (m = new Map<string, number>()));
    m.set(traceId, until);
    this.held++;
    return true;
  }

  private prune(now: number): void {
    this.prunedAt = now;
    for (const [tenant, m] of this.traces) {
      for (const [trace, until] of m) if (until < now) m.delete(trace);
      if (m.size === 0) this.traces.delete(tenant);
    }
    this.held = 0;
    for (const m of this.traces.values()) this.held += m.size;
  }

  /** Reads ClickHouse again (load) in a read that starts after this call; callers waiting at the same time share it. */
  refresh(): Promise<void> {
    this.nextRead ??= this.reading.catch(() => undefined).then(() => {
      this.nextRead = undefined;
      return this.load();
    });
    this.reading = this.nextRead;
    return this.nextRead;
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.refresh().catch((err: unknown) => this.opts.onError?.(err));
      if (this.learned.length > 0) void this.recorded();
    }, this.refreshMs);
    this.timer.unref();
  }

  /** Stops the refresh and waits for a read and recording in progress, so ClickHouse can close after. Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.reading.catch(() => undefined);
    await this.recording;
  }

  /** Puts a tombstone in force here at once, then records it in ClickHouse for the other processes. */
  async add(t: Tombstone): Promise<void> {
    this.local.push(t);
    put(this.byTenant, t);
    await this.opts.client.insert({
      table: `${DATABASE}.erasure_tombstones`,
      values: [{ TenantId: t.tenantId, Subject: t.subject, ErasedAt: toDateTime64(t.erasedAtMs) }],
      format: 'JSONEachRow',
    });
  }

  /** Resolves once the traces the filter learned so far are recorded in ClickHouse, or the attempt failed (onError; retried every refreshMs). */
  async recorded(): Promise<void> {
    await this.recording;
    if (this.learned.length === 0) return;
    this.recording ??= this.record().finally(() => (this.recording = undefined));
    await this.recording;
  }

  private async record(): Promise<void> {
    const rows = this.learned;
    this.learned = [];
    try {
      await this.opts.client.insert({ table: `${DATABASE}.erased_traces`, values: rows, format: 'JSONEachRow' });
      const byTenant = new Map<string, string[]>();
      for (const r of rows) byTenant.set(r.TenantId, [...(byTenant.get(r.TenantId) ?? []), r.TraceId]);
      for (const [tenantId, traceIds] of byTenant) await this.opts.onLearned?.(tenantId, traceIds).catch((err: unknown) => this.opts.onError?.(err));
    } catch (err) {
      // Held here already; other processes and later erasures miss them until a retry succeeds.
      this.learned.unshift(...rows);
      this.opts.onError?.(err);
    }
  }

  /**
   * Whether the writer must run the filter on records of `tenantId` received
   * at `receivedAtMs` (an erasure at or after it, or one of `traceIds` erased),
   * or may store rows encoded before the check as they are.
   */
  affects(tenantId: string, receivedAtMs: number, traceIds: readonly string[] = []): boolean {
    const e = this.byTenant.get(tenantId);
    if (e !== undefined && receivedAtMs <= e.latestAt) return true;
    const blocked = this.traces.get(tenantId);
    if (blocked === undefined) return false;
    for (const t of traceIds) if ((blocked.get(t) ?? -Infinity) >= receivedAtMs) return true;
    return false;
  }

  /** Whether records of `subject` of `tenantId` received at `receivedAtMs` are erased. */
  isErased(tenantId: string, subject: string, receivedAtMs: number): boolean {
    const e = this.byTenant.get(tenantId);
    if (e === undefined) return false;
    if (receivedAtMs <= e.tenantAt) return true;
    const at = e.subjects.get(subject);
    return at !== undefined && receivedAtMs <= at;
  }

  /** Whether spans and logs of `traceId` of `tenantId` received at `receivedAtMs` are dropped. */
  isTraceErased(tenantId: string, traceId: string, receivedAtMs: number): boolean {
    return (this.traces.get(tenantId)?.get(traceId) ?? -Infinity) >= receivedAtMs;
  }

  /**
   * The writer's check, `(batch, ctx) => batch`: drops every record of an
   * erased tenant; spans and logs whose `user.id` (record or resource
   * attribute) is an erased subject, received up to its erasure, with every
   * span and log of their traces (those traces are then held and recorded);
   * and spans and logs of erased traces received up to traceBlockMs after
   * their erasure.
   */
  readonly filter = (batch: RecordBatch, ctx: BatchContext): RecordBatch => {
    const e = this.byTenant.get(ctx.tenantId);
    const blocked = this.traces.get(ctx.tenantId);
    if (e === undefined && blocked === undefined) return batch;
    if (e !== undefined && ctx.receivedAtMs <= e.tenantAt) {
      this.count(batch, emptyBatch());
      return batch.expireAt === undefined ? emptyBatch() : { ...emptyBatch(), expireAt: batch.expireAt };
    }
    if (batch.spans.length === 0 && batch.logs.length === 0) return batch;
    // Subjects erased after this batch was received.
    const subjects = e !== undefined && ctx.receivedAtMs <= e.latestAt ? e.subjects : undefined;
    const erasedBy = (a: Attributes, r: Attributes): string | undefined => {
      if (subjects === undefined) return undefined;
      for (const u of [a['user.id'], r['user.id']]) {
        if (u === undefined) continue;
        const at = subjects.get(u);
        if (at !== undefined && ctx.receivedAtMs <= at) return u;
      }
      return undefined;
    };
    // Traces of the erased subjects' records in this batch.
    const hit = new Map<string, string>();
    const erased = (traceId: string, a: Attributes, r: Attributes): boolean => {
      const subject = erasedBy(a, r);
      if (subject !== undefined && traceId !== '') hit.set(traceId, subject);
      return subject !== undefined;
    };
    const gone = new Set<object>();
    for (const s of batch.spans) if (erased(s.traceId, s.attributes, s.resource.attributes)) gone.add(s);
    for (const l of batch.logs) if (erased(l.traceId, l.attributes, l.resource.attributes)) gone.add(l);
    const dropped = (traceId: string, record: object) => gone.has(record) || (traceId !== '' && (hit.has(traceId) || (blocked?.get(traceId) ?? -Infinity) >= ctx.receivedAtMs));
    const spans = batch.spans.filter((s) => !dropped(s.traceId, s));
    const logs = batch.logs.filter((l) => !dropped(l.traceId, l));
    for (const [traceId, subject] of hit) this.learn(ctx, traceId, subject);
    if (spans.length === batch.spans.length && logs.length === batch.logs.length) return batch;
    const out = { ...batch, spans, logs };
    this.count(batch, out);
    return out;
  };

  /** A trace of an erased subject seen in flight: held here at once, recorded for the erasure's passes and the other processes. */
  private learn(ctx: BatchContext, traceId: string, subject: string): void {
    if (this.isTraceErased(ctx.tenantId, traceId, ctx.receivedAtMs)) return;
    const erasedAtMs = this.byTenant.get(ctx.tenantId)?.subjects.get(subject) ?? ctx.receivedAtMs;
    if (this.opts.maxTraces > 0 && this.hold(ctx.tenantId, traceId, erasedAtMs + this.opts.traceBlockMs)) this.learnedTotal++;
    this.learned.push({ TenantId: ctx.tenantId, Subject: subject, TraceId: traceId, ErasedAt: toDateTime64(erasedAtMs), LastSpanAt: toDateTime64(ctx.receivedAtMs) });
    void this.recorded();
  }

  private count(before: RecordBatch, after: RecordBatch): void {
    if (this.opts.onDrop !== undefined) forEachDropped(before, after, this.opts.onDrop);
  }
}

function put(map: Map<string, TenantTombstones>, t: Tombstone): void {
  let e = map.get(t.tenantId);
  if (e === undefined) map.set(t.tenantId, (e = { tenantAt: -Infinity, latestAt: -Infinity, subjects: new Map() }));
  e.latestAt = Math.max(e.latestAt, t.erasedAtMs);
  if (t.subject === '') e.tenantAt = Math.max(e.tenantAt, t.erasedAtMs);
  else e.subjects.set(t.subject, Math.max(e.subjects.get(t.subject) ?? -Infinity, t.erasedAtMs));
}
