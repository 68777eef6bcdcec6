// The management API app alone (never listening unless a test says so), with
// stand-ins for what a test does not exercise: admin token `admin`, no
// operators, no tenants, no tiers, always ready.
import type { FastifyInstance } from 'fastify';
import { buildApiApp, type ApiDeps } from '../../collector/api/app.ts';
import { Metrics } from '../../core/metrics.ts';
import { createLogger } from '../../core/logger.ts';
import type { TenantStore } from '../../control/tenant-store.ts';
import type { OperatorStore } from '../../control/operator-store.ts';

export function testApiApp(deps: Partial<ApiDeps> = {}): FastifyInstance {
  return buildApiApp({
    adminToken: 'admin',
    operators: { operatorOfToken: () => undefined } as unknown as OperatorStore,
    metricsToken: '',
    http: { httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 30_000, httpIdleTimeoutMs: 65_000 },
    tenants: {} as TenantStore,
    metrics: new Metrics(),
    logger: createLogger({ level: 'silent', scrub: (s) => s }),
    tierNames: () => [],
    defaultTier: 'minimal',
    assignInitialTier: async () => undefined,
    tierOf: () => '',
    ready: async () => ({ ok: true, checks: {} }),
    ...deps,
  });
}
