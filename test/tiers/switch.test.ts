// Tier switches at run time: applied to every record received after the
// switch's 200, temporary switches revert by themselves at `until`, every
// change is audited, and bad switches are refused with a clear message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, eventually, type TestConsentry } from '../helpers/consentry.ts';

let c: TestConsentry;
beforeAll(async () => {
  c = await startTestConsentry();
});
afterAll(async () => c?.close());

let seq = 0;
function spanBody(name: string): string {
  seq++;
  const spanId = (0x2000000000000000n + BigInt(seq)).toString(16);
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'gw' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                spanId,
                name,
                kind: 2,
                startTimeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`,
                endTimeUnixNano: `${BigInt(Date.now() + 5) * 1_000_000n}`,
                attributes: [
                  { key: 'http.route', value: { stringValue: '/v1/chat/completions' } },
                  { key: 'gateway.request.body', value: { stringValue: '{"messages":[{"role":"user","content":"hello"}]}' } },
                ],
              },
            ],
          },
        ],
      },
    ],
  });
}

async function send(key: string, name: string): Promise<number> {
  const res = await fetch(`${c.otlpUrl}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: spanBody(name) });
  return res.status;
}

describe('switching while a generator sends', () => {
  it('stores nothing from full once the switch to minimal has answered 200', async () => {
    const { ingestKey } = await c.createTenant('switcher', 'full');
    const sentAfterSwitch: string[] = [];
    const sentBefore: string[] = [];
    let switched = false;
    const generator = (async () => {
      for (let i = 0; i < 120; i++) {
        const name = `gen-${i}`;
        const startedAfter = switched;
        expect(await send(ingestKey, name)).toBe(200);
        (startedAfter ? sentAfterSwitch : sentBefore).push(name);
      }
    })();
    await new Promise((r) => setTimeout(r, 150));
    const res = await c.api('PUT', '/api/tenants/switcher/tier', { tier: 'minimal', reason: 'customer withdrew consent' });
    expect(res.status).toBe(200);
    switched = true;
    await generator;
    expect(sentBefore.length).toBeGreaterThan(0);
    expect(sentAfterSwitch.length).toBeGreaterThan(0);
    const stored = await c.rows<{ SpanName: string; Body: string }>(
      `SELECT SpanName, SpanAttributes['gateway.request.body'] AS Body FROM consentry.otel_traces WHERE TenantId = 'switcher'`,
    );
    const storedNames = new Set(stored.map((r) => r.SpanName));
    for (const name of sentAfterSwitch) expect(storedNames.has(name), `${name} sent after the switch was stored`).toBe(false);
    // Everything stored was received under full, bodies included.
    expect(stored.length).toBeGreaterThan(0);
    for (const r of stored) expect(r.Body).toContain('hello');
    const audit = await c.api('GET', '/api/tenants/switcher/audit');
    expect(audit.body.audit.map((a: { action: string; from: string; to: string; reason: string }) => [a.action, a.from, a.to, a.reason])).toEqual([
      ['create', '', 'full', 'tenant created'],
      ['switch', 'full', 'minimal', 'customer withdrew consent'],
    ]);
  });
});

describe('temporary switches', () => {
  it('reverts to the prior tier at until, by itself, and audits it', async () => {
    const { ingestKey } = await c.createTenant('debugger', 'luntrex');
    // luntrex allows a more permissive tier only with an until.
    const refused = await c.api('PUT', '/api/tenants/debugger/tier', { tier: 'full', reason: 'debug' });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/until/);

    const until = new Date(Date.now() + 1500).toISOString();
    const res = await c.api('PUT', '/api/tenants/debugger/tier', { tier: 'full', until, reason: 'debug ticket 42' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tier: 'full', until, priorTier: 'luntrex' });
    expect(await send(ingestKey, 'during-debug')).toBe(200);

    await new Promise((r) => setTimeout(r, Date.parse(until) - Date.now() + 20));
    expect(await send(ingestKey, 'after-debug')).toBe(200);
    const rows = await c.rows<{ SpanName: string; Tier: string; HasBody: number }>(
      `SELECT SpanName, Tier, mapContains(SpanAttributes, 'gateway.request.body') AS HasBody FROM consentry.otel_traces WHERE TenantId = 'debugger' ORDER BY SpanName`,
    );
    expect(rows).toEqual([
      { SpanName: 'after-debug', Tier: 'luntrex', HasBody: 0 },
      { SpanName: 'during-debug', Tier: 'full', HasBody: 1 },
    ]);
    const current = await c.api('GET', '/api/tenants/debugger/tier');
    expect(current.body).toMatchObject({ tier: 'luntrex', until: null });

    const audit = await eventually(async () => {
      const a = await c.api('GET', '/api/tenants/debugger/audit');
      return a.body.audit.length === 3 ? a.body.audit : undefined;
    }, 3000);
    expect(audit.map((a: { action: string; actor: string; from: string; to: string }) => [a.action, a.actor, a.from, a.to])).toEqual([
      ['create', 'admin', '', 'luntrex'],
      ['switch', 'admin', 'luntrex', 'full'],
      ['revert', 'system', 'full', 'luntrex'],
    ]);
    expect(audit[1].until).not.toBeNull();
  });
});

describe('refused switches', () => {
  beforeAll(async () => {
    await c.createTenant('refusals', 'summary');
  });
  it.each([
    ['unknown tier', '/api/tenants/refusals/tier', { tier: 'everything' }, 400, /unknown tier "everything"/],
    ['until in the past', '/api/tenants/refusals/tier', { tier: 'full', until: '2000-01-01T00:00:00Z' }, 400, /not in the future/],
    ['until not a time', '/api/tenants/refusals/tier', { tier: 'full', until: 'tomorrow' }, 400, /ISO 8601/],
    ['unknown field', '/api/tenants/refusals/tier', { tier: 'full', whom: 'x' }, 400, /unknown field "whom"/],
    ['missing tier', '/api/tenants/refusals/tier', { reason: 'x' }, 400, /missing field "tier"/],
    ['unknown tenant', '/api/tenants/nobody/tier', { tier: 'full' }, 404, /no tenant "nobody"/],
  ])('%s', async (_name, path, body, status, message) => {
    const res = await c.api('PUT', path, body);
    expect(res.status).toBe(status);
    expect(res.body.message).toMatch(message);
  });

  it('needs the admin token', async () => {
    const res = await c.api('PUT', '/api/tenants/refusals/tier', { tier: 'full' }, 'wrong');
    expect(res.status).toBe(401);
  });
});
