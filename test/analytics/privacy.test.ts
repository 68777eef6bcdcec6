// Erasure of an end user while its traffic is still in flight, erasure of a
// tenant, and exports: what they remove, what they keep, what they return.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { ErasureTombstones } from '../../control/tombstones.ts';
import { exportLines } from '../../collector/analytics/export.ts';
import { SpanKind, type BatchContext, type LogRecord, type RecordBatch, type SpanRecord } from '../../core/record.ts';
import { generateTraffic, metadataBody, sendOtlp, sendTraffic, logsBody, tracesBody } from './traffic.ts';

let c: TestConsentry;
let keys: { ingestKey: string; queryKey: string };
const start = Math.floor(Date.now() / 1000 / 60) * 60 - 1800;

beforeAll(async () => {
  // Batches wait a second before their insert: data stays in flight long enough to erase under it.
  c = await startTestConsentry({ batchMaxDelayMs: 1000 });
  keys = await c.createTenant('priv', 'full');
  await sendTraffic(c.otlpUrl, keys.ingestKey, generateTraffic({ seed: 5, n: 90, startSec: start, minutes: 20, users: ['u1', 'u2', 'u3'] }), { logs: true });
  await sendOtlp(c.otlpUrl, keys.ingestKey, 'logs', metadataBody('gateway', '2.0.0', BigInt(start) * 1_000_000_000n));
});
afterAll(async () => c?.close());

/** Rows of a subject in spans and logs: its own, and every row of its traces (independent of the product's SQL). */
async function subjectRows(tenant: string, user: string): Promise<{ spans: number; logs: number; mentions: number }> {
  const traces = `SELECT TraceId FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND SpanAttributes['user.id'] = '${user}'`;
  const [s] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND (SpanAttributes['user.id'] = '${user}' OR TraceId IN (${traces}))`);
  const [l] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.otel_logs WHERE TenantId = '${tenant}' AND (LogAttributes['user.id'] = '${user}' OR TraceId IN (${traces}))`);
  // The generator writes "prompt of <user>" into the upstream span's body: no trace of it may remain.
  const [m] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND (SpanAttributes['gateway.request.body'] = 'prompt of ${user}' OR SpanAttributes['user.id'] = '${user}')`);
  return { spans: Number(s!.n), logs: Number(l!.n), mentions: Number(m!.n) };
}

describe('erasure of an end user', () => {
  it('removes every row of the subject, also what was in flight, and nothing else', async () => {
    // The audit names the operator who erased, from its token.
    const dpo = (await c.api('POST', '/api/operators', { name: 'dpo@example.com', role: 'privacy' })).body.token as string;
    const before = { u1: await subjectRows('priv', 'u1'), u2: await subjectRows('priv', 'u2'), u3: await subjectRows('priv', 'u3') };
    expect(before.u1.spans).toBeGreaterThan(0);
    expect(before.u1.logs).toBeGreaterThan(0);
    const [metaBefore] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.gateway_metadata WHERE TenantId = 'priv'`);

    // u1's traffic still arriving: ten requests in flight (received, waiting for their batch) when the erasure starts.
    const inflight = Array.from({ length: 10 }, (_, i) => generateTraffic({ seed: 100 + i, n: 5, startSec: start + 1200, minutes: 1, users: ['u1'] }));
    const sends = inflight.flatMap((reqs) => [sendOtlp(c.otlpUrl, keys.ingestKey, 'traces', tracesBody(reqs)), sendOtlp(c.otlpUrl, keys.ingestKey, 'logs', logsBody(reqs))]);
    await new Promise((r) => setTimeout(r, 250)); // received (so before the erasure), not yet inserted
    const erase = await c.api('DELETE', '/api/tenants/priv/subjects/u1?reason=GDPR%20art.%2017', undefined, dpo);
    await Promise.all(sends);
    expect(erase.status, JSON.stringify(erase.body)).toBe(200);
    expect(erase.body).toMatchObject({ tenant: 'priv', subject: 'u1' });
    expect(erase.body.rows.otel_traces).toBeGreaterThanOrEqual(before.u1.spans);
    expect(erase.body.rows.otel_logs).toBeGreaterThanOrEqual(before.u1.logs);

    // Whatever was still on its way when the erasure started, nothing of u1 is stored now.
    await new Promise((r) => setTimeout(r, 1200)); // longer than a batch delay: nothing left to land
    expect(await subjectRows('priv', 'u1')).toEqual({ spans: 0, logs: 0, mentions: 0 });
    expect(await subjectRows('priv', 'u2')).toEqual(before.u2);
    expect(await subjectRows('priv', 'u3')).toEqual(before.u3);
    const [metaAfter] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.gateway_metadata WHERE TenantId = 'priv'`);
    expect(metaAfter).toEqual(metaBefore);

    // Recorded: who, when, why, rows per table.
    const audit = await c.api('GET', '/api/tenants/priv/erasures');
    expect(audit.body.erasures[0]).toMatchObject({ actor: 'dpo@example.com', subject: 'u1', scope: 'subject', reason: 'GDPR art. 17', rows: erase.body.rows });
    expect(c.tombstones.ready).toBe(true); // loaded before the ports opened

    // Data received after the erasure is new data: kept.
    await sendTraffic(c.otlpUrl, keys.ingestKey, generateTraffic({ seed: 999, n: 1, startSec: start + 1300, minutes: 1, users: ['u1'] }));
    await eventually(async () => (await subjectRows('priv', 'u1')).spans > 0);
    expect((await subjectRows('priv', 'u1')).spans).toBeGreaterThan(0);
  });

  it('validates the tenant and the subject', async () => {
    expect((await c.api('DELETE', '/api/tenants/nobody/subjects/u1')).status).toBe(404);
    // A user.id has 1 to 1024 characters; the router refuses paths far beyond that (414).
    const over = await c.api('DELETE', `/api/tenants/priv/subjects/${'x'.repeat(1025)}`);
    expect([over.status, over.body.message]).toEqual([400, 'subject: must be the user.id, 1 to 1024 characters (URL-encoded)']);
    expect((await c.api('DELETE', `/api/tenants/priv/subjects/${'x'.repeat(2049)}`)).status).toBe(414);
    expect((await c.api('DELETE', '/api/tenants/priv/subjects/u1', undefined, 'wrong')).status).toBe(401);
  });
});

describe('the writer\'s tombstone filter', () => {
  const span = (user: string | undefined, trace: string, id: string): SpanRecord => ({
    resource: { attributes: {}, schemaUrl: '' },
    scope: { name: '', version: '', attributes: {}, schemaUrl: '' },
    traceId: trace,
    spanId: id,
    parentSpanId: '',
    traceState: '',
    name: 's',
    kind: SpanKind.SERVER,
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes: user === undefined ? {} : { 'user.id': user },
    events: [],
    links: [],
    statusCode: 0,
    statusMessage: '',
    flags: 0,
  });
  const log = (user: string | undefined, trace: string): LogRecord => ({
    resource: { attributes: {}, schemaUrl: '' },
    scope: { name: '', version: '', attributes: {}, schemaUrl: '' },
    timeUnixNano: 1n,
    observedTimeUnixNano: 1n,
    severityNumber: 9,
    severityText: '',
    body: 'b',
    attributes: user === undefined ? {} : { 'user.id': user },
    traceId: trace,
    spanId: '',
    flags: 0,
    eventName: '',
  });
  const batch = (): RecordBatch => ({
    spans: [span('gone', 't1', 'a'), span(undefined, 't1', 'b'), span('kept', 't2', 'c')],
    logs: [log(undefined, 't1'), log('gone', ''), log('kept', 't2')],
    summaries: [],
    metadata: [],
  });
  const ctx = (receivedAtMs: number, tenantId = 't'): BatchContext => ({ tenantId, tier: 'full', tierVersion: 1, receivedAtMs });

  it('is the writer\'s first step: records received up to a tombstone never reach ClickHouse', async () => {
    // A tombstone an hour ahead stands for "erased after these records were received, before they were written".
    await c.tombstones.add({ tenantId: 'priv', subject: 'late', erasedAtMs: Date.now() + 3_600_000 });
    const reqs = generateTraffic({ seed: 77, n: 6, startSec: start, minutes: 1, users: ['late', 'other-user'] });
    await Promise.all([sendOtlp(c.otlpUrl, keys.ingestKey, 'traces', tracesBody(reqs)), sendOtlp(c.otlpUrl, keys.ingestKey, 'logs', logsBody(reqs))]);
    expect(await subjectRows('priv', 'late')).toEqual({ spans: 0, logs: 0, mentions: 0 });
    const others = reqs.filter((q) => q.userId === 'other-user').length;
    expect((await subjectRows('priv', 'other-user')).spans).toBeGreaterThanOrEqual(others);
  });

  it('drops an erased subject\'s spans and logs (and its traces) received up to the erasure, keeps the rest', async () => {
    // Recent times: erasure_tombstones has a 90-day TTL, and a TTL merge may remove older rows at any moment.
    const T = Date.now() - 60_000;
    const t = new ErasureTombstones({ client: c.clickhouse.client, traceBlockMs: 3_600_000, maxTraces: 1000 });
    await t.add({ tenantId: 't', subject: 'gone', erasedAtMs: T });
    const out = t.filter(batch(), ctx(T));
    expect(out.spans.map((s) => s.spanId)).toEqual(['c']);
    expect(out.logs.map((l) => l.attributes['user.id'])).toEqual(['kept']);
    // Received after: new data, except later pieces of the erased trace t1 (held from the erasure).
    expect(t.filter(batch(), ctx(T + 1))).toEqual({ ...batch(), spans: batch().spans.slice(2), logs: batch().logs.slice(1) });
    expect(t.isTraceErased('t', 't1', T + 3_600_000 - 1)).toBe(true);
    expect(t.filter(batch(), ctx(T - 990, 'other'))).toEqual(batch()); // another tenant
    // Whether rows encoded before the check may skip it (ClickHouseSink.writeRows).
    expect([t.affects('t', T), t.affects('t', T + 1), t.affects('other', T - 990)]).toEqual([true, false, false]);
    await t.add({ tenantId: 't', subject: '', erasedAtMs: T + 1000 });
    expect(t.filter(batch(), ctx(T + 500))).toEqual({ spans: [], logs: [], summaries: [], metadata: [] });
    // Another process (a Kafka sink) learns both from ClickHouse.
    const other = new ErasureTombstones({ client: c.clickhouse.client, traceBlockMs: 3_600_000, maxTraces: 1000 });
    await other.load();
    expect(other.isErased('t', 'gone', T - 1)).toBe(true);
    expect(other.isErased('t', 'anyone', T + 1000)).toBe(true);
    expect(other.isErased('t', 'anyone', T + 1001)).toBe(false);
    expect([other.affects('t', T + 1000), other.affects('t', T + 1001)]).toEqual([true, false]);
  });
});

describe('export', () => {
  const parse = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as { table?: string; row?: Record<string, any>; end?: boolean; rows?: Record<string, number> });

  it('of a subject: exactly the stored rows of that end user', async () => {
    const res = await fetch(`${c.apiUrl}/api/tenants/priv/subjects/u2/export`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = parse(await res.text());
    const trailer = lines.pop()!;
    expect(trailer.end).toBe(true);
    const traces = `SELECT TraceId FROM consentry.otel_traces WHERE TenantId = 'priv' AND SpanAttributes['user.id'] = 'u2'`;
    const spans = await c.rows<{ k: string }>(`SELECT concat(TraceId, '/', SpanId) AS k FROM consentry.otel_traces WHERE TenantId = 'priv' AND (SpanAttributes['user.id'] = 'u2' OR TraceId IN (${traces}))`);
    const logs = await c.rows<{ k: string }>(`SELECT concat(TraceId, '/', Body) AS k FROM consentry.otel_logs WHERE TenantId = 'priv' AND (LogAttributes['user.id'] = 'u2' OR TraceId IN (${traces}))`);
    const got = (table: string, key: (r: Record<string, any>) => string) => lines.filter((l) => l.table === table).map((l) => key(l.row!)).sort();
    expect(got('otel_traces', (r) => `${r['TraceId']}/${r['SpanId']}`)).toEqual(spans.map((r) => r.k).sort());
    expect(got('otel_logs', (r) => `${r['TraceId']}/${r['Body']}`)).toEqual(logs.map((r) => r.k).sort());
    expect(spans.length).toBeGreaterThan(0);
    expect(trailer.rows).toEqual({ otel_traces: spans.length, otel_logs: logs.length });
    expect(new Set(lines.map((l) => l.row!['TenantId']))).toEqual(new Set(['priv']));
    // The full row, every column as stored: 64-bit integers as exact strings.
    const one = lines.find((l) => l.table === 'otel_traces')!.row!;
    expect(Object.keys(one)).toEqual(expect.arrayContaining(['Timestamp', 'TraceId', 'SpanId', 'SpanAttributes', 'ResourceAttributes', 'Duration', 'Events.Name', 'ExpireAt']));
    expect(typeof one['Duration']).toBe('string');
  });

  it('of a tenant: every table, paged in constant memory, identical rows included', async () => {
    // Two identical log rows: the page key must neither lose nor repeat them.
    const dup = `{"TenantId":"priv","Tier":"full","ExpireAt":4102444800,"Timestamp":"1700000000000000000","TraceId":"","SpanId":"","TraceFlags":0,"SeverityText":"INFO","SeverityNumber":9,"ServiceName":"dup","Body":"same","ResourceSchemaUrl":"","ResourceAttributes":{},"ScopeSchemaUrl":"","ScopeName":"","ScopeVersion":"","ScopeAttributes":{},"LogAttributes":{}}`;
    await c.clickhouse.client.command({ query: `INSERT INTO consentry.otel_logs FORMAT JSONEachRow ${dup} ${dup} ${dup}` });
    const direct: Record<string, number> = {};
    for (const t of ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit']) {
      const [r] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.${t} WHERE TenantId = 'priv'`);
      direct[t] = Number(r!.n);
    }
    const res = await fetch(`${c.apiUrl}/api/tenants/priv/export`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    const lines = parse(await res.text());
    expect(lines.pop()).toEqual({ end: true, rows: direct, retention: expect.objectContaining({ rowsDays: 30, contentDays: 30 }) });
    expect(direct['gateway_metadata']).toBeGreaterThan(0);
    expect(direct['tier_audit']).toBeGreaterThan(0);

    // Pages of 2 rows: the same rows as one big page.
    const all = async (pageRows: number) => {
      let text = '';
      for await (const chunk of exportLines({ client: c.clickhouse.client, tenantId: 'priv', pageRows })) text += chunk;
      return parse(text);
    };
    const small = await all(2);
    const big = await all(100_000);
    const key = (l: { table?: string; row?: unknown }) => `${l.table} ${JSON.stringify(l.row)}`;
    expect(small.map(key).sort()).toEqual(big.map(key).sort());
    expect(small.filter((l) => l.row?.['Body'] === 'same')).toHaveLength(3);
    expect(small.length - 1).toBe(Object.values(direct).reduce((a, b) => a + b, 0));
  });
});

describe('erasure of a tenant', () => {
  it('removes its keys, its tier and its rows in every table; in-flight data is not written', async () => {
    const gone = await c.createTenant('gone', 'summary');
    const traffic = generateTraffic({ seed: 3, n: 40, startSec: start, minutes: 10 });
    await sendTraffic(c.otlpUrl, gone.ingestKey, traffic, { logs: true }); // summaries + logs
    expect((await c.api('PUT', '/api/tenants/gone/tier', { tier: 'full' })).status).toBe(200);
    await sendTraffic(c.otlpUrl, gone.ingestKey, traffic, { logs: true }); // spans + logs
    await sendOtlp(c.otlpUrl, gone.ingestKey, 'logs', metadataBody('gone-gw', '1', BigInt(start) * 1_000_000_000n));
    const tables = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit', 'tier_assignments'];
    const countOf = async (t: string) => Number((await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.${t} WHERE TenantId = 'gone'`))[0]!.n);
    for (const t of tables) expect(await countOf(t), t).toBeGreaterThan(0);
    const privBefore = await c.rows(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'priv'`);

    const inflight = sendTraffic(c.otlpUrl, gone.ingestKey, generateTraffic({ seed: 4, n: 20, startSec: start, minutes: 1 }), { logs: true }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 30));
    const del = await c.api('DELETE', '/api/tenants/gone?reason=contract%20ended');
    await inflight;
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body.keysRevoked).toBe(true);
    for (const t of tables) expect(del.body.rows[t], t).toBeGreaterThan(0);
    expect(del.body.rows.tenants).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1200));
    for (const t of tables) expect(await countOf(t), t).toBe(0);
    expect(await c.rows(`SELECT * FROM consentry.tenants WHERE Id = 'gone'`)).toEqual([]); // key hashes gone too

    // The keys no longer work, the tenant no longer exists, the other tenant is untouched.
    const ingest = await fetch(`${c.otlpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gone.ingestKey}` }, body: tracesBody(traffic.slice(0, 1)) });
    expect(ingest.status).toBe(401);
    const q = await fetch(`${c.apiUrl}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gone.queryKey}` }, body: JSON.stringify({ sql: 'SELECT 1' }) });
    expect(q.status).toBe(401);
    expect((await c.api('GET', '/api/tenants/gone')).status).toBe(404);
    expect(await c.rows(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'priv'`)).toEqual(privBefore);
    // The erasure itself stays on record.
    const audit = await c.rows<{ Scope: string; Reason: string }>(`SELECT Scope, Reason FROM consentry.erasures WHERE TenantId = 'gone'`);
    expect(audit).toEqual([{ Scope: 'tenant', Reason: 'contract ended' }]);
  });
});
