// Starts a real Consentry in this process (embedded ClickHouse in a temp
// directory, free ports) for integration tests, and small clients for its APIs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Settings } from '../../core/settings.ts';
import { startConsentry, type Consentry } from '../../app/collector.ts';

export const ADMIN_TOKEN = 'test-admin-token';

export interface TestConsentry extends Consentry {
  dataDir: string;
  /** Calls the management API with the admin token; returns status and parsed JSON. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  createTenant(id: string, tier: string): Promise<{ ingestKey: string; queryKey: string }>;
  /** Runs SQL straight on ClickHouse (test inspection, not the tenant query API). */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Stops and deletes the data directory. */
  close(): Promise<void>;
}

export async function startTestConsentry(overrides: Partial<Settings> = {}): Promise<TestConsentry> {
  const dataDir = mkdtempSync(join(tmpdir(), 'consentry-test-'));
  // The collector shares its event loop with the test and the machine with the
  // rest of the suite: a stall of the test process is not the overload the
  // load shedder guards against (collector/otlp/load-shedder.test.ts tests it).
  const settings = loadSettings({}, { dataDir, otlpPort: 0, otlpGrpcPort: 0, apiPort: 0, adminToken: ADMIN_TOKEN, logLevel: 'silent', batchMaxDelayMs: 20, maxEventLoopDelayMs: 10_000, ...overrides });
  const c = await startConsentry(settings);
  const api: TestConsentry['api'] = async (method, path, body, token = ADMIN_TOKEN) => {
    const res = await fetch(c.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  return Object.assign(c, {
    dataDir,
    api,
    async createTenant(id: string, tier: string) {
      const r = await api('POST', '/api/tenants', { id, tier });
      if (r.status !== 201) throw new Error(`creating tenant ${id}: ${r.status} ${JSON.stringify(r.body)}`);
      return { ingestKey: r.body.ingestKey as string, queryKey: r.body.queryKey as string };
    },
    async rows<T>(sql: string) {
      const res = await c.clickhouse.client.query({ query: sql, format: 'JSONEachRow' });
      return res.json<T>();
    },
    async close() {
      await c.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Polls until `fn` returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
