import { describe, expect, it } from 'vitest';
import { SpanFlags, SpanKind, type Attributes } from '../../core/record.ts';
import { TEST_CTX, testBatch, testSpan } from '../testing/records.ts';
import { callCostPico, COST_ATTRIBUTE, createCostStage, usdText } from './processor.ts';
import { parsePriceTable } from './prices.ts';

const problems: string[] = [];
const PRICES = parsePriceTable(
  'test.yaml',
  `version: test
providers: { openai: [openai], anthropic: [anthropic] }
models:
  - { provider: openai, model: gpt-4o, input: 2.5, output: 10, date: "2026-12-06", source: "https://example.com" }
  - { provider: openai, model: text-embedding-3-small, input: 0.02, output: 0, date: "2026-12-06", source: "https://example.com" }
  - { provider: anthropic, model: claude-opus-4, input: 15, output: 75, date: "2026-12-06", source: "https://example.com" }
`,
  problems,
)!;

describe('cost of one call', () => {
  it.each<[string, Attributes, bigint | undefined]>([
    ['input and output tokens', { 'gen_ai.provider.name': 'openai', 'gen_ai.response.model': 'gpt-4o-2024-08-06', 'gen_ai.usage.input_tokens': '1000', 'gen_ai.usage.output_tokens': '200' }, 1000n * 2_500_000n + 200n * 10_000_000n],
    ['deprecated names (gen_ai.system, prompt/completion tokens)', { 'gen_ai.system': 'anthropic', 'gen_ai.request.model': 'claude-opus-4-20250514', 'gen_ai.usage.prompt_tokens': '3', 'gen_ai.usage.completion_tokens': '4' }, 3n * 15_000_000n + 4n * 75_000_000n],
    ['OpenInference names', { 'llm.provider': 'openai', 'llm.model_name': 'gpt-4o', 'llm.token_count.prompt': '10', 'llm.token_count.completion': '1' }, 10n * 2_500_000n + 10_000_000n],
    ['the model that answered, not the one asked for', { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'claude-opus-4', 'gen_ai.usage.input_tokens': '1' }, 15_000_000n],
    ['an embedding: input only', { 'gen_ai.request.model': 'text-embedding-3-small', 'gen_ai.usage.input_tokens': '64' }, 64n * 20_000n],
    ['a priced model without tokens costs nothing (priced, not unknown)', { 'gen_ai.request.model': 'gpt-4o' }, 0n],
    ['tokens that are not counts count 0', { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 'many', 'gen_ai.usage.output_tokens': '-3' }, 0n],
    ['huge token counts stay exact', { 'gen_ai.request.model': 'claude-opus-4', 'gen_ai.usage.output_tokens': '9007199254740993' }, 9007199254740992n * 75_000_000n],
    ['unknown model: unpriced', { 'gen_ai.request.model': 'gpt-7', 'gen_ai.usage.input_tokens': '10' }, undefined],
    ['no model: unpriced', { 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': '10' }, undefined],
    ['a provider the table does not price: unpriced', { 'gen_ai.provider.name': 'aws.bedrock', 'gen_ai.request.model': 'claude-opus-4', 'gen_ai.usage.input_tokens': '10' }, undefined],
  ])('%s', (_name, attrs, want) => {
    expect(problems).toEqual([]);
    expect(callCostPico(PRICES, attrs)).toBe(want);
  });

  it.each([
    [0n, '0'],
    [1n, '0.000000000001'],
    [450_000_000n, '0.00045'],
    [2_500_000_000_000n, '2.5'],
    [12_345_678_901_234_567_890n, '12345678.90123456789'],
  ])('usdText(%s) = %s', (pico, text) => {
    expect(usdText(pico)).toBe(text);
  });
});

describe('the cost stage', () => {
  const stage = createCostStage(PRICES);
  const call = { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': '100', 'gen_ai.usage.output_tokens': '10' };

  it('writes gateway.cost.usd on call spans, by the counting rule, and nowhere else', () => {
    const spans = [
      testSpan(call), // a gateway SERVER root naming a model: a request and a call
      testSpan({ ...call, 'gen_ai.operation.name': 'chat' }, { kind: SpanKind.CLIENT, parentSpanId: 'a'.repeat(16), flags: SpanFlags.HAS_IS_REMOTE, spanId: 'c'.repeat(16) }), // an instrumented call inside an app
      testSpan(call, { kind: SpanKind.CLIENT, parentSpanId: 'b'.repeat(16), flags: SpanFlags.HAS_IS_REMOTE, spanId: 'd'.repeat(16) }), // a gateway's upstream leg repeating its SERVER span: no call
      testSpan({ 'http.route': '/health' }, { spanId: 'e'.repeat(16) }), // a request, no call
    ];
    const out = stage(testBatch({ spans }), TEST_CTX);
    expect(out.spans.map((s) => s.attributes[COST_ATTRIBUTE])).toEqual(['0.00035', '0.00035', undefined, undefined]);
    // Pure: the input is untouched, spans without a change are the same objects.
    expect(spans[0]!.attributes[COST_ATTRIBUTE]).toBeUndefined();
    expect(out.spans[3]).toBe(spans[3]);
  });

  it('a call whose model has no price costs unknown (unpriced, not free)', () => {
    const out = stage(testBatch({ spans: [testSpan({ ...call, 'gen_ai.request.model': 'gpt-7' }), testSpan({ 'gen_ai.provider.name': 'openai', 'gen_ai.operation.name': 'chat' })] }), TEST_CTX);
    expect(out.spans.map((s) => s.attributes[COST_ATTRIBUTE])).toEqual(['unknown', 'unknown']);
  });

  it('replaces or removes a gateway.cost.usd the sender put there: only Consentry says what a call cost', () => {
    const spans = [
      testSpan({ ...call, [COST_ATTRIBUTE]: '0' }),
      testSpan({ ...call, 'gen_ai.request.model': 'gpt-7', [COST_ATTRIBUTE]: '0.01' }, { spanId: 'f'.repeat(16) }),
      testSpan({ 'http.route': '/x', [COST_ATTRIBUTE]: '99' }, { spanId: '1'.repeat(16) }),
    ];
    const out = stage(testBatch({ spans }), TEST_CTX);
    expect(out.spans.map((s) => s.attributes[COST_ATTRIBUTE])).toEqual(['0.00035', 'unknown', undefined]);
    expect(out.spans[2]!.attributes).toEqual({ 'http.route': '/x' });
  });
});
