// Each tenant's tier in force, kept in memory for the hot path and in
// ClickHouse (tier_assignments) as the record, with every change in tier_audit.
//
// A switch with `until` is temporary: from that instant the tenant is back on
// its prior tier. current() applies that by itself at read time, so no record
// received after `until` is processed under the temporary tier however late the
// revert is written down; a sweep then records the revert in the audit.
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from '../storage/clickhouse.ts';

export interface Assignment {
  tenantId: string;
  tier: string;
  /** Increases with every change of the tenant's tier. */
  version: number;
  /** Unix ms. */
  effectiveAt: number;
  /** Unix ms at which the tenant returns to priorTier; undefined: permanent. */
  until: number | undefined;
  priorTier: string;
  reason: string;
  actor: string;
}

export interface AuditEntry {
  tenantId: string;
  at: string;
  actor: string;
  action: string;
  from: string;
  to: string;
  until: string | null;
  reason: string;
}

interface AssignmentRow {
  TenantId: string;
  Tier: string;
  Version: string | number;
  EffectiveAt: string;
  Until: string | null;
  PriorTier: string;
  Reason: string;
  Actor: string;
}

const toDateTime64 = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const fromDateTime64 = (s: string): number => Date.parse(s.replace(' ', 'T') + 'Z');

function fromRow(r: AssignmentRow): Assignment {
  return {
    tenantId: r.TenantId,
    tier: r.Tier,
    version: Number(r.Version),
    effectiveAt: fromDateTime64(r.EffectiveAt),
    until: r.Until === null ? undefined : fromDateTime64(r.Until),
    priorTier: r.PriorTier,
    reason: r.Reason,
    actor: r.Actor,
  };
}

/**
 * How a registry tells the other instances (collectors and sinks) about a
 * change (with Kafka: the compacted tiers topic, sinks/kafka/control.ts). They
 * apply it with applyRemote / forgetRemote.
 */
export interface TierBroadcast {
  /** Resolves once the change is on its way to every instance (acknowledged by the broker). */
  publishAssignment(a: Assignment): Promise<void>;
  /** The tenant's assignment is gone (tenant deleted). */
  publishForget(tenantId: string): Promise<void>;
}

export interface TierRegistryOptions {
  client: ClickHouseClient;
  now?: () => number;
  /** How often expired temporary switches are written down as reverts, ms. */
  sweepMs?: number;
  /**
   * How long after `until` this instance waits before writing the revert down,
   * ms (default 0). With several instances, each gets a different delay so that
   * the first to write it broadcasts it and the others find it done. current()
   * applies `until` at once regardless.
   */
  sweepDelayMs?: number;
  /** Shares changes with other instances; none: this instance is alone. */
  broadcast?: TierBroadcast;
  onError?: (err: unknown) => void;
}

export class TierRegistry {
  private readonly assignments = new Map<string, Assignment>();
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** Tenants forgotten since start: a refresh from ClickHouse does not bring them back. */
  private readonly forgotten = new Set<string>();

  constructor(private readonly opts: TierRegistryOptions) {
    this.now = opts.now ?? Date.now;
  }

  async load(): Promise<void> {
    const res = await this.opts.client.query({
      query: `SELECT TenantId, Tier, Version, toString(EffectiveAt) AS EffectiveAt, if(isNull(Until), NULL, toString(Until)) AS Until, PriorTier, Reason, Actor FROM ${DATABASE}.tier_assignments FINAL`,
      format: 'JSONEachRow',
    });
    this.assignments.clear();
    for (const r of await res.json<AssignmentRow>()) this.assignments.set(r.TenantId, fromRow(r));
  }

  /**
   * Reads the assignments from ClickHouse again and applies those newer than
   * the ones in memory: the safety net when a broadcast was lost.
   */
  async refresh(): Promise<void> {
    const res = await this.opts.client.query({
      query: `SELECT TenantId, Tier, Version, toString(EffectiveAt) AS EffectiveAt, if(isNull(Until), NULL, toString(Until)) AS Until, PriorTier, Reason, Actor FROM ${DATABASE}.tier_assignments FINAL`,
      format: 'JSONEachRow',
    });
    for (const r of await res.json<AssignmentRow>()) if (!this.forgotten.has(r.TenantId)) this.applyRemote(fromRow(r));
  }

  /** Applies an assignment made by another instance; an older or equal version changes nothing. Returns whether it applied. */
  applyRemote(a: Assignment): boolean {
    const mine = this.assignments.get(a.tenantId);
    if (mine !== undefined && mine.version >= a.version) return false;
    this.forgotten.delete(a.tenantId);
    this.assignments.set(a.tenantId, a);
    return true;
  }

  /** Another instance forgot the tenant (deleted). */
  forgetRemote(tenantId: string): void {
    this.assignments.delete(tenantId);
    this.forgotten.add(tenantId);
  }

  start(): void {
    this.sweeper ??= setInterval(() => void this.sweep(), this.opts.sweepMs ?? 250);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** The tier in force for a tenant now, or undefined for an unknown tenant. */
  current(tenantId: string): { tier: string; version: number } | undefined {
    const a = this.assignments.get(tenantId);
    if (a === undefined) return undefined;
    if (a.until !== undefined && this.now() >= a.until) return { tier: a.priorTier, version: a.version + 1 };
    return { tier: a.tier, version: a.version };
  }

  /** The assignment as stored (the temporary tier, its until and prior tier), with expiry applied. */
  get(tenantId: string): Assignment | undefined {
    const a = this.assignments.get(tenantId);
    if (a === undefined || a.until === undefined || this.now() < a.until) return a;
    return { ...a, tier: a.priorTier, version: a.version + 1, effectiveAt: a.until, until: undefined, reason: 'until reached', actor: 'system' };
  }

  /**
   * Records a new tier for a tenant and applies it: it is in force for every
   * record received after this resolves.
   */
  async assign(tenantId: string, change: { tier: string; until?: number; reason: string; actor: string; action: 'create' | 'switch' | 'revert' }): Promise<Assignment> {
    const before = this.get(tenantId);
    const now = this.now();
    // Extending a temporary switch keeps the tier it returns to.
    const prior = before === undefined ? change.tier : change.until !== undefined && before.until !== undefined ? before.priorTier : before.tier;
    const next: Assignment = {
      tenantId,
      tier: change.tier,
      version: Math.max(now, (before?.version ?? 0) + 1),
      effectiveAt: now,
      until: change.until,
      priorTier: prior,
      reason: change.reason,
      actor: change.actor,
    };
    await this.persist(next, change.action, before?.tier ?? '');
    this.forgotten.delete(tenantId);
    this.assignments.set(tenantId, next);
    // In force here from now; the others apply it when the broadcast reaches them
    // (their periodic refresh() catches up if it never does).
    await this.opts.broadcast?.publishAssignment(next);
    return next;
  }

  forget(tenantId: string): void {
    this.assignments.delete(tenantId);
    this.forgotten.add(tenantId);
    this.opts.broadcast?.publishForget(tenantId).catch((err: unknown) => this.opts.onError?.(err));
  }

  async audit(tenantId: string): Promise<AuditEntry[]> {
    const res = await this.opts.client.query({
      query: `SELECT TenantId AS tenantId, toString(At) AS at, Actor AS actor, Action AS action, FromTier AS from, ToTier AS to, if(isNull(Until), NULL, toString(Until)) AS until, Reason AS reason FROM ${DATABASE}.tier_audit WHERE TenantId = {tenant:String} ORDER BY At, Version`,
      query_params: { tenant: tenantId },
      format: 'JSONEachRow',
    });
    return res.json<AuditEntry>();
  }

  private async persist(a: Assignment, action: string, from: string): Promise<void> {
    const until = a.until === undefined ? null : toDateTime64(a.until);
    await this.opts.client.insert({
      table: `${DATABASE}.tier_audit`,
      values: [{ TenantId: a.tenantId, At: toDateTime64(a.effectiveAt), Actor: a.actor, Action: action, FromTier: from, ToTier: a.tier, Until: until, Reason: a.reason, Version: a.version }],
      format: 'JSONEachRow',
    });
    await this.opts.client.insert({
      table: `${DATABASE}.tier_assignments`,
      values: [{ TenantId: a.tenantId, Tier: a.tier, Version: a.version, EffectiveAt: toDateTime64(a.effectiveAt), Until: until, PriorTier: a.priorTier, Reason: a.reason, Actor: a.actor }],
      format: 'JSONEachRow',
    });
  }

  /** Writes down every temporary switch whose until has passed as a revert by `system`. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.now();
      for (const a of [...this.assignments.values()]) {
        if (a.until === undefined || now < a.until + (this.opts.sweepDelayMs ?? 0)) continue;
        const revert: Assignment = { ...a, tier: a.priorTier, version: a.version + 1, effectiveAt: a.until, until: undefined, reason: `until ${new Date(a.until).toISOString()} reached`, actor: 'system' };
        await this.persist(revert, 'revert', a.tier);
        if (this.assignments.get(a.tenantId) === a) this.assignments.set(a.tenantId, revert);
        await this.opts.broadcast?.publishAssignment(revert);
      }
    } catch (err) {
      this.opts.onError?.(err);
    } finally {
      this.sweeping = false;
    }
  }
}
