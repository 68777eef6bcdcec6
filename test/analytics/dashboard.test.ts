// Dashboard figures equal figures computed directly from the generated traffic,
// for a `summary` tenant (request_summaries) and a `full` tenant (spans), and
// the same traffic gives the same dashboard from both. A `minimal` tenant is
// told that no request data exists by consent. The SQL versions of the
// summarize rules agree with the JS ones value by value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { bucketOf } from '../../processors/summarize/sketch.ts';
import { endpointOf } from '../../processors/summarize/endpoint.ts';
import { bucketSelectSql, countSql, endpointSql, firstOfSql, httpClassSql, isCallSql, isEntrySql } from '../../collector/analytics/request-sql.ts';
import { isCallSpan, isEntrySpan, modelOf, providerOf } from '../../processors/conventions/counting.ts';
import { FIELDS, keysOf } from '../../processors/conventions/genai.ts';
import { parseRange } from '../../collector/analytics/dashboard.ts';
import { expectedOf, generateTraffic, groupBy, sendTraffic, type GenRequest } from './traffic.ts';

let c: TestConsentry;
const MINUTE = 60;
const now = Math.floor(Date.now() / 1000);
const START = Math.floor(now / 3600) * 3600 - 2 * 3600; // two hours ago, on the hour
const MINUTES = 50;
let traffic: GenRequest[];

beforeAll(async () => {
  c = await startTestConsentry();
  const sum = await c.createTenant('dash-summary', 'summary');
  const full = await c.createTenant('dash-full', 'full');
  const none = await c.createTenant('dash-minimal', 'minimal');
  traffic = generateTraffic({ seed: 7, n: 800, startSec: START, minutes: MINUTES });
  await Promise.all([sendTraffic(c.otlpUrl, sum.ingestKey, traffic, { batch: 200 }), sendTraffic(c.otlpUrl, full.ingestKey, traffic, { batch: 200 }), sendTraffic(c.otlpUrl, none.ingestKey, traffic.slice(0, 100))]);
});
afterAll(async () => c?.close());

const dash = async (tenant: string, q: string) => {
  const r = await c.api('GET', `/api/tenants/${tenant}/dashboard?${q}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};
const figures = (d: Record<string, unknown>) => {
  const { tenant: _t, tier: _tier, requestData: _r, sources: _s, retention: _retention, ...rest } = d;
  return rest;
};

describe('dashboard', () => {
  const range = `from=${START}&to=${START + 3600}&step=5m`;

  it('the same traffic gives the same dashboard from summaries and from spans', async () => {
    const s = await dash('dash-summary', range);
    const f = await dash('dash-full', range);
    expect(s.requestData).toBe('aggregates');
    expect(f.requestData).toBe('per-request');
    expect(s.sources).toEqual({ summaries: traffic.length, spans: 0 });
    expect(f.sources).toEqual({ summaries: 0, spans: traffic.length });
    expect(figures(s)).toEqual(figures(f));
    // Cost too: priced at receipt, per call, by the same table, whichever tier stored it.
    expect(s.totals.costUsd).toBeGreaterThan(0);
    expect(s.totals.unpricedCalls).toBeGreaterThan(0);
    expect(s.prices).toEqual({ version: '2026-12-06' });
  });

  it.each(['dash-summary', 'dash-full'])('%s: figures equal those computed from the traffic', async (tenant) => {
    const d = await dash(tenant, range);
    const all = expectedOf(traffic);
    const check = (got: any, exp: ReturnType<typeof expectedOf>) => {
      expect(got.requests).toBe(exp.requests);
      expect(got.errors).toBe(exp.errors);
      expect(got.errorRate).toBeCloseTo(exp.errors / exp.requests, 12);
      expect(got.calls).toBe(exp.calls);
      expect(got.callErrors).toBe(exp.callErrors);
      expect(got.inputTokens).toBe(exp.inputTokens);
      expect(got.outputTokens).toBe(exp.outputTokens);
      expect(got.unpricedCalls).toBe(exp.unpricedCalls);
      if (exp.costUsd === null) expect(got.costUsd).toBeNull();
      else expect(got.costUsd).toBeCloseTo(exp.costUsd, 9);
      for (const q of ['p50', 'p95', 'p99'] as const) {
        expect(got.latencyMs[q]).toBeCloseTo(exp.latencyMs[q], 9); // same bucket, same representative value
        expect(got.callLatencyMs[q]).toBeCloseTo(exp.latencyMs[q], 9); // the calls are the entry spans themselves
        if (exp.exactMs[q] > 0.001) expect(Math.abs(got.latencyMs[q] - exp.exactMs[q]) / exp.exactMs[q]).toBeLessThanOrEqual(0.01);
      }
    };
    check(d.totals, all);
    for (const [provider, reqs] of groupBy(traffic, (q) => q.provider)) check(d.byProvider.find((p: any) => p.provider === provider), expectedOf(reqs));
    for (const [endpoint, reqs] of groupBy(traffic, (q) => q.endpoint)) check(d.byEndpoint.find((p: any) => p.endpoint === endpoint), expectedOf(reqs));
    for (const [model, reqs] of groupBy(traffic, (q) => q.model)) check(d.byModel.find((p: any) => p.model === model), expectedOf(reqs));
    expect(d.byProvider).toHaveLength(3);
    expect(d.byEndpoint.map((e: any) => e.endpoint).sort()).toEqual(['/users/:id/threads', '/v1/chat/completions', '/v1/files/:id/content', '/v1/messages']);
    // Time buckets of 5 minutes: 12 in the hour, the traffic in the first 50 minutes.
    expect(d.series).toHaveLength(12);
    const perBucket = groupBy(traffic, (q) => Math.floor(Number(q.startNs / 1_000_000_000n) / 300) * 300);
    for (const point of d.series) {
      const t = Date.parse(point.start) / 1000;
      const reqs = perBucket.get(t) ?? [];
      expect(point.requests).toBe(reqs.length);
      if (reqs.length > 0) check(point, expectedOf(reqs));
      else expect(point.latencyMs.p50).toBeNull();
      for (const [p, pr] of groupBy(reqs, (q) => q.provider)) expect(point.byProvider[p]).toEqual({ requests: pr.length, errors: expectedOf(pr).errors });
    }
  });

  it('chooses a step from the range and validates parameters', async () => {
    const d = await dash('dash-full', `from=${new Date(START * 1000).toISOString()}&to=${new Date((START + 6 * 3600) * 1000).toISOString()}`);
    expect(d.stepSeconds).toBe(300); // 6 h in at most 120 buckets
    expect(d.totals.requests).toBe(traffic.length);
    const bad = await c.api('GET', `/api/tenants/dash-full/dashboard?from=${START}&to=${START + 86400 * 30}&step=1m`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/more than 1440 buckets/);
    expect((await c.api('GET', `/api/tenants/dash-full/dashboard?step=90s`)).status).toBe(400);
    expect((await c.api('GET', `/api/tenants/dash-full/dashboard?from=yesterday`)).status).toBe(400);
    expect((await c.api('GET', `/api/tenants/nobody/dashboard`)).status).toBe(404);
    expect((await c.api('GET', `/api/tenants/dash-full/dashboard`, undefined, 'wrong')).status).toBe(401);
  });

  it('a minimal tenant: no request data by consent, not zeros', async () => {
    const d = await dash('dash-minimal', range);
    expect(d.requestData).toBe('none-by-consent');
    expect(d.message).toMatch(/stores no request data by consent/);
    expect(d.totals).toBeUndefined();
    expect(d.series).toBeUndefined();
  });

  it('after a switch to minimal, earlier figures are still shown, with the consent note', async () => {
    const keys = await c.createTenant('dash-switch2', 'full');
    await sendTraffic(c.otlpUrl, keys.ingestKey, traffic.slice(0, 40));
    expect((await c.api('PUT', '/api/tenants/dash-switch2/tier', { tier: 'minimal' })).status).toBe(200);
    const d = await dash('dash-switch2', range);
    expect(d.requestData).toBe('none-by-consent');
    expect(d.message).toMatch(/earlier tier/);
    expect(d.totals.requests).toBe(40);
  });
});

describe('the summarize rules in SQL agree with the processor', () => {
  it('latency buckets, value by value, including durations next to every bucket bound', async () => {
    const ns: bigint[] = [0n, 1n, 999n, 1000n, 1001n];
    for (let i = -340; i < 1300; i += 1) {
      const b = BigInt(Math.round(Math.pow((1 + 0.01) / (1 - 0.01), i) * 1e6));
      for (let k = -2n; k <= 2n; k++) if (b + k >= 0n) ns.push(b + k);
    }
    ns.push(255989086853335n, 655347840782360n, (1n << 64n) - 1n); // log() differs from Math.log here
    const sql = `SELECT toString(d) AS d, bucket FROM (SELECT arrayJoin([${ns.join(',')}]::Array(UInt64)) AS d, ${bucketSelectSql('d')}) SETTINGS output_format_json_quote_64bit_integers = 0`;
    const rows = await c.rows<{ d: string; bucket: number }>(sql);
    expect(rows).toHaveLength(ns.length);
    const wrong = rows.filter((r) => bucketOf(Number(BigInt(r.d)) / 1e6) !== Number(r.bucket));
    expect(wrong).toEqual([]);
  });

  it('endpoint templates, status classes and token counts', async () => {
    const cases: Record<string, string>[] = [
      { 'http.route': '/v1/chat/completions' },
      { 'http.route': '/users/42/orders/0f8fad5b-d9cb-469f-a165-70867728950e' },
      { 'url.path': '/v1/files/file-BK7bzQj3FfZFXr7D/content?x=1#f' },
      { 'url.path': '/threads/thread_abc123def456/runs/chatcmpl-9x8y7z6w' },
      { 'url.path': '/models/gpt-4o-mini:generateContent' },
      { 'url.path': '/hash/deadbeef12/abcdefab/ABCDEF1234' },
      { 'url.path': '/ulid/01ARZ3NDEKTSV4RRFFQ69G5FAV/x' },
      { 'url.path': '/mail/john@example.com/x%40y' },
      { 'url.path': `/long/${'a'.repeat(65)}/${'😀'.repeat(33)}/${'é'.repeat(64)}` },
      { 'url.path': '//double//slash/' },
      { 'url.path': '/:id/v1/claude-3-5-sonnet-20241022' },
      { 'url.full': 'https://api.example.com/v1/x/123?q=1' },
      { 'url.full': 'https://api.example.com?q=/a/b' },
      { 'url.full': 'https://api.example.com' },
      { 'url.full': 'relative/path/99' },
      { 'http.route': '', 'url.path': '/from/path/7' },
      {},
    ];
    const statuses = ['200', '404', '503', '99', '600', '', ' 201 ', '2e2', 'abc', '500.0', '-5'];
    const counts = ['12', '', '-3', '1.9', 'x', ' 7', '1e3', 'Infinity'];
    const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const mapLit = (a: Record<string, string>) => `map(${Object.entries(a).flatMap(([k, v]) => [lit(k), lit(v)]).join(', ') || "'', ''"})`;
    for (const a of cases) {
      const [row] = await c.rows<{ e: string }>(`SELECT ${endpointSql('m')} AS e FROM (SELECT ${mapLit(a)} AS m)`);
      expect(row!.e, JSON.stringify(a)).toBe(endpointOf(a));
    }
    for (const s of statuses) {
      const [row] = await c.rows<{ h: string }>(`SELECT ${httpClassSql(lit(s))} AS h`);
      const n = Number(s);
      const js = !Number.isInteger(n) || n < 100 || n > 599 ? '' : `${Math.floor(n / 100)}xx`;
      expect(row!.h, s).toBe(s === '' ? '' : js);
    }
    for (const s of counts) {
      const [row] = await c.rows<{ n: number }>(`SELECT ${countSql(lit(s))} AS n SETTINGS output_format_json_quote_64bit_integers = 0`);
      const n = Number(s);
      expect(Number(row!.n), s).toBe(s === '' ? 0 : n > 0 && n < Infinity ? Math.floor(n) : 0);
    }
  });

  it('the counting rule and the conventions mapping', async () => {
    const lit = (v: string) => `'${v.replace(/'/g, "\\'")}'`;
    const mapLit = (a: Record<string, string>) => `map(${Object.entries(a).flatMap(([k, v]) => [lit(k), lit(v)]).join(', ') || "'', ''"})`;
    const attrs: Record<string, string>[] = [
      {},
      { 'openinference.span.kind': 'LLM' },
      { 'openinference.span.kind': 'CHAIN', 'llm.model_name': 'm' },
      { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': '3' },
      { 'gen_ai.operation.name': 'chat' },
      { 'gen_ai.operation.name': '', 'gen_ai.request.model': 'm' },
      { 'llm.request.type': 'acompletion' },
      { 'gen_ai.system': 'openai', 'llm.provider': 'azure' },
      { 'llm.system': 'openai', 'llm.model_name': 'gpt', 'gen_ai.request.model': 'q' },
      { 'llm.token_count.prompt': '1' },
      { 'http.route': '/x' },
    ];
    for (const a of attrs) {
      for (const entry of [true, false]) {
        const [row] = await c.rows<{ call: number; provider: string; model: string }>(
          `SELECT ${isCallSql('m', entry ? '1' : '0')} AS call, ${firstOfSql('m', keysOf(FIELDS.provider))} AS provider, ${firstOfSql('m', keysOf(FIELDS.model))} AS model FROM (SELECT ${mapLit(a)} AS m)`,
        );
        expect([Boolean(Number(row!.call)), row!.provider, row!.model], JSON.stringify({ a, entry })).toEqual([isCallSpan(a, entry), providerOf(a), modelOf(a)]);
      }
    }
    const kinds = ['SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_CONSUMER'];
    for (const parent of ['', 'aaaaaaaaaaaaaaaa']) {
      for (const flags of [0, 0x100, 0x101, 0x200, 0x300, 0x301]) {
        for (const [k, kind] of kinds.entries()) {
          const [row] = await c.rows<{ e: number }>(`SELECT ${isEntrySql()} AS e FROM (SELECT ${lit(parent)} AS ParentSpanId, toUInt32(${flags}) AS SpanFlags, ${lit(kind)} AS SpanKind)`);
          expect(Boolean(Number(row!.e)), `${parent} ${flags} ${kind}`).toBe(isEntrySpan({ parentSpanId: parent, flags, kind: [1, 2, 3, 5][k]! }));
        }
      }
    }
  });

  it('parseRange aligns to the step', () => {
    expect(parseRange({ from: '1000', to: '4000', step: '5m' }, 0)).toEqual({ from: 900, to: 4200, step: 300 });
    expect(parseRange({ from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z' }, 0)).toEqual({ from: 1767225600, to: 1767229200, step: MINUTE });
    expect(parseRange({ step: '1h' }, 7200_000)).toEqual({ from: 3600, to: 7200, step: 3600 });
    expect(typeof parseRange({ from: '5', to: '5' }, 0)).toBe('string');
  });
});
