// Content that expires before its row (a tier's contentRetentionDays), against
// real embedded ClickHouse: where the content is stored, what SQL, the
// dashboard, the tier API and the export say, and that once its day has come
// ClickHouse itself removes it from the parts (a TTL merge, not a filter),
// keeping the rest of the row.
//
// Short periods without changing what a period means: the expiry is counted
// from the time of receipt (ctx.receivedAtMs), so rows "received" 31 days ago
// are run through the real tier engine, encoder and insert path, and their
// 30-day content is already past its expiry when they are written. TTL merges
// are held back until the content is seen stored, then let run: no OPTIMIZE,
// the background merges alone. Only the old parts' cleanup delay is shortened
// (old_parts_lifetime, cleanup_delay_period: 480 s and 30 s by default), so
// that the replaced parts leave the disk within the test.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { encodeRows, NEVER_EXPIRES } from '../../sinks/clickhouse/encode.ts';
import { insertRows } from '../../sinks/clickhouse/insert.ts';
import { contentExpiry } from '../../processors/retention/processor.ts';
import { SpanKind, type BatchContext, type RecordBatch } from '../../core/record.ts';
import { testLog, testSpan } from '../../processors/testing/records.ts';
import { generateTraffic, sendOtlp, sendTraffic } from './traffic.ts';

let c: TestConsentry;
const DAY_MS = 86_400_000;

beforeAll(async () => {
  c = await startTestConsentry();
});
afterAll(async () => c?.close());

const PROMPT = 'PROMPT-7f3a: summarise the contract';
const COMPLETION = 'COMPLETION-7f3a: the contract says';

/** One request as a gateway and an instrumentation report it: a SERVER span with metadata and content, a GenAI span event, a GenAI event log, an instrumented log, a plain log. */
function request(tag: string, startMs: number): RecordBatch {
  const startNs = BigInt(startMs) * 1_000_000n;
  const traceId = tag.padEnd(32, '0');
  return {
    spans: [
      testSpan(
        {
          'http.route': '/v1/chat/completions',
          'http.response.status_code': '200',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': '12',
          'gen_ai.usage.output_tokens': '5',
          'user.id': `user-${tag}`,
          'gateway.request.body': `{"messages":[{"role":"user","content":"${PROMPT} ${tag}"}]}`,
          'gateway.response.body': `{"choices":[{"message":{"content":"${COMPLETION} ${tag}"}}]}`,
          'http.request.header.x-request-id': `req-${tag}`,
        },
        {
          traceId,
          spanId: tag.padEnd(16, '1'),
          startTimeUnixNano: startNs,
          endTimeUnixNano: startNs + 250_000_000n,
          kind: SpanKind.SERVER,
          events: [{ timeUnixNano: startNs + 1n, name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': `${PROMPT} ${tag}` } }],
        },
      ),
    ],
    logs: [
      testLog({ 'gen_ai.system': 'openai' }, { eventName: 'gen_ai.choice', body: `{"message":{"content":"${COMPLETION} ${tag}"}}`, traceId, timeUnixNano: startNs }),
      testLog({ 'gen_ai.prompt': `${PROMPT} ${tag}`, 'code.function': 'call' }, { body: `called with ${PROMPT} ${tag}`, traceId, timeUnixNano: startNs }),
      testLog({ 'http.route': '/v1/chat/completions' }, { body: `request ${tag} done`, traceId, timeUnixNano: startNs }),
    ],
    summaries: [],
    metadata: [],
  };
}

/** Runs a request through the tenant's tier as if received at `receivedAtMs`, and writes it as the embedded writer does. */
async function receive(tenantId: string, tier: string, batch: RecordBatch, receivedAtMs: number, token: string): Promise<BatchContext> {
  const ctx: BatchContext = { tenantId, tier, tierVersion: 1, receivedAtMs };
  const rows = encodeRows(c.engine.process(batch, ctx), ctx);
  for (const table of ['otel_traces', 'otel_logs'] as const) await insertRows(c.clickhouse.client, table, [rows[table]], `${token}-${table}`, c.clickhouse.spoolDir);
  return ctx;
}

const contentSeen = (tenant: string) =>
  c.rows<{ place: string; n: string }>(
    `SELECT * FROM (SELECT 'spans' AS place, toString(countIf(notEmpty(ContentAttributes) OR arrayExists(m -> notEmpty(m), EventsContentAttributes))) AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'
     UNION ALL SELECT 'logs', toString(countIf(notEmpty(ContentAttributes) OR position(Body, 'PROMPT-7f3a') > 0 OR position(Body, 'COMPLETION-7f3a') > 0)) FROM consentry.otel_logs WHERE TenantId = '${tenant}'
     UNION ALL SELECT 'anywhere', toString(count()) FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND (position(toString(SpanAttributes), '7f3a') > 0 OR position(toString(Events.Attributes), '7f3a') > 0))
     ORDER BY place`,
  );

describe('content retention (lunogen: content 30 days, rows without expiry)', () => {
  it('the tier API, the dashboard and the export say what is kept how long', async () => {
    const tier = await c.api('GET', '/api/tiers/lunogen');
    expect(tier.body).toMatchObject({ retentionDays: null, contentRetentionDays: 30 });
    expect(tier.body.retention).toMatch(/metadata .* kept without expiry; its content .* deleted 30 days after receipt/);
    expect((await c.api('GET', '/api/tiers/full')).body).toMatchObject({ retentionDays: 30, contentRetentionDays: 30 });

    await c.createTenant('cr-api', 'lunogen');
    const dash = await c.api('GET', '/api/tenants/cr-api/dashboard');
    expect(dash.body.retention).toEqual({ rowsDays: null, contentDays: 30, summary: tier.body.retention });
    const res = await fetch(`${c.apiUrl}/api/tenants/cr-api/export`, { headers: { authorization: 'Bearer test-admin-token' } });
    const last = JSON.parse((await res.text()).trim().split('\n').pop()!) as Record<string, unknown>;
    expect(last).toMatchObject({ end: true, retention: { rowsDays: null, contentDays: 30 } });
  });

  it('live traffic: content in the content columns with its expiry, metadata where it was, the row without expiry', async () => {
    const k = await c.createTenant('cr-live', 'lunogen');
    const full = await c.createTenant('cr-live-full', 'full');
    const traffic = generateTraffic({ seed: 5, n: 20, startSec: Math.floor(Date.now() / 1000) - 300, minutes: 1 });
    const t0 = Date.now();
    await sendTraffic(c.otlpUrl, k.ingestKey, traffic, { logs: true });
    await sendTraffic(c.otlpUrl, full.ingestKey, traffic, { logs: true });
    const t1 = Date.now();
    // The upstream CLIENT spans carry the request body (test/analytics/traffic.ts).
    const spans = await c.rows<{ body: string; kept: string; expire: number; content: number }>(
      `SELECT ContentAttributes['gateway.request.body'] AS body, SpanAttributes['gateway.request.body'] AS kept, toUInt32(ExpireAt) AS expire, toUInt32(ContentExpireAt) AS content
       FROM consentry.otel_traces WHERE TenantId = 'cr-live' AND SpanName = 'upstream'`,
    );
    expect(spans).toHaveLength(traffic.filter((q) => q.kind === 2).length);
    const days = new Set([contentExpiry(t0, 30), contentExpiry(t1, 30)]);
    for (const s of spans) {
      expect(s.body).toMatch(/^prompt of u\d$/);
      expect(s.kept).toBe('');
      expect(Number(s.expire)).toBe(NEVER_EXPIRES);
      expect(days.has(Number(s.content))).toBe(true);
    }
    // The full tier keeps content as long as the row, where the exporter puts it.
    const [f] = await c.rows<{ n: string; kept: string }>(
      `SELECT toString(count()) AS n, toString(countIf(SpanAttributes['gateway.request.body'] != '' AND empty(ContentAttributes) AND ContentExpireAt = ExpireAt)) AS kept FROM consentry.otel_traces WHERE TenantId = 'cr-live-full' AND SpanName = 'upstream'`,
    );
    expect(f!.kept).toBe(f!.n);

    // Tenant SQL reads the new columns through the query API, as documented.
    const q = await fetch(`${c.apiUrl}/api/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.queryKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql: "SELECT count() AS n, countIf(ContentAttributes['gateway.request.body'] != '') AS with_body FROM otel_traces WHERE SpanName = 'upstream'" }),
    });
    expect(q.status).toBe(200);
    expect(((await q.json()) as { rows: number[][] }).rows).toEqual([[spans.length, spans.length]]);
  });

  it('once expired, ClickHouse removes the content from the parts and keeps the rest of the row', async () => {
    await c.createTenant('cr-ttl', 'lunogen');
    const client = c.clickhouse.client;
    const tables = ['otel_traces', 'otel_logs'];
    for (const t of tables) {
      await client.command({ query: `ALTER TABLE consentry.${t} MODIFY SETTING old_parts_lifetime = 1, cleanup_delay_period = 1, cleanup_delay_period_random_add = 0` });
      await client.command({ query: `SYSTEM STOP TTL MERGES consentry.${t}` });
    }
    const now = Date.now();
    // Received 31 days ago: content expired at 00:00 UTC yesterday. Received now: content expires in 30 days.
    const old = await receive('cr-ttl', 'lunogen', request('old', now - 31 * DAY_MS), now - 31 * DAY_MS, 'cr-old');
    await receive('cr-ttl', 'lunogen', request('new', now - 60_000), now, 'cr-new');
    const expiredAt = contentExpiry(old.receivedAtMs, 30);
    expect(expiredAt * 1000).toBeLessThan(now);

    // Stored, expired, not yet merged: all content is there, in the content columns only.
    expect(await contentSeen('cr-ttl')).toEqual([
      { place: 'anywhere', n: '0' },
      { place: 'logs', n: '4' }, // per request: the GenAI event's body, the instrumented log's attribute and body
      { place: 'spans', n: '2' },
    ]);
    // The parts holding the expired content, and where they are on disk.
    const parts = await c.rows<{ name: string; path: string; table: string }>(
      `SELECT name, path, table FROM system.parts WHERE database = 'consentry' AND active AND (table, name) IN (
         SELECT 'otel_traces', _part FROM consentry.otel_traces WHERE TenantId = 'cr-ttl' AND ContentExpireAt < now() AND notEmpty(ContentAttributes)
         UNION ALL SELECT 'otel_logs', _part FROM consentry.otel_logs WHERE TenantId = 'cr-ttl' AND ContentExpireAt < now())`,
    );
    expect(new Set(parts.map((p) => p.table))).toEqual(new Set(['otel_traces', 'otel_logs']));
    for (const p of parts) expect(existsSync(p.path)).toBe(true);
    const before = await c.rows<{ spans: string; logs: string }>(
      `SELECT (SELECT toString(count()) FROM consentry.otel_traces WHERE TenantId = 'cr-ttl') AS spans, (SELECT toString(count()) FROM consentry.otel_logs WHERE TenantId = 'cr-ttl') AS logs`,
    );
    expect(before).toEqual([{ spans: '2', logs: '6' }]);

    for (const t of tables) await client.command({ query: `SYSTEM START TTL MERGES consentry.${t}` });
    const perRequest = async () =>
      c.rows<Record<string, string>>(
        `SELECT
           SpanAttributes['user.id'] AS user,
           SpanAttributes['gen_ai.request.model'] AS model,
           SpanAttributes['gen_ai.usage.input_tokens'] AS input_tokens,
           SpanAttributes['http.response.status_code'] AS status,
           toString(Duration) AS duration,
           toString(length(Events.Name)) AS events,
           toString(ContentAttributes) AS content,
           toString(EventsContentAttributes) AS event_content
         FROM consentry.otel_traces WHERE TenantId = 'cr-ttl' ORDER BY user`,
      );
    await eventually(async () => (await perRequest())[1]?.['content'] === '{}', 60_000);
    // The expired request: its metadata, and nothing of its content; the recent one untouched.
    const [fresh, expired] = await perRequest();
    expect(expired).toEqual({ user: 'user-old', model: 'gpt-4o', input_tokens: '12', status: '200', duration: '250000000', events: '1', content: '{}', event_content: '[]' });
    expect(fresh!['content']).toContain('PROMPT-7f3a');
    expect(fresh!['event_content']).toContain('PROMPT-7f3a');
    await eventually(async () => (await c.rows(`SELECT 1 FROM consentry.otel_logs WHERE TenantId = 'cr-ttl' AND EventName = 'gen_ai.choice' AND Body LIKE '%old%'`)).length === 0, 60_000);
    const logs = await c.rows<Record<string, string>>(
      `SELECT EventName AS event, Body AS body, LogAttributes['code.function'] AS fn, toString(ContentAttributes) AS content FROM consentry.otel_logs WHERE TenantId = 'cr-ttl' AND TraceId = '${'old'.padEnd(32, '0')}' ORDER BY body`,
    );
    // The GenAI event record went whole; the instrumented record kept its metadata, not its body or prompt; the plain line stayed.
    expect(logs).toEqual([
      { event: '', body: '', fn: 'call', content: '{}' },
      { event: '', body: 'request old done', fn: '', content: '{}' },
    ]);
    expect(await contentSeen('cr-ttl')).toEqual([
      { place: 'anywhere', n: '0' },
      { place: 'logs', n: '2' }, // the recent request's
      { place: 'spans', n: '1' },
    ]);

    // The parts that held the expired content are replaced, then deleted from disk.
    await eventually(async () => {
      const left = await c.rows<{ name: string }>(
        `SELECT name FROM system.parts WHERE database = 'consentry' AND table IN ('otel_traces', 'otel_logs') AND name IN (${parts.map((p) => `'${p.name}'`).join(', ')})`,
      );
      return left.length === 0;
    }, 90_000);
    for (const p of parts) expect(existsSync(p.path), `${p.table} ${p.name}`).toBe(false);
  }, 240_000);
});

describe('content retention: a plain GenAI event log through OTLP', () => {
  it('a GenAI event record of a lunogen tenant expires whole, at its content expiry (00:00 UTC, within 30 days)', async () => {
    const k = await c.createTenant('cr-events', 'lunogen');
    const t0 = Date.now();
    const body = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'app' } }] },
          scopeLogs: [{ scope: { name: 'openai-v2' }, logRecords: [{ timeUnixNano: String(BigInt(t0) * 1_000_000n), eventName: 'gen_ai.user.message', body: { stringValue: 'hello' } }] }],
        },
      ],
    });
    await sendOtlp(c.otlpUrl, k.ingestKey, 'logs', body);
    const [row] = await c.rows<{ e: number; ce: number }>(`SELECT toUInt32(ExpireAt) AS e, toUInt32(ContentExpireAt) AS ce FROM consentry.otel_logs WHERE TenantId = 'cr-events'`);
    expect(Number(row!.e)).toBe(Number(row!.ce));
    expect(Number(row!.ce) % 86400).toBe(0);
    expect(Number(row!.ce)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 30 * 86400);
  });
});
