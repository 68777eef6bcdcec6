// Unit tests of the interceptor's pure parts: LLM usage from JSON and SSE,
// body cutting, capture-policy parsing, header selection and options.
import { describe, expect, it } from 'vitest';
import { BodyObserver, cutBody, parseModeOf } from '../../interceptor/body.ts';
import { requestHeaderAttributes, responseHeaderAttributes, safeUrl } from '../../interceptor/capture.ts';
import { resolveOptions, type InterceptorOptions } from '../../interceptor/config.ts';
import { parsePolicy, type CapturePolicy } from '../../interceptor/policy.ts';
import { providerOfHost, SseUsageScanner, usageFromJson, type LlmUsage } from '../../interceptor/usage.ts';

const sse = (events: unknown[], named = false): string =>
  events.map((e) => (named ? `event: ${(e as { type: string }).type}\n` : '') + `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');

const openaiStream = sse([
  { id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }], usage: null },
  { id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta: { content: 'Hi' } }], usage: null },
  { id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null },
  { id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices: [], usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } },
  '[DONE]',
]);

const anthropicStream = sse(
  [
    { type: 'message_start', message: { id: 'm1', type: 'message', model: 'claude-sonnet-4-20250514', usage: { input_tokens: 25, output_tokens: 1, cache_read_input_tokens: 100 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 15 } },
    { type: 'message_stop' },
  ],
  true,
);

describe('usage from JSON responses', () => {
  it.each<[string, unknown, LlmUsage]>([
    ['OpenAI chat completion', { object: 'chat.completion', model: 'gpt-4o-mini-2024-07-18', usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } }, { provider: 'openai', responseModel: 'gpt-4o-mini-2024-07-18', inputTokens: 10, outputTokens: 20 }],
    ['OpenAI responses API', { object: 'response', model: 'gpt-4.1', usage: { input_tokens: 7, output_tokens: 9 } }, { provider: 'openai', responseModel: 'gpt-4.1', inputTokens: 7, outputTokens: 9 }],
    [
      'Anthropic message with cache tokens (input includes them)',
      { type: 'message', model: 'claude-3-5-haiku-20241022', usage: { input_tokens: 4, output_tokens: 8, cache_read_input_tokens: 10, cache_creation_input_tokens: 2 } },
      { provider: 'anthropic', responseModel: 'claude-3-5-haiku-20241022', inputTokens: 16, outputTokens: 8, cacheReadInputTokens: 10, cacheCreationInputTokens: 2 },
    ],
    ['an error body', { error: { message: 'nope' } }, {}],
    ['negative and non-numeric counts are ignored', { usage: { prompt_tokens: -1, completion_tokens: 'x' } }, {}],
  ])('%s', (_name, body, expected) => {
    expect(usageFromJson(JSON.stringify(body))).toEqual(expected);
  });

  it('is undefined for a body that is not JSON', () => {
    expect(usageFromJson('<html>')).toBeUndefined();
  });
});

describe('usage from SSE streams', () => {
  const chunked = (text: string, size: number): string[] => {
    const out: string[] = [];
    for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
    return out;
  };

  it.each<[string, string, LlmUsage]>([
    ['OpenAI with stream_options.include_usage', openaiStream, { provider: 'openai', responseModel: 'gpt-4o-2024-08-06', inputTokens: 12, outputTokens: 3 }],
    ['Anthropic message_start + message_delta', anthropicStream, { provider: 'anthropic', responseModel: 'claude-sonnet-4-20250514', inputTokens: 125, outputTokens: 15, cacheReadInputTokens: 100 }],
    ['OpenAI without usage', sse([{ object: 'chat.completion.chunk', model: 'gpt-4o', choices: [] }, '[DONE]']), { provider: 'openai', responseModel: 'gpt-4o' }],
    ['CRLF line ends', openaiStream.replaceAll('\n', '\r\n'), { provider: 'openai', responseModel: 'gpt-4o-2024-08-06', inputTokens: 12, outputTokens: 3 }],
    ['a last line without its newline', 'data: {"usage":{"prompt_tokens":1,"completion_tokens":2}}', { inputTokens: 1, outputTokens: 2 }],
  ])('%s, whatever the chunk boundaries', (_name, text, expected) => {
    for (const size of [1, 7, 64, text.length]) {
      const s = new SseUsageScanner();
      for (const c of chunked(text, size)) s.push(c);
      s.end();
      expect(s.usage).toEqual(expected);
    }
  });

  it('through a BodyObserver fed bytes split inside multi-byte characters', () => {
    const text = sse([{ object: 'chat.completion.chunk', model: 'gpt-4o', choices: [{ delta: { content: 'héllo wörld ✓' } }] }, { choices: [], usage: { prompt_tokens: 5, completion_tokens: 6 } }]);
    const bytes = Buffer.from(text);
    const o = new BodyObserver({ keepBytes: 20, parse: 'sse', maxParseBytes: 0 });
    for (let i = 0; i < bytes.length; i += 3) o.push(bytes.subarray(i, i + 3));
    o.end();
    expect(o.usage()).toMatchObject({ inputTokens: 5, outputTokens: 6, responseModel: 'gpt-4o' });
    expect(o.body()).toEqual({ text: text.slice(0, 20), truncated: true, size: bytes.length });
  });
});

describe('bodies', () => {
  it.each<[string, string, number, { text: string; truncated: boolean; size: number }]>([
    ['short', 'hello', 10, { text: 'hello', truncated: false, size: 5 }],
    ['cut at the limit', 'hello world', 5, { text: 'hello', truncated: true, size: 11 }],
    ['never inside a character', 'aé✓', 4, { text: 'aé', truncated: true, size: 6 }],
    ['0 keeps nothing', 'abc', 0, { text: '', truncated: true, size: 3 }],
  ])('%s', (_name, body, max, expected) => {
    expect(cutBody(body, max)).toEqual(expected);
    expect(cutBody(Buffer.from(body), max)).toEqual(expected);
  });

  it('a JSON body over maxParseBytes is not parsed', () => {
    const o = new BodyObserver({ keepBytes: 0, parse: 'json', maxParseBytes: 10 });
    o.push(JSON.stringify({ usage: { prompt_tokens: 1 } }));
    o.end();
    expect(o.usage()).toBeUndefined();
    expect(o.body()).toBeUndefined();
  });

  it.each([
    ['text/event-stream; charset=utf-8', 'sse'],
    ['application/json', 'json'],
    ['application/vnd.api+json', 'json'],
    ['image/png', 'none'],
    [undefined, 'none'],
  ])('parse mode of %s is %s', (ct, mode) => {
    expect(parseModeOf(ct)).toBe(mode);
  });
});

describe('what leaves the gateway', () => {
  const policy = (p: Partial<CapturePolicy>): CapturePolicy => ({ tier: 't', spans: true, bodies: false, headers: false, apiKeys: false, ttlSeconds: 10, ...p });
  const headers: [string, string | string[]][] = [
    ['Content-Type', 'application/json'],
    ['x-forwarded-for', '203.0.113.7'],
    ['cookie', 'session=abc'],
    ['x-auth-token', 'tok'],
    ['x-api-key', 'sk-ant-123'],
    ['authorization', 'Bearer sk-123'],
  ];

  it.each<[string, Partial<CapturePolicy>, string[]]>([
    ['headers and API keys: plain headers and only the key the collector hashes', { headers: true, apiKeys: true }, ['content-type', 'x-forwarded-for', 'authorization']],
    ['headers without API keys: no credential at all', { headers: true }, ['content-type', 'x-forwarded-for']],
    ['API keys only (lunos, luntrex): just that header', { apiKeys: true }, ['authorization']],
    ['neither (summary): nothing', {}, []],
  ])('%s', (_name, p, expected) => {
    const a: Record<string, unknown> = {};
    requestHeaderAttributes(headers, policy(p), a as never);
    expect(Object.keys(a).map((k) => k.replace('http.request.header.', ''))).toEqual(expected);
    if (expected.includes('content-type')) expect(a['http.request.header.content-type']).toEqual(['application/json']);
  });

  it('response headers: never Set-Cookie', () => {
    const a: Record<string, unknown> = {};
    responseHeaderAttributes([['content-type', 'text/plain'], ['set-cookie', ['a=1', 'b=2']]], policy({ headers: true, apiKeys: true }), a as never);
    expect(a).toEqual({ 'http.response.header.content-type': ['text/plain'] });
  });

  it('url.full without user and password', () => {
    expect(safeUrl(new URL('https://user:pw@api.example.com/v1?x=1'))).toBe('https://api.example.com/v1?x=1');
  });

  it.each([
    ['api.openai.com', 'openai'],
    ['api.anthropic.com', 'anthropic'],
    ['myres.openai.azure.com', 'azure.ai.openai'],
    ['bedrock-runtime.us-east-1.amazonaws.com', 'aws.bedrock'],
    ['127.0.0.1', undefined],
  ])('provider of %s is %s', (host, provider) => {
    expect(providerOfHost(host)).toBe(provider);
  });
});

describe('capture policy answers', () => {
  it('fails closed: missing or non-boolean flags read as false', () => {
    expect(parsePolicy({ tier: 'x', spans: 'yes', bodies: 1 })).toEqual({ tier: 'x', spans: false, bodies: false, headers: false, apiKeys: false, ttlSeconds: 10 });
    expect(parsePolicy(null)).toBe('capture policy is not a JSON object');
  });
});

describe('options', () => {
  it('applies defaults and trims the URL', () => {
    const r = resolveOptions({ url: 'http://127.0.0.1:4318/', ingestKey: 'k' });
    expect(r).toMatchObject({ url: 'http://127.0.0.1:4318', serviceName: 'gateway', maxBodyBytes: 65536, maxQueueSize: 2048, compression: 'gzip' });
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['missing url and key', {}, ['url: must be the http(s) URL', 'ingestKey: must be a non-empty string']],
    ['unknown key', { url: 'http://x', ingestKey: 'k', maxBody: 1 }, ['maxBody: unknown option']],
    ['bad values, all reported', { url: 'ftp://x', ingestKey: 'k', maxQueueSize: 0, compression: 'br', userId: 3 }, ['url: must be an http(s) URL', 'userId: must be a header name or a function', 'maxQueueSize: must be an integer from 1', 'compression: must be "gzip" or "none"']],
    ['batch larger than queue', { url: 'http://x', ingestKey: 'k', maxQueueSize: 10, maxExportBatchSize: 20 }, ['maxExportBatchSize: must be at most maxQueueSize (10)']],
  ])('rejects %s', (_name, options, messages) => {
    let problems: string[] = [];
    try {
      resolveOptions(options as unknown as InterceptorOptions);
    } catch (err) {
      problems = (err as { problems: string[] }).problems;
    }
    expect(problems).toHaveLength(messages.length);
    messages.forEach((m, i) => expect(problems[i]).toContain(m));
  });
});

describe('lifecycle', () => {
  it('shutdown right after creation, twice, is safe; nothing is captured afterwards', async () => {
    const { createInterceptor } = await import('../../interceptor/index.ts');
    const i = createInterceptor({ url: 'http://127.0.0.1:9', ingestKey: 'k', policyRefreshMillis: 100 });
    await i.shutdown(100);
    await i.shutdown(100);
    expect(await i.ready()).toBe(false);
    const fake: typeof fetch = async () => new Response('ok');
    const f = i.wrapFetch(fake);
    expect(await (await f('http://127.0.0.1:9/x')).text()).toBe('ok');
    expect(i.stats()).toMatchObject({ requests: 0, captured: 0, dropped: 0, queued: 0 });
  });
});
