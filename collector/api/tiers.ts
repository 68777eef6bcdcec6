// Tier switch per tenant: PUT/GET /api/tenants/:id/tier, GET /api/tenants/:id/audit,
// GET /api/tiers/:name (what a tier stores and omits, for the switch confirmation).
//
// A downgrade (to a tier of the same or a lower level) is answered 200 only
// once nothing the tenant sent under the old tier can still be written under
// it (`applied`): the switch is in force for every request received from the
// moment it is recorded, and what was received before is either written
// already or goes through the writer's downgrade check. If that cannot be
// confirmed in time the answer is 503 TIER_SWITCH_PENDING; the switch stays in
// force and audited.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { TierEngine } from '../../processors/tiers/engine.ts';
import type { TenantStore } from '../../control/tenant-store.ts';
import type { TierRegistry } from '../../control/tier-registry.ts';
import { ApiError } from './errors.ts';
import { principalOf } from './access.ts';
import { describeRetention } from '../../processors/tiers/config.ts';

const SwitchTier = Type.Object(
  {
    tier: Type.String({ minLength: 1 }),
    until: Type.Optional(Type.String({ description: 'ISO 8601 time in the future, e.g. 2026-12-01T00:00:00Z' })),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export interface TierRouteDeps {
  engine: TierEngine;
  registry: TierRegistry;
  tenants: TenantStore;
  now?: () => number;
  /**
   * Resolves once nothing the tenant sent before its assignment `version`
   * can still be written under an older tier; rejects, in bounded time, with
   * what could not be confirmed. Absent: nothing to wait for.
   */
  applied?: (tenantId: string, version: number) => Promise<void>;
}

export function tierRoutes(deps: TierRouteDeps) {
  const now = deps.now ?? Date.now;
  const tenantOr404 = (id: string) => {
    if (deps.tenants.get(id) === undefined) throw new ApiError('TENANT_NOT_FOUND', `no tenant "${id}": list tenants with GET /api/tenants`);
  };
  const view = (id: string) => {
    const a = deps.registry.get(id)!;
    return {
      tier: a.tier,
      effectiveAt: new Date(a.effectiveAt).toISOString(),
      until: a.until === undefined ? null : new Date(a.until).toISOString(),
      priorTier: a.until === undefined ? null : a.priorTier,
      reason: a.reason,
      actor: a.actor,
    };
  };

  return (app: FastifyInstance): void => {
    app.get<{ Params: { name: string } }>('/tiers/:name', { config: { access: 'read' } }, async (req) => {
      const t = deps.engine.get(req.params.name);
      if (t === undefined) throw new ApiError('UNKNOWN_TIER', `unknown tier "${req.params.name}": one of ${deps.engine.names().join(', ')}`);
      const c = t.config;
      const retention = describeRetention(c);
      return {
        name: c.name,
        description: c.description,
        level: c.level,
        stores: c.stores,
        omits: c.omits,
        retentionDays: c.retentionDays,
        contentRetentionDays: retention.contentDays,
        retention: retention.summary,
        upgradeRequiresUntil: c.upgradeRequiresUntil === true,
      };
    });

    app.get<{ Params: { id: string } }>('/tenants/:id/tier', { config: { access: 'read' } }, async (req) => {
      tenantOr404(req.params.id);
      return view(req.params.id);
    });

    app.put<{ Params: { id: string }; Body: Static<typeof SwitchTier> }>('/tenants/:id/tier', { config: { access: 'tiers:write' }, schema: { body: SwitchTier } }, async (req) => {
      const id = req.params.id;
      tenantOr404(id);
      const { tier, reason = '' } = req.body;
      const target = deps.engine.get(tier);
      if (target === undefined) throw new ApiError('UNKNOWN_TIER', `unknown tier "${tier}": one of ${deps.engine.names().join(', ')}`);
      let until: number | undefined;
      if (req.body.until !== undefined) {
        until = Date.parse(req.body.until);
        if (Number.isNaN(until)) throw new ApiError('BAD_REQUEST', `body.until: "${req.body.until}" is not an ISO 8601 time such as 2026-12-01T00:00:00Z`);
        if (until <= now()) throw new ApiError('BAD_REQUEST', `body.until: ${req.body.until} is not in the future`);
      }
      // A tier that allows more permissive tiers only for a while is judged by the
      // tier the tenant returns to, so a temporary switch cannot be made permanent.
      const assigned = deps.registry.get(id)!;
      const base = deps.engine.get(assigned.until === undefined ? assigned.tier : assigned.priorTier);
      if (until === undefined && base?.config.upgradeRequiresUntil === true && target.config.level > base.config.level) {
        throw new ApiError('BAD_REQUEST', `tier "${base.config.name}" allows a more permissive tier only for a limited time: add "until"`);
      }
      const from = deps.registry.current(id)?.tier ?? '';
      const next = await deps.registry.assign(id, { tier, until, reason, actor: principalOf(req).name, action: 'switch' });
      const before = deps.engine.get(from);
      if (deps.applied !== undefined && tier !== from && (before === undefined || target.config.level <= before.config.level)) {
        try {
          await deps.applied(id, next.version);
        } catch (err) {
          throw new ApiError(
            'TIER_SWITCH_PENDING',
            `tier "${tier}" is in force for data received from now on and audited, but ${(err as Error).message}: data received before the switch may still be written under "${from}". Check the writers (sinks' /readyz), then PUT again to wait once more`,
          );
        }
      }
      return view(id);
    });

    app.get<{ Params: { id: string } }>('/tenants/:id/audit', { config: { access: 'read' } }, async (req) => {
      tenantOr404(req.params.id);
      return { audit: await deps.registry.audit(req.params.id) };
    });
  };
}
