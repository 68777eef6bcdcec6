import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { TEST_CTX, testBatch, testEnv, testLog } from '../testing/records.ts';
import { dropRequestLogs, dropRequestLogsSchema } from './processor.ts';

describe('drop-request-logs', () => {
  it.each([
    { name: 'GenAI event by LogRecord.event_name', log: testLog({}, { eventName: 'gen_ai.user.message' }), kept: false },
    { name: 'GenAI event without content (openai-v2, capture off)', log: testLog({ 'gen_ai.system': 'openai' }, { eventName: 'gen_ai.choice', body: '{"index":0,"finish_reason":"stop"}' }), kept: false },
    { name: 'event by event.name attribute', log: testLog({ 'event.name': 'app.request.done' }), kept: false },
    { name: "LiteLLM's event_name attribute", log: testLog({ event_name: 'gen_ai.content.prompt' }), kept: false },
    { name: 'no event name, LLM metadata attributes', log: testLog({ 'llm.model_name': 'm' }), kept: false },
    { name: 'an operational event listed in keepEvents', log: testLog({}, { eventName: 'proxy.started' }), kept: true },
    { name: 'a listed event that carries LLM attributes', log: testLog({ 'gen_ai.system': 'openai' }, { eventName: 'proxy.started' }), kept: false },
    { name: 'a plain log line with trace context', log: testLog({ 'code.function': 'f', 'error.type': 'Timeout' }, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' }), kept: true },
  ])('$name: kept $kept', ({ log, kept }) => {
    const { env, counts } = testEnv();
    const input = testBatch({ logs: [log] });
    const out = dropRequestLogs.create({ keepEvents: ['proxy.started'] }, env)(input, TEST_CTX);
    expect(out.logs).toEqual(kept ? [log] : []);
    expect(counts.get('drop-request-logs.logs') ?? 0).toBe(kept ? 0 : 1);
    if (kept) expect(out).toBe(input);
  });

  it.each([
    { name: 'empty', config: {}, ok: true },
    { name: 'keepEvents', config: { keepEvents: ['proxy.started'] }, ok: true },
    { name: 'repeated name', config: { keepEvents: ['a', 'a'] }, ok: false },
    { name: 'unknown key', config: { operational: [] }, ok: false },
  ])('config $name: valid $ok', ({ config, ok }) => {
    expect(Value.Check(dropRequestLogsSchema, config)).toBe(ok);
  });
});
