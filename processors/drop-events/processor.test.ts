import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { TEST_CTX, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { dropEvents, dropEventsSchema } from './processor.ts';

describe('drop-events', () => {
  it.each([
    { name: 'LogRecord.event_name, exact', log: testLog({}, { eventName: 'app.step' }), dropped: true },
    { name: 'event.name attribute, by prefix', log: testLog({ 'event.name': 'gen_ai.choice' }), dropped: true },
    { name: "LiteLLM's event_name attribute, by prefix", log: testLog({ event_name: 'gen_ai.content.prompt' }), dropped: true },
    { name: 'another name', log: testLog({}, { eventName: 'app.stepper' }), dropped: false },
    { name: 'a plain log line', log: testLog(), dropped: false },
  ])('log: $name: dropped $dropped', ({ log, dropped }) => {
    const { env, counts } = testEnv();
    const out = dropEvents.create({ names: ['app.step', 'gen_ai.*'] }, env)(testBatch({ logs: [log] }), TEST_CTX);
    expect(out.logs).toEqual(dropped ? [] : [log]);
    expect(counts.get('drop-events.logs') ?? 0).toBe(dropped ? 1 : 0);
  });

  it('drops span events by name and leaves spans without a match as they are', () => {
    const { env, counts } = testEnv();
    const hit = testSpan({}, { events: [{ timeUnixNano: 1n, name: 'gen_ai.content.prompt', attributes: {} }, { timeUnixNano: 2n, name: 'exception', attributes: {} }] });
    const miss = testSpan({}, { spanId: 'b7ad6b7169203332', events: [{ timeUnixNano: 1n, name: 'exception', attributes: {} }] });
    const out = dropEvents.create({ names: ['gen_ai.*'] }, env)(testBatch({ spans: [hit, miss] }), TEST_CTX);
    expect(out.spans[0]!.events.map((e) => e.name)).toEqual(['exception']);
    expect(out.spans[1]).toBe(miss);
    expect(counts.get('drop-events.span-events')).toBe(1);
  });

  it.each([
    { name: 'names', config: { names: ['gen_ai.*', 'x'] }, ok: true },
    { name: 'missing names', config: {}, ok: false },
    { name: 'empty names', config: { names: [] }, ok: false },
    { name: 'a star inside', config: { names: ['gen*ai'] }, ok: false },
    { name: 'only a star', config: { names: ['*'] }, ok: false },
    { name: 'unknown key', config: { names: ['x'], signals: ['logs'] }, ok: false },
  ])('config $name: valid $ok', ({ config, ok }) => {
    expect(Value.Check(dropEventsSchema, config)).toBe(ok);
  });
});
