// GET /api/tenants/:id/dashboard?from&to&step (any role): requests, errors,
// latency quantiles and tokens of a tenant, per provider, endpoint, model and
// time bucket (collector/analytics/dashboard.ts).
//
// requestData says what the figures can be: `aggregates` (a summary tier),
// `per-request` (spans kept), or `none-by-consent` when the tenant's current
// tier keeps no request data at all (level 0): then the answer says so instead
// of showing zeros that would read as "no traffic". Figures stored under an
// earlier tier in the range are still shown. `retention` says how long the
// current tier keeps rows and content; `prices` which price table costs come
// from (calls are priced at receipt, so older figures keep their prices).
import type { FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import type { TierEngine } from '../../processors/tiers/engine.ts';
import type { TenantStore } from '../../control/tenant-store.ts';
import { dashboardFigures, parseRange } from '../analytics/dashboard.ts';
import { ApiError } from './errors.ts';
import { describeRetention } from '../../processors/tiers/config.ts';

export interface DashboardDeps {
  client: ClickHouseClient;
  tenants: TenantStore;
  engine: TierEngine;
  /** The tenant's tier in force now. */
  tierOf(tenantId: string): string;
  now?: () => number;
}

/** `aggregates`, `per-request` or `none-by-consent`, from the consent level of a tier. */
export function requestDataOf(level: number | undefined): 'none-by-consent' | 'aggregates' | 'per-request' {
  if (level === undefined || level <= 0) return 'none-by-consent';
  return level === 1 ? 'aggregates' : 'per-request';
}

/** Runs a read of ClickHouse: unreachable is 503 UNAVAILABLE; an error ClickHouse answered is a bug in our SQL (500, logged). */
export async function fromStorage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') throw err;
    throw new ApiError('UNAVAILABLE', 'ClickHouse did not answer; retry later');
  }
}

export function dashboardRoutes(deps: DashboardDeps) {
  const now = deps.now ?? Date.now;
  return (app: FastifyInstance): void => {
    app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string; step?: string } }>('/tenants/:id/dashboard', { config: { access: 'read' } }, async (req) => {
      const id = req.params.id;
      if (deps.tenants.get(id) === undefined) throw new ApiError('TENANT_NOT_FOUND', `no tenant "${id}": list tenants with GET /api/tenants`);
      const { from, to, step } = req.query;
      const range = parseRange({ from, to, step }, now());
      if (typeof range === 'string') throw new ApiError('BAD_REQUEST', range);
      const tier = deps.tierOf(id);
      const config = deps.engine.get(tier)?.config;
      const requestData = requestDataOf(config?.level);
      const head = {
        tenant: id,
        tier,
        requestData,
        retention: config === undefined ? null : describeRetention(config),
        prices: deps.engine.prices === undefined ? null : { version: deps.engine.prices.version },
        from: new Date(range.from * 1000).toISOString(),
        to: new Date(range.to * 1000).toISOString(),
        stepSeconds: range.step,
      };
      const figures = await fromStorage(() => dashboardFigures(deps.client, id, range));
      if (requestData === 'none-by-consent') {
        const message = `tier "${tier}" stores no request data by consent: there is nothing to count, which is not the same as no traffic`;
        const earlier = figures.sources.summaries + figures.sources.spans;
        if (earlier === 0) return { ...head, message };
        return { ...head, message: `${message}; the figures below were stored under an earlier tier`, ...figures };
      }
      return { ...head, ...figures };
    });
  };
}
