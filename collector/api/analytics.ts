// The read and rights side of the management API, wired in one place:
// tenant SQL (query.ts), dashboards (dashboard.ts), the request explorer
// (explorer.ts), erasure and export (privacy.ts). consentry.ts adds these routes and puts the same tombstones'
// filter in front of its sink's downgrade step.
import type { FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import type { TierEngine } from '../../processors/tiers/engine.ts';
import type { TenantStore } from '../../control/tenant-store.ts';
import type { TierRegistry } from '../../control/tier-registry.ts';
import { TenantQueryEngine } from '../analytics/tenant-query.ts';
import { QueryGate } from '../analytics/query-gate.ts';
import type { QueryLimits } from '../analytics/sql-guard.ts';
import type { ErasureTombstones } from '../../control/tombstones.ts';
import { queryRoutes } from './query.ts';
import { dashboardRoutes } from './dashboard.ts';
import { privacyRoutes } from './privacy.ts';
import { explorerRoutes } from './explorer.ts';
import { COST_ATTRIBUTE } from '../../processors/cost/processor.ts';
import { describeRetention } from '../../processors/tiers/config.ts';

/** The cost of a stored LLM call span (the cost stage's attribute; `unknown` reads as NULL: unpriced). */
const CALL_COST_SQL = { callCostUsd: `toFloat64OrNull(SpanAttributes['${COST_ATTRIBUTE}'])` };

export interface AnalyticsDeps {
  settings: { clickhouseUrl: string; clickhouseQueryUrl: string; dataDir: string };
  client: ClickHouseClient;
  tenants: TenantStore;
  registry: TierRegistry;
  engine: TierEngine;
  /** Loaded and refreshed by the caller (its writers filter with them). */
  tombstones: ErasureTombstones;
  /** Waits for rows already past the writer's check to be inserted (embedded mode: the sink's drain). */
  drain?: () => Promise<void>;
  limits?: Partial<QueryLimits>;
  /** Queries running at once: per tenant (CONSENTRY_QUERY_CONCURRENCY) and in all (CONSENTRY_QUERY_CONCURRENCY_TOTAL). */
  queryConcurrency: { perTenant: number; total: number };
  onQuery?: (tenantId: string, outcome: string, seconds: number) => void;
  /** Whether a tier stores `user.id` on requests (the explorer's usage per end user). */
  keepsUserId(tier: string): boolean;
}

export function analyticsRoutes(deps: AnalyticsDeps): Array<(app: FastifyInstance) => void> {
  const tierOf = (id: string) => deps.registry.current(id)?.tier ?? '';
  const queries = new TenantQueryEngine({ clickhouseUrl: deps.settings.clickhouseUrl, readerUrl: deps.settings.clickhouseQueryUrl, dataDir: deps.settings.dataDir, limits: deps.limits });
  return [
    queryRoutes({ tenants: deps.tenants, engine: queries, gate: new QueryGate(deps.queryConcurrency), onQuery: deps.onQuery }),
    dashboardRoutes({ client: deps.client, tenants: deps.tenants, engine: deps.engine, tierOf }),
    explorerRoutes({ client: deps.client, tenants: deps.tenants, engine: deps.engine, tierOf, keepsUserId: (tier) => deps.keepsUserId(tier), cost: CALL_COST_SQL }),
    privacyRoutes({
      client: deps.client,
      tenants: deps.tenants,
      tombstones: deps.tombstones,
      forgetTier: (id) => deps.registry.forget(id),
      drain: deps.drain,
      retentionOf: (id) => {
        const config = deps.engine.get(deps.registry.current(id)?.tier ?? '')?.config;
        return config === undefined ? undefined : describeRetention(config);
      },
    }),
  ];
}
