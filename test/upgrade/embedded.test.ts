// Upgrade from 0.1.0, embedded: this build's collector (dist/) started on the
// data directory 0.1.0's own collector wrote (fixtures/v0.1.0/, make-fixture.ts),
// with the operator's tier files of then. Everything 0.1.0 answered, this
// build answers the same way: rows through the tenant query API with 0.1.0's
// query keys (new columns at their defaults), tenants with its admin token,
// tiers with their pending and due `until`, the audit, erasures and
// dashboards; 0.1.0's ingest keys and HMAC key still work.
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMigrations } from '../../storage/migrate.ts';
import { VERSION } from '../../core/version.ts';
import { api, startCollectorProcess, tempDir, type Proc } from '../kafka/processes.ts';
import { logsJson, PLAN, QUERIES, readManifest, spansJson, TIERS_DIR, unpackData, type Manifest, type QueryAnswer } from './fixture.ts';

const manifest: Manifest = readManifest();
let dataDir: string;
let logDir: string;
let admin: string;
let c: Proc & { otlpUrl: string; apiUrl: string };

beforeAll(async () => {
  dataDir = unpackData();
  logDir = tempDir('consentry-upgrade-logs-');
  // The admin token 0.1.0 generated at its first start, read from the data directory by this build too.
  admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  c = await startCollectorProcess({ env: { CONSENTRY_TIERS_DIR: TIERS_DIR, CONSENTRY_INGEST_WORKERS: '1', CONSENTRY_BATCH_MAX_DELAY_MS: '50' }, dataDir, logDir });
}, 120_000);

afterAll(async () => {
  await c?.stop();
  rmSync(dirname(dataDir), { recursive: true, force: true });
  rmSync(logDir, { recursive: true, force: true });
});

const call = (method: string, path: string, token = admin, body?: unknown) => api(c.apiUrl, method, path, body, token);

const query = async (tenant: string, sql: string): Promise<QueryAnswer> => {
  const r = await call('POST', '/api/query', manifest.tenants[tenant]!.queryKey, { sql });
  expect(r.status, `${tenant}: ${sql}: ${JSON.stringify(r.body)}`).toBe(200);
  return r.body as QueryAnswer;
};

/** What a column added after 0.1.0 holds in rows written before it, by type (as the query API answers them). */
const DEFAULTS: Record<string, unknown> = { String: '', 'LowCardinality(String)': '', UInt8: 0, UInt32: 0, Float64: 0, 'Map(LowCardinality(String), String)': {}, 'Array(Map(LowCardinality(String), String))': [] };
/** Columns added since whose default is another column of the row (content kept as long as the row, migration 010). */
const SAME_AS: Record<string, string> = { ContentExpireAt: 'ExpireAt' };

const live = PLAN.filter((p) => p.deleted !== true).map((p) => p.id);
const revert = PLAN.find((p) => p.switchTo?.until === 'soon')!;

describe('this build on 0.1.0\'s data directory', () => {
  it('applies the migrations that came after 0.1.0 once, records this release, and is ready', async () => {
    const after = listMigrations().filter((m) => m.version > 6).map((m) => m.version);
    expect(c.log()).toContain(`"versions":[${after.join(',')}],"release":"${VERSION}","msg":"schema migrations applied"`);
    const ready = await fetch(`${c.apiUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', version: VERSION });
  });

  it.each(live.flatMap((t) => Object.keys(QUERIES).map((q) => [t, q as keyof typeof QUERIES] as const)))('%s: %s read with 0.1.0\'s query key as 0.1.0 answered', async (tenant, name) => {
    const then = manifest.answers[tenant]!.queries[name];
    const now = await query(tenant, QUERIES[name]);
    // Every column 0.1.0 had, with its type; columns added since hold their defaults in these rows.
    const index = new Map(now.columns.map((col, i) => [col.name, i]));
    for (const col of then.columns) expect(now.columns[index.get(col.name)!], col.name).toEqual(col);
    const added = now.columns.filter((col) => !then.columns.some((o) => o.name === col.name));
    const project = (row: unknown[]) => then.columns.map((col) => row[index.get(col.name)!]);
    // t-revert's audit gains the revert of its switch, written by this build (below).
    const rows = tenant === revert.id && name === 'audit' ? now.rows.slice(0, then.rows.length) : now.rows;
    expect(rows.map(project)).toEqual(then.rows);
    for (const row of now.rows) {
      for (const col of added) {
        const same = SAME_AS[col.name];
        if (same !== undefined) {
          expect(row[index.get(col.name)!], `${col.name} (${col.type})`).toEqual(row[index.get(same)!]);
          continue;
        }
        expect(col.type in DEFAULTS, `${col.name} (${col.type}) was added after 0.1.0: add what rows written before it hold to DEFAULTS or SAME_AS`).toBe(true);
        expect(row[index.get(col.name)!], `${col.name} (${col.type})`).toEqual(DEFAULTS[col.type]);
      }
    }
  });

  it('lists the tenants 0.1.0 kept, with 0.1.0\'s admin token, and their tiers and audit as 0.1.0 answered', async () => {
    const tenants = await call('GET', '/api/tenants');
    expect(tenants.status).toBe(200);
    expect((tenants.body.tenants as Array<{ id: string }>).map((t) => t.id).sort()).toEqual([...live].sort());
    for (const t of live.filter((id) => id !== revert.id)) {
      expect((await call('GET', `/api/tenants/${t}/tier`)).body, t).toMatchObject(manifest.answers[t]!.tier as object);
      expect((await call('GET', `/api/tenants/${t}/audit`)).body, t).toEqual(manifest.answers[t]!.audit);
    }
    // The temporary switch 0.1.0 made until 2099 is still pending, with the tier it returns to.
    expect((await call('GET', '/api/tenants/t-meta/tier')).body).toMatchObject({ tier: 'logorhythms', until: '2099-01-01T00:00:00.000Z', priorTier: 'fixture-meta' });
  });

  it('ends a temporary switch of 0.1.0 whose until passed while no collector ran, and audits the revert', async () => {
    expect(Date.now()).toBeGreaterThan(Date.parse(manifest.times.revertUntil));
    expect((await call('GET', `/api/tenants/${revert.id}/tier`)).body).toMatchObject({ tier: 'fixture-meta', until: null });
    const then = (manifest.answers[revert.id]!.audit as { audit: unknown[] }).audit;
    const audit = (await call('GET', `/api/tenants/${revert.id}/audit`)).body.audit as Array<Record<string, unknown>>;
    expect(audit.slice(0, then.length)).toEqual(then);
    expect(audit.slice(then.length)).toEqual([expect.objectContaining({ actor: 'system', action: 'revert', from: 'logorhythms', to: 'fixture-meta' })]);
  });

  it('keeps 0.1.0\'s erasures: the audit, and the erased users\' rows stay gone', async () => {
    for (const t of ['t-full', 'k-full']) expect((await call('GET', `/api/tenants/${t}/erasures`)).body, t).toMatchObject(manifest.answers[t]!.erasures as object);
    const erased = await query('t-full', "SELECT count() AS n FROM otel_traces WHERE SpanAttributes['user.id'] = 'u-erased'");
    expect(erased.rows).toEqual([[0]]);
    const logs = await query('t-full', "SELECT count() AS n FROM otel_logs WHERE LogAttributes['user.id'] = 'u-erased'");
    expect(logs.rows).toEqual([[0]]);
  });

  it.each(live)('%s: the dashboard of 0.1.0\'s rows as 0.1.0 answered', async (t) => {
    const { from, to } = manifest.dashboardWindow;
    const now = await call('GET', `/api/tenants/${t}/dashboard?from=${from}&to=${to}`);
    expect(now.status).toBe(200);
    const then = manifest.answers[t]!.dashboard as object;
    // The dashboard names the tier in force: t-revert's returned to fixture-meta (above).
    expect(now.body).toMatchObject(t === revert.id ? { ...then, tier: 'fixture-meta' } : then);
  });

  // Last: it writes.
  it('takes data with 0.1.0\'s ingest keys, hashes API keys with 0.1.0\'s HMAC key, and refuses the keys of deleted tenants', async () => {
    const post = (key: string, signal: 'traces' | 'logs', body: string) =>
      fetch(`${c.otlpUrl}/v1/${signal}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body }).then(async (r) => ({ status: r.status, body: await r.text() }));
    // An hour after the fixture's records: outside the dashboard window compared above.
    for (const t of live) {
      expect(await post(manifest.tenants[t]!.ingestKey, 'traces', spansJson(t, 'u-new', 1, 3600)), t).toEqual({ status: 200, body: '{}' });
      expect(await post(manifest.tenants[t]!.ingestKey, 'logs', logsJson(t, 'u-new', 1, 3600)), t).toEqual({ status: 200, body: '{}' });
    }
    for (const gone of PLAN.filter((p) => p.deleted === true)) expect((await post(manifest.tenants[gone.id]!.ingestKey, 'traces', spansJson(gone.id, 'u-new', 1))).status, gone.id).toBe(401);
    const hashes = await query('t-full', "SELECT DISTINCT SpanAttributes['gateway.api_key.hash'] FROM otel_traces");
    expect(hashes.rows).toHaveLength(1);
    expect(hashes.rows[0]![0]).toMatch(/^[0-9a-f]{32}$/);
    const sums = await query('t-sum', 'SELECT sum(Requests) FROM request_summaries');
    expect(sums.rows).toEqual([[7]]);
  });
});
