// The request explorer's reads over one tenant's stored spans: a page of
// requests, newest first, filtered; one request with its trace and logs; usage
// per end user. Requests are counted by the counting rule (request-sql.ts,
// processors/conventions/counting.ts): entry spans are requests, and each
// request shows the LLM calls below it in its trace (model, tokens).
//
// Paging is by keyset on (Timestamp, SpanId), newest first: a page is
// `... AND (Timestamp, SpanId) < cursor ORDER BY Timestamp DESC, SpanId DESC
// LIMIT n+1`, never an OFFSET. otel_traces is not sorted by time within a
// tenant (its key is tenant, service, span name, time), so ClickHouse would
// read every row of the range to find the newest n; instead a page is read in
// time windows going back from the cursor, one hour first, each next one 2 to
// 8 times longer (sized by the matches the last one found), until n+1
// requests are found or the range ends. With the
// minmax index on Timestamp (migration 012) a window reads the granules that
// overlap it: a page costs about the tenant's rows in the windows it needed,
// rounded up to 8192-row granules per service and span name. Every answer
// says how many rows it read (`scanned`).
//
// Every value from the caller is a bound query parameter; the SQL is built
// only from this module's constants.
import type { ClickHouseClient } from '@clickhouse/client';
import { requestFieldsSql, STATUS_CLASSES } from './request-sql.ts';
import { classifyAttribute, CONTENT_ATTRIBUTE, GATEWAY_CONTENT_ATTRIBUTE, LLM_METADATA_ATTRIBUTE } from '../../processors/conventions/classify.ts';

/** Requests per page: default and most. */
export const PAGE_SIZE = { default: 50, max: 200 } as const;
/** Longest time range of a list or of usage, days. */
export const MAX_RANGE_DAYS = 31;
/** End users per usage answer, at most. */
export const MAX_USERS = 500;
/** Spans of one trace and logs of one trace an opened request shows, at most. */
export const MAX_TRACE_SPANS = 1000;
export const MAX_TRACE_LOGS = 500;
/** Spans read to find the LLM calls of a page's requests, at most. */
const MAX_CALL_SPANS = 20_000;

const FIRST_WINDOW_NS = 3_600n * 1_000_000_000n;
/** Each window is at least twice and at most this many times as long as the one before. */
const MAX_WINDOW_GROWTH = 8;

/**
 * How much longer the next window is: long enough, at the density of matches
 * the last window found, for the requests still missing and half as many
 * again (a window is read whole, so a longer one than needed costs rows, a
 * shorter one a statement); 8 times when the last found none.
 */
export function nextWindowFactor(foundInWindow: number, missing: number): bigint {
  if (foundInWindow === 0) return BigInt(MAX_WINDOW_GROWTH);
  return BigInt(Math.min(MAX_WINDOW_GROWTH, Math.max(2, Math.ceil((1.5 * missing) / foundInWindow))));
}
/** LLM calls of a request are looked for up to this long after the window (calls start after their request). */
const CALL_SLACK_NS = 3_600n * 1_000_000_000n;
/** The rest of a trace is looked for this long around the opened request. */
const TRACE_SLACK_NS = 86_400n * 1_000_000_000n;
/** Each statement stops after this long (ClickHouse's own limit). */
const STATEMENT_SETTINGS = 'SETTINGS max_execution_time = 30';

/** `status` filter values: a status class, or `errors` (requests counted as errors: 5xx, or failed without a 4xx). */
export const STATUS_FILTERS = [...STATUS_CLASSES, 'errors'] as const;

/**
 * Cost of an LLM call, from issue 17's price table (not part of this module):
 * SQL over an otel_traces row giving the call's cost in USD, NULL when the
 * model's price is unknown. When given, call summaries and usage carry
 * `costUsd` and `unknownCostCalls`; absent, they carry neither.
 */
export interface CostSql {
  callCostUsd: string;
}

export interface RequestFilter {
  /** Unix ns, inclusive. */
  fromNs: bigint;
  /** Unix ns, exclusive. */
  toNs: bigint;
  model?: string;
  status?: (typeof STATUS_FILTERS)[number];
  route?: string;
  user?: string;
}

export interface Cursor {
  ns: bigint;
  spanId: string;
}

export interface CallSummary {
  calls: number;
  errors: number;
  providers: string[];
  models: string[];
  inputTokens: number;
  outputTokens: number;
  /** USD of the priced calls; null when every call had no price (never a zero that would read as free). */
  costUsd?: number | null;
  unknownCostCalls?: number;
}

export interface RequestRow {
  traceId: string;
  spanId: string;
  /** ISO 8601, nanoseconds. */
  start: string;
  durationMs: number;
  name: string;
  kind: string;
  service: string;
  method: string;
  route: string;
  httpStatus: string;
  statusClass: string;
  error: boolean;
  user: string;
  provider: string;
  model: string;
  calls: CallSummary;
}

export interface Scanned {
  /** Rows ClickHouse read for the answer, over every statement. */
  rows: number;
  statements: number;
}

export interface RequestPage {
  requests: RequestRow[];
  /** Cursor of the next (older) page; null when this is the last. */
  next: string | null;
  /** More than MAX_CALL_SPANS spans in the page's traces: call summaries may be incomplete. */
  callsTruncated: boolean;
  scanned: Scanned;
}

// ---- cursors ---------------------------------------------------------------

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.ns}:${c.spanId}`, 'utf8').toString('base64url');
}

/** The cursor of a `cursor` parameter, or undefined when it is not one this module made. */
export function decodeCursor(s: string): Cursor | undefined {
  const m = /^(\d{1,20}):([0-9a-f]{16})$/.exec(Buffer.from(s, 'base64url').toString('utf8'));
  if (m === null) return undefined;
  const ns = BigInt(m[1]!);
  return ns < 1n << 63n ? { ns, spanId: m[2]! } : undefined;
}

// ---- SQL ---------------------------------------------------------------------

const USER = `if(SpanAttributes['user.id'] != '', SpanAttributes['user.id'], ResourceAttributes['user.id'])`;
const nsParam = (name: string) => `fromUnixTimestamp64Nano({${name}:Int64})`;

/** Spans of the tenant in [wfrom, wto) with the request fields; `columns` first. */
const spansIn = (columns: string, from = nsParam('wfrom'), to = nsParam('wto')) =>
  `SELECT ${columns}, ${requestFieldsSql()} FROM consentry.otel_traces WHERE TenantId = {tenant:String} AND Timestamp >= ${from} AND Timestamp < ${to}`;

/** The list statement of one window; parameters tenant, wfrom, wto, limit, and those of the filters and cursor present. */
export function listSql(f: RequestFilter, cursor: boolean): string {
  const where = ['is_entry'];
  if (cursor) where.push(`(Timestamp, SpanId) < (${nsParam('cns')}, {cspan:String})`);
  if (f.status === 'errors') where.push('is_error');
  else if (f.status !== undefined) where.push('status_class = {status:String}');
  if (f.route !== undefined) where.push('endpoint = {route:String}');
  if (f.user !== undefined) where.push('end_user = {user:String}');
  if (f.model !== undefined) {
    const calls = spansIn('TraceId', nsParam('wfrom'), `${nsParam('wto')} + toIntervalNanosecond(${CALL_SLACK_NS})`);
    where.push(`TraceId IN (SELECT TraceId FROM (${calls}) WHERE is_call AND model = {model:String})`);
  }
  const columns = `Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, Duration, SpanAttributes['http.request.method'] AS method, SpanAttributes['http.response.status_code'] AS http_status, ${USER} AS end_user`;
  return (
    `SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns, TraceId, SpanId, SpanName, SpanKind, ServiceName, Duration, method, http_status, end_user, provider, endpoint, model, status_class, is_error ` +
    `FROM (${spansIn(columns)}) WHERE ${where.join(' AND ')} ORDER BY Timestamp DESC, SpanId DESC LIMIT {limit:UInt32} ${STATEMENT_SETTINGS}`
  );
}

/** Every span of some traces in [cfrom, cto): ids and call fields, to give each request its calls. */
function callSpansSql(cost: CostSql | undefined): string {
  const costCol = cost === undefined ? '' : `, ${cost.callCostUsd} AS cost`;
  return `SELECT TraceId, SpanId, ParentSpanId, is_entry, is_call, is_error, provider, model, in_tok, out_tok${cost === undefined ? '' : ', cost'} FROM (${spansIn(`TraceId, SpanId, ParentSpanId${costCol}`, nsParam('cfrom'), nsParam('cto'))} AND TraceId IN {traces:Array(String)}) LIMIT {max:UInt32} ${STATEMENT_SETTINGS}`;
}

// ---- reading -------------------------------------------------------------------

async function run<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>, scanned: Scanned): Promise<T[]> {
  const res = await client.query({ query, query_params: params, format: 'JSON' });
  // The JSON format (not JSONEachRow): its answer carries the rows ClickHouse read.
  const answer = await res.json<T>();
  scanned.rows += Number(answer.statistics?.rows_read ?? 0);
  scanned.statements += 1;
  return answer.data;
}

interface ListRow {
  ns: string;
  TraceId: string;
  SpanId: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  Duration: string | number;
  method: string;
  http_status: string;
  end_user: string;
  provider: string;
  endpoint: string;
  model: string;
  status_class: string;
  is_error: number | boolean;
}

export interface CallSpan {
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  is_entry: number | boolean;
  is_call: number | boolean;
  is_error: number | boolean;
  provider: string;
  model: string;
  in_tok: string | number;
  out_tok: string | number;
  cost?: number | null;
}

/** Nanoseconds since the epoch as ISO 8601 with nine fraction digits. */
export function isoOfNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  return `${base}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
}

const emptyCalls = (cost: boolean): CallSummary => ({ calls: 0, errors: 0, providers: [], models: [], inputTokens: 0, outputTokens: 0, ...(cost ? { costUsd: 0, unknownCostCalls: 0 } : {}) });

/**
 * Gives each request (an entry span of `entries`) the LLM calls below it:
 * a call belongs to the nearest entry span above it in its trace (itself when
 * it is one). A call whose chain of parents breaks before an entry span (a
 * parent not stored) goes to the trace's request when the page has exactly
 * one of that trace. Calls below an entry that is not on the page are not
 * this page's.
 */
export function attributeCalls(entries: Array<{ TraceId: string; SpanId: string }>, spans: CallSpan[], cost: boolean): Map<string, CallSummary> {
  const key = (t: string, s: string) => `${t}/${s}`;
  const out = new Map<string, CallSummary>(entries.map((e) => [key(e.TraceId, e.SpanId), emptyCalls(cost)]));
  const pageEntriesOf = new Map<string, string[]>();
  for (const e of entries) pageEntriesOf.set(e.TraceId, [...(pageEntriesOf.get(e.TraceId) ?? []), e.SpanId]);
  const byId = new Map<string, CallSpan>(spans.map((s) => [key(s.TraceId, s.SpanId), s]));
  for (const s of spans) {
    if (!truthy(s.is_call)) continue;
    let owner: string | undefined;
    let cur: CallSpan | undefined = s;
    for (let steps = 0; cur !== undefined && steps <= spans.length; steps++) {
      if (truthy(cur.is_entry)) {
        owner = key(cur.TraceId, cur.SpanId);
        break;
      }
      cur = cur.ParentSpanId === '' ? undefined : byId.get(key(cur.TraceId, cur.ParentSpanId));
    }
    if (owner === undefined) {
      const only = pageEntriesOf.get(s.TraceId);
      if (only?.length === 1) owner = key(s.TraceId, only[0]!);
    }
    const sum = owner === undefined ? undefined : out.get(owner);
    if (sum === undefined) continue;
    sum.calls += 1;
    if (truthy(s.is_error)) sum.errors += 1;
    if (s.provider !== '' && !sum.providers.includes(s.provider)) sum.providers.push(s.provider);
    if (s.model !== '' && !sum.models.includes(s.model)) sum.models.push(s.model);
    sum.inputTokens += Number(s.in_tok);
    sum.outputTokens += Number(s.out_tok);
    if (cost) {
      if (s.cost === null || s.cost === undefined) sum.unknownCostCalls! += 1;
      else sum.costUsd = (sum.costUsd ?? 0) + Number(s.cost);
    }
  }
  // Calls all without a price: the cost is unknown, not zero.
  for (const sum of out.values()) if (cost && sum.calls > 0 && sum.unknownCostCalls === sum.calls) sum.costUsd = null;
  return out;
}

const truthy = (v: number | boolean | string) => v === true || Number(v) === 1;

export interface ListOptions {
  client: ClickHouseClient;
  tenantId: string;
  filter: RequestFilter;
  cursor?: Cursor;
  limit: number;
  cost?: CostSql;
}

/** One page of requests, newest first (see the top of this file). */
export async function listRequests(o: ListOptions): Promise<RequestPage> {
  const scanned: Scanned = { rows: 0, statements: 0 };
  const f = o.filter;
  const params: Record<string, unknown> = { tenant: o.tenantId };
  if (f.status !== undefined && f.status !== 'errors') params['status'] = f.status;
  if (f.route !== undefined) params['route'] = f.route;
  if (f.user !== undefined) params['user'] = f.user;
  if (f.model !== undefined) params['model'] = f.model;
  if (o.cursor !== undefined) Object.assign(params, { cns: String(o.cursor.ns), cspan: o.cursor.spanId });
  const sql = listSql(f, o.cursor !== undefined);

  const found: ListRow[] = [];
  let end = o.cursor === undefined || o.cursor.ns >= f.toNs ? f.toNs : o.cursor.ns + 1n;
  let size = FIRST_WINDOW_NS;
  while (found.length <= o.limit && end > f.fromNs) {
    const start = end - size > f.fromNs ? end - size : f.fromNs;
    const rows = await run<ListRow>(o.client, sql, { ...params, wfrom: String(start), wto: String(end), limit: o.limit + 1 - found.length }, scanned);
    found.push(...rows);
    end = start;
    size *= nextWindowFactor(rows.length, o.limit + 1 - found.length);
  }
  const page = found.slice(0, o.limit);
  const last = page[page.length - 1];
  const next = found.length > o.limit && last !== undefined ? encodeCursor({ ns: BigInt(last.ns), spanId: last.SpanId }) : null;

  let callsTruncated = false;
  let calls = new Map<string, CallSummary>();
  if (page.length > 0) {
    const times = page.map((r) => BigInt(r.ns));
    const ends = page.map((r) => BigInt(r.ns) + BigInt(r.Duration));
    const min = times.reduce((a, b) => (b < a ? b : a));
    const max = ends.reduce((a, b) => (b > a ? b : a));
    const spans = await run<CallSpan>(
      o.client,
      callSpansSql(o.cost),
      { tenant: o.tenantId, traces: [...new Set(page.map((r) => r.TraceId))], cfrom: String(min - CALL_SLACK_NS), cto: String(max + CALL_SLACK_NS), max: MAX_CALL_SPANS + 1 },
      scanned,
    );
    callsTruncated = spans.length > MAX_CALL_SPANS;
    calls = attributeCalls(page, spans.slice(0, MAX_CALL_SPANS), o.cost !== undefined);
  }
  return {
    requests: page.map((r) => ({
      traceId: r.TraceId,
      spanId: r.SpanId,
      start: isoOfNs(BigInt(r.ns)),
      durationMs: Number(r.Duration) / 1e6,
      name: r.SpanName,
      kind: r.SpanKind,
      service: r.ServiceName,
      method: r.method,
      route: r.endpoint,
      httpStatus: r.http_status,
      statusClass: r.status_class,
      error: truthy(r.is_error),
      user: r.end_user,
      provider: r.provider,
      model: r.model,
      calls: calls.get(`${r.TraceId}/${r.SpanId}`) ?? emptyCalls(o.cost !== undefined),
    })),
    next,
    callsTruncated,
    scanned,
  };
}

// ---- one request -------------------------------------------------------------

/** How the page groups an attribute: captured headers, content (bodies, prompts, completions: the content table), LLM metadata, the rest. */
export type AttributeKind = 'header' | 'content' | 'llm' | 'other';

export function attributeKind(key: string): AttributeKind {
  if (key.startsWith('http.request.header.') || key.startsWith('http.response.header.')) return 'header';
  const c = classifyAttribute(key);
  if (c === CONTENT_ATTRIBUTE || c === GATEWAY_CONTENT_ATTRIBUTE) return 'content';
  return c === LLM_METADATA_ATTRIBUTE ? 'llm' : 'other';
}

const kindsOf = (a: Record<string, string>): Record<string, AttributeKind> => Object.fromEntries(Object.keys(a).map((k) => [k, attributeKind(k)]));

export interface TraceSpan {
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: string;
  service: string;
  start: string;
  /** From the start of the trace's first span shown, ms. */
  offsetMs: number;
  durationMs: number;
  statusCode: string;
  statusMessage: string;
  /** Nesting below the trace's first spans (0: no parent among the spans shown). */
  depth: number;
  isRequest: boolean;
  isCall: boolean;
  attributes: Record<string, string>;
}

export interface OpenedRequest {
  tier: string;
  expireAt: string;
  span: {
    traceId: string;
    spanId: string;
    parentSpanId: string;
    traceState: string;
    name: string;
    kind: string;
    service: string;
    scope: { name: string; version: string };
    start: string;
    durationMs: number;
    statusCode: string;
    statusMessage: string;
    attributes: Record<string, string>;
    /** The group of each attribute (attributeKind). */
    kinds: Record<string, AttributeKind>;
    resource: Record<string, string>;
    events: Array<{ time: string; name: string; attributes: Record<string, string> }>;
    links: Array<{ traceId: string; spanId: string; traceState: string; attributes: Record<string, string> }>;
  };
  trace: { spans: TraceSpan[]; truncated: boolean };
  logs: { rows: Array<{ time: string; spanId: string; severity: string; eventName: string; body: string; attributes: Record<string, string> }>; truncated: boolean };
  scanned: Scanned;
}

interface SpanRow {
  ns: string;
  Tier: string;
  ExpireAt: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  TraceState: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  ScopeName: string;
  ScopeVersion: string;
  Duration: string | number;
  StatusCode: string;
  StatusMessage: string;
  /** SpanAttributes with the content kept apart for content retention (ContentAttributes) put back. */
  attrs: Record<string, string>;
  ResourceAttributes: Record<string, string>;
  ev_ns: string[];
  ev_name: string[];
  ev_attrs: Array<Record<string, string>>;
  ln_trace: string[];
  ln_span: string[];
  ln_state: string[];
  ln_attrs: Array<Record<string, string>>;
}

interface TraceRow {
  ns: string;
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  Duration: string | number;
  StatusCode: string;
  StatusMessage: string;
  attrs: Record<string, string>;
  is_entry: number | boolean;
  is_call: number | boolean;
}

/**
 * The spans of a trace in tree order (each span after its parent, siblings by
 * start), with their depth; a span whose parent is not among them starts a
 * tree of its own, in start order.
 */
export function traceTree(rows: TraceRow[]): TraceSpan[] {
  const sorted = [...rows].sort((a, b) => (BigInt(a.ns) < BigInt(b.ns) ? -1 : BigInt(a.ns) > BigInt(b.ns) ? 1 : a.SpanId.localeCompare(b.SpanId)));
  const ids = new Set(sorted.map((r) => r.SpanId));
  const children = new Map<string, TraceRow[]>();
  const roots: TraceRow[] = [];
  for (const r of sorted) {
    if (r.ParentSpanId !== '' && r.ParentSpanId !== r.SpanId && ids.has(r.ParentSpanId)) children.set(r.ParentSpanId, [...(children.get(r.ParentSpanId) ?? []), r]);
    else roots.push(r);
  }
  const t0 = sorted[0] === undefined ? 0n : BigInt(sorted[0].ns);
  const out: TraceSpan[] = [];
  const seen = new Set<string>();
  const visit = (r: TraceRow, depth: number) => {
    if (seen.has(r.SpanId)) return; // a cycle of parent ids: each span once
    seen.add(r.SpanId);
    out.push({
      spanId: r.SpanId,
      parentSpanId: r.ParentSpanId,
      name: r.SpanName,
      kind: r.SpanKind,
      service: r.ServiceName,
      start: isoOfNs(BigInt(r.ns)),
      offsetMs: Number(BigInt(r.ns) - t0) / 1e6,
      durationMs: Number(r.Duration) / 1e6,
      statusCode: r.StatusCode,
      statusMessage: r.StatusMessage,
      depth,
      isRequest: truthy(r.is_entry),
      isCall: truthy(r.is_call),
      attributes: r.attrs,
    });
    for (const c of children.get(r.SpanId) ?? []) visit(c, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  for (const r of sorted) visit(r, 0); // spans only reachable through a cycle
  return out;
}

/**
 * A span's attributes as sent: a tier with content retention shorter than its
 * rows keeps content apart (ContentAttributes, EventsContentAttributes:
 * storage/sql/010_content_retention.sql); the explorer shows it back in place
 * while it lasts.
 */
const WITH_CONTENT = 'mapUpdate(SpanAttributes, ContentAttributes)';
const EVENTS_WITH_CONTENT =
  'if(length(EventsContentAttributes) = length(Events.Attributes), arrayMap((a, c) -> mapUpdate(a, c), Events.Attributes, EventsContentAttributes), Events.Attributes)';

/** One stored span of the tenant with its trace and the trace's logs; undefined when there is no such span. */
export async function openRequest(client: ClickHouseClient, tenantId: string, traceId: string, spanId: string): Promise<OpenedRequest | undefined> {
  const scanned: Scanned = { rows: 0, statements: 0 };
  const [row] = await run<SpanRow>(
    client,
    `SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns, Tier, toString(ExpireAt) AS ExpireAt, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, ScopeName, ScopeVersion, Duration, StatusCode, StatusMessage, ${WITH_CONTENT} AS attrs, ResourceAttributes, ` +
      `arrayMap(t -> toString(toUnixTimestamp64Nano(t)), Events.Timestamp) AS ev_ns, Events.Name AS ev_name, ${EVENTS_WITH_CONTENT} AS ev_attrs, Links.TraceId AS ln_trace, Links.SpanId AS ln_span, Links.TraceState AS ln_state, Links.Attributes AS ln_attrs ` +
      `FROM consentry.otel_traces WHERE TenantId = {tenant:String} AND TraceId = {trace:String} AND SpanId = {span:String} ORDER BY Timestamp LIMIT 1 ${STATEMENT_SETTINGS}`,
    { tenant: tenantId, trace: traceId, span: spanId },
    scanned,
  );
  if (row === undefined) return undefined;
  const at = BigInt(row.ns);
  const around = { tenant: tenantId, trace: traceId, tfrom: String(at - TRACE_SLACK_NS), tto: String(at + TRACE_SLACK_NS) };
  const spans = await run<TraceRow>(
    client,
    `SELECT ns, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration, StatusCode, StatusMessage, attrs, is_entry, is_call FROM (` +
      `${spansIn(`toString(toUnixTimestamp64Nano(Timestamp)) AS ns, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration, StatusCode, StatusMessage, ${WITH_CONTENT} AS attrs`, nsParam('tfrom'), nsParam('tto'))} AND TraceId = {trace:String}` +
      `) ORDER BY ns LIMIT {max:UInt32} ${STATEMENT_SETTINGS}`,
    { ...around, max: MAX_TRACE_SPANS + 1 },
    scanned,
  );
  const logs = await run<{ ns: string; SpanId: string; SeverityText: string; EventName: string; Body: string; attrs: Record<string, string> }>(
    client,
    `SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns, SpanId, SeverityText, EventName, Body, mapUpdate(LogAttributes, ContentAttributes) AS attrs FROM consentry.otel_logs ` +
      `WHERE TenantId = {tenant:String} AND TraceId = {trace:String} AND TimestampTime >= toDateTime(intDiv({tfrom:Int64}, 1000000000)) AND TimestampTime <= toDateTime(intDiv({tto:Int64}, 1000000000)) ` +
      `ORDER BY Timestamp LIMIT {max:UInt32} ${STATEMENT_SETTINGS}`,
    { ...around, max: MAX_TRACE_LOGS + 1 },
    scanned,
  );
  return {
    tier: row.Tier,
    expireAt: row.ExpireAt,
    span: {
      traceId: row.TraceId,
      spanId: row.SpanId,
      parentSpanId: row.ParentSpanId,
      traceState: row.TraceState,
      name: row.SpanName,
      kind: row.SpanKind,
      service: row.ServiceName,
      scope: { name: row.ScopeName, version: row.ScopeVersion },
      start: isoOfNs(at),
      durationMs: Number(row.Duration) / 1e6,
      statusCode: row.StatusCode,
      statusMessage: row.StatusMessage,
      attributes: row.attrs,
      kinds: kindsOf(row.attrs),
      resource: row.ResourceAttributes,
      events: row.ev_name.map((name, i) => ({ time: isoOfNs(BigInt(row.ev_ns[i] ?? '0')), name, attributes: row.ev_attrs[i] ?? {} })),
      links: row.ln_trace.map((t, i) => ({ traceId: t, spanId: row.ln_span[i] ?? '', traceState: row.ln_state[i] ?? '', attributes: row.ln_attrs[i] ?? {} })),
    },
    trace: { spans: traceTree(spans.slice(0, MAX_TRACE_SPANS)), truncated: spans.length > MAX_TRACE_SPANS },
    logs: {
      rows: logs.slice(0, MAX_TRACE_LOGS).map((l) => ({ time: isoOfNs(BigInt(l.ns)), spanId: l.SpanId, severity: l.SeverityText, eventName: l.EventName, body: l.Body, attributes: l.attrs })),
      truncated: logs.length > MAX_TRACE_LOGS,
    },
    scanned,
  };
}

// ---- usage per end user ---------------------------------------------------------

export interface EndUserUsage {
  user: string;
  requests: number;
  errors: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** USD of the priced calls; null when every call had no price (never a zero that would read as free). */
  costUsd?: number | null;
  unknownCostCalls?: number;
}

/**
 * Requests per end user (the `user.id` of the request's entry span, or of its
 * resource) in [from, to), with the LLM calls of their traces: most requests
 * first, at most `limit` users.
 */
export function endUsersSql(cost: CostSql | undefined): string {
  const costCols = cost === undefined ? '' : `, sumIf(cost, isNotNull(cost)) AS cost_usd, countIf(isNull(cost)) AS unknown_cost`;
  // Calls all without a price: the cost is unknown (NULL), not zero.
  const costSums = cost === undefined ? '' : `, if(sum(c) > 0 AND sum(unknown_cost) = sum(c), NULL, sum(cost_usd)) AS costUsd, sum(unknown_cost) AS unknownCostCalls`;
  const costIn = cost === undefined ? '' : `, ${cost.callCostUsd} AS cost`;
  return `WITH entries AS (
  SELECT TraceId, end_user, count() AS requests, countIf(is_error) AS errors FROM (${spansIn(`TraceId, ${USER} AS end_user`, nsParam('from'), nsParam('to'))}) WHERE is_entry AND end_user != '' GROUP BY TraceId, end_user
), calls AS (
  SELECT TraceId, count() AS c, sum(in_tok) AS it, sum(out_tok) AS ot${costCols} FROM (${spansIn(`TraceId${costIn}`, nsParam('from'), `${nsParam('to')} + toIntervalNanosecond(${CALL_SLACK_NS})`)}) WHERE is_call AND TraceId IN (SELECT TraceId FROM entries) GROUP BY TraceId
)
SELECT end_user AS user, sum(requests) AS requests, sum(errors) AS errors, sum(c) AS calls, sum(it) AS inputTokens, sum(ot) AS outputTokens${costSums}
FROM entries LEFT JOIN calls USING (TraceId)
GROUP BY end_user ORDER BY requests DESC, end_user LIMIT {limit:UInt32}
${STATEMENT_SETTINGS}, join_use_nulls = 0`;
}

export async function endUserUsage(o: { client: ClickHouseClient; tenantId: string; fromNs: bigint; toNs: bigint; limit: number; cost?: CostSql }): Promise<{ users: EndUserUsage[]; truncated: boolean; scanned: Scanned }> {
  const scanned: Scanned = { rows: 0, statements: 0 };
  const rows = await run<Record<string, string | number>>(o.client, endUsersSql(o.cost), { tenant: o.tenantId, from: String(o.fromNs), to: String(o.toNs), limit: o.limit + 1 }, scanned);
  const users = rows.slice(0, o.limit).map((r) => ({
    user: String(r['user']),
    requests: Number(r['requests']),
    errors: Number(r['errors']),
    calls: Number(r['calls']),
    inputTokens: Number(r['inputTokens']),
    outputTokens: Number(r['outputTokens']),
    ...(o.cost === undefined ? {} : { costUsd: r['costUsd'] === null ? null : Number(r['costUsd']), unknownCostCalls: Number(r['unknownCostCalls']) }),
  }));
  return { users, truncated: rows.length > o.limit, scanned };
}
