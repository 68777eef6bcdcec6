// What every tier stores of what real GenAI clients send (test/fixtures/
// genai-clients.ts: openai-v2 with events, OpenLLMetry attribute and event
// mode, OpenInference, LiteLLM, telemetrygen, a FastAPI SERVER and an INTERNAL
// span around a CLIENT LLM span), over OTLP/HTTP into a running Consentry with
// embedded ClickHouse, checked through SQL and the dashboard:
//   - content only where the tier keeps it, from any source (span attributes,
//     log bodies, log attributes);
//   - no per-call log rows where the tier keeps nothing per request;
//   - the event name stored; LLM metadata of every convention kept where the
//     tier keeps per-request metadata;
//   - per client, the counting rule's requests, calls, tokens and model, the
//     same from `summary` (folded at receipt) and `full` (SQL over spans),
//     also when one trace arrives in two requests;
//   - golden files of every row each tier stores (test/golden/tiers/genai/).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { dump, normalise, type Dump } from '../helpers/golden.ts';
import { expectGolden } from '../helpers/golden-file.ts';
import { sdkClient } from '../helpers/otel.ts';
import { sendOtlp } from '../analytics/traffic.ts';
import { CLIENTS, CONTENT_MARK, expectedTotals, payloadsOf, type ClientShape } from '../fixtures/genai-clients.ts';

const GOLDEN_DIR = new URL('../golden/tiers/genai/', import.meta.url);
/** 2026-12-01T12:00:00Z; client i starts i seconds later. */
const T0_MS = Date.UTC(2026, 11, 1, 12, 0, 0);
const RANGE = `from=${T0_MS / 1000 - 3600}&to=${T0_MS / 1000 + 3600}&step=1h`;

const TIERS = ['minimal', 'summary', 'full', 'lunar-oss', 'lunar-control-plane', 'lunos', 'logorhythms', 'luntrex', 'lunogen'];
/** Tiers that keep no content (lunos and luntrex keep per-request metadata, the others nothing per request). */
const CONTENT_FREE = ['minimal', 'summary', 'lunar-oss', 'lunar-control-plane', 'lunos', 'luntrex'];
const NO_PER_REQUEST = ['minimal', 'summary', 'lunar-oss', 'lunar-control-plane'];
/** Tiers whose content expires before its row: kept in the content columns (contentRetentionDays). */
const CONTENT_APART = ['lunogen'];

let c: TestConsentry;
const stored = new Map<string, Dump>();

async function send(key: string, client: ShapeAndPayloads): Promise<void> {
  await sendOtlp(c.otlpUrl, key, 'traces', client.traces);
  if (client.logs !== undefined) await sendOtlp(c.otlpUrl, key, 'logs', client.logs);
}
type ShapeAndPayloads = { traces: string; logs: string | undefined };
const startOf = (client: ClientShape) => T0_MS + CLIENTS.indexOf(client) * 1000;

beforeAll(async () => {
  c = await startTestConsentry();
  for (const tier of TIERS) {
    const { ingestKey } = await c.createTenant(`genai-${tier}`, tier);
    for (const client of CLIENTS) await send(ingestKey, payloadsOf(client, startOf(client)));
    stored.set(tier, await dump(c, `genai-${tier}`));
  }
  for (const client of CLIENTS) {
    for (const tier of ['summary', 'full']) {
      const { ingestKey } = await c.createTenant(`${client.client}-${tier}`, tier);
      await send(ingestKey, payloadsOf(client, startOf(client)));
    }
  }
});
afterAll(async () => c?.close());

const rowsWith = (d: Dump, needle: string) =>
  Object.entries(d).flatMap(([table, rows]) => rows.filter((r) => JSON.stringify(r).includes(needle)).map((r) => ({ table, row: r })));

describe.each(TIERS)('tier %s', (tier) => {
  it('stores exactly the golden rows for one call of every client', () => {
    expectGolden(new URL(`${tier}.json`, GOLDEN_DIR), normalise(stored.get(tier)!));
  });

  if (CONTENT_FREE.includes(tier)) {
    it('stores no prompt or completion from any client: span attributes, span events, log bodies or log attributes', () => {
      expect(rowsWith(stored.get(tier)!, CONTENT_MARK)).toEqual([]);
    });
  } else {
    it('keeps the content (the test would see it)', () => {
      const d = stored.get(tier)!;
      const apart = CONTENT_APART.includes(tier);
      const has = (column: string) => d['otel_traces']!.some((r) => JSON.stringify(r[column]).includes(CONTENT_MARK));
      expect(d['otel_logs']!.some((r) => String(r['Body']).includes(CONTENT_MARK))).toBe(true);
      expect({ SpanAttributes: has('SpanAttributes'), ContentAttributes: has('ContentAttributes') }).toEqual({ SpanAttributes: !apart, ContentAttributes: apart });
    });
  }

  if (NO_PER_REQUEST.includes(tier)) {
    it('stores no per-call log row: only the plain log line, without trace context', () => {
      const logs = stored.get(tier)!['otel_logs']!;
      expect(logs.map((r) => [r['Body'], r['TraceId'], r['SpanId'], r['EventName']])).toEqual([['slow upstream: 400 ms', '', '', '']]);
    });
  }
});

describe('what a tier keeps of the GenAI data', () => {
  it('full stores the event name of every GenAI event, from the field or the event_name attribute', () => {
    const logs = stored.get('full')!['otel_logs']!;
    const names = logs.map((r) => [r['ScopeName'], r['EventName'] || (r['LogAttributes'] as Record<string, string>)['event_name'] || '']);
    expect(names.filter(([, n]) => n !== '').map(([s, n]) => `${String(s)} ${String(n)}`).sort()).toEqual([
      'litellm gen_ai.content.completion',
      'litellm gen_ai.content.prompt',
      'opentelemetry.instrumentation.openai.v1 gen_ai.choice',
      'opentelemetry.instrumentation.openai.v1 gen_ai.user.message',
      'opentelemetry.instrumentation.openai_v2 gen_ai.choice',
      'opentelemetry.instrumentation.openai_v2 gen_ai.user.message',
    ]);
  });

  it.each(['lunos', 'luntrex'])('%s keeps the LLM metadata of every convention, and no GenAI event', (tier) => {
    const d = stored.get(tier)!;
    const attrs = (name: string) => d['otel_traces']!.find((r) => r['SpanName'] === name)!['SpanAttributes'] as Record<string, string>;
    expect(attrs('ChatCompletion')).toMatchObject({ 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini-2024-07-18', 'llm.provider': 'openai', 'llm.token_count.prompt': '19', 'llm.token_count.completion': '7' });
    expect(Object.keys(attrs('ChatCompletion'))).not.toContain('input.value');
    expect(attrs('litellm_request')).toMatchObject({ 'gen_ai.system': 'openai', 'llm.request.type': 'acompletion', 'gen_ai.usage.input_tokens': '22', 'llm.is_streaming': 'False' });
    expect(attrs('openai.chat')).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': '13', 'gen_ai.is_streaming': 'false' });
    expect(Object.keys(attrs('raw_gen_ai_request'))).toEqual([]);
    expect(d['otel_logs']!.map((r) => r['Body'])).toEqual(['slow upstream: 400 ms']);
  });
});

const dash = async (tenant: string) => {
  const r = await c.api('GET', `/api/tenants/${tenant}/dashboard?${RANGE}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const { tenant: _t, tier: _tier, requestData: _r, sources: _s, retention: _retention, ...figures } = r.body as Record<string, unknown>;
  return figures as { totals: Record<string, number>; byModel: Array<Record<string, unknown>> };
};

describe('counting: each client once, tokens and model from its LLM call', () => {
  it.each(CLIENTS.map((client) => ({ client: client.client, shape: client })))('$client: the same figures from summary and full', async ({ shape }) => {
    const s = await dash(`${shape.client}-summary`);
    const f = await dash(`${shape.client}-full`);
    expect(s).toEqual(f);
    expect(s.totals).toMatchObject({ requests: shape.expect.requests, calls: shape.expect.calls, inputTokens: shape.expect.inputTokens, outputTokens: shape.expect.outputTokens });
    if (shape.expect.calls > 0) expect(s.byModel.find((m) => m['model'] === shape.expect.model)).toMatchObject({ calls: shape.expect.calls, inputTokens: shape.expect.inputTokens });
  });

  it('every client into one tenant: summary and full agree and add up', async () => {
    const s = await dash('genai-summary');
    expect(s).toEqual(await dash('genai-full'));
    expect(s.totals).toMatchObject(expectedTotals());
  });

  it('one trace in two requests (children first, as SDK batch processors send them) counts the same', async () => {
    const fastapi = CLIENTS.find((x) => x.client === 'fastapi')!;
    for (const tier of ['summary', 'full']) {
      const { ingestKey } = await c.createTenant(`split-${tier}`, tier);
      await send(ingestKey, payloadsOf(fastapi, startOf(fastapi), 2, (sp) => sp.parent === 'g1' || sp.parent === 'g3'));
      await send(ingestKey, payloadsOf(fastapi, startOf(fastapi), 2, (sp) => sp.parent === undefined));
    }
    const s = await dash('split-summary');
    expect(s).toEqual(await dash('split-full'));
    expect(s.totals).toMatchObject({ requests: 1, calls: 1, inputTokens: 23, outputTokens: 9 });
  });
});

describe('the JS OTel SDK logs API with eventName (a real SDK, protobuf)', () => {
  it.each([
    { tier: 'full', stored: [['gen_ai.user.message', `{"content":"hi ${CONTENT_MARK}"}`], ['', 'plain line']] },
    { tier: 'lunos', stored: [['', 'plain line']] },
    { tier: 'minimal', stored: [['', 'plain line']] },
  ])('$tier stores $stored.length rows', async ({ tier, stored: want }) => {
    const tenant = `sdk-events-${tier}`;
    const { ingestKey } = await c.createTenant(tenant, tier);
    const client = sdkClient({ otlpUrl: c.otlpUrl, ingestKey, encoding: 'proto' });
    const logger = client.loggerProvider.getLogger('opentelemetry.instrumentation.openai_v2', '2.1b0');
    logger.emit({ timestamp: T0_MS, eventName: 'gen_ai.user.message', body: { content: `hi ${CONTENT_MARK}` }, attributes: { 'gen_ai.system': 'openai' } });
    logger.emit({ timestamp: T0_MS + 1, body: 'plain line' });
    await client.flush();
    await client.shutdown();
    const rows = await c.rows<{ EventName: string; Body: string }>(`SELECT EventName, Body FROM consentry.otel_logs WHERE TenantId = '${tenant}' ORDER BY Timestamp`);
    expect(rows.map((r) => [r.EventName, r.Body])).toEqual(want);
  });
});
