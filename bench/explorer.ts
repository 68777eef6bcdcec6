// What the request explorer reads (collector/analytics/explorer.ts) on a busy
// tenant: rows ClickHouse read and time per page, first page, the 20th
// (following the cursors), filtered pages, one request opened, usage per end
// user over a day; beside the tenant's rows in the range (what one statement
// without time windows would read at least). Embedded ClickHouse in a temp
// directory, rows inserted directly (the pipeline is not what is measured),
// merged once as a long-running table would be. Reported, not asserted.
//   npx tsx bench/explorer.ts [--spans 1000000] [--days 7]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openClickHouse } from '../storage/clickhouse.ts';
import { migrate } from '../storage/migrate.ts';
import { endUserUsage, listRequests, openRequest, type RequestFilter } from '../collector/analytics/explorer.ts';
import { prng } from '../processors/testing/records.ts';

const { values } = parseArgs({ options: { spans: { type: 'string', default: '1000000' }, days: { type: 'string', default: '7' } } });
const SPANS = Number(values.spans);
const DAYS = Number(values.days);
const dir = mkdtempSync(join(tmpdir(), 'consentry-bench-explorer-'));
const ch = openClickHouse({ url: '', dataDir: dir });
const r = prng(7);
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'mistral-large'];
const ROUTES = ['/v1/chat/completions', '/v1/embeddings', '/v1/messages', '/v1/responses'];

try {
  await migrate(ch.client);
  const now = Date.now();
  const span0 = now - DAYS * 86_400_000;
  let inserted = 0;
  const t0 = performance.now();
  // Requests of two spans (a gateway SERVER span, its LLM call), in time order as a gateway sends them; a second tenant beside it.
  while (inserted < SPANS) {
    const rows: object[] = [];
    for (let i = 0; i < 50_000 && inserted < SPANS; i += 2, inserted += 2) {
      const at = span0 + Math.floor((inserted / SPANS) * DAYS * 86_400_000);
      const trace = hex(32);
      const id = hex(16);
      const model = MODELS[Math.floor(r() * MODELS.length)]!;
      const tenant = r() < 0.8 ? 'big' : 'other';
      const common = { TenantId: tenant, Tier: 'full', TraceId: trace, ServiceName: 'gateway', Duration: 1_000_000 * (50 + Math.floor(r() * 900)), ExpireAt: '2100-01-01 00:00:00', StatusCode: 'STATUS_CODE_UNSET' };
      const status = r() < 0.05 ? '502' : '200';
      rows.push({ ...common, Timestamp: ts(at), SpanId: id, ParentSpanId: '', SpanName: 'POST', SpanKind: 'SPAN_KIND_SERVER', SpanFlags: 0x100, SpanAttributes: { 'http.request.method': 'POST', 'http.route': ROUTES[Math.floor(r() * ROUTES.length)]!, 'http.response.status_code': status, 'user.id': `user-${Math.floor(r() * 500)}` } });
      rows.push({ ...common, Timestamp: ts(at + 2), SpanId: hex(16), ParentSpanId: id, SpanName: `chat ${model}`, SpanKind: 'SPAN_KIND_CLIENT', SpanFlags: 0x100, SpanAttributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model, 'gen_ai.usage.input_tokens': '120', 'gen_ai.usage.output_tokens': '40' } });
    }
    await ch.client.insert({ table: 'consentry.otel_traces', values: rows, format: 'JSONEachRow' });
  }
  await ch.client.command({ query: 'OPTIMIZE TABLE consentry.otel_traces FINAL' });
  console.log(`inserted ${SPANS} spans over ${DAYS} days (80% tenant "big") and merged in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const filter: RequestFilter = { fromNs: BigInt(span0) * 1_000_000n, toNs: BigInt(now) * 1_000_000n };
  const inRange = Number((await (await ch.client.query({ query: `SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'big'`, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
  const line = (what: string, rows: number, statements: number, ms: number, n: number) =>
    console.log(`${what.padEnd(44)} ${String(n).padStart(4)} requests  ${String(rows).padStart(9)} rows read (${((rows / inRange) * 100).toFixed(2).padStart(6)} % of the tenant)  ${statements} statements  ${ms.toFixed(0).padStart(5)} ms`);
  console.log(`tenant "big": ${inRange} spans in the range`);
  const page = async (what: string, f: RequestFilter) => {
    let start = performance.now();
    let p = await listRequests({ client: ch.client, tenantId: 'big', filter: f, limit: 50 });
    line(`${what}, first page`, p.scanned.rows, p.scanned.statements, performance.now() - start, p.requests.length);
    for (let i = 1; i < 20 && p.next !== null; i++) {
      start = performance.now();
      const [nsText, spanId] = Buffer.from(p.next, 'base64url').toString('utf8').split(':');
      p = await listRequests({ client: ch.client, tenantId: 'big', filter: f, limit: 50, cursor: { ns: BigInt(nsText!), spanId: spanId! } });
      if (i === 19) line(`${what}, 20th page`, p.scanned.rows, p.scanned.statements, performance.now() - start, p.requests.length);
    }
    return p;
  };
  const first = await page('all requests', filter);
  await page('model gpt-4o-mini', { ...filter, model: 'gpt-4o-mini' });
  await page('status 5xx', { ...filter, status: '5xx' });
  await page('one end user (user-7)', { ...filter, user: 'user-7' });
  const req = first.requests[0]!;
  let start = performance.now();
  const opened = await openRequest(ch.client, 'big', req.traceId, req.spanId);
  line('one request opened (trace, logs)', opened!.scanned.rows, opened!.scanned.statements, performance.now() - start, 1);
  start = performance.now();
  const usage = await endUserUsage({ client: ch.client, tenantId: 'big', fromNs: BigInt(now - 86_400_000) * 1_000_000n, toNs: BigInt(now) * 1_000_000n, limit: 50 });
  line('usage per end user, last 24 hours', usage.scanned.rows, usage.scanned.statements, performance.now() - start, usage.users.length);
} finally {
  await ch.close();
  rmSync(dir, { recursive: true, force: true });
}
