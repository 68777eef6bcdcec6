// Every ```sql block of docs/queries.md runs as written through POST /api/query
// against seeded data (aggregates, spans, logs, metadata, tier changes), and
// answers rows.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { generateTraffic, metadataBody, sendOtlp, sendTraffic } from './traffic.ts';

const doc = readFileSync(new URL('../../docs/queries.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());

let c: TestConsentry;
let queryKey: string;

beforeAll(async () => {
  c = await startTestConsentry();
  const k = await c.createTenant('docs', 'summary');
  queryKey = k.queryKey;
  const start = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;
  const traffic = generateTraffic({ seed: 21, n: 200, startSec: start, minutes: 50, users: ['alice', 'bob', 'carol'] });
  await sendTraffic(c.otlpUrl, k.ingestKey, traffic.slice(0, 100), { logs: true }); // aggregates
  expect((await c.api('PUT', '/api/tenants/docs/tier', { tier: 'full', reason: 'debugging' })).status).toBe(200);
  await sendTraffic(c.otlpUrl, k.ingestKey, traffic.slice(100), { logs: true }); // spans
  await sendOtlp(c.otlpUrl, k.ingestKey, 'logs', metadataBody('gateway', '1.4.2', BigInt(Date.now()) * 1_000_000n));
});
afterAll(async () => c?.close());

describe('docs/queries.md', () => {
  it('has the example queries', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(9);
  });

  const run = async (sql: string) => {
    const res = await fetch(`${c.apiUrl}/api/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${queryKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql }),
    });
    const body = (await res.json()) as { columns: Array<{ name: string }>; rows: unknown[][]; message?: string };
    expect(res.status, body.message).toBe(200);
    return body;
  };

  it.each(blocks.map((sql) => [sql.split('\n')[0]!.slice(0, 70), sql]))('runs: %s', async (_title, sql) => {
    expect((await run(sql)).rows.length, sql).toBeGreaterThan(0);
  });

  it("the cost-by-model query gives the dashboard's cost per model, over aggregates and spans", async () => {
    const sql = blocks.find((b) => b.includes('sum(CostUsd) AS cost'))!;
    const { columns, rows } = await run(sql);
    const at = (name: string) => columns.findIndex((col) => col.name === name);
    const byModel = new Map(rows.map((r) => [r[at('model')] as string, { calls: Number(r[at('llm_calls')]), unpriced: Number(r[at('unpriced_calls')]), cost: r[at('cost_usd')] as number | null }]));
    const now = Math.floor(Date.now() / 1000);
    const d = (await c.api('GET', `/api/tenants/docs/dashboard?from=${now - 86400}&to=${now + 60}&step=1h`)).body as { byModel: Array<{ model: string; calls: number; unpricedCalls: number; costUsd: number | null }> };
    const models = d.byModel.filter((m) => m.calls > 0);
    expect(models.length).toBeGreaterThan(2);
    for (const m of models) {
      const q = byModel.get(m.model);
      expect({ model: m.model, calls: q?.calls, unpriced: q?.unpriced }).toEqual({ model: m.model, calls: m.calls, unpriced: m.unpricedCalls });
      if (m.costUsd === null) expect(q?.cost).toBeNull();
      else expect(q?.cost).toBeCloseTo(m.costUsd, 5);
    }
  });
});
