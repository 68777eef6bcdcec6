// For every tier and preset: one realistic LLM gateway exchange, sent by the
// real OTel SDK, and a golden file of exactly what is stored, column by column,
// in every table. A row or column that is not in the golden file is a failure,
// so "nothing else is stored" is checked too. Regenerate on purpose with
// UPDATE_GOLDEN=1 and review the diff.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, eventually, type TestConsentry } from '../helpers/consentry.ts';
import { sdkClient } from '../helpers/otel.ts';
import { PLANTED, sendExchange } from '../fixtures/llm-exchange.ts';

const GOLDEN_DIR = new URL('../golden/tiers/', import.meta.url);
const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;
const ORDER: Record<(typeof TABLES)[number], string> = {
  otel_traces: 'Timestamp, SpanName',
  otel_logs: 'Timestamp, Body',
  request_summaries: 'Minute, Endpoint, StatusClass',
  gateway_metadata: 'Timestamp',
};

let c: TestConsentry;
beforeAll(async () => {
  c = await startTestConsentry();
});
afterAll(async () => c?.close());

/** Replaces what changes from run to run (random ids, HMACs, receipt-relative expiry) with stable tokens. */
function normalise(dump: Record<string, Record<string, unknown>[]>): Record<string, unknown[]> {
  const ids = new Map<string, string>();
  const id = (v: unknown, kind: string): unknown => {
    if (typeof v !== 'string' || v === '') return v;
    if (!ids.has(v)) ids.set(v, `${kind}#${[...ids.values()].filter((x) => x.startsWith(kind)).length + 1}`);
    return ids.get(v);
  };
  const nowSec = Date.now() / 1000;
  const out: Record<string, unknown[]> = {};
  for (const [table, rows] of Object.entries(dump)) {
    out[table] = rows.map((row) => {
      const r: Record<string, unknown> = { ...row };
      delete r['TenantId'];
      for (const k of ['TraceId', 'Links.TraceId']) r[k] = Array.isArray(r[k]) ? (r[k] as unknown[]).map((v) => id(v, 'trace')) : id(r[k], 'trace');
      for (const k of ['SpanId', 'ParentSpanId', 'Links.SpanId']) r[k] = Array.isArray(r[k]) ? (r[k] as unknown[]).map((v) => id(v, 'span')) : id(r[k], 'span');
      for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
      for (const attrs of ['SpanAttributes', 'LogAttributes'] as const) {
        const a = r[attrs] as Record<string, string> | undefined;
        if (a?.['gateway.api_key.hash'] !== undefined) {
          expect(a['gateway.api_key.hash']).toMatch(/^[0-9a-f]{32}$/);
          a['gateway.api_key.hash'] = '<hmac>';
        }
      }
      if (typeof r['ExpireAt'] === 'string') {
        const exp = Date.parse(`${r['ExpireAt'].replace(' ', 'T')}Z`) / 1000;
        r['ExpireAt'] = exp >= 4102444800 ? 'never' : `receipt+${Math.round((exp - nowSec) / 86400)}d`;
      }
      return r;
    });
  }
  return out;
}

async function dump(tenant: string): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of TABLES) out[t] = await c.rows(`SELECT * FROM consentry.${t} WHERE TenantId = '${tenant}' ORDER BY ${ORDER[t]}`);
  return out;
}

const TIERS = ['minimal', 'summary', 'full', 'lunar-oss', 'lunar-control-plane', 'lunos', 'logorhythms', 'luntrex', 'lunogen'];

describe.each(TIERS)('tier %s', (tier) => {
  it('stores exactly the golden rows for one LLM exchange, and no secret', async () => {
    const tenant = `golden-${tier}`;
    const { ingestKey } = await c.createTenant(tenant, tier);
    const client = sdkClient({
      otlpUrl: c.otlpUrl,
      ingestKey,
      encoding: 'proto',
      resource: { 'service.name': 'llm-gateway', 'service.version': '1.4.2', 'service.instance.id': 'gw-1', 'host.name': 'gw-host-1', 'k8s.pod.uid': '9f1c2d3e' },
    });
    sendExchange(client);
    await client.flush();
    await client.shutdown();
    // Every request has been answered 200 by now, so its rows are stored: no waiting needed,
    // but give the metadata/log batch a moment in case the exporter split requests.
    const raw = await eventually(async () => {
      const d = await dump(tenant);
      return d['gateway_metadata']!.length > 0 ? d : undefined;
    });
    expect(raw, 'metadata row stored').toBeDefined();
    const text = JSON.stringify(raw);
    for (const [name, secret] of Object.entries(PLANTED)) {
      expect(text.includes(secret), `${name} stored`).toBe(false);
      expect(text.includes(secret.slice(8, 24)), `part of ${name} stored`).toBe(false);
    }
    expect(text).not.toContain('hunter2secret');

    const actual = normalise(raw!);
    const file = new URL(`${tier}.json`, GOLDEN_DIR);
    if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
      if (process.env['CI'] === 'true' && !existsSync(file)) throw new Error(`golden file ${file.pathname} missing: run UPDATE_GOLDEN=1 npx vitest run test/tiers and review it`);
      mkdirSync(GOLDEN_DIR, { recursive: true });
      writeFileSync(file, JSON.stringify(actual, null, 2) + '\n');
    }
    expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
});

it('minimal and summary tiers store no individual request anywhere', async () => {
  for (const tier of ['minimal', 'summary', 'lunar-oss', 'lunar-control-plane']) {
    const d = await dump(`golden-${tier}`);
    expect(d['otel_traces'], tier).toEqual([]);
    const text = JSON.stringify(d);
    for (const needle of ['203.0.113', '198.51.100.7', 'user-1234', 'user-5678', 'jane.doe', 'openai-python', 'chatcmpl']) expect(text, `${tier}: ${needle}`).not.toContain(needle);
    if (tier.includes('minimal') || tier === 'lunar-oss') expect(d['request_summaries'], tier).toEqual([]);
  }
});
