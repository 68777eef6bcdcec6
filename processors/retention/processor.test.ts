import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import { TEST_CTX, testBatch, testEnv, testLog } from '../testing/records.ts';
import { retention, retentionSchema } from './processor.ts';

type Config = Static<typeof retentionSchema>;
const { env } = testEnv();

function fixture(expireAt?: number): RecordBatch {
  const log = testLog({}, { body: 'hi' });
  const b = testBatch({ logs: [log, { ...log }] });
  if (expireAt !== undefined) b.expireAt = expireAt;
  return b;
}

// 2023-11-14T22:13:20.999Z: the fraction of a second is dropped.
const receivedAtMs = 1_700_000_000_999;
const cases: [string, Config, number | undefined, number | undefined][] = [
  ['30 days from receipt', { days: 30 }, undefined, 1_700_000_000 + 30 * 86400],
  ['1 day', { days: 1 }, undefined, 1_700_000_000 + 86400],
  ['maximum 36500 days', { days: 36500 }, undefined, 1_700_000_000 + 36500 * 86400],
  ['replaces an earlier expiry', { days: 7 }, 1, 1_700_000_000 + 7 * 86400],
  ['null keeps without expiry', { days: null }, undefined, undefined],
  ['absent keeps without expiry', {}, undefined, undefined],
  ['null unsets an earlier expiry', { days: null }, 1_800_000_000, undefined],
];

describe('retention', () => {
  it.each(cases)('%s', (_name, config, before, want) => {
    expect(Value.Check(retentionSchema, config)).toBe(true);
    const input = fixture(before);
    const snapshot = structuredClone(input);
    const ctx: BatchContext = { ...TEST_CTX, receivedAtMs };
    const out = retention.create(config, env)(input, ctx);

    expect(input).toEqual(snapshot); // purity
    expect(out.expireAt).toBe(want);
    expect('expireAt' in out).toBe(want !== undefined);
    expect(out.logs).toBe(input.logs);
    expect(out.logs[1]!.resource).toBe(out.logs[0]!.resource);
  });

  const invalid: [string, unknown, string, string][] = [
    ['zero', { days: 0 }, '/days', 'Expected union value'],
    ['negative', { days: -1 }, '/days', 'Expected union value'],
    ['fraction', { days: 1.5 }, '/days', 'Expected union value'],
    ['over 100 years', { days: 36501 }, '/days', 'Expected union value'],
    ['string', { days: '30' }, '/days', 'Expected union value'],
    ['unknown key', { hours: 1 }, '/hours', 'Unexpected property'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(retentionSchema, config)).toBe(false);
    expect([...Value.Errors(retentionSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });

  it('create refuses an invalid value even without validation', () => {
    expect(() => retention.create({ days: 0 }, env)).toThrow(/days/);
  });
});
