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

  it.each(blocks.map((sql) => [sql.split('\n')[0]!.slice(0, 70), sql]))('runs: %s', async (_title, sql) => {
    const res = await fetch(`${c.apiUrl}/api/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${queryKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql }),
    });
    const body = (await res.json()) as { columns: unknown[]; rows: unknown[][]; message?: string };
    expect(res.status, body.message).toBe(200);
    expect(body.rows.length, sql).toBeGreaterThan(0);
  });
});
