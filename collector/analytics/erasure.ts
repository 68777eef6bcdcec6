// Erasure of one end user (subject = `user.id`) or of a whole tenant.
//
// Order matters:
// 1. Tombstone first (tombstones.ts): from that instant no writer stores data
//    of the subject received until now, wherever it is still in flight.
// 2. Let what already passed the writer's check land (drain the batcher,
//    bounded by settleMs).
// 3. Delete from every table, in passes: count, delete, and once more after a
//    settle delay for rows another process (a Kafka sink that had not
//    refreshed its tombstones yet) wrote in between. Stops when a pass finds
//    nothing.
// 4. Audit (consentry.erasures): who, when, tenant, subject, rows per table.
//
// Deletes are lightweight `DELETE FROM ... SETTINGS lightweight_deletes_sync = 2`,
// chosen by measurement over `ALTER TABLE ... DELETE` mutations (bench-erase.ts:
// 3-5x faster here, docs/privacy.md): the rows are gone for every reader when
// the call returns. A lightweight delete only masks rows in their parts, so an
// `APPLY DELETED MASK` mutation is then started in the background to rewrite
// the parts without them (the bytes leave the disk when it is done and the old
// parts are cleaned up). Settings travel in the statement, never in the session.
//
// A subject's data: spans and logs whose `user.id` (record or resource
// attribute) is the subject, and every span and log of the traces those
// records belong to (the upstream call of a request often carries no user.id,
// but the prompt it sent). The traces are recorded in erased_traces first
// (tombstones.ts: writers then drop later pieces of them), with those that
// writers dropped in flight and those of earlier erasures of the subject, and
// the deletes read that list: a delete never reads the table it rewrites, and
// a later erasure still finds traces whose user.id span is gone.
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from '../../storage/clickhouse.ts';
import type { ErasureTombstones } from '../../control/tombstones.ts';

/** Tables that hold a tenant's data, each with its TenantId column. */
export const TENANT_DATA_TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit', 'tier_assignments'] as const;
/** Tables that can hold a subject's data (the others have no user ids by construction). */
export const SUBJECT_TABLES = ['otel_traces', 'otel_logs'] as const;

export interface ErasureOptions {
  client: ClickHouseClient;
  tombstones: ErasureTombstones;
  /** Waits until rows that passed the writer's check are inserted (the batcher's drain). */
  drain?: () => Promise<void>;
  /** Longest wait for drain, and the pause before the second pass, ms. Default: the tombstone refresh interval plus 500. */
  settleMs?: number;
  /** Most delete passes. Default 3. */
  maxPasses?: number;
  now?: () => number;
}

export interface ErasureReport {
  erasureId: string;
  tenant: string;
  /** Absent for a tenant erasure. */
  subject?: string;
  erasedAt: string;
  /** Rows deleted, per table. */
  rows: Record<string, number>;
  passes: number;
  durationMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** `SELECT <columns>` over the traces whose spans or logs carry the subject's user.id, grouped by TraceId; parameters {tenant} and {subject}. */
const subjectTraces = (columns: string) =>
  `SELECT ${columns} FROM (` +
  `SELECT TraceId, Timestamp FROM ${DATABASE}.otel_traces WHERE TenantId = {tenant:String} AND TraceId != '' AND (SpanAttributes['user.id'] = {subject:String} OR ResourceAttributes['user.id'] = {subject:String}) UNION ALL ` +
  `SELECT TraceId, Timestamp FROM ${DATABASE}.otel_logs WHERE TenantId = {tenant:String} AND TraceId != '' AND (LogAttributes['user.id'] = {subject:String} OR ResourceAttributes['user.id'] = {subject:String})` +
  `) GROUP BY TraceId`;

/**
 * WHERE of a subject's rows in `table`; parameters {tenant} and {subject}.
 * `recorded`: traces in erased_traces only (erasure, once it recorded them);
 * `live`: also the traces of the subject's stored records (export).
 */
export function subjectPredicate(table: (typeof SUBJECT_TABLES)[number], traces: 'recorded' | 'live'): string {
  const attrs = table === 'otel_traces' ? 'SpanAttributes' : 'LogAttributes';
  const recorded = `SELECT TraceId FROM ${DATABASE}.erased_traces WHERE TenantId = {tenant:String} AND Subject = {subject:String}`;
  const traceSet = traces === 'recorded' ? recorded : `${recorded} UNION ALL ${subjectTraces('TraceId')}`;
  const own = `${attrs}['user.id'] = {subject:String} OR ResourceAttributes['user.id'] = {subject:String}`;
  return `TenantId = {tenant:String} AND (${own} OR (TraceId != '' AND TraceId IN (${traceSet})))`;
}

async function deleteRows(client: ClickHouseClient, table: string, where: string, params: Record<string, unknown>): Promise<void> {
  await client.command({ query: `DELETE FROM ${DATABASE}.${table} WHERE ${where} SETTINGS lightweight_deletes_sync = 2`, query_params: params });
}

/**
 * Deletes the spans and logs of erased traces a writer learned of in flight
 * (tombstones.ts onLearned): pieces of them it wrote before it saw the
 * subject's span, possibly after the erasure's last pass.
 */
export async function deleteTraces(client: ClickHouseClient, tenantId: string, traceIds: string[]): Promise<void> {
  for (const table of SUBJECT_TABLES) await deleteRows(client, table, 'TenantId = {tenant:String} AND TraceId IN {traces:Array(String)}', { tenant: tenantId, traces: traceIds });
}

const toDateTime64 = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

export class Eraser {
  private readonly now: () => number;

  constructor(private readonly opts: ErasureOptions) {
    this.now = opts.now ?? Date.now;
  }

  private get settleMs(): number {
    return this.opts.settleMs ?? this.opts.tombstones.refreshMs + 500;
  }

  private async settle(): Promise<void> {
    if (this.opts.drain === undefined) return sleep(this.settleMs);
    await Promise.race([this.opts.drain().catch(() => undefined), sleep(this.settleMs)]);
  }

  private async count(table: string, where: string, params: Record<string, string>): Promise<number> {
    const res = await this.opts.client.query({
      query: `SELECT count() AS n FROM ${DATABASE}.${table} WHERE ${where} SETTINGS output_format_json_quote_64bit_integers = 0`,
      query_params: params,
      format: 'JSONEachRow',
    });
    return Number((await res.json<{ n: number }>())[0]?.n ?? 0);
  }

  private async remove(table: string, where: string, params: Record<string, string>): Promise<void> {
    await deleteRows(this.opts.client, table, where, params);
  }

  /** Rewrites the parts of `tables` without the masked rows, in the background. */
  private purge(tables: string[]): void {
    for (const t of tables) {
      this.opts.client
        .command({ query: `ALTER TABLE ${DATABASE}.${t} APPLY DELETED MASK SETTINGS mutations_sync = 0` })
        .catch(() => undefined); // the next merge of those parts drops the rows anyway
    }
  }

  /** Passes of count + delete over `targets` until one finds nothing; rows deleted per table. */
  private async passes(targets: Array<{ table: string; where: string; before?: () => Promise<void> }>, params: Record<string, string>): Promise<{ rows: Record<string, number>; passes: number }> {
    const rows: Record<string, number> = Object.fromEntries(targets.map((t) => [t.table, 0]));
    const max = this.opts.maxPasses ?? 3;
    let pass = 0;
    while (pass < max) {
      pass++;
      let found = 0;
      for (const t of targets) {
        await t.before?.();
        const n = await this.count(t.table, t.where, params);
        if (n > 0) await this.remove(t.table, t.where, params);
        rows[t.table] = (rows[t.table] ?? 0) + n;
        found += n;
      }
      if (found === 0 && pass > 1) break;
      if (pass < max) await sleep(this.settleMs);
    }
    return { rows, passes: pass };
  }

  /** Erases one end user of a tenant from every table. */
  async eraseSubject(tenantId: string, subject: string, audit: { actor: string; reason: string }): Promise<ErasureReport> {
    const started = this.now();
    const erasureId = randomUUID();
    await this.opts.tombstones.add({ tenantId, subject, erasedAtMs: started });
    await this.settle();
    const params = { tenant: tenantId, subject, erasedAt: toDateTime64(started) };
    // The subject's traces, recorded before anything is deleted (again in
    // later passes, for records that landed in between), then held by this
    // process's writer at once.
    const recordTraces = async () => {
      await this.opts.tombstones.recorded(); // traces the writer dropped in flight
      const select = subjectTraces('{tenant:String}, {subject:String}, TraceId, {erasedAt:DateTime64(3)}, max(Timestamp)');
      await this.opts.client.command({ query: `INSERT INTO ${DATABASE}.erased_traces (TenantId, Subject, TraceId, ErasedAt, LastSpanAt) ${select}`, query_params: params });
      await this.opts.tombstones.refresh();
    };
    // Logs before spans: nothing depends on logs, and the trace list is recorded.
    const { rows, passes } = await this.passes(
      [
        { table: 'otel_logs', where: subjectPredicate('otel_logs', 'recorded'), before: recordTraces },
        { table: 'otel_traces', where: subjectPredicate('otel_traces', 'recorded') },
      ],
      params,
    );
    this.purge(Object.keys(rows).filter((t) => (rows[t] ?? 0) > 0));
    const report: ErasureReport = { erasureId, tenant: tenantId, subject, erasedAt: new Date(started).toISOString(), rows, passes, durationMs: this.now() - started };
    await this.audit(report, 'subject', audit);
    return report;
  }

  /**
   * Erases a tenant's data from every table (after the caller revoked its keys
   * and forgot its tier). Keeps the tenant tombstone and the erasure audit.
   */
  async eraseTenant(tenantId: string, audit: { actor: string; reason: string }, revoke: () => Promise<void>): Promise<ErasureReport> {
    const started = this.now();
    const erasureId = randomUUID();
    await this.opts.tombstones.add({ tenantId, subject: '', erasedAtMs: started });
    await revoke();
    await this.settle();
    const params = { tenant: tenantId };
    const targets = TENANT_DATA_TABLES.map((table) => ({ table, where: 'TenantId = {tenant:String}' }));
    const { rows, passes } = await this.passes(
      [
        ...targets,
        { table: 'erasure_tombstones', where: "TenantId = {tenant:String} AND Subject != ''" },
        { table: 'erased_traces', where: 'TenantId = {tenant:String}' },
        { table: 'tenants', where: 'Id = {tenant:String}' },
      ],
      params,
    );
    this.purge(Object.keys(rows).filter((t) => (rows[t] ?? 0) > 0));
    const report: ErasureReport = { erasureId, tenant: tenantId, erasedAt: new Date(started).toISOString(), rows, passes, durationMs: this.now() - started };
    await this.audit(report, 'tenant', audit);
    return report;
  }

  private async audit(r: ErasureReport, scope: 'subject' | 'tenant', a: { actor: string; reason: string }): Promise<void> {
    await this.opts.client.insert({
      table: `${DATABASE}.erasures`,
      values: [
        {
          ErasureId: r.erasureId,
          At: toDateTime64(Date.parse(r.erasedAt)),
          Actor: a.actor,
          TenantId: r.tenant,
          Subject: r.subject ?? '',
          Scope: scope,
          Reason: a.reason,
          Rows: r.rows,
          DurationMs: r.durationMs,
        },
      ],
      format: 'JSONEachRow',
    });
  }

  /** The erasure audit of a tenant, newest first. */
  async auditOf(tenantId: string): Promise<Array<{ erasureId: string; at: string; actor: string; subject: string; scope: string; reason: string; rows: Record<string, number>; durationMs: number }>> {
    const res = await this.opts.client.query({
      query:
        `SELECT ErasureId AS erasureId, toString(At) AS at, Actor AS actor, Subject AS subject, Scope AS scope, Reason AS reason, Rows AS rows, DurationMs AS durationMs ` +
        `FROM ${DATABASE}.erasures WHERE TenantId = {tenant:String} ORDER BY At DESC SETTINGS output_format_json_quote_64bit_integers = 0`,
      query_params: { tenant: tenantId },
      format: 'JSONEachRow',
    });
    return res.json();
  }
}
