// The interceptor against a real Consentry (in-process, embedded ClickHouse):
// requests through the example gateway arrive as spans with the Gateway
// conventions' attributes; what the tenant's tier drops never leaves the
// gateway (checked at a recording proxy in front of the OTLP port); and with
// Consentry down the gateway answers as before while drops are counted.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleGateway, type ExampleGateway } from '../../interceptor/example/gateway.ts';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { startRecordingProxy, type RecordingProxy } from './recording-proxy.ts';

let c: TestConsentry;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  c = await startTestConsentry();
});
afterAll(async () => {
  for (const o of open.reverse()) await o.close().catch(() => undefined);
  await c?.close();
});

/** Fast export for tests; everything else as a user gets it. */
const FAST = { scheduledDelayMillis: 20 };

async function gateway(consentryUrl: string, ingestKey: string, more: Record<string, number> = {}): Promise<ExampleGateway> {
  const gw = await startExampleGateway({ consentryUrl, ingestKey, interceptor: { ...FAST, ...more } });
  open.push(gw);
  return gw;
}

async function proxy(): Promise<RecordingProxy> {
  const p = await startRecordingProxy(c.otlpUrl);
  open.push(p);
  return p;
}

interface Call {
  status: number;
  text: string;
  ms: number;
}

async function call(gw: ExampleGateway, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Call> {
  const t0 = performance.now();
  const res = await fetch(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - t0 };
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
const chatStream = (content: string) => chat(content, { stream: true, stream_options: { include_usage: true } });
const claudeStream = (content: string) => ({ model: 'claude-3-5-sonnet-latest', max_tokens: 64, stream: true, messages: [{ role: 'user', content }] });

/** The usage object of the last SSE event carrying one (what the client saw). */
function lastUsage(text: string): Record<string, number> {
  const found = [...text.matchAll(/"usage":(\{[^}]*\})/g)];
  return JSON.parse(found[found.length - 1]![1]!) as Record<string, number>;
}

interface SpanRow {
  SpanName: string;
  SpanKind: string;
  StatusCode: string;
  TraceId: string;
  ParentSpanId: string;
  ServiceName: string;
  SpanAttributes: Record<string, string>;
  Tier: string;
}

async function spansOf(tenant: string, n: number): Promise<SpanRow[]> {
  const rows = await eventually(async () => {
    const r = await c.rows<SpanRow>(`SELECT SpanName, SpanKind, StatusCode, TraceId, ParentSpanId, ServiceName, SpanAttributes, Tier FROM consentry.otel_traces WHERE TenantId = '${tenant}'`);
    return r.length >= n ? r : undefined;
  });
  expect(rows, `${n} spans of ${tenant}`).toBeDefined();
  return rows!;
}

const BODY_OR_HEADER = /^(gateway\.(request|response)\.body|http\.(request|response)\.header\.)/;

describe('a request through the example gateway, tenant on full', () => {
  let gw: ExampleGateway;
  let json: Call;
  let stream: Call;
  let claude: Call;
  let failed: Call;
  let rows: SpanRow[];
  const sentJson = chat('What is the capital of France?');
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  beforeAll(async () => {
    const { ingestKey } = await c.createTenant('gw-full', 'full');
    gw = await gateway(c.otlpUrl, ingestKey);
    expect(await gw.interceptor.ready()).toBe(true);
    json = await call(gw, '/v1/chat/completions', sentJson, {
      'x-user-id': 'u-json',
      'user-agent': 'test-client/1.0',
      'x-forwarded-for': '203.0.113.9, 10.0.0.1',
      authorization: 'Bearer sk-proj-Abcdefghijklmnopqrstuvwxyz0123456789',
      traceparent,
    });
    stream = await call(gw, '/v1/chat/completions', chatStream('Stream me something'), { 'x-user-id': 'u-stream' });
    claude = await call(gw, '/v1/messages', claudeStream('Hello Claude'), { 'x-user-id': 'u-claude' });
    failed = await call(gw, '/v1/chat/completions', chat('boom', { model: 'fail' }), { 'x-user-id': 'u-fail' });
    // Outside any request: a standalone upstream call becomes a CLIENT span of its own.
    const f = gw.interceptor.wrapFetch(fetch);
    const direct = await f(`${gw.upstreamUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatStream('direct call')) });
    expect(await direct.text()).toContain('data: [DONE]');
    await gw.interceptor.flush();
    rows = await spansOf('gw-full', 5);
  });

  const byUser = (u: string) => rows.find((r) => r.SpanAttributes['user.id'] === u)!;

  it('leaves the gateway answering as the upstream does', () => {
    expect(json.status).toBe(200);
    expect(JSON.parse(json.text)).toMatchObject({ object: 'chat.completion', model: 'gpt-4o-mini-2024-07-18' });
    expect(stream.status).toBe(200);
    expect(stream.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(claude.text).toContain('event: message_stop');
    expect(failed.status).toBe(500);
  });

  it('stores a JSON request with the Gateway conventions\' attributes', () => {
    const row = byUser('u-json');
    const usage = (JSON.parse(json.text) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(row).toMatchObject({ SpanName: 'POST /v1/chat/completions', SpanKind: 'SPAN_KIND_SERVER', StatusCode: 'STATUS_CODE_UNSET', ServiceName: 'example-gateway', Tier: 'full' });
    // Joined the caller's trace (W3C traceparent).
    expect(row.TraceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(row.ParentSpanId).toBe('00f067aa0ba902b7');
    expect(row.SpanAttributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'url.path': '/v1/chat/completions',
      'url.full': `${gw.url}/v1/chat/completions`,
      'http.response.status_code': '200',
      'client.address': '127.0.0.1',
      'user_agent.original': 'test-client/1.0',
      'http.request.header.x-forwarded-for': '["203.0.113.9, 10.0.0.1"]',
      'http.request.header.content-type': '["application/json"]',
      'http.response.header.content-type': '["application/json; charset=utf-8"]',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': String(usage.prompt_tokens),
      'gen_ai.usage.output_tokens': String(usage.completion_tokens),
      'gateway.streaming': 'false',
      'gateway.request.body': JSON.stringify(sentJson),
      'gateway.response.body': json.text,
      'http.request.body.size': String(Buffer.byteLength(JSON.stringify(sentJson))),
      'http.response.body.size': String(Buffer.byteLength(json.text)),
      'user.id': 'u-json',
    });
    // The API key was sent for its HMAC and never stored.
    expect(row.SpanAttributes['gateway.api_key.hash']).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(row.SpanAttributes)).not.toContain('sk-proj-');
  });

  it('reads usage from the last event of an OpenAI stream', () => {
    const row = byUser('u-stream');
    const usage = lastUsage(stream.text);
    expect(row.SpanAttributes).toMatchObject({
      'gateway.streaming': 'true',
      'gen_ai.provider.name': 'openai',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': String(usage['prompt_tokens']),
      'gen_ai.usage.output_tokens': String(usage['completion_tokens']),
      'http.response.header.content-type': '["text/event-stream; charset=utf-8"]',
      'gateway.response.body': stream.text,
    });
  });

  it('reads usage from message_start and message_delta of an Anthropic stream', () => {
    const row = byUser('u-claude');
    const input = /"message_start".*?"input_tokens":(\d+)/.exec(claude.text)![1];
    const output = /"message_delta".*?"output_tokens":(\d+)/.exec(claude.text)![1];
    expect(row.SpanAttributes).toMatchObject({
      'http.route': '/v1/messages',
      'gateway.streaming': 'true',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-3-5-sonnet-latest',
      'gen_ai.response.model': 'claude-3-5-sonnet-20241022',
      'gen_ai.usage.input_tokens': input,
      'gen_ai.usage.output_tokens': output,
    });
  });

  it('marks a failed request as an error', () => {
    const row = byUser('u-fail');
    expect(row.StatusCode).toBe('STATUS_CODE_ERROR');
    expect(row.SpanAttributes).toMatchObject({ 'http.response.status_code': '500', 'error.type': '500' });
  });

  it('captures a standalone upstream call as a CLIENT span, and upstream calls inside requests as no span of their own', () => {
    const clients = rows.filter((r) => r.SpanKind === 'SPAN_KIND_CLIENT');
    expect(clients).toHaveLength(1);
    expect(clients[0]!.SpanAttributes).toMatchObject({
      'http.request.method': 'POST',
      'url.full': `${gw.upstreamUrl}/v1/chat/completions`,
      'server.address': '127.0.0.1',
      'http.response.status_code': '200',
      'gateway.streaming': 'true',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.provider.name': 'openai',
      'gateway.request.body': JSON.stringify(chatStream('direct call')),
    });
    expect(Number(clients[0]!.SpanAttributes['gen_ai.usage.output_tokens'])).toBeGreaterThan(0);
    expect(gw.interceptor.stats()).toMatchObject({ requests: 5, captured: 5, exported: 5, dropped: 0, captureErrors: 0, queued: 0 });
  });
});

describe('minimisation at the source, checked at the receiver', () => {
  it('minimal: no span leaves the gateway at all', async () => {
    const { ingestKey } = await c.createTenant('gw-min', 'minimal');
    const p = await proxy();
    const gw = await gateway(p.url, ingestKey);
    expect(await gw.interceptor.ready()).toBe(true);
    const calls = [await call(gw, '/v1/chat/completions', chat('private question')), await call(gw, '/v1/chat/completions', chatStream('private stream'))];
    expect(calls.map((x) => x.status)).toEqual([200, 200]);
    await gw.interceptor.flush();
    await new Promise((r) => setTimeout(r, 100));
    // The proxy did see the gateway (its policy request): it just sent no span.
    expect(p.requests.some((r) => r.path === '/v1/consentry/capture')).toBe(true);
    expect(p.traceRequests()).toEqual([]);
    expect(JSON.stringify(p.requests.map((r) => r.body.toString()))).not.toContain('private');
    expect(gw.interceptor.stats()).toMatchObject({ requests: 2, skippedByTier: 2, captured: 0, dropped: 0 });
  });

  it('summary: spans carry no body and no header, and still make the summary', async () => {
    const { ingestKey } = await c.createTenant('gw-sum', 'summary');
    const p = await proxy();
    const gw = await gateway(p.url, ingestKey);
    expect(await gw.interceptor.ready()).toBe(true);
    const plain = await call(gw, '/v1/chat/completions', chat('private question'), { authorization: 'Bearer sk-proj-Abcdefghijklmnopqrstuvwxyz0123456789' });
    const streamed = await call(gw, '/v1/chat/completions', chatStream('private stream'));
    await gw.interceptor.flush();
    const sent = p.spans();
    expect(sent).toHaveLength(2);
    for (const s of sent) {
      expect(Object.keys(s.attributes).filter((k) => BODY_OR_HEADER.test(k))).toEqual([]);
      expect(s.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'http.route': '/v1/chat/completions' });
    }
    expect(JSON.stringify(p.traceRequests().map((r) => r.body.toString()))).not.toMatch(/private|sk-proj/);
    const tokens = (JSON.parse(plain.text) as { usage: { prompt_tokens: number } }).usage.prompt_tokens + lastUsage(streamed.text)['prompt_tokens']!;
    const summary = await eventually(async () => {
      const r = await c.rows<{ requests: number | string; input: number | string }>(`SELECT sum(Requests) AS requests, sum(InputTokens) AS input FROM consentry.request_summaries WHERE TenantId = 'gw-sum'`);
      return Number(r[0]?.requests ?? 0) >= 2 ? r[0] : undefined;
    });
    expect({ requests: Number(summary!.requests), input: Number(summary!.input) }).toEqual({ requests: 2, input: tokens });
  });

  it('a tier switch reaches the gateway at its next refresh: full, then minimal', async () => {
    const { ingestKey } = await c.createTenant('gw-switch', 'full');
    const p = await proxy();
    const gw = await gateway(p.url, ingestKey, { policyRefreshMillis: 200 });
    expect(await gw.interceptor.ready()).toBe(true);
    await call(gw, '/v1/chat/completions', chat('before the switch'));
    await gw.interceptor.flush();
    expect(p.spans().map((s) => s.attributes['gateway.request.body'])).toEqual([JSON.stringify(chat('before the switch'))]);

    expect((await c.api('PUT', '/api/tenants/gw-switch/tier', { tier: 'minimal', reason: 'test' })).status).toBe(200);
    expect(await eventually(async () => gw.interceptor.stats().policy?.tier === 'minimal', 3000)).toBe(true);
    const before = p.traceRequests().length;
    expect((await call(gw, '/v1/chat/completions', chat('after the switch'))).status).toBe(200);
    await gw.interceptor.flush();
    expect(p.traceRequests().length).toBe(before);
  });
});

describe('with Consentry down', () => {
  const answer = (x: Call) => (JSON.parse(x.text) as { choices: [{ message: { content: string } }] }).choices[0].message.content;

  /** n requests at once, half streamed: all answered as when Consentry was up, and quickly. */
  async function burst(gw: ExampleGateway, n: number, expected: string): Promise<void> {
    const calls = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 === 0 ? call(gw, '/v1/chat/completions', chat('same question')) : call(gw, '/v1/chat/completions', chatStream('same question')))),
    );
    for (const [i, x] of calls.entries()) {
      expect(x.status).toBe(200);
      if (i % 2 === 0) expect(answer(x)).toBe(expected);
      else expect(x.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(x.ms).toBeLessThan(2000);
    }
  }

  async function upThenDown(tenant: string, down: (p: RecordingProxy) => Promise<void> | void) {
    const { ingestKey } = await c.createTenant(tenant, 'full');
    const p = await proxy();
    const gw = await gateway(p.url, ingestKey, { maxQueueSize: 4, maxExportBatchSize: 2, exportTimeoutMillis: 300 });
    expect(await gw.interceptor.ready()).toBe(true);
    const up = await call(gw, '/v1/chat/completions', chat('same question'));
    await gw.interceptor.flush();
    expect(gw.interceptor.stats()).toMatchObject({ exported: 1, dropped: 0 });
    await down(p);
    return { gw, expected: answer(up) };
  }

  /** Stats once every span captured while down is accounted for. */
  async function settled(gw: ExampleGateway, n: number) {
    const stats = await eventually(async () => {
      const s = gw.interceptor.stats();
      return s.queued === 0 && s.droppedBy.queueFull + s.droppedBy.exportFailed === n ? s : undefined;
    }, 5000);
    expect(stats, JSON.stringify(gw.interceptor.stats())).toBeDefined();
    expect(stats!).toMatchObject({ requests: n + 1, captured: n + 1, exported: 1, dropped: n, captureErrors: 0 });
    return stats!;
  }

  it('closed port: answers as before, the failed exports are counted', async () => {
    const { gw, expected } = await upThenDown('gw-down', (p) => p.close());
    await burst(gw, 12, expected);
    expect((await settled(gw, 12)).droppedBy.exportFailed).toBeGreaterThan(0);
  });

  it('hung (accepts, never answers): the queue stays bounded, what does not fit is dropped and counted', async () => {
    const { gw, expected } = await upThenDown('gw-hung', (p) => p.hang());
    await burst(gw, 12, expected);
    expect(gw.interceptor.stats().queued).toBeLessThanOrEqual(4);
    const s = await settled(gw, 12);
    expect(s.droppedBy.queueFull).toBeGreaterThan(0);
    expect(s.droppedBy.exportFailed).toBeGreaterThan(0);
  });

  it('down from the start: nothing is captured (fail closed), responses are unaffected, drops are counted', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const gw = await gateway(`http://127.0.0.1:${port}`, 'csk_ingest_whatever');
    expect(await gw.interceptor.ready()).toBe(false);
    const calls = [await call(gw, '/v1/chat/completions', chat('hi')), await call(gw, '/v1/messages', claudeStream('hi'))];
    expect(calls.map((x) => x.status)).toEqual([200, 200]);
    expect(calls[1]!.text).toContain('event: message_stop');
    const s = gw.interceptor.stats();
    expect(s).toMatchObject({ requests: 2, captured: 0, dropped: 2, droppedBy: { policyUnknown: 2, queueFull: 0, exportFailed: 0 }, policy: undefined });
    expect(s.policyError).toBeTruthy();
  });
});
