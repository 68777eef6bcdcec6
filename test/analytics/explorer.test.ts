// The request explorer's API against a real collector and embedded
// ClickHouse, data sent as OTLP: pages walked with their cursors give exactly
// the requests of the generated traffic (computed here, not by the product's
// SQL), newest first, for every filter; a request opens with its trace,
// logs, stored bodies and secret markers; LLM calls land on the request they
// belong to; usage per end user; what tiers without requests or without
// user.id answer; limits; tenant isolation; and how many rows a page reads.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { generateTraffic, sendOtlp, sendTraffic, type GenRequest } from './traffic.ts';
import { endUserUsage, listRequests, type RequestRow } from '../../collector/analytics/explorer.ts';

let c: TestConsentry;
let tiersDir: string;
const now = Date.now();
const nowSec = Math.floor(now / 1000);
const USERS = ['u1', 'u2', 'u3', 'u4'];
let shop: GenRequest[];
const keys: Record<string, { ingestKey: string; queryKey: string }> = {};

// A tier that keeps requests but no end-user ids (loaded from CONSENTRY_TIERS_DIR).
const NO_USERS_TIER = `name: no-users
description: Requests without end-user ids (test only).
level: 2
stores: [requests without user ids]
omits: [user ids]
retentionDays: 30
spans:
  - filter-attributes: { mode: deny, keys: [user.id], scopes: [record] }
logs: []
`;

type V = string | number;
const kv = (a: Record<string, V | undefined>) =>
  Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } }));
interface S {
  trace: string;
  id: string;
  parent?: string;
  remote?: boolean;
  name: string;
  kind: number;
  at: bigint;
  ms: number;
  attrs: Record<string, V | undefined>;
  error?: boolean;
  service?: string;
}
const spansBody = (spans: S[]) =>
  JSON.stringify({
    resourceSpans: [...new Set(spans.map((s) => s.service ?? 'app'))].map((service) => ({
      resource: { attributes: kv({ 'service.name': service }) },
      scopeSpans: [
        {
          scope: { name: 'test' },
          spans: spans
            .filter((s) => (s.service ?? 'app') === service)
            .map((s) => ({
              traceId: s.trace,
              spanId: s.id,
              parentSpanId: s.parent ?? '',
              flags: s.remote === true ? 0x301 : 0x101,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: String(s.at),
              endTimeUnixNano: String(s.at + BigInt(Math.round(s.ms * 1e6))),
              attributes: kv(s.attrs),
              status: { code: s.error === true ? 2 : 0 },
            })),
        },
      ],
    })),
  });

const OPENAI_KEY = `sk-${'Ab1'.repeat(16)}`;
const T = (n: number) => n.toString(16).padStart(32, 'a');
const SP = (n: number) => n.toString(16).padStart(16, 'b');
const base = BigInt(now - 30 * 60_000) * 1_000_000n;
const ms = (n: number) => BigInt(n) * 1_000_000n;

/** Traces of an application: calls below the request, a nested request, a broken parent chain. */
const APP: S[] = [
  // A: request -> agent step -> two chat calls (the first fails, then a fallback model).
  { trace: T(1), id: SP(1), name: 'POST /chat', kind: 2, at: base, ms: 900, attrs: { 'http.request.method': 'POST', 'http.route': '/chat', 'http.response.status_code': 200, 'user.id': 'alice', 'gateway.request.body': `{"messages":[{"role":"user","content":"my key is ${OPENAI_KEY}, summarize"}]}`, 'http.request.header.content-type': 'application/json', 'http.request.header.x-request-id': 'req-42' } },
  { trace: T(1), id: SP(2), parent: SP(1), name: 'invoke_agent planner', kind: 1, at: base + ms(10), ms: 850, attrs: { 'gen_ai.operation.name': 'invoke_agent' } },
  { trace: T(1), id: SP(3), parent: SP(2), name: 'chat gpt-4o', kind: 3, at: base + ms(20), ms: 300, error: true, attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 20, 'test.cost_usd': '0.0015' } },
  { trace: T(1), id: SP(4), parent: SP(2), name: 'chat gpt-4o-mini', kind: 3, at: base + ms(400), ms: 400, attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': 90, 'gen_ai.usage.output_tokens': 30 } },
  // B: a request that calls another service; that service's request makes the call.
  { trace: T(2), id: SP(5), name: 'GET /summary', kind: 2, at: base + ms(60_000), ms: 700, attrs: { 'http.request.method': 'GET', 'http.route': '/summary', 'http.response.status_code': 200, 'user.id': 'bob' } },
  { trace: T(2), id: SP(6), parent: SP(5), remote: true, service: 'writer', name: 'POST /write', kind: 2, at: base + ms(60_050), ms: 600, attrs: { 'http.request.method': 'POST', 'http.route': '/write', 'http.response.status_code': 200 } },
  { trace: T(2), id: SP(7), parent: SP(6), service: 'writer', name: 'chat claude', kind: 3, at: base + ms(60_060), ms: 500, attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-x', 'gen_ai.usage.input_tokens': 50, 'gen_ai.usage.output_tokens': 5 } },
  // C: the call's parent was never stored (a sampled-out step): it goes to the trace's only request.
  { trace: T(3), id: SP(8), name: 'POST /ask', kind: 2, at: base + ms(120_000), ms: 400, attrs: { 'http.request.method': 'POST', 'http.route': '/ask', 'http.response.status_code': 502, 'user.id': 'alice' } },
  { trace: T(3), id: SP(9), parent: SP(99), name: 'chat mistral', kind: 3, at: base + ms(120_010), ms: 300, attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'mistral', 'gen_ai.request.model': 'mistral-large', 'gen_ai.usage.input_tokens': 7, 'gen_ai.usage.output_tokens': 3 } },
];

const spanCount = async (tenant: string) => Number((await c.rows<{ n: string }>(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`))[0]?.n ?? 0);
const list = (tenant: string, q: Record<string, string> = {}) => c.api('GET', `/api/tenants/${tenant}/requests?${new URLSearchParams(q).toString()}`);
const RANGE = { from: new Date(now - 86_400_000).toISOString(), to: new Date(now + 1000).toISOString() };

/** Every page of a list, following `next`. */
async function walk(tenant: string, q: Record<string, string>): Promise<{ rows: RequestRow[]; pages: number }> {
  const rows: RequestRow[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const r = await list(tenant, { ...RANGE, ...q, ...(cursor === undefined ? {} : { cursor }) });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    rows.push(...(r.body.requests as RequestRow[]));
    pages++;
    if (r.body.next === null) return { rows, pages };
    cursor = r.body.next as string;
  }
}

const classOf = (q: GenRequest) => (q.status !== undefined ? `${Math.floor(q.status / 100)}xx` : q.spanError ? 'error' : 'unset');
const isError = (q: GenRequest) => classOf(q) === '5xx' || (q.spanError && classOf(q) !== '4xx');
/** The requests of the generated traffic matching `f`, newest first, as the list must show them. */
const expected = (f: (q: GenRequest) => boolean) =>
  shop
    .filter(f)
    .sort((a, b) => (a.startNs === b.startNs ? b.spanId.localeCompare(a.spanId) : a.startNs < b.startNs ? 1 : -1))
    .map((q) => ({ traceId: q.traceId, spanId: q.spanId, route: q.endpoint, user: q.userId, statusClass: classOf(q), error: isError(q), model: q.model, calls: { calls: 1, models: [q.model], inputTokens: q.inputTokens ?? 0, outputTokens: q.outputTokens ?? 0 } }));
const shown = (rows: RequestRow[]) => rows.map((r) => ({ traceId: r.traceId, spanId: r.spanId, route: r.route, user: r.user, statusClass: r.statusClass, error: r.error, model: r.model, calls: { calls: r.calls.calls, models: r.calls.models, inputTokens: r.calls.inputTokens, outputTokens: r.calls.outputTokens } }));

beforeAll(async () => {
  tiersDir = mkdtempSync(join(tmpdir(), 'consentry-tiers-'));
  writeFileSync(join(tiersDir, 'no-users.yaml'), NO_USERS_TIER);
  c = await startTestConsentry({ tiersDir });
  for (const [id, tier] of [['shop', 'full'], ['other', 'full'], ['app', 'full'], ['quiet', 'minimal'], ['agg', 'summary'], ['nouser', 'no-users'], ['was', 'full'], ['big', 'full']] as const) keys[id] = await c.createTenant(id, tier);
  shop = generateTraffic({ seed: 11, n: 230, startSec: nowSec - 20 * 3600, minutes: 19 * 60, users: USERS });
  await sendTraffic(c.otlpUrl, keys['shop']!.ingestKey, shop, { logs: true });
  const other = generateTraffic({ seed: 12, n: 40, startSec: nowSec - 3600, minutes: 50, users: ['u1', 'stranger'] });
  for (const t of ['other', 'quiet', 'agg', 'nouser', 'was']) await sendTraffic(c.otlpUrl, keys[t]!.ingestKey, other);
  await sendOtlp(c.otlpUrl, keys['app']!.ingestKey, 'traces', spansBody(APP));
  expect(await eventually(async () => (await spanCount('shop')) > 0 && (await spanCount('was')) === (await spanCount('other')) && (await spanCount('app')) === APP.length, 10_000)).toBe(true);
}, 180_000);

afterAll(async () => {
  await c?.close();
  rmSync(tiersDir, { recursive: true, force: true });
});

describe('request list', () => {
  it('pages through every request of the range, newest first, each once, with its model and tokens', async () => {
    const { rows, pages } = await walk('shop', { limit: '50' });
    expect(pages).toBe(Math.ceil(shop.length / 50));
    expect(shown(rows)).toEqual(expected(() => true));
    const first = rows[0]!;
    const q = shop.find((x) => x.spanId === first.spanId)!;
    expect(first.start).toBe(`${new Date(Number(q.startNs / 1_000_000n)).toISOString().slice(0, 19)}.${String(q.startNs % 1_000_000_000n).padStart(9, '0')}Z`);
    expect(first.durationMs).toBeCloseTo(Number(q.durationNs) / 1e6, 6);
  });

  it.each<[string, Record<string, string>, (q: GenRequest) => boolean]>([
    ['model', { model: 'gpt-4o' }, (q) => q.model === 'gpt-4o'],
    ['status class', { status: '5xx' }, (q) => classOf(q) === '5xx'],
    ['errors', { status: 'errors' }, isError],
    ['failed without status', { status: 'error' }, (q) => classOf(q) === 'error'],
    ['route', { route: '/v1/files/:id/content' }, (q) => q.endpoint === '/v1/files/:id/content'],
    ['end user', { user: 'u2' }, (q) => q.userId === 'u2'],
    ['model and end user and status', { model: 'claude-3-5-sonnet-20241022', user: 'u3', status: '2xx' }, (q) => q.model === 'claude-3-5-sonnet-20241022' && q.userId === 'u3' && classOf(q) === '2xx'],
    ['time', { from: new Date(now - 6 * 3600_000).toISOString(), to: new Date(now - 2 * 3600_000).toISOString() }, (q) => q.startNs >= BigInt(now - 6 * 3600_000) * 1_000_000n && q.startNs < BigInt(now - 2 * 3600_000) * 1_000_000n],
  ])('filters by %s', async (_name, filter, match) => {
    const want = expected(match);
    expect(want.length).toBeGreaterThan(0);
    const { rows } = await walk('shop', { limit: '7', ...filter });
    expect(shown(rows)).toEqual(want);
  });

  it('keeps to the tenant: the same filters on another tenant give only its own requests', async () => {
    const { rows } = await walk('other', { limit: '200' });
    expect(rows).toHaveLength(40);
    const shopTraces = new Set(shop.map((q) => q.traceId));
    expect(rows.filter((r) => shopTraces.has(r.traceId))).toEqual([]);
    const stranger = (await list('shop', { ...RANGE, user: 'stranger' })).body;
    expect(stranger.requests).toEqual([]);
    // Another tenant's request cannot be opened through this one.
    expect((await c.api('GET', `/api/tenants/shop/requests/${rows[0]!.traceId}/${rows[0]!.spanId}`)).body.error).toBe('REQUEST_NOT_FOUND');
  });

  it('orders requests that start at the same nanosecond by span id, across page boundaries', async () => {
    const at = BigInt(now - 10 * 60_000) * 1_000_000n;
    const same = [1, 2, 3].map((i) => ({ trace: T(100 + i), id: SP(100 + i), name: 'GET /tie', kind: 2, at, ms: 1, attrs: { 'http.route': '/tie' } }));
    await sendOtlp(c.otlpUrl, keys['app']!.ingestKey, 'traces', spansBody(same));
    expect(await eventually(async () => (await spanCount('app')) === APP.length + 3, 10_000)).toBe(true);
    const { rows, pages } = await walk('app', { limit: '1', route: '/tie' });
    expect(pages).toBe(3);
    expect(rows.map((r) => r.spanId)).toEqual([SP(103), SP(102), SP(101)]);
  });

  it.each([
    [{ limit: '0' }, /limit: 0 is not between 1 and 200/],
    [{ limit: '201' }, /limit: 201/],
    [{ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, /from must be before to/],
    [{ from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, /longer than 31 days/],
    [{ from: 'yesterday' }, /from: "yesterday" is neither/],
    [{ cursor: 'bm90IGEgY3Vyc29y' }, /cursor: not a cursor/],
    [{ status: 'broken' }, /querystring\.status/],
    [{ sort: 'asc' }, /unknown field "sort"/],
  ])('refuses %j with 400', async (q, message) => {
    const r = await list('shop', q);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('BAD_REQUEST');
    expect(r.body.message).toMatch(message);
  });

  it('answers 404 for an unknown tenant, a malformed or unknown request', async () => {
    expect((await list('nobody')).body.error).toBe('TENANT_NOT_FOUND');
    expect((await c.api('GET', '/api/tenants/shop/requests/xyz/abc')).status).toBe(400);
    const r = await c.api('GET', `/api/tenants/shop/requests/${'0'.repeat(32)}/${'1'.repeat(16)}`);
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('REQUEST_NOT_FOUND');
  });
});

describe('LLM calls of a request', () => {
  it('gives each request the calls below it: through steps, in a nested request of another service, past a missing parent', async () => {
    const { rows } = await walk('app', { limit: '50', from: new Date(now - 3600_000).toISOString(), to: RANGE.to });
    const by = new Map(rows.filter((r) => r.route !== '/tie').map((r) => [r.route, r]));
    expect([...by.keys()]).toEqual(['/ask', '/write', '/summary', '/chat']);
    expect(by.get('/chat')!.calls).toMatchObject({ calls: 2, errors: 1, providers: ['openai'], inputTokens: 190, outputTokens: 50 });
    expect([...by.get('/chat')!.calls.models].sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(by.get('/chat')!.user).toBe('alice');
    // The call belongs to the writer's request, not to the request that called the writer.
    expect(by.get('/write')!.calls).toMatchObject({ calls: 1, models: ['claude-x'], inputTokens: 50, outputTokens: 5 });
    expect(by.get('/write')!.service).toBe('writer');
    expect(by.get('/summary')!.calls.calls).toBe(0);
    expect(by.get('/ask')!.calls).toMatchObject({ calls: 1, models: ['mistral-large'] });
    expect(by.get('/ask')!).toMatchObject({ httpStatus: '502', statusClass: '5xx', error: true });
  });

  it('filters by the model of a call: requests whose trace made a call of it', async () => {
    const mini = await list('app', { ...RANGE, model: 'gpt-4o-mini' });
    expect(mini.body.requests.map((r: RequestRow) => r.route)).toEqual(['/chat']);
    // Both requests of trace B: the model filter is by trace.
    const claude = await list('app', { ...RANGE, model: 'claude-x' });
    expect(claude.body.requests.map((r: RequestRow) => r.route)).toEqual(['/write', '/summary']);
  });

  it('carries the cost of the calls: the price table\'s, or the SQL given; unknown, never zero, for calls without a price', async () => {
    const cost = { callCostUsd: "toFloat64OrNull(SpanAttributes['test.cost_usd'])" };
    const page = await listRequests({ client: c.clickhouse.client, tenantId: 'app', filter: { fromNs: BigInt(now - 3600_000) * 1_000_000n, toNs: BigInt(now) * 1_000_000n, route: '/chat' }, limit: 5, cost });
    expect(page.requests[0]!.calls).toMatchObject({ calls: 2, costUsd: 0.0015, unknownCostCalls: 1 });
    const usage = await endUserUsage({ client: c.clickhouse.client, tenantId: 'app', fromNs: BigInt(now - 3600_000) * 1_000_000n, toNs: BigInt(now) * 1_000_000n, limit: 5, cost });
    expect(usage.users.find((u) => u.user === 'alice')).toMatchObject({ costUsd: 0.0015, unknownCostCalls: 2 });
    // Through the API, from the cost the price table put on each call span at receipt.
    const rows = new Map<string, RequestRow>((await list('app', RANGE)).body.requests.map((r: RequestRow) => [r.route, r]));
    expect(rows.get('/write')!.calls).toMatchObject({ calls: 1, models: ['claude-x'], costUsd: null, unknownCostCalls: 1 });
    expect(rows.get('/chat')!.calls).toMatchObject({ calls: 2, unknownCostCalls: 0 });
    expect(rows.get('/chat')!.calls.costUsd).toBeGreaterThan(0);
  });
});

describe('one request', () => {
  it('opens with its attributes as stored (secret markers, headers, bodies grouped), its trace as a tree, and the trace logs', async () => {
    const r = await c.api('GET', `/api/tenants/app/requests/${T(1)}/${SP(1)}`);
    expect(r.status).toBe(200);
    const s = r.body.span;
    expect(s).toMatchObject({ traceId: T(1), spanId: SP(1), name: 'POST /chat', kind: 'SPAN_KIND_SERVER', service: 'app', statusCode: 'STATUS_CODE_UNSET' });
    expect(s.durationMs).toBe(900);
    const body = s.attributes['gateway.request.body'] as string;
    expect(body).toContain('[REDACTED:openai-key]');
    expect(JSON.stringify(r.body)).not.toContain(OPENAI_KEY);
    expect(s.kinds).toMatchObject({ 'gateway.request.body': 'content', 'http.request.header.content-type': 'header', 'http.request.header.x-request-id': 'header', 'http.route': 'other', 'user.id': 'other' });
    expect(r.body.tier).toBe('full');
    expect(r.body.trace.spans.map((x: { spanId: string; depth: number; isRequest: boolean; isCall: boolean; offsetMs: number }) => [x.spanId, x.depth, x.isRequest, x.isCall, x.offsetMs])).toEqual([
      [SP(1), 0, true, false, 0],
      [SP(2), 1, false, false, 10],
      [SP(3), 2, false, true, 20],
      [SP(4), 2, false, true, 400],
    ]);
    const call = await c.api('GET', `/api/tenants/app/requests/${T(1)}/${SP(3)}`);
    expect(call.body.span.kinds).toMatchObject({ 'gen_ai.request.model': 'llm', 'gen_ai.usage.input_tokens': 'llm' });
  });

  it('shows a gateway request with its upstream span and its log', async () => {
    const q = shop.find((x) => x.kind === 2 && x.status === 500)!;
    const r = await c.api('GET', `/api/tenants/shop/requests/${q.traceId}/${q.spanId}`);
    expect(r.body.trace.spans.map((x: { name: string; depth: number }) => [x.name, x.depth])).toEqual([
      ['proxy', 0],
      ['upstream', 1],
    ]);
    expect(r.body.trace.spans[1].attributes['gateway.request.body']).toBe(`prompt of ${q.userId}`);
    expect(r.body.logs.rows).toEqual([expect.objectContaining({ spanId: q.spanId, severity: 'ERROR', body: `upstream ${q.provider} failed with 500` })]);
  });
});

describe('usage per end user', () => {
  it('counts requests, errors, LLM calls and tokens per user.id, most requests first', async () => {
    const r = await c.api('GET', `/api/tenants/shop/end-users?${new URLSearchParams(RANGE).toString()}`);
    expect(r.status).toBe(200);
    expect(r.body.userData).toBe('kept');
    const want = USERS.map((u) => {
      const mine = shop.filter((q) => q.userId === u);
      return { user: u, requests: mine.length, errors: mine.filter(isError).length, calls: mine.length, inputTokens: mine.reduce((s, q) => s + (q.inputTokens ?? 0), 0), outputTokens: mine.reduce((s, q) => s + (q.outputTokens ?? 0), 0) };
    }).sort((a, b) => b.requests - a.requests || a.user.localeCompare(b.user));
    const withoutCost = (users: Array<Record<string, unknown>>) => users.map(({ costUsd: _c, unknownCostCalls: _u, ...rest }) => rest);
    expect(withoutCost(r.body.users)).toEqual(want);
    for (const u of r.body.users) expect(u.costUsd === null || u.costUsd > 0).toBe(true);
    const top = await c.api('GET', `/api/tenants/shop/end-users?${new URLSearchParams({ ...RANGE, limit: '2' }).toString()}`);
    expect(withoutCost(top.body.users)).toEqual(want.slice(0, 2));
    expect(top.body.truncated).toBe(true);
  });

  it('gives a request the calls of its trace', async () => {
    const r = await c.api('GET', `/api/tenants/app/end-users?${new URLSearchParams(RANGE).toString()}`);
    expect(r.body.users).toMatchObject([
      { user: 'alice', requests: 2, errors: 1, calls: 3, inputTokens: 197, outputTokens: 53, unknownCostCalls: 1 },
      // bob's one call (claude-x) has no price: its cost is unknown, not zero.
      { user: 'bob', requests: 1, errors: 0, calls: 1, inputTokens: 50, outputTokens: 5, costUsd: null, unknownCostCalls: 1 },
    ]);
    expect(r.body.users[0].costUsd).toBeGreaterThan(0);
  });
});

describe('what the tier keeps', () => {
  it.each([
    ['quiet', 'minimal', 'none-by-consent', /keeps no request data, no individual requests, by consent/],
    ['agg', 'summary', 'aggregates', /keeps per-minute aggregates only, no individual requests, by consent/],
  ])('%s (%s) answers why there are no requests', async (tenant, tier, requestData, message) => {
    const r = await list(tenant, RANGE);
    expect(r.body).toMatchObject({ tier, requestData, userData: 'none-by-consent', requests: [], next: null });
    expect(r.body.message).toMatch(message);
    expect(r.body.message).toContain('not the same as no traffic');
  });

  it('lists requests stored under an earlier tier, and says so', async () => {
    expect((await c.api('PUT', '/api/tenants/was/tier', { tier: 'minimal', reason: 'consent withdrawn' })).status).toBe(200);
    const r = await list('was', { ...RANGE, limit: '200' });
    expect(r.body.requestData).toBe('none-by-consent');
    expect(r.body.requests).toHaveLength(40);
    expect(r.body.message).toMatch(/stored under an earlier tier/);
  });

  it('a tier that keeps requests but no user.id: requests without users, usage says why', async () => {
    const r = await list('nouser', { ...RANGE, limit: '200' });
    expect(r.body).toMatchObject({ tier: 'no-users', requestData: 'per-request', userData: 'none-by-consent' });
    expect(r.body.requests).toHaveLength(40);
    expect(r.body.requests.every((x: RequestRow) => x.user === '')).toBe(true);
    const u = await c.api('GET', `/api/tenants/nouser/end-users?${new URLSearchParams(RANGE).toString()}`);
    expect(u.body).toMatchObject({ userData: 'none-by-consent', users: [] });
    expect(u.body.message).toMatch(/tier "no-users" keeps no end-user ids \(user\.id\) by consent/);
  });
});

describe('what a page reads', () => {
  // 15,000 requests over 30 days (about 900 spans a day). A window reads the
  // granules that overlap it, and a small tenant's day is a granule or a few
  // (shared with other tenants' rows): a page costs about one or two days per
  // statement (2 or 3 statements), not the 30 days.
  it('reads the newest windows only: a page over 30 days reads a small part of the tenant', async () => {
    const days = 30;
    const big = generateTraffic({ seed: 21, n: 15_000, startSec: nowSec - days * 86_400, minutes: days * 1440 - 5, users: USERS });
    await sendTraffic(c.otlpUrl, keys['big']!.ingestKey, big, { batch: 1000 });
    const total = big.length + big.filter((q) => q.kind === 2).length;
    expect(await eventually(async () => (await spanCount('big')) === total, 20_000)).toBe(true);
    const range = { from: new Date((nowSec - days * 86_400) * 1000).toISOString(), to: RANGE.to };
    const first = await list('big', { ...range, limit: '50' });
    expect(first.body.requests).toHaveLength(50);
    // The 20th page (requests 951-1000), by following the cursors.
    let page = first.body;
    for (let i = 1; i < 20; i++) page = (await list('big', { ...range, limit: '50', cursor: page.next })).body;
    expect(page.requests).toHaveLength(50);
    // Filters that few requests match: the windows grow until 50 are found; the model filter reads each window twice.
    const filtered = await list('big', { ...range, limit: '50', model: 'mistral-large', user: 'u1' });
    expect(filtered.body.requests).toHaveLength(50);
    console.log(`explorer: ${total} spans of the tenant over ${days} days; rows read: first page ${first.body.scanned.rows} (${first.body.scanned.statements} statements), 20th page ${page.scanned.rows} (${page.scanned.statements}), first page filtered by model and user ${filtered.body.scanned.rows} (${filtered.body.scanned.statements})`);
    expect(first.body.scanned.rows).toBeLessThan(total / 2);
    expect(page.scanned.rows).toBeLessThan(total / 2);
    expect(filtered.body.scanned.rows).toBeLessThan(total);
  }, 120_000);
});
