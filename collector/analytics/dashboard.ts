// Dashboard figures of one tenant over a time range, in buckets of `step`:
// requests, LLM calls, errors and error rates, latency p50/p95/p99 (of
// requests and of calls), tokens and cost, per provider, endpoint, model and
// over time. Cost is what the calls' prices were at receipt (processors/cost/);
// calls whose model had none are counted as unpriced, and a breakdown whose
// calls are all unpriced has cost null (unknown), never 0.
// Requests and calls are different figures (processors/conventions/counting.ts):
// a request is counted once whatever the shape of its trace, and its LLM calls
// (retries and fallbacks included) as calls, with the tokens and the model.
//
// Two sources, one answer: request_summaries (data received under an
// aggregating tier) and otel_traces (data received under a per-request tier),
// read through the same rules (request-sql.ts) and the same latency sketch, so
// the same traffic gives the same figures from either. A minute of data is in
// one of them only (the tier at receipt decides), so a range that spans a tier
// switch is the sum of both. One query: the two sources UNION ALL, then one
// GROUP BY GROUPING SETS for every breakdown.
import type { ClickHouseClient } from '@clickhouse/client';
import { sqlQuantile } from '../../processors/summarize/sketch.ts';
import { spanRequestsSql } from './request-sql.ts';

export const QUANTILES = [0.5, 0.95, 0.99] as const;

/** Bucket widths chosen by default: the smallest giving at most MAX_DEFAULT_BUCKETS buckets. */
const DEFAULT_STEPS = [60, 300, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800];
const MAX_DEFAULT_BUCKETS = 120;
/** Most buckets a caller may ask for. */
export const MAX_BUCKETS = 1440;
/** Longest range, seconds (400 days). */
export const MAX_RANGE_SECONDS = 400 * 86_400;

export interface DashboardRange {
  /** Unix seconds, aligned down to `step`. */
  from: number;
  /** Unix seconds, aligned up to `step` (exclusive). */
  to: number;
  /** Bucket width, seconds, a multiple of 60. */
  step: number;
}

/** Parses `from`, `to` (ISO 8601 or Unix seconds) and `step` (`5m`, `1h`, `1d`, or seconds). A message when invalid. */
/** A time parameter (ISO 8601, Unix seconds or milliseconds) as Unix milliseconds; `dfltMs` when absent; a message when invalid. */
export function parseTimeMs(v: string | undefined, name: string, dfltMs: number): number | string {
  if (v === undefined || v === '') return dfltMs;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const n = Number(v);
    return Math.floor(n > 1e11 ? n : n * 1000); // milliseconds given: accept them
  }
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? `${name}: "${v}" is neither an ISO 8601 time (2026-01-31T10:00:00Z) nor Unix seconds` : ms;
}

export function parseRange(q: { from?: string; to?: string; step?: string }, nowMs: number): DashboardRange | string {
  const time = (v: string | undefined, name: string, dflt: number): number | string => {
    const ms = parseTimeMs(v, name, dflt * 1000);
    return typeof ms === 'string' ? ms : Math.floor(ms / 1000);
  };
  const now = Math.floor(nowMs / 1000);
  const to = time(q.to, 'to', now);
  if (typeof to === 'string') return to;
  const from = time(q.from, 'from', to - 3600);
  if (typeof from === 'string') return from;
  if (from >= to) return 'from must be before to';
  if (to - from > MAX_RANGE_SECONDS) return `the range is longer than ${MAX_RANGE_SECONDS / 86_400} days`;
  let step: number;
  if (q.step === undefined || q.step === '') {
    step = DEFAULT_STEPS.find((s) => Math.ceil((to - from) / s) <= MAX_DEFAULT_BUCKETS) ?? DEFAULT_STEPS[DEFAULT_STEPS.length - 1]!;
  } else {
    const m = /^(\d+)([smhd]?)$/.exec(q.step);
    if (m === null) return `step: "${q.step}" is not a duration such as 1m, 5m, 1h, 1d`;
    step = Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 } as Record<string, number>)[m[2]!]!;
    if (step < 60 || step % 60 !== 0) return `step: ${q.step} must be a whole number of minutes (summaries are per minute)`;
  }
  const alignedFrom = Math.floor(from / step) * step;
  const alignedTo = Math.ceil(to / step) * step;
  if ((alignedTo - alignedFrom) / step > MAX_BUCKETS) return `step: ${q.step} gives more than ${MAX_BUCKETS} buckets for this range: choose a larger step`;
  return { from: alignedFrom, to: alignedTo, step };
}

export interface Latency {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
export interface Breakdown {
  requests: number;
  errors: number;
  /** errors / requests; null without requests. */
  errorRate: number | null;
  /** Milliseconds, from the sketch (within 1 % of the exact value). */
  latencyMs: Latency;
  /** LLM calls (a request makes one or more; retries and fallbacks included) and those that failed. */
  calls: number;
  callErrors: number;
  /** callErrors / calls; null without calls. */
  callErrorRate: number | null;
  callLatencyMs: Latency;
  /** Tokens of the calls. */
  inputTokens: number;
  outputTokens: number;
  /** US dollars of the priced calls; null when there are calls and none was priced (unknown, not free). */
  costUsd: number | null;
  /** Calls whose model (or provider) had no price at receipt. */
  unpricedCalls: number;
}

export interface DashboardFigures {
  sources: { summaries: number; spans: number };
  totals: Breakdown;
  byProvider: Array<{ provider: string } & Breakdown>;
  byEndpoint: Array<{ endpoint: string } & Breakdown>;
  byModel: Array<{ model: string } & Breakdown>;
  series: Array<{ start: string } & Breakdown & { byProvider: Record<string, { requests: number; errors: number }> }>;
}

interface Row {
  g: number;
  t: number;
  provider: string;
  endpoint: string;
  model: string;
  src: string;
  r: number;
  e: number;
  c: number;
  ce: number;
  it: number;
  ot: number;
  cost: number;
  uc: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  c50: number | null;
  c95: number | null;
  c99: number | null;
}

// grouping(t, provider, endpoint, model, src): bit set = not in the grouping set.
const G_TOTAL = 31;
const G_PROVIDER = 23;
const G_ENDPOINT = 27;
const G_MODEL = 29;
const G_TIME = 15;
const G_TIME_PROVIDER = 7;
const G_SOURCE = 30;

/** The dashboard statement; parameters {tenant:String}, {from:UInt32}, {to:UInt32}, {step:UInt32}. */
export function dashboardSql(): string {
  const spans = spanRequestsSql({ tenant: '{tenant:String}', from: '{from:UInt32}', to: '{to:UInt32}', step: '{step:UInt32}' });
  const q = QUANTILES.map((x, i) => `${sqlQuantile('sumMap(lat)', x)} AS ${['p50', 'p95', 'p99'][i]}`)
    .concat(QUANTILES.map((x, i) => `${sqlQuantile('sumMap(clat)', x)} AS ${['c50', 'c95', 'c99'][i]}`))
    .join(',\n  ');
  return `WITH requests AS (
  SELECT toInt64(intDiv(toUInt32(toUnixTimestamp(Minute)), {step:UInt32}) * {step:UInt32}) AS t,
    toString(Provider) AS provider, toString(Endpoint) AS endpoint, toString(Model) AS model, 'summaries' AS src,
    sum(Requests) AS r, sum(Errors) AS e, sumMap(LatencyBuckets) AS lat,
    sum(Calls) AS c, sum(CallErrors) AS ce, sumMap(CallLatencyBuckets) AS clat, sum(InputTokens) AS it, sum(OutputTokens) AS ot,
    sum(CostUsd) AS cost, sum(UnpricedCalls) AS uc
  FROM consentry.request_summaries
  WHERE TenantId = {tenant:String} AND Minute >= toDateTime({from:UInt32}) AND Minute < toDateTime({to:UInt32})
  GROUP BY t, provider, endpoint, model
  UNION ALL
  SELECT t, provider, endpoint, model, 'spans' AS src,
    countIf(is_entry) AS r, countIf(is_entry AND is_error) AS e, sumMapIf(map(bucket, toUInt64(1)), is_entry) AS lat,
    countIf(is_call) AS c, countIf(is_call AND is_error) AS ce, sumMapIf(map(bucket, toUInt64(1)), is_call) AS clat,
    sumIf(in_tok, is_call) AS it, sumIf(out_tok, is_call) AS ot,
    sumIf(assumeNotNull(cost_usd), is_call AND isNotNull(cost_usd)) AS cost, countIf(is_call AND isNull(cost_usd)) AS uc
  FROM (${spans})
  GROUP BY t, provider, endpoint, model
)
SELECT grouping(t, provider, endpoint, model, src) AS g, t, provider, endpoint, model, src,
  sum(r) AS r, sum(e) AS e, sum(c) AS c, sum(ce) AS ce, sum(it) AS it, sum(ot) AS ot,
  toFloat64(sum(cost)) AS cost, sum(uc) AS uc,
  ${q}
FROM requests
GROUP BY GROUPING SETS ((), (provider), (endpoint), (model), (t), (t, provider), (src))
SETTINGS output_format_json_quote_64bit_integers = 0`;
}

function breakdown(r: Row | undefined): Breakdown {
  const requests = Number(r?.r ?? 0);
  const errors = Number(r?.e ?? 0);
  const calls = Number(r?.c ?? 0);
  const callErrors = Number(r?.ce ?? 0);
  const unpricedCalls = Number(r?.uc ?? 0);
  const q = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v));
  return {
    requests,
    errors,
    errorRate: requests === 0 ? null : errors / requests,
    latencyMs: { p50: q(r?.p50), p95: q(r?.p95), p99: q(r?.p99) },
    calls,
    callErrors,
    callErrorRate: calls === 0 ? null : callErrors / calls,
    callLatencyMs: { p50: q(r?.c50), p95: q(r?.c95), p99: q(r?.c99) },
    inputTokens: Number(r?.it ?? 0),
    outputTokens: Number(r?.ot ?? 0),
    costUsd: calls > 0 && unpricedCalls === calls ? null : Number(r?.cost ?? 0),
    unpricedCalls,
  };
}

/** Most requests first, then most calls; ties by name, so equal figures always come in the same order. */
const byRequests = (key: string) => <T extends { requests: number; calls: number }>(a: T, b: T) =>
  b.requests - a.requests || b.calls - a.calls || String((a as Record<string, unknown>)[key]).localeCompare(String((b as Record<string, unknown>)[key]));

/** Runs the dashboard query and shapes the figures. */
export async function dashboardFigures(client: ClickHouseClient, tenantId: string, range: DashboardRange): Promise<DashboardFigures> {
  const res = await client.query({
    query: dashboardSql(),
    query_params: { tenant: tenantId, from: range.from, to: range.to, step: range.step },
    format: 'JSONEachRow',
  });
  const rows = (await res.json<Row>()).map((r) => ({ ...r, g: Number(r.g), t: Number(r.t) }));
  const of = (g: number) => rows.filter((r) => r.g === g);
  const totalRow = of(G_TOTAL)[0];
  const sources = { summaries: 0, spans: 0 };
  for (const r of of(G_SOURCE)) if (r.src === 'summaries' || r.src === 'spans') sources[r.src] = Number(r.r);
  const perTime = new Map<number, Row>(of(G_TIME).map((r) => [r.t, r]));
  const perTimeProvider = new Map<number, Record<string, { requests: number; errors: number }>>();
  for (const r of of(G_TIME_PROVIDER)) {
    const m = perTimeProvider.get(r.t) ?? {};
    m[r.provider] = { requests: Number(r.r), errors: Number(r.e) };
    perTimeProvider.set(r.t, m);
  }
  const series: DashboardFigures['series'] = [];
  for (let t = range.from; t < range.to; t += range.step) {
    series.push({ start: new Date(t * 1000).toISOString(), ...breakdown(perTime.get(t)), byProvider: perTimeProvider.get(t) ?? {} });
  }
  return {
    sources,
    totals: breakdown(totalRow),
    byProvider: of(G_PROVIDER).map((r) => ({ provider: r.provider, ...breakdown(r) })).sort(byRequests('provider')),
    byEndpoint: of(G_ENDPOINT).map((r) => ({ endpoint: r.endpoint, ...breakdown(r) })).sort(byRequests('endpoint')),
    byModel: of(G_MODEL).map((r) => ({ model: r.model, ...breakdown(r) })).sort(byRequests('model')),
    series,
  };
}
