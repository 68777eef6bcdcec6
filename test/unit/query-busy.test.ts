// The per-tenant cap on tenant SQL queries (CONSENTRY_QUERY_CONCURRENCY), on
// the management API app with a stand-in query engine whose queries finish
// when the test says: a query over the cap is answered 429 QUERY_BUSY with
// Retry-After, other tenants are not affected, a slot frees when a query ends
// (failed ones too), and every outcome is counted in /metrics.
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../collector/api/app.ts';
import { queryRoutes } from '../../collector/api/query.ts';
import { Metrics } from '../../collector/metrics.ts';
import { createLogger } from '../../collector/logger.ts';
import type { TenantStore } from '../../collector/tenants/store.ts';
import type { QueryResult } from '../../collector/analytics/tenant-query.ts';

type Run = { tenantId: string; finish(outcome: QueryResult): void; fail(err: Error): void };

function standInEngine() {
  const runs: Run[] = [];
  return {
    runs,
    engine: {
      run: (tenantId: string) =>
        new Promise<QueryResult>((resolve, reject) => runs.push({ tenantId, finish: resolve, fail: reject })),
      close: async () => undefined,
    },
  };
}

const OK: QueryResult = { ok: true, contentType: 'application/json', body: '{"columns":[],"rows":[]}', rows: 0 };
const KEYS: Record<string, string> = { 'key-a': 'a', 'key-b': 'b' };

let app: FastifyInstance | undefined;
afterEach(async () => app?.close());

async function start(maxConcurrent: number) {
  const metrics = new Metrics();
  const { engine, runs } = standInEngine();
  const tenants = { tenantOfQueryKey: (k: string) => KEYS[k] } as unknown as TenantStore;
  app = buildApiApp({
    adminToken: 'admin',
    metricsToken: '',
    http: { httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 30_000, httpIdleTimeoutMs: 65_000 },
    tenants,
    metrics,
    logger: createLogger({ level: 'silent', scrub: (s) => s }),
    tierNames: () => [],
    defaultTier: 'minimal',
    assignInitialTier: async () => undefined,
    tierOf: () => '',
    ready: async () => ({ ok: true, checks: {} }),
    routes: [queryRoutes({ tenants, engine, maxConcurrent, onQuery: metrics.onQuery })],
  });
  await app.ready();
  const query = (key: string) => app!.inject({ method: 'POST', url: '/api/query', headers: { authorization: `Bearer ${key}` }, payload: { sql: 'SELECT 1' } });
  /** Waits until the engine holds `n` running queries. */
  const running = async (n: number) => {
    for (let i = 0; i < 200 && runs.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    expect(runs).toHaveLength(n);
  };
  return { metrics, runs, query, running };
}

describe('tenant query concurrency', () => {
  it('answers 429 QUERY_BUSY with Retry-After over the cap, for that tenant only', async () => {
    const { runs, query, running } = await start(2);
    const first = [query('key-a'), query('key-a')];
    await running(2);
    const busy = await query('key-a');
    expect(busy.statusCode).toBe(429);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json()).toMatchObject({ error: 'QUERY_BUSY' });
    expect(busy.json().message).toMatch(/2 queries of this tenant are running \(at most 2\)/);
    expect(runs).toHaveLength(2); // the refused query never reached the engine

    const other = query('key-b');
    await running(3);
    expect(runs[2]!.tenantId).toBe('b');
    for (const r of runs) r.finish(OK);
    expect((await Promise.all([...first, other])).map((r) => r.statusCode)).toEqual([200, 200, 200]);
  });

  it('frees a slot when a query ends, whether it succeeded, was refused by ClickHouse or threw', async () => {
    const { runs, query, running } = await start(1);
    const a = query('key-a');
    await running(1);
    runs[0]!.finish({ ok: false, failure: { kind: 'invalid', message: 'Unknown identifier x' } });
    expect((await a).statusCode).toBe(400);

    const b = query('key-a');
    await running(2);
    expect((await query('key-a')).statusCode).toBe(429);
    runs[1]!.fail(new Error('connection reset'));
    expect((await b).statusCode).toBe(500);

    const c = query('key-a');
    await running(3);
    runs[2]!.finish(OK);
    expect((await c).statusCode).toBe(200);
  });

  it('counts every outcome per tenant in /metrics', async () => {
    const { metrics, runs, query, running } = await start(1);
    const a = query('key-a');
    await running(1);
    expect((await query('key-a')).statusCode).toBe(429);
    runs[0]!.finish(OK);
    await a;
    const text = await metrics.registry.metrics();
    expect(text).toContain('consentry_tenant_queries_total{tenant="a",outcome="ok"} 1');
    expect(text).toContain('consentry_tenant_queries_total{tenant="a",outcome="busy"} 1');
    expect(text).toMatch(/consentry_tenant_query_duration_seconds_count\{outcome="ok"\} 1/);
    expect(text).not.toMatch(/consentry_tenant_query_duration_seconds_count\{outcome="busy"\}/);
  });
});
