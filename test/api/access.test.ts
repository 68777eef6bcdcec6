// Who may call what: every route of the management API, as the running
// collector registered it, called by every role, by no token, a wrong token
// and a revoked one. The policy is written out here, independently of
// collector/api/access.ts: a route added without a line in POLICY (or without
// an access declaration, which stops the start) fails this file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, ADMIN_TOKEN, type TestConsentry } from '../helpers/consentry.ts';

type Who = 'admin' | 'operator' | 'privacy' | 'viewer';
const ALL: Who[] = ['admin', 'operator', 'privacy', 'viewer'];

/** Route -> the roles allowed; `query-key`: a tenant's query key, never an operator. */
const POLICY: Record<string, Who[] | 'query-key'> = {
  'GET /api/session': ALL,
  'GET /api/tiers': ALL,
  'GET /api/tiers/:name': ALL,
  'GET /api/tenants': ALL,
  'GET /api/tenants/:id': ALL,
  'POST /api/tenants': ['admin', 'operator'],
  'DELETE /api/tenants/:id': ['admin', 'operator'],
  'GET /api/tenants/:id/tier': ALL,
  'PUT /api/tenants/:id/tier': ['admin', 'operator'],
  'GET /api/tenants/:id/audit': ALL,
  'GET /api/tenants/:id/dashboard': ALL,
  'GET /api/tenants/:id/requests': ALL,
  'GET /api/tenants/:id/requests/:traceId/:spanId': ALL,
  'GET /api/tenants/:id/end-users': ALL,
  'DELETE /api/tenants/:id/subjects/:subject': ['admin', 'privacy'],
  'GET /api/tenants/:id/subjects/:subject/export': ['admin', 'privacy'],
  'GET /api/tenants/:id/export': ['admin', 'privacy'],
  'GET /api/tenants/:id/erasures': ALL,
  'GET /api/operators': ['admin'],
  'GET /api/operators/audit': ['admin'],
  'POST /api/operators': ['admin'],
  'DELETE /api/operators/:name': ['admin'],
  'POST /api/query': 'query-key',
};

/** Path parameters: a tenant that does not exist, so an allowed change changes nothing (404 after the check). */
const PARAMS: Record<string, string> = { id: 'ghost', name: 'nobody', subject: 'u1', traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
const pathOf = (url: string) => url.replace(/:(\w+)/g, (_m, p: string) => (p === 'name' && url.startsWith('/api/tiers') ? 'full' : PARAMS[p]!));

let c: TestConsentry;
const tokens = {} as Record<Who | 'revoked', string>;
let queryKey: string;

beforeAll(async () => {
  c = await startTestConsentry();
  for (const role of ['operator', 'privacy', 'viewer'] as const) {
    const r = await c.api('POST', '/api/operators', { name: `op-${role}`, role });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    tokens[role] = r.body.token as string;
  }
  // A named admin besides the bootstrap token.
  tokens.admin = (await c.api('POST', '/api/operators', { name: 'op-admin', role: 'admin' })).body.token as string;
  tokens.revoked = (await c.api('POST', '/api/operators', { name: 'op-gone', role: 'admin' })).body.token as string;
  expect((await c.api('DELETE', '/api/operators/op-gone')).status).toBe(200);
  queryKey = (await c.createTenant('acme', 'full')).queryKey;
});
afterAll(async () => c?.close());

/** Calls a route with a token; the body is invalid on purpose where there is one: authorization comes before validation. */
async function call(method: string, url: string, token: string | undefined) {
  const res = await fetch(`${c.apiUrl}${pathOf(url)}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(method === 'POST' || method === 'PUT' ? { 'content-type': 'application/json' } : {}) },
    body: method === 'POST' || method === 'PUT' ? '{"unexpected": true}' : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as { error?: string; message?: string }) : {} };
}

describe('access of every route', () => {
  it('every route of the API has a line in the policy, and every line a route', () => {
    const registered = c.routes.map((r) => `${r.method} ${r.url}`).sort();
    expect(registered).toEqual(Object.keys(POLICY).sort());
    // As declared: query-key exactly where the policy says so.
    for (const r of c.routes) expect(r.access === 'query-key', `${r.method} ${r.url}`).toBe(POLICY[`${r.method} ${r.url}`] === 'query-key');
  });

  const cases = Object.entries(POLICY).flatMap(([route, allowed]) => ALL.map((who) => [route, who, allowed === 'query-key' ? 'refused' : allowed.includes(who) ? 'allowed' : 'forbidden'] as const));
  it.each(cases)('%s as %s: %s', async (route, who, outcome) => {
    const [method, url] = route.split(' ') as [string, string];
    const r = await call(method, url, tokens[who]);
    if (outcome === 'allowed') {
      expect([401, 403], `${route} as ${who}: ${r.status} ${JSON.stringify(r.body)}`).not.toContain(r.status);
    } else if (outcome === 'forbidden') {
      expect(r.status).toBe(403);
      expect(r.body.error).toBe('FORBIDDEN');
      expect(r.body.message).toContain(`operator "op-${who}" (role ${who}) may not`);
      expect(r.body.message).toMatch(/needs one of the roles [a-z, ]+; ask an admin/);
    } else {
      // The query route takes a tenant's query key; an operator token is no query key.
      expect(r.status).toBe(401);
    }
  });

  it.each(Object.keys(POLICY))('%s without a token, with a wrong one and with a revoked one: 401', async (route) => {
    const [method, url] = route.split(' ') as [string, string];
    for (const token of [undefined, 'csk_op_wrong', tokens.revoked]) {
      const r = await call(method, url, token);
      expect(r.status, `${route} with ${token === undefined ? 'no token' : token.slice(0, 8)}`).toBe(401);
      expect(r.body.error).toBe('UNAUTHORIZED');
    }
  });

  it('the bootstrap admin token is the admin named admin; the query route takes the query key', async () => {
    expect((await c.api('GET', '/api/session')).body).toEqual({ name: 'admin', role: 'admin', permissions: ['read', 'tenants:write', 'tiers:write', 'erasure', 'export', 'operators'] });
    expect((await c.api('GET', '/api/session', undefined, tokens.viewer)).body).toEqual({ name: 'op-viewer', role: 'viewer', permissions: ['read'] });
    const q = await fetch(`${c.apiUrl}/api/query`, { method: 'POST', headers: { authorization: `Bearer ${queryKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT 1 AS one' }) });
    expect(q.status).toBe(200);
    // A query key is no operator token.
    expect((await c.api('GET', '/api/tenants', undefined, queryKey)).status).toBe(401);
    expect(ADMIN_TOKEN).not.toBe(tokens.admin);
  });
});

describe('a route without an access declaration', () => {
  it('stops the start, naming the route', async () => {
    const { buildApiApp } = await import('../../collector/api/app.ts');
    const { Metrics } = await import('../../core/metrics.ts');
    const { createLogger } = await import('../../core/logger.ts');
    const app = buildApiApp({
      adminToken: 'admin',
      operators: c.operators,
      metricsToken: '',
      http: { httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 30_000, httpIdleTimeoutMs: 65_000 },
      tenants: c.tenants,
      metrics: new Metrics(),
      logger: createLogger({ level: 'silent', scrub: (s) => s }),
      tierNames: () => [],
      defaultTier: 'minimal',
      assignInitialTier: () => Promise.resolve(),
      tierOf: () => '',
      ready: () => Promise.resolve({ ok: true, checks: {} }),
      routes: [(api) => api.get('/undeclared', () => ({ open: true }))],
    });
    await expect(app.ready()).rejects.toThrow('GET /api/undeclared: declare who may call it (config.access: one of read, tenants:write, tiers:write, erasure, export, operators, or query-key)');
    await app.close().catch(() => undefined);
  });
});
