// Named operators through the API and the CLI, against a real collector and
// embedded ClickHouse: tokens shown once and stored as SHA-256, names never
// reused, revocation at once, and every audit row (tier changes, erasures,
// tenant deletion, operator changes) naming the operator of the token, never a
// name the client sent.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { OperatorStore } from '../../control/operator-store.ts';
import { main } from '../../collector/analytics/cli.ts';

let c: TestConsentry;
beforeAll(async () => {
  c = await startTestConsentry();
});
afterAll(async () => c?.close());

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const create = async (name: string, role: string, token?: string) => {
  const r = await c.api('POST', '/api/operators', { name, role }, token);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.token as string;
};

/** Runs the CLI in this process against the test collector. */
async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: { CONSENTRY_URL: c.apiUrl, ...env }, readStdin: () => Promise.resolve(''), fetch });
  return { code, stdout, stderr };
}

describe('operators', () => {
  it('shows the token once and stores only its SHA-256; lists no token or hash', async () => {
    const r = await c.api('POST', '/api/operators', { name: 'ann@example.com', role: 'operator' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'ann@example.com', role: 'operator', createdBy: 'admin' });
    const token = r.body.token as string;
    expect(token).toMatch(/^csk_op_[A-Za-z0-9_-]{32}$/);
    const rows = await c.rows<Record<string, unknown>>(`SELECT * FROM consentry.operators WHERE Name = 'ann@example.com'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!['TokenHash']).toBe(sha256(token));
    expect(JSON.stringify(rows)).not.toContain(token);
    const list = await c.api('GET', '/api/operators');
    expect(list.body.operators.map((o: { name: string }) => o.name)).toContain('ann@example.com');
    expect(JSON.stringify(list.body)).not.toContain(token);
    expect(JSON.stringify(list.body)).not.toContain(sha256(token));
    // Another instance reading ClickHouse knows it (what a restart or a reload does).
    const other = new OperatorStore(c.clickhouse.client);
    await other.load();
    expect(other.operatorOfToken(token)).toEqual({ name: 'ann@example.com', role: 'operator' });
  });

  it.each([
    [{ name: 'ann@example.com', role: 'viewer' }, 409, 'OPERATOR_EXISTS', /exists or existed/],
    [{ name: 'admin', role: 'viewer' }, 409, 'OPERATOR_EXISTS', /reserved/],
    [{ name: 'system', role: 'viewer' }, 409, 'OPERATOR_EXISTS', /reserved/],
    [{ name: 'Bad Name', role: 'viewer' }, 400, 'BAD_REQUEST', /body\.name/],
    [{ name: 'zed', role: 'root' }, 400, 'BAD_REQUEST', /body\.role/],
    [{ name: 'zed', role: 'viewer', actor: 'someone' }, 400, 'BAD_REQUEST', /unknown field "actor"/],
  ])('refuses %j with %i %s', async (body, status, code, message) => {
    const r = await c.api('POST', '/api/operators', body);
    expect(r.status).toBe(status);
    expect(r.body.error).toBe(code);
    expect(r.body.message).toMatch(message);
  });

  it('revokes: the token is refused at once, the name is never given again, the bootstrap admin is no operator', async () => {
    const token = await create('temp-op', 'viewer');
    expect((await c.api('GET', '/api/tenants', undefined, token)).status).toBe(200);
    expect(await c.api('DELETE', '/api/operators/temp-op')).toMatchObject({ status: 200, body: { name: 'temp-op', revoked: true } });
    expect((await c.api('GET', '/api/tenants', undefined, token)).status).toBe(401);
    expect((await c.api('POST', '/api/operators', { name: 'temp-op', role: 'viewer' })).status).toBe(409);
    expect((await c.api('DELETE', '/api/operators/temp-op')).body.error).toBe('OPERATOR_NOT_FOUND');
    const admin = await c.api('DELETE', '/api/operators/admin');
    expect(admin.status).toBe(400);
    expect(admin.body.message).toMatch(/bootstrap admin token/);
    // The revoked row stays, with its hash, so the name stays taken after a restart.
    expect(await c.rows(`SELECT Revoked FROM consentry.operators FINAL WHERE Name = 'temp-op'`)).toEqual([{ Revoked: 1 }]);
  });

  it('every audit row names the operator of the token: tier changes, erasures, tenant deletion, operator changes', async () => {
    const ops = await create('ops-olga', 'operator');
    const dpo = await create('dpo-dan', 'privacy');
    const root = await create('root-rita', 'admin');

    expect((await c.api('POST', '/api/tenants', { id: 'shop', tier: 'full' }, ops)).status).toBe(201);
    expect((await c.api('PUT', '/api/tenants/shop/tier', { tier: 'lunos', reason: 'contract v2' }, ops)).status).toBe(200);
    expect((await c.api('PUT', '/api/tenants/shop/tier', { tier: 'full', reason: 'debug', until: '2099-01-01T00:00:00Z' }, root)).status).toBe(200);
    const tiers = (await c.api('GET', '/api/tenants/shop/audit', undefined, dpo)).body.audit;
    expect(tiers.map((a: { actor: string; action: string; to: string }) => [a.actor, a.action, a.to])).toEqual([
      ['ops-olga', 'create', 'full'],
      ['ops-olga', 'switch', 'lunos'],
      ['root-rita', 'switch', 'full'],
    ]);
    expect((await c.api('GET', '/api/tenants/shop/tier')).body).toMatchObject({ tier: 'full', actor: 'root-rita' });

    // A name sent by the client is refused, not recorded.
    const forged = await c.api('DELETE', '/api/tenants/shop/subjects/u1?actor=someone-else&reason=x', undefined, dpo);
    expect(forged.status).toBe(400);
    expect(forged.body.message).toMatch(/querystring: unknown field "actor"/);
    expect((await c.api('DELETE', '/api/tenants/shop/subjects/u1?reason=GDPR%2017', undefined, dpo)).status).toBe(200);
    expect((await c.api('DELETE', '/api/tenants/shop?reason=contract%20ended', undefined, ops)).status).toBe(200);
    const erasures = (await c.api('GET', '/api/tenants/shop/erasures')).body.erasures;
    // Newest first.
    expect(erasures.map((e: { actor: string; scope: string; reason: string }) => [e.actor, e.scope, e.reason])).toEqual([
      ['ops-olga', 'tenant', 'contract ended'],
      ['dpo-dan', 'subject', 'GDPR 17'],
    ]);
    expect(erasures.some((e: { actor: string }) => e.actor === 'someone-else')).toBe(false);

    await create('short-lived', 'viewer', root);
    expect((await c.api('DELETE', '/api/operators/short-lived', undefined, root)).status).toBe(200);
    const audit = (await c.api('GET', '/api/operators/audit', undefined, root)).body.audit as Array<{ actor: string; action: string; operator: string; role: string }>;
    expect(audit.filter((a) => a.operator === 'short-lived').map((a) => [a.actor, a.action, a.role])).toEqual([
      ['root-rita', 'create', 'viewer'],
      ['root-rita', 'revoke', 'viewer'],
    ]);
    expect(audit.find((a) => a.operator === 'root-rita')).toMatchObject({ actor: 'admin', action: 'create', role: 'admin' });
  });

  it('the CLI creates, lists and revokes operators, says who is signed in, and erases as the operator of its token', async () => {
    const admin = { CONSENTRY_ADMIN_TOKEN: 'test-admin-token' };
    const made = await cli(['operators', 'create', '--name', 'cli-vic', '--role', 'privacy'], admin);
    expect(made.code, made.stderr).toBe(0);
    const token = (JSON.parse(made.stdout) as { token: string }).token;
    expect(token).toMatch(/^csk_op_/);
    expect(made.stderr).toMatch(/shown this once/);
    // CONSENTRY_TOKEN (an operator's) comes before CONSENTRY_ADMIN_TOKEN.
    expect(await cli(['whoami'], { ...admin, CONSENTRY_TOKEN: token })).toMatchObject({ code: 0, stdout: 'cli-vic (privacy): read, erasure, export\n' });
    const list = await cli(['operators', 'list'], admin);
    expect(JSON.parse(list.stdout).operators.map((o: { name: string }) => o.name)).toContain('cli-vic');
    // A privacy operator may not manage operators: the API's 403 and its message.
    const denied = await cli(['operators', 'list', '--token', token]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^403 FORBIDDEN: operator "cli-vic" \(role privacy\) may not create, list and revoke operators/);

    await c.createTenant('clishop', 'full');
    const erased = await cli(['erase', '--tenant', 'clishop', '--subject', 'u9', '--reason', 'ticket 7', '--token', token]);
    expect(erased.code, erased.stderr).toBe(0);
    expect((await c.api('GET', '/api/tenants/clishop/erasures')).body.erasures[0]).toMatchObject({ actor: 'cli-vic', reason: 'ticket 7' });

    expect((await cli(['operators', 'revoke', '--name', 'cli-vic'], admin)).code).toBe(0);
    const after = await cli(['whoami', '--token', token]);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^401 UNAUTHORIZED/);
    expect((await cli(['operators', 'create', '--name', 'x'], admin)).code).toBe(2);
  });
});
