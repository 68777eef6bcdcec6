import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Attributes, LogRecord, SpanRecord } from '../../core/record.ts';
import { TEST_CTX, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { dropContent, dropContentSchema } from './processor.ts';

const run = (input: { spans?: SpanRecord[]; logs?: LogRecord[] }, config = {}) => {
  const { env, counts } = testEnv();
  const batch = testBatch(input);
  const before = structuredClone(batch);
  const out = dropContent.create(config, env)(batch, TEST_CTX);
  expect(batch).toEqual(before); // purity
  return { out, counts };
};

describe('drop-content: spans', () => {
  it.each<{ name: string; attrs: Attributes; kept: string[] }>([
    { name: 'GenAI messages', attrs: { 'gen_ai.input.messages': '[..]', 'gen_ai.output.messages': '[..]', 'gen_ai.request.model': 'm' }, kept: ['gen_ai.request.model'] },
    { name: 'deprecated prompts, flattened', attrs: { 'gen_ai.prompt.0.content': 'q', 'gen_ai.completion.0.content': 'a', 'gen_ai.system': 'openai' }, kept: ['gen_ai.system'] },
    { name: 'OpenInference', attrs: { 'input.value': 'q', 'output.value': 'a', 'llm.input_messages.0.message.content': 'q', 'llm.model_name': 'm', 'llm.token_count.prompt': '3' }, kept: ['llm.model_name', 'llm.token_count.prompt'] },
    { name: 'OpenLLMetry workflow', attrs: { 'traceloop.entity.input': 'q', 'traceloop.entity.output': 'a', 'traceloop.span.kind': 'workflow' }, kept: ['traceloop.span.kind'] },
    { name: "LiteLLM's raw request span", attrs: { 'llm.openai.messages': 'q', 'llm.openai.choices': 'a', 'llm.openai.model': 'm' }, kept: ['llm.openai.model'] },
    { name: 'gateway bodies and headers, but User-Agent', attrs: { 'gateway.request.body': 'b', 'http.request.header.cookie': 'c', 'http.request.header.user-agent': 'ua', 'http.route': '/x' }, kept: ['http.request.header.user-agent', 'http.route'] },
  ])('$name', ({ attrs, kept }) => {
    const { out, counts } = run({ spans: [testSpan(attrs)] });
    expect(Object.keys(out.spans[0]!.attributes)).toEqual(kept);
    expect(counts.get('drop-content.attributes')).toBe(Object.keys(attrs).length - kept.length);
  });

  it('removes GenAI span events whole and content attributes of the others', () => {
    const span = testSpan(
      {},
      {
        events: [
          { timeUnixNano: 1n, name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': 'q' } },
          { timeUnixNano: 2n, name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': 'a' } },
          { timeUnixNano: 3n, name: 'exception', attributes: { 'exception.type': 'E', 'input.value': 'q' } },
        ],
      },
    );
    const { out, counts } = run({ spans: [span] });
    expect(out.spans[0]!.events).toEqual([{ timeUnixNano: 3n, name: 'exception', attributes: { 'exception.type': 'E' } }]);
    expect(counts.get('drop-content.span-events')).toBe(2);
  });

  it('returns a span without content as the same object', () => {
    const span = testSpan({ 'http.route': '/x' }, { events: [{ timeUnixNano: 1n, name: 'exception', attributes: { 'exception.type': 'E' } }] });
    expect(run({ spans: [span] }).out.spans[0]).toBe(span);
  });
});

describe('drop-content: logs', () => {
  it.each([
    { name: 'gen_ai.user.message by LogRecord.event_name', log: testLog({ 'gen_ai.system': 'openai' }, { eventName: 'gen_ai.user.message', body: '{"content":"q"}' }), want: undefined },
    { name: 'gen_ai.choice by event.name attribute', log: testLog({ 'event.name': 'gen_ai.choice' }, { body: '{"message":{"content":"a"}}' }), want: undefined },
    { name: "LiteLLM's gen_ai.content.prompt by event_name attribute", log: testLog({ event_name: 'gen_ai.content.prompt', 'gen_ai.prompt': 'q' }, { body: '{"content":"q"}' }), want: undefined },
    { name: 'an unknown event: body dropped (fail closed)', log: testLog({}, { eventName: 'app.answer', body: 'the answer text' }), want: { body: '', attributes: {} } },
    { name: 'an unknown event listed in keepBodies', log: testLog({}, { eventName: 'proxy.started', body: 'listening on 8000' }), want: { body: 'listening on 8000', attributes: {} } },
    { name: 'no event name but LLM attributes: body dropped', log: testLog({ 'llm.model_name': 'm', 'input.value': 'q' }, { body: 'prompt text' }), want: { body: '', attributes: { 'llm.model_name': 'm' } } },
    { name: 'a plain log line keeps its body', log: testLog({ 'code.function': 'f', 'http.request.header.authorization': '[REDACTED:bearer]' }, { body: 'upstream slow' }), want: { body: 'upstream slow', attributes: { 'code.function': 'f' } } },
  ])('$name', ({ log, want }) => {
    const { out } = run({ logs: [log] }, { keepBodies: ['proxy.started'] });
    if (want === undefined) expect(out.logs).toEqual([]);
    else expect(out.logs).toEqual([{ ...log, ...want }]);
  });

  it('counts dropped records and cleared bodies', () => {
    const { counts } = run({ logs: [testLog({}, { eventName: 'gen_ai.choice' }), testLog({}, { eventName: 'x', body: 'b' }), testLog({}, { eventName: 'y', body: '' })] });
    expect([counts.get('drop-content.logs'), counts.get('drop-content.bodies')]).toEqual([1, 1]);
  });
});

describe('drop-content: config', () => {
  it.each([
    { name: 'empty', config: {}, ok: true },
    { name: 'keepBodies', config: { keepBodies: ['proxy.started'] }, ok: true },
    { name: 'empty name', config: { keepBodies: [''] }, ok: false },
    { name: 'unknown key', config: { keep: [] }, ok: false },
  ])('$name: valid $ok', ({ config, ok }) => {
    expect(Value.Check(dropContentSchema, config)).toBe(ok);
  });
});
