// Cost through the API, in every tier: calls priced at receipt by the price
// table, shown per model and in total on the dashboard, unknown models counted
// as unpriced (cost null, never 0), a sender's own gateway.cost.usd ignored,
// (CONSENTRY_PRICES_FILE: cost-prices-file.test.ts, a process of its own:
// one embedded ClickHouse per process).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { expectedOf, generateTraffic, groupBy, sendOtlp, sendTraffic, tracesBody, type GenRequest } from './traffic.ts';

let c: TestConsentry;
const START = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
const RANGE = `from=${START}&to=${START + 3600}&step=1h`;
let traffic: GenRequest[];

// The tiers that count requests, and what their dashboard is built from.
const TIERS = [
  ['summary', 'aggregates'],
  ['lunar-control-plane', 'aggregates'],
  ['full', 'per-request'],
  ['lunos', 'per-request'],
  ['luntrex', 'per-request'],
  ['logorhythms', 'per-request'],
  ['lunogen', 'per-request'],
] as const;

beforeAll(async () => {
  c = await startTestConsentry();
  traffic = generateTraffic({ seed: 17, n: 300, startSec: START, minutes: 30 });
  for (const [tier] of [...TIERS, ['minimal'], ['lunar-oss']] as const) {
    const k = await c.createTenant(`cost-${tier}`, tier);
    await sendTraffic(c.otlpUrl, k.ingestKey, traffic, { batch: 100 });
  }
});
afterAll(async () => c?.close());

const dash = async (tenant: string) => {
  const r = await c.api('GET', `/api/tenants/${tenant}/dashboard?${RANGE}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};

describe('cost on the dashboard', () => {
  it.each(TIERS)('%s: total and per model, as the traffic priced by the table; unknown models unpriced, not free', async (tier, requestData) => {
    const d = await dash(`cost-${tier}`);
    expect(d.requestData).toBe(requestData);
    expect(d.prices).toEqual({ version: '2026-12-06' });
    const all = expectedOf(traffic);
    expect(d.totals.costUsd).toBeCloseTo(all.costUsd!, 9);
    expect(d.totals.unpricedCalls).toBe(all.unpricedCalls);
    for (const [model, reqs] of groupBy(traffic, (q) => q.model)) {
      const exp = expectedOf(reqs);
      const got = d.byModel.find((m: { model: string }) => m.model === model);
      expect({ model, calls: got.calls, unpricedCalls: got.unpricedCalls }).toEqual({ model, calls: exp.calls, unpricedCalls: exp.unpricedCalls });
      if (exp.costUsd === null) expect(got.costUsd, model).toBeNull();
      else expect(got.costUsd, model).toBeCloseTo(exp.costUsd, 9);
    }
    // mistral-large has no price: shown as unknown.
    expect(d.byModel.find((m: { model: string }) => m.model === 'mistral-large')).toMatchObject({ costUsd: null });
    expect(d.byModel.find((m: { model: string }) => m.model === 'gpt-4o').costUsd).toBeGreaterThan(0);
  });

  it.each(['minimal', 'lunar-oss'])('%s: no cost, by consent (no calls are stored to price)', async (tier) => {
    const d = await dash(`cost-${tier}`);
    expect(d.requestData).toBe('none-by-consent');
    expect(d.totals).toBeUndefined();
  });

  it('per-request tiers store the cost on each call span, readable in SQL', async () => {
    const rows = await c.rows<{ tenant: string; calls: string; priced: string; cost: string }>(
      `SELECT TenantId AS tenant, toString(count()) AS calls, toString(countIf(SpanAttributes['gateway.cost.usd'] NOT IN ('', 'unknown'))) AS priced,
              toString(sum(toDecimal128OrZero(SpanAttributes['gateway.cost.usd'], 12))) AS cost
       FROM consentry.otel_traces WHERE TenantId IN ('cost-lunos', 'cost-full') AND SpanName = 'proxy' GROUP BY tenant ORDER BY tenant`,
    );
    const all = expectedOf(traffic);
    expect(rows.map((r) => ({ ...r, cost: Number(r.cost) }))).toEqual(
      ['cost-full', 'cost-lunos'].map((tenant) => ({ tenant, calls: String(traffic.length), priced: String(traffic.length - all.unpricedCalls), cost: expect.closeTo(all.costUsd!, 9) })),
    );
    // The upstream legs repeat the provider but are no calls: never priced.
    const [legs] = await c.rows<{ n: string }>(`SELECT toString(countIf(SpanAttributes['gateway.cost.usd'] != '')) AS n FROM consentry.otel_traces WHERE TenantId = 'cost-full' AND SpanName = 'upstream'`);
    expect(legs!.n).toBe('0');
  });

  it("a sender's own gateway.cost.usd is replaced: by the price, unknown, or nothing on a span that is no call", async () => {
    const k = await c.createTenant('cost-forged', 'full');
    const reqs: GenRequest[] = [
      { ...traffic[0]!, model: 'gpt-4o', inputTokens: 1000, outputTokens: 100, provider: 'openai', kind: 2, parentSpanId: '' },
      { ...traffic[1]!, model: 'gpt-7', inputTokens: 10, outputTokens: 10, provider: 'openai', kind: 2, parentSpanId: '' },
    ];
    const body = JSON.parse(tracesBody(reqs)) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ attributes: unknown[] }> }> }> };
    for (const s of body.resourceSpans[0]!.scopeSpans[0]!.spans) s.attributes.push({ key: 'gateway.cost.usd', value: { stringValue: '0' } });
    await sendOtlp(c.otlpUrl, k.ingestKey, 'traces', JSON.stringify(body));
    const rows = await c.rows<{ model: string; cost: string }>(
      `SELECT SpanAttributes['gen_ai.request.model'] || SpanAttributes['gen_ai.response.model'] AS model, SpanAttributes['gateway.cost.usd'] AS cost FROM consentry.otel_traces WHERE TenantId = 'cost-forged' ORDER BY SpanName, model`,
    );
    // gpt-4o: 1000 x $2.50 + 100 x $10 per million tokens.
    expect(rows).toEqual([
      { model: 'gpt-4o', cost: '0.0035' },
      { model: 'gpt-7', cost: 'unknown' },
      { model: '', cost: '' },
      { model: '', cost: '' },
    ]);
    const d = await c.api('GET', `/api/tenants/cost-forged/dashboard?${RANGE}`);
    expect(d.body.totals).toMatchObject({ calls: 2, unpricedCalls: 1, costUsd: 0.0035 });
  });
});
