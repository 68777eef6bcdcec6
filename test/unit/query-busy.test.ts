// The caps on tenant SQL queries (CONSENTRY_QUERY_CONCURRENCY per tenant,
// CONSENTRY_QUERY_CONCURRENCY_TOTAL in all), on the management API app with a
// stand-in query engine whose queries finish when the test says: a query over
// a cap is answered 429 QUERY_BUSY with Retry-After, other tenants are not
// affected, a slot frees when a query ends (failed ones too), a client that
// goes away aborts its query, and every outcome is counted in /metrics.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../collector/api/app.ts';
import { queryRoutes } from '../../collector/api/query.ts';
import { Metrics } from '../../core/metrics.ts';
import { createLogger } from '../../core/logger.ts';
import type { TenantStore } from '../../control/tenant-store.ts';
import type { OperatorStore } from '../../control/operator-store.ts';
import type { QueryResult, RunOptions } from '../../collector/analytics/tenant-query.ts';
import { QueryGate } from '../../collector/analytics/query-gate.ts';
import { defaultQueryTotal, threadPoolSize } from '../../core/settings.ts';

type Run = { tenantId: string; signal: AbortSignal | undefined; finish(outcome: QueryResult): void; fail(err: Error): void };

function standInEngine() {
  const runs: Run[] = [];
  return {
    runs,
    engine: {
      run: (tenantId: string, _sql: string, _format: string, opts?: RunOptions) =>
        new Promise<QueryResult>((resolve, reject) => runs.push({ tenantId, signal: opts?.signal, finish: resolve, fail: reject })),
      close: async () => undefined,
    },
  };
}

const OK: QueryResult = { ok: true, contentType: 'application/json', body: '{"columns":[],"rows":[]}', rows: 0 };
const KEYS: Record<string, string> = { 'key-a': 'a', 'key-b': 'b', 'key-c': 'c' };

let app: FastifyInstance | undefined;
afterEach(async () => app?.close());

async function start(perTenant: number, total = 10) {
  const metrics = new Metrics();
  const { engine, runs } = standInEngine();
  const tenants = { tenantOfQueryKey: (k: string) => KEYS[k] } as unknown as TenantStore;
  app = buildApiApp({
    adminToken: 'admin',
    operators: { operatorOfToken: () => undefined } as unknown as OperatorStore,
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
    routes: [queryRoutes({ tenants, engine, gate: new QueryGate({ perTenant, total }), onQuery: metrics.onQuery })],
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

  it('caps all tenants together, and never gives one tenant every slot', async () => {
    const { runs, query, running } = await start(5, 3);
    const held = [query('key-a'), query('key-a')];
    await running(2);
    const third = await query('key-a'); // 3 would be every slot: held at total - 1
    expect(third.statusCode).toBe(429);
    expect(third.json().message).toMatch(/2 queries of this tenant are running \(at most 2\)/);
    const b = query('key-b');
    await running(3);
    const c = await query('key-c');
    expect(c.statusCode).toBe(429);
    expect(c.json().message).toMatch(/3 tenant queries are running \(at most 3 in all\)/);
    for (const r of runs) r.finish(OK);
    expect((await Promise.all([...held, b])).map((r) => r.statusCode)).toEqual([200, 200, 200]);
  });

  it('aborts the query of a client that went away, and frees its slot', async () => {
    const { runs, query, running } = await start(1);
    await app!.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app!.server.address() as { port: number };
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/query', headers: { authorization: 'Bearer key-a', 'content-type': 'application/json' } });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ sql: 'SELECT 1' }));
    await running(1);
    expect(runs[0]!.signal?.aborted).toBe(false);
    req.destroy();
    for (let i = 0; i < 200 && runs[0]!.signal?.aborted !== true; i++) await new Promise((r) => setTimeout(r, 5));
    expect(runs[0]!.signal?.aborted).toBe(true);
    runs[0]!.finish({ ok: false, failure: { kind: 'cancelled', message: 'cancelled' } });
    const next = query('key-a');
    await running(2);
    runs[1]!.finish(OK);
    expect((await next).statusCode).toBe(200);
  });
});

describe('QueryGate', () => {
  it.each([
    // libuv pool -> total
    [4, 2],
    [5, 3],
    [16, 4],
    [2, 1],
    [1, 1],
  ])('libuv pool of %i threads: %i queries in all by default', (pool, total) => {
    expect(defaultQueryTotal(pool)).toBe(total);
  });

  it('reads the pool size as libuv does', () => {
    expect(threadPoolSize({})).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '16' })).toBe(16);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: 'lots' })).toBe(4);
  });

  it.each([
    [4, 2, 1],
    [2, 8, 2],
    [1, 1, 1],
    [3, 1, 1],
  ])('per tenant %i with %i in all: %i', (perTenant, total, effective) => {
    expect(new QueryGate({ perTenant, total }).perTenant).toBe(effective);
  });

  it('releases a slot once, however often release is called', () => {
    const gate = new QueryGate({ perTenant: 1, total: 2 });
    const a = gate.admit('a');
    expect(a.ok).toBe(true);
    expect(gate.admit('a').ok).toBe(false);
    if (a.ok) {
      a.release();
      a.release();
    }
    const again = gate.admit('a');
    expect(again.ok).toBe(true);
    expect(gate.admit('b').ok).toBe(true);
    expect(gate.admit('c').ok).toBe(false);
  });
});
