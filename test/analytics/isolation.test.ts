// POST /api/query is a security boundary: two tenants with overlapping data
// (the same trace and span ids, the same user ids), and every query either
// fails with a 4xx or returns the caller's rows only, checked by content and
// by counts. Then: a failed attack leaves nothing behind for the next tenant,
// limits answer 422, formats, keys, and the command-line client.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { TenantQueryEngine } from '../../collector/analytics/tenant-query.ts';
import { generateTraffic, metadataBody, sendOtlp, sendTraffic } from './traffic.ts';

let c: TestConsentry;
const keys: Record<string, { ingestKey: string; queryKey: string }> = {};
const counts: Record<string, Record<string, number>> = {};
const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit'];
const start = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;

beforeAll(async () => {
  c = await startTestConsentry();
  // alpha and beta: the same first 30 requests (same trace and span ids, same
  // "shared-user"), beta has more, and every beta row says "beta" somewhere.
  for (const [tenant, n] of [['alpha', 30], ['beta', 45]] as const) {
    keys[tenant] = await c.createTenant(tenant, 'summary');
    const traffic = generateTraffic({ seed: 11, n, startSec: start, minutes: 20, users: ['shared-user', `${tenant}-user`] });
    const resource = { 'service.name': `${tenant}-gateway`, [`${tenant}.secret`]: `${tenant.toUpperCase()}-SECRET` };
    await sendTraffic(c.otlpUrl, keys[tenant].ingestKey, traffic, { logs: true, resource }); // summaries + logs
    expect((await c.api('PUT', `/api/tenants/${tenant}/tier`, { tier: 'full', reason: 'test' })).status).toBe(200);
    await sendTraffic(c.otlpUrl, keys[tenant].ingestKey, traffic, { logs: true, resource }); // spans + logs
    await sendOtlp(c.otlpUrl, keys[tenant].ingestKey, 'logs', metadataBody(`${tenant}-gateway`, '1.0.0', BigInt(start) * 1_000_000_000n));
  }
  for (const tenant of ['alpha', 'beta']) {
    counts[tenant] = {};
    for (const t of TABLES) {
      const [row] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.${t} WHERE TenantId = '${tenant}'`);
      counts[tenant][t] = Number(row!.n);
    }
  }
});
afterAll(async () => c?.close());

async function query(tenant: string, sql: string, accept = 'application/json') {
  const res = await fetch(`${c.apiUrl}/api/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys[tenant]!.queryKey}`, 'content-type': 'application/json', accept },
    body: JSON.stringify({ sql }),
  });
  const text = await res.text();
  return { status: res.status, text, json: res.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text)) : undefined };
}

type Check = 'reject' | ((rows: unknown[][], tenant: string) => void);
const n = (table: string) => (rows: unknown[][], tenant: string) => expect(rows).toEqual([[counts[tenant]![table]]]);
const zero = (rows: unknown[][]) => expect(rows).toEqual([[0]]);

// Every attack runs as alpha, and mirrored (beta <-> alpha in the SQL) as beta.
const ATTACKS: Array<[string, string, Check]> = [
  ['plain count', 'SELECT count() FROM otel_traces', n('otel_traces')],
  ['qualified count', 'SELECT count() FROM consentry.otel_traces', n('otel_traces')],
  ['every tenant table', `SELECT (SELECT count() FROM otel_logs), (SELECT count() FROM request_summaries), (SELECT count() FROM gateway_metadata), (SELECT count() FROM tier_audit)`, (rows, t) => expect(rows).toEqual([[counts[t]!['otel_logs'], counts[t]!['request_summaries'], counts[t]!['gateway_metadata'], counts[t]!['tier_audit']]])],
  ['distinct tenants', 'SELECT DISTINCT TenantId FROM otel_traces', (rows, t) => expect(rows).toEqual([[t]])],
  ['other tenant by WHERE', "SELECT count() FROM otel_traces WHERE TenantId = 'beta'", zero],
  ['WHERE OR true', "SELECT count() FROM otel_traces WHERE TenantId = 'alpha' OR 1 = 1", n('otel_traces')],
  ['tenants table', 'SELECT * FROM consentry.tenants', 'reject'],
  ['tenants unqualified', 'SELECT Id, QueryKeyHash FROM tenants', 'reject'],
  ['tier_assignments', 'SELECT * FROM tier_assignments', 'reject'],
  ['schema_migrations', 'SELECT * FROM consentry.schema_migrations', 'reject'],
  ['erasures audit', 'SELECT * FROM consentry.erasures', 'reject'],
  ['system.tables', 'SELECT name FROM system.tables', 'reject'],
  ['system.query_log', 'SELECT query FROM system.query_log', 'reject'],
  ['system.one explicit', "SELECT 'beta' IN (SELECT TenantId FROM otel_traces) FROM system.one", 'reject'],
  ['information_schema', 'SELECT * FROM information_schema.tables', 'reject'],
  ['INFORMATION_SCHEMA upper case', 'SELECT * FROM INFORMATION_SCHEMA.COLUMNS', 'reject'],
  ['other database', 'SELECT * FROM default.otel_traces', 'reject'],
  ['database name case', 'SELECT count() FROM CONSENTRY.otel_traces', 'reject'],
  ['backquoted dotted name', 'SELECT count() FROM `consentry.tenants`', 'reject'],
  ['numbers()', 'SELECT * FROM numbers(10)', 'reject'],
  ['remote()', "SELECT * FROM remote('127.0.0.1', consentry.otel_traces)", 'reject'],
  ['remoteSecure()', "SELECT * FROM remoteSecure('127.0.0.1', consentry, otel_traces)", 'reject'],
  ['cluster()', "SELECT * FROM clusterAllReplicas('default', consentry.otel_traces)", 'reject'],
  ['file()', "SELECT * FROM file('/etc/passwd', 'LineAsString')", 'reject'],
  ['file() scalar', "SELECT file('/etc/passwd')", 'reject'],
  ['url()', "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')", 'reject'],
  ['s3()', "SELECT * FROM s3('http://127.0.0.1:9/b/k', 'CSV')", 'reject'],
  ['merge()', "SELECT count() FROM merge('consentry', '.*')", 'reject'],
  ['view()', 'SELECT * FROM view(SELECT * FROM consentry.otel_traces)', 'reject'],
  ['executable()', "SELECT * FROM executable('ls', 'TSV', 'x String')", 'reject'],
  ['input()', "SELECT * FROM input('x String')", 'reject'],
  ['generateRandom()', "SELECT * FROM generateRandom('a Int8') LIMIT 1", 'reject'],
  ['EXPLAIN as subquery', 'SELECT * FROM (EXPLAIN SELECT * FROM consentry.tenants)', 'reject'],
  ['SETTINGS filter override', "SELECT count() FROM otel_traces SETTINGS additional_table_filters = {'consentry.otel_traces': '1 = 1'}", 'reject'],
  ['SETTINGS in a subquery', "SELECT count() FROM (SELECT * FROM otel_traces SETTINGS additional_table_filters = {'consentry.otel_traces': 'TenantId = \\'beta\\''})", 'reject'],
  ['SETTINGS readonly', 'SELECT count() FROM otel_traces SETTINGS readonly = 0', 'reject'],
  ['SETTINGS limits', 'SELECT count() FROM otel_traces SETTINGS max_execution_time = 0, max_result_rows = 0', 'reject'],
  ['SET statement', 'SET additional_table_filters = {}', 'reject'],
  ['two statements', 'SELECT 1; SELECT * FROM consentry.tenants', 'reject'],
  ['statement after comment', 'SELECT 1 /* ; */; DROP TABLE consentry.otel_traces', 'reject'],
  ['DROP', 'DROP TABLE consentry.otel_traces', 'reject'],
  ['ALTER DELETE', 'ALTER TABLE consentry.otel_traces DELETE WHERE 1', 'reject'],
  ['lightweight DELETE', 'DELETE FROM consentry.otel_logs WHERE 1', 'reject'],
  ['INSERT SELECT', "INSERT INTO consentry.otel_traces (TenantId) SELECT 'beta'", 'reject'],
  ['CREATE', 'CREATE TABLE consentry.x (a Int8) ENGINE = Memory', 'reject'],
  ['TRUNCATE', 'TRUNCATE TABLE consentry.otel_logs', 'reject'],
  ['OPTIMIZE', 'OPTIMIZE TABLE consentry.otel_traces FINAL', 'reject'],
  ['SHOW', 'SHOW TABLES FROM consentry', 'reject'],
  ['DESCRIBE', 'DESCRIBE TABLE consentry.tenants', 'reject'],
  ['EXPLAIN', 'EXPLAIN SELECT * FROM consentry.tenants', 'reject'],
  ['FORMAT', 'SELECT * FROM otel_traces FORMAT JSON', 'reject'],
  ['INTO OUTFILE', "SELECT * FROM otel_traces INTO OUTFILE '/tmp/consentry-leak'", 'reject'],
  ['dictGet', "SELECT dictGet('d', 'a', toUInt64(1))", 'reject'],
  ['joinGet', "SELECT joinGet('consentry.tenants', 'Id', 1)", 'reject'],
  ['hasColumnInTable', "SELECT hasColumnInTable('consentry', 'tenants', 'QueryKeyHash')", 'reject'],
  ['getSetting', "SELECT getSetting('additional_table_filters')", 'reject'],
  ['virtual columns', 'SELECT _part, _part_offset FROM otel_traces', 'reject'],
  ['sleep', 'SELECT sleep(3)', 'reject'],
  ['query parameter', 'SELECT {t:String}', 'reject'],
  ['newline in an alias', 'SELECT 1 AS `x\nSelectWithUnionQuery (children 1)`', 'reject'],
  ['PREWHERE runs before the filter', "SELECT count() FROM otel_traces PREWHERE throwIf(TenantId = 'beta') = 0", 'reject'],
  ['UNION with the other tenant', "SELECT count() FROM otel_traces UNION ALL SELECT count() FROM consentry.otel_traces WHERE TenantId = 'beta'", (rows, t) => expect(rows.map((r) => r[0]).sort()).toEqual([0, counts[t]!['otel_traces']].sort())],
  ['IN subquery over overlapping ids', "SELECT count() FROM otel_traces WHERE TraceId IN (SELECT TraceId FROM consentry.otel_traces WHERE TenantId = 'beta')", zero],
  ['IN table', 'SELECT count() FROM otel_traces WHERE (TenantId, ServiceName) IN (SELECT TenantId, ServiceName FROM otel_traces)', n('otel_traces')],
  ['self JOIN across tenants', 'SELECT count() FROM otel_traces a JOIN consentry.otel_traces b ON a.TraceId = b.TraceId AND a.TenantId != b.TenantId', zero],
  ['comma JOIN across tenants', 'SELECT count() FROM otel_traces AS t1, consentry.otel_traces AS t2 WHERE t1.TenantId != t2.TenantId', zero],
  ['JOIN logs of the other tenant', "SELECT count() FROM otel_traces a JOIN otel_logs b ON a.TraceId = b.TraceId WHERE b.TenantId = 'beta'", zero],
  ['CTE shadowing a table name', 'WITH otel_traces AS (SELECT * FROM consentry.tenants) SELECT * FROM otel_traces', 'reject'],
  ['CTE named like a private table', 'WITH tenants AS (SELECT 1 AS x) SELECT * FROM tenants', 'reject'],
  ['CTE over the table', 'WITH t AS (SELECT * FROM consentry.otel_traces) SELECT count() FROM t', n('otel_traces')],
  ['CTE shadowing with constants', "WITH otel_traces AS (SELECT 'x' AS TenantId) SELECT TenantId FROM otel_traces", (rows) => expect(rows).toEqual([['x']])],
  ['scalar subquery', "SELECT (SELECT count() FROM otel_traces WHERE TenantId = 'beta')", zero],
  ['arrayJoin of a subquery', 'SELECT arrayJoin((SELECT groupUniqArray(TenantId) FROM otel_logs))', (rows, t) => expect(rows).toEqual([[t]])],
  ['comments and quoting', 'SELECT /* FROM consentry.tenants */ count() FROM "otel_traces" -- ; DROP TABLE x', n('otel_traces')],
  ['backquoted qualified', 'SELECT count() FROM `consentry`.`otel_traces`', n('otel_traces')],
  ['alias named like a table', "SELECT count() FROM otel_traces AS tenants WHERE tenants.TenantId = 'beta'", zero],
  ['error oracle in WHERE', "SELECT count() FROM otel_traces WHERE throwIf(ResourceAttributes['beta.secret'] = 'BETA-SECRET') = 0", n('otel_traces')],
  ['division by zero oracle', "SELECT count() FROM otel_traces WHERE intDiv(1, toInt8(ServiceName = 'beta-gateway') - 1) < 100", n('otel_traces')],
  ['error oracle through a subquery', "SELECT count() FROM (SELECT * FROM otel_traces) WHERE throwIf(ServiceName = 'beta-gateway') = 0", n('otel_traces')],
  ['error oracle in a JOIN condition', "SELECT count() FROM otel_traces a JOIN otel_traces b ON a.SpanId = b.SpanId AND throwIf(b.ServiceName = 'beta-gateway') = 0", n('otel_traces')],
  ['error oracle in IN subquery', "SELECT count() FROM otel_traces WHERE SpanId IN (SELECT SpanId FROM otel_traces WHERE throwIf(ServiceName = 'beta-gateway') = 0)", n('otel_traces')],
  ['FINAL', 'SELECT count() FROM otel_traces FINAL', 'reject'],
  ['unknown upper-case table', 'SELECT count() FROM OTEL_TRACES', 'reject'],
  ['PARALLEL WITH', 'SELECT 1 PARALLEL WITH SELECT 2', 'reject'],
  ['AI function', "SELECT aiGenerate('tell me the other tenants')", 'reject'],
  ['trailing semicolon', 'SELECT count() FROM otel_traces;', n('otel_traces')],
  ['quotes, backslashes and braces in literals', "SELECT count() FROM otel_traces WHERE SpanName != 'it''s \\' } {x:String} ; DROP TABLE consentry.otel_traces'", n('otel_traces')],
  ['every row of every span', 'SELECT * FROM otel_traces', (rows, t) => expect(rows).toHaveLength(counts[t]!['otel_traces']!)],
  ['every tier_audit row', 'SELECT TenantId, ToTier FROM tier_audit ORDER BY At', (rows, t) => expect(rows.map((r) => r[0])).toEqual(Array(counts[t]!['tier_audit']).fill(t))],
];

describe('tenant isolation', () => {
  it('has at least 40 attack queries', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(ATTACKS)('%s', async (_name, sql, check) => {
    for (const tenant of ['alpha', 'beta']) {
      const other = tenant === 'alpha' ? 'beta' : 'alpha';
      const r = await query(tenant, tenant === 'alpha' ? sql : sql.replace(/beta/g, 'alpha').replace(/BETA/g, 'ALPHA'));
      if (check === 'reject') {
        expect(r.status, `${tenant}: ${r.text}`).toBeGreaterThanOrEqual(400);
        expect(r.status, `${tenant}: ${r.text}`).toBeLessThan(500);
        expect(r.json.error).toMatch(/^QUERY_(REJECTED|FAILED)$/);
      } else {
        expect(r.status, `${tenant}: ${r.text}`).toBe(200);
        check(r.json.rows, tenant);
      }
      // Nothing of the other tenant, in any answer, error messages included.
      expect(r.text.toLowerCase()).not.toContain(`${other}-`);
      expect(r.text).not.toContain(`${other.toUpperCase()}-SECRET`);
      expect(r.text).not.toContain('QueryKeyHash');
    }
  });

  it('the tables are intact and nothing was written by the attacks', async () => {
    const [row] = await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.otel_traces`);
    expect(Number(row!.n)).toBe(counts['alpha']!['otel_traces']! + counts['beta']!['otel_traces']!);
    expect(await c.rows(`SELECT name FROM system.tables WHERE database = 'consentry' AND name = 'x'`)).toEqual([]);
  });

  it('after failed attacks, the next tenant query and ingest still work (no leaked session state)', async () => {
    for (const sql of [
      "SELECT count() FROM otel_traces SETTINGS additional_table_filters = {'consentry.otel_traces': 'TenantId = \\'alpha\\''}",
      'SET readonly = 0',
      "SET additional_table_filters = {'consentry.otel_traces': '1'}",
      'SELECT 1; SET max_result_rows = 1',
    ]) {
      expect((await query('alpha', sql)).status).toBe(400);
    }
    const b = await query('beta', "SELECT count(), any(TenantId), uniqExact(TenantId) FROM otel_traces");
    expect(b.json.rows).toEqual([[counts['beta']!['otel_traces'], 'beta', 1]]);
    // The writer's session is not readonly and keeps no filter: ingest lands.
    await sendTraffic(c.otlpUrl, keys['alpha']!.ingestKey, generateTraffic({ seed: 99, n: 3, startSec: start, minutes: 1 }));
    const a = await query('alpha', 'SELECT count() FROM otel_traces');
    expect(a.json.rows[0][0]).toBeGreaterThan(counts['alpha']!['otel_traces']!);
    counts['alpha']!['otel_traces'] = a.json.rows[0][0];
  });
});

describe('query API', () => {
  it('answers JSON with columns and types, NDJSON and CSV by Accept', async () => {
    const sql = "SELECT TenantId, count() AS spans FROM otel_traces GROUP BY TenantId";
    const j = await query('alpha', sql);
    expect(j.json).toEqual({ columns: [{ name: 'TenantId', type: 'LowCardinality(String)' }, { name: 'spans', type: 'UInt64' }], rows: [['alpha', counts['alpha']!['otel_traces']]] });
    const nd = await query('alpha', sql, 'application/x-ndjson');
    expect(nd.status).toBe(200);
    expect(nd.text.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ TenantId: 'alpha', spans: counts['alpha']!['otel_traces'] }]);
    const csv = await query('alpha', sql, 'text/csv');
    expect(csv.text).toBe(`"TenantId","spans"\n"alpha",${counts['alpha']!['otel_traces']}\n`);
    expect((await query('alpha', sql, 'text/html')).status).toBe(406);
  });

  it('refuses a missing, wrong or admin key, and unknown body fields', async () => {
    const post = (auth: string | undefined, body: unknown) =>
      fetch(`${c.apiUrl}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth === undefined ? {} : { authorization: auth }) }, body: JSON.stringify(body) });
    expect((await post(undefined, { sql: 'SELECT 1' })).status).toBe(401);
    expect((await post('Bearer csk_query_nope', { sql: 'SELECT 1' })).status).toBe(401);
    expect((await post(`Bearer ${c.adminToken}`, { sql: 'SELECT 1' })).status).toBe(401);
    expect((await post(`Bearer ${keys['alpha']!.ingestKey}`, { sql: 'SELECT 1' })).status).toBe(401);
    expect((await post(`Bearer ${keys['alpha']!.queryKey}`, { sql: 'SELECT 1', settings: {} })).status).toBe(400);
  });

  it('SQL errors are 400 with ClickHouse\'s message, scrubbed', async () => {
    const r = await query('alpha', 'SELECT nosuchcolumn FROM otel_traces');
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('QUERY_FAILED');
    expect(r.json.message).toMatch(/Unknown expression identifier `nosuchcolumn`/);
    expect(r.json.message).not.toMatch(/additional_table_filters|max_execution_time|version/);
    const t = await query('alpha', 'SELECT * FROM tenant');
    expect(t.status).toBe(400);
    expect(t.json.message).not.toMatch(/tenants/); // no "Maybe you meant consentry.tenants?"
  });

  it('the result row limit answers 422', async () => {
    const r = await query('alpha', 'SELECT arrayJoin(range(200000)) AS x');
    expect(r.status).toBe(422);
    expect(r.json.error).toBe('QUERY_LIMIT');
    expect(r.json.message).toMatch(/100000 rows/);
  });

  it('time and memory limits answer with a clear message', async () => {
    const engine = new TenantQueryEngine({ clickhouseUrl: '', dataDir: c.dataDir, limits: { maxExecutionSeconds: 1 } });
    const small = new TenantQueryEngine({ clickhouseUrl: '', dataDir: c.dataDir, limits: { maxMemoryBytes: 20 << 20 } });
    const narrow = new TenantQueryEngine({ clickhouseUrl: '', dataDir: c.dataDir, limits: { maxResultBytes: 10_000 } });
    try {
      const slow = await engine.run('alpha', 'SELECT count() FROM otel_traces a, otel_traces b, otel_traces c, otel_traces d, otel_traces e WHERE cityHash64(a.SpanId, b.SpanId, c.SpanId, d.SpanId, e.SpanId) % 7 = 3', 'json');
      expect(slow).toMatchObject({ ok: false, failure: { kind: 'limit' } });
      expect(!slow.ok && slow.failure.message).toMatch(/longer than the limit of 1 s/);
      const big = await small.run('alpha', 'SELECT groupArray(x) FROM (SELECT arrayJoin(range(5000000)) AS x)', 'json');
      expect(big).toMatchObject({ ok: false, failure: { kind: 'limit' } });
      expect(!big.ok && big.failure.message).toMatch(/more memory than the limit/);
      const wide = await narrow.run('alpha', "SELECT repeat('x', 1000) AS s FROM otel_traces", 'json');
      expect(wide).toMatchObject({ ok: false, failure: { kind: 'limit' } });
      // And the guard's cost, measured (reported, not asserted).
      const t0 = performance.now();
      for (let i = 0; i < 20; i++) await engine.prepare('alpha', 'SELECT count() FROM otel_traces WHERE Duration > 1000');
      console.log(`guard overhead: ${((performance.now() - t0) / 20).toFixed(2)} ms per query`);
    } finally {
      await engine.close();
      await narrow.close();
      await small.close();
    }
  });

  it('the command-line client prints a table', async () => {
    const run = promisify(execFile);
    const bin = new URL('../../bin/consentry.mjs', import.meta.url).pathname;
    const { stdout } = await run(process.execPath, [bin, 'query', '--url', c.apiUrl, '--key', keys['beta']!.queryKey, 'SELECT TenantId, count() AS spans FROM otel_traces GROUP BY TenantId']);
    expect(stdout).toBe(`TenantId  spans\n--------  -----\nbeta      ${String(counts['beta']!['otel_traces']).padStart(5)}\n(1 row)\n`);
    const bad = await run(process.execPath, [bin, 'query', '--url', c.apiUrl, '--key', keys['beta']!.queryKey, 'SELECT * FROM consentry.tenants']).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toMatch(/400 QUERY_REJECTED: table consentry.tenants is not available/);
  });
});
