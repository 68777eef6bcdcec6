// Issue 12, items 1 and 2, as an attacker tries them through the public
// endpoints of a running instance (embedded chdb):
// - active: a tenant's query writes a row shaped like a guard step's answer,
//   then fails on purpose; its next query must not run unguarded;
// - passive: one tenant's failing query must not leak into another tenant's
//   concurrent answer;
// - stall: a tenant running its allowed maximum of heavy queries must not hold
//   another tenant's ingest or queries;
// - a client that goes away must not leave its query running in the engine.
// Each failed on the main of 2026-12-06 (chdb 3.4.0).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { generateTraffic, sendTraffic } from '../analytics/traffic.ts';

let c: TestConsentry;
const keys: Record<string, { ingestKey: string; queryKey: string }> = {};
const start = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;
const TIMEOUT_S = 8;

beforeAll(async () => {
  c = await startTestConsentry({ queryTimeoutSeconds: TIMEOUT_S, queryConcurrency: 4, queryConcurrencyTotal: 2 });
  for (const [tenant, seed] of [['alpha', 1], ['beta', 2]] as const) {
    keys[tenant] = await c.createTenant(tenant, 'full');
    await sendTraffic(c.otlpUrl, keys[tenant].ingestKey, generateTraffic({ seed, n: 300, startSec: start, minutes: 20 }));
  }
}, 120_000);
afterAll(async () => c?.close());

async function query(tenant: string, sql: string, opts: { accept?: string; signal?: AbortSignal } = {}) {
  const res = await fetch(`${c.apiUrl}/api/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys[tenant]!.queryKey}`, 'content-type': 'application/json', accept: opts.accept ?? 'application/json' },
    body: JSON.stringify({ sql }),
    signal: opts.signal,
  });
  return { status: res.status, text: await res.text() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ONE = '{"columns":[{"name":"1","type":"UInt8"}],"rows":[[1]]}';
/** What the old guard's step 1 read as its answer, with the tenant filter commented out. */
const PAYLOAD = 'SELECT TenantId, count() AS n FROM otel_traces GROUP BY TenantId --';

describe('a failed query cannot poison the next answer', () => {
  // Each wrote the payload row, then failed; on the old main the next
  // `SELECT 1` of the same tenant 40-50 ms later answered every tenant's rows.
  it.each([
    ['UNION ALL with a failing branch', `SELECT '${PAYLOAD}' AS c, 1 AS stable UNION ALL SELECT toString(throwIf(1)), 1`],
    // Fails at a random span, so some rounds fail after rows were written (the attack that leaked 2 rounds in 5).
    ['a failure after some blocks', `SELECT '${PAYLOAD}' AS c, 1 AS stable FROM otel_traces WHERE throwIf(Duration > 0 AND rand() % 100 = 0) = 0`],
  ])('active: %s, 30 rounds', async (_name, attack) => {
    const answers = new Map<string, number>();
    for (let round = 0; round < 30; round++) {
      // A random failure may not come: send the attack again until it fails (every round's next query follows a failure).
      let first = await query('alpha', attack, { accept: 'application/x-ndjson' });
      for (let again = 0; first.status === 200 && again < 5; again++) first = await query('alpha', attack, { accept: 'application/x-ndjson' });
      expect(first.status).toBe(400);
      await sleep(40 + (round % 3) * 5);
      const next = await query('alpha', 'SELECT 1');
      answers.set(`${next.status} ${next.text}`, (answers.get(`${next.status} ${next.text}`) ?? 0) + 1);
    }
    expect(Object.fromEntries(answers)).toEqual({ [`200 ${ONE}`]: 30 });
  });

  it('passive: another tenant failing over a limit, 20 rounds with concurrent queries', async () => {
    const seen = new Map<string, number>();
    for (let round = 0; round < 20; round++) {
      const victim = query('beta', 'SELECT arrayJoin(range(200000)) AS x, SpanId FROM otel_traces LIMIT 150000');
      const attacker = Array.from({ length: 3 }, async (_, i) => {
        await sleep(i * 15);
        return query('alpha', "SELECT 'attacker' AS who");
      });
      const [v, ...as] = await Promise.all([victim, ...attacker]);
      expect([422, 429]).toContain(v.status);
      for (const a of as) {
        const key = a.status === 429 ? '429' : `${a.status} ${a.text}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    }
    // 429: both slots were taken at that instant (CONSENTRY_QUERY_CONCURRENCY_TOTAL=2); never another tenant's rows.
    for (const answer of seen.keys()) expect(['429', '200 {"columns":[{"name":"who","type":"String"}],"rows":[["attacker"]]}']).toContain(answer);
    expect(seen.get('429') ?? 0).toBeLessThan(60);
  });
});

/** A query that runs until the time limit on a few hundred spans. */
const HEAVY = 'SELECT count() FROM otel_traces a, otel_traces b, otel_traces c, otel_traces d, otel_traces e WHERE cityHash64(a.SpanId, b.SpanId, c.SpanId, d.SpanId, e.SpanId) % 7 = 3';
const runningHeavy = async () => {
  const [row] = await c.rows<{ n: number }>("SELECT toUInt32(count()) AS n FROM system.processes WHERE query LIKE '%cityHash64(a.SpanId%' AND query NOT LIKE '%system.processes%'");
  return Number(row?.n ?? 0);
};

describe('one tenant cannot stall another', () => {
  it("tenant B's ingest and SELECT 1 are answered while tenant A runs its maximum of heavy queries", async () => {
    // A takes every slot it may have; the rest of its queries are refused at once.
    const heavy: Array<Promise<{ status: number }>> = [];
    let refused = 0;
    for (let i = 0; i < 4; i++) {
      const r = query('alpha', HEAVY);
      const first = await Promise.race([r, sleep(300).then(() => undefined)]);
      if (first === undefined) heavy.push(r);
      else if (first.status === 429) refused++;
      else throw new Error(`unexpected answer to a heavy query: ${JSON.stringify(first)}`);
    }
    expect(heavy.length).toBeGreaterThanOrEqual(1);
    expect(refused).toBe(4 - heavy.length);
    expect(await eventually(async () => (await runningHeavy()) === heavy.length)).toBe(true);
    let settled = false;
    void Promise.allSettled(heavy).then(() => (settled = true));

    await sendTraffic(c.otlpUrl, keys['beta']!.ingestKey, generateTraffic({ seed: 3, n: 200, startSec: start, minutes: 20 }));
    const b = await query('beta', 'SELECT 1');
    expect(b).toEqual({ status: 200, text: ONE });
    // All of that happened while A's queries still ran (they end at the time limit).
    expect(settled).toBe(false);
    expect(await runningHeavy()).toBe(heavy.length);
    for (const r of await Promise.all(heavy)) expect(r.status).toBe(422);
  }, 60_000);

  it('a query whose client went away is cancelled in the engine', async () => {
    const gone = new AbortController();
    const pending = query('alpha', HEAVY, { signal: gone.signal }).catch((err: unknown) => err);
    expect(await eventually(async () => (await runningHeavy()) === 1)).toBe(true);
    gone.abort();
    await pending;
    // Long before the time limit (8 s) ends it.
    expect(await eventually(async () => (await runningHeavy()) === 0, 3000)).toBe(true);
    // And its slot is free again.
    expect(await query('alpha', 'SELECT 1')).toEqual({ status: 200, text: ONE });
  }, 30_000);
});
