import { describe, expect, it } from 'vitest';
import { testLog } from '../testing/records.ts';
import { CONTENT_ATTRIBUTE, GATEWAY_CONTENT_ATTRIBUTE, LLM_METADATA_ATTRIBUTE, OTHER, classifyAttribute, eventNameOf, hasLlmAttributes, isLlmEvent, withoutContent } from './classify.ts';
import { CONTENT, NOT_CONTENT } from './content.ts';
import { LLM_METADATA } from './genai.ts';

describe('classifyAttribute', () => {
  it.each([
    // GenAI, current and deprecated
    ['gen_ai.input.messages', CONTENT_ATTRIBUTE],
    ['gen_ai.output.messages', CONTENT_ATTRIBUTE],
    ['gen_ai.system_instructions', CONTENT_ATTRIBUTE],
    ['gen_ai.tool.definitions', CONTENT_ATTRIBUTE],
    ['gen_ai.tool.call.arguments', CONTENT_ATTRIBUTE],
    ['gen_ai.prompt', CONTENT_ATTRIBUTE],
    ['gen_ai.prompt.0.content', CONTENT_ATTRIBUTE],
    ['gen_ai.completion.0.function_call.arguments', CONTENT_ATTRIBUTE],
    ['gen_ai.provider.name', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.system', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.usage.input_tokens', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.usage.prompt_tokens', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.usage.cache_read.input_tokens', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.response.finish_reasons', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.response.id', OTHER],
    // OpenLLMetry
    ['traceloop.entity.input', CONTENT_ATTRIBUTE],
    ['traceloop.prompt.template_variables.city', CONTENT_ATTRIBUTE],
    ['gen_ai.headers', CONTENT_ATTRIBUTE],
    ['llm.request.functions.0.parameters', CONTENT_ATTRIBUTE],
    ['llm.usage.total_tokens', LLM_METADATA_ATTRIBUTE],
    ['llm.is_streaming', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.is_streaming', LLM_METADATA_ATTRIBUTE],
    ['llm.request.type', LLM_METADATA_ATTRIBUTE],
    // OpenInference
    ['input.value', CONTENT_ATTRIBUTE],
    ['output.value', CONTENT_ATTRIBUTE],
    ['input.mime_type', OTHER],
    ['llm.input_messages.0.message.content', CONTENT_ATTRIBUTE],
    ['llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments', CONTENT_ATTRIBUTE],
    ['llm.model_name', LLM_METADATA_ATTRIBUTE],
    ['llm.token_count.prompt', LLM_METADATA_ATTRIBUTE],
    ['llm.token_count.prompt_details.cache_read', LLM_METADATA_ATTRIBUTE],
    ['llm.cost.prompt', LLM_METADATA_ATTRIBUTE],
    ['openinference.span.kind', LLM_METADATA_ATTRIBUTE],
    ['retrieval.documents.0.document.content', CONTENT_ATTRIBUTE],
    // LiteLLM's raw request span: llm.<provider>.<field>, one segment in the middle
    ['llm.openai.messages', CONTENT_ATTRIBUTE],
    ['llm.anthropic.system', CONTENT_ATTRIBUTE],
    ['llm.openai.choices', CONTENT_ATTRIBUTE],
    ['llm.openai.model', OTHER],
    ['llm.openai.usage', OTHER],
    ['llm.a.b.messages', OTHER],
    ['llm..messages', OTHER], // the middle segment is a provider name, never empty
    ['llm.system', LLM_METADATA_ATTRIBUTE],
    ['gen_ai.cost.total_cost', LLM_METADATA_ATTRIBUTE],
    // Gateway conventions
    ['gateway.request.body', GATEWAY_CONTENT_ATTRIBUTE],
    ['http.request.header.x-custom', GATEWAY_CONTENT_ATTRIBUTE],
    ['http.request.header.user-agent', OTHER],
    ['http.response.header.content-type', OTHER],
    ['gateway.streaming', LLM_METADATA_ATTRIBUTE],
    // Generic
    ['error.type', OTHER],
    ['http.route', OTHER],
    ['user.id', OTHER],
  ] as const)('%s -> %i', (key, want) => {
    expect(classifyAttribute(key)).toBe(want);
    expect(classifyAttribute(key)).toBe(want); // memoised answer, the same
  });

  it('classifies every exact key of the content table as content, and no metadata key as content', () => {
    for (const r of CONTENT.filter((x) => x.where === 'attribute' && !x.match.includes('*'))) expect([CONTENT_ATTRIBUTE, GATEWAY_CONTENT_ATTRIBUTE], r.match).toContain(classifyAttribute(r.match));
    for (const k of LLM_METADATA.keys) expect(classifyAttribute(k), k).not.toBe(CONTENT_ATTRIBUTE);
    for (const k of NOT_CONTENT) expect(classifyAttribute(k), k).toBe(OTHER);
  });
});

describe('events', () => {
  it.each([
    ['gen_ai.user.message', true],
    ['gen_ai.choice', true],
    ['gen_ai.client.inference.operation.details', true],
    ['gen_ai.content.prompt', true],
    ['gen_ai.some.future.event', true],
    ['exception', false],
    ['gateway.metadata', false],
    ['', false],
  ])('%s: LLM event %s', (name, want) => {
    expect(isLlmEvent(name)).toBe(want);
  });

  it.each([
    { name: 'LogRecord.event_name', log: testLog({ 'event.name': 'other' }, { eventName: 'gen_ai.choice' }), want: 'gen_ai.choice' },
    { name: 'event.name attribute (Events API before the field)', log: testLog({ 'event.name': 'gen_ai.user.message' }), want: 'gen_ai.user.message' },
    { name: "event_name attribute (LiteLLM's semantic logs)", log: testLog({ event_name: 'gen_ai.content.prompt' }), want: 'gen_ai.content.prompt' },
    { name: 'none: a plain log line', log: testLog({ 'code.function': 'f' }), want: '' },
  ])('eventNameOf: $name', ({ log, want }) => {
    expect(eventNameOf(log)).toBe(want);
  });

  it('hasLlmAttributes: LLM content or metadata, not a captured header or a generic key', () => {
    expect(hasLlmAttributes({ 'gen_ai.system': 'openai' })).toBe(true);
    expect(hasLlmAttributes({ 'input.value': 'x' })).toBe(true);
    expect(hasLlmAttributes({ 'http.request.header.authorization': 'x', 'error.type': 'E', 'code.function': 'f' })).toBe(false);
  });
});

describe('withoutContent', () => {
  it('removes content, counts it, and returns the same object when there is none', () => {
    const removed = { n: 0 };
    const clean = { 'gen_ai.system': 'openai', 'http.route': '/x' };
    expect(withoutContent(clean, removed)).toBe(clean);
    expect(withoutContent({ a: '1', 'input.value': 'q', 'gateway.request.body': 'b', 'llm.model_name': 'm' }, removed)).toEqual({ a: '1', 'llm.model_name': 'm' });
    expect(removed.n).toBe(2);
  });
});
