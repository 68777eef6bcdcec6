import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import { TEST_CTX, testBatch, testEnv, testLog } from '../testing/records.ts';
import { contentExpiry, retention, retentionSchema } from './processor.ts';

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
    expect('contentExpireAt' in out).toBe(false);
  });

  // Received 2023-11-14T22:13:20Z: content expires at 00:00 UTC of the day N days later.
  const MIDNIGHT_NOV_14 = 1_699_920_000;
  const contentCases: [string, Config, number | undefined, number | undefined][] = [
    ['content 7 days, rows 30', { days: 30, contentDays: 7 }, 1_700_000_000 + 30 * 86400, MIDNIGHT_NOV_14 + 7 * 86400],
    ['content 1 day: at most a day, lost at the next midnight', { days: 365, contentDays: 1 }, 1_700_000_000 + 365 * 86400, MIDNIGHT_NOV_14 + 86400],
    ['content as long as rows: the day starts before the row expires', { days: 30, contentDays: 30 }, 1_700_000_000 + 30 * 86400, MIDNIGHT_NOV_14 + 30 * 86400],
    ['rows without expiry, content 30 days (lunogen)', { days: null, contentDays: 30 }, undefined, MIDNIGHT_NOV_14 + 30 * 86400],
    ['content null: as long as the row', { days: 30, contentDays: null }, 1_700_000_000 + 30 * 86400, undefined],
  ];
  it.each(contentCases)('%s', (_name, config, wantRows, wantContent) => {
    expect(Value.Check(retentionSchema, config)).toBe(true);
    const input = fixture();
    input.contentExpireAt = 1; // an earlier step's, replaced
    const out = retention.create(config, env)(input, { ...TEST_CTX, receivedAtMs });
    expect(out.expireAt).toBe(wantRows);
    expect(out.contentExpireAt).toBe(wantContent);
    expect('contentExpireAt' in out).toBe(wantContent !== undefined);
    if (wantRows !== undefined && wantContent !== undefined) expect(wantContent).toBeLessThanOrEqual(wantRows);
  });

  it('content expiry is the start of a UTC day, never more than contentDays after receipt', () => {
    for (const ms of [0, 1, 86_399_999, 86_400_000, 1_700_000_000_999, Date.UTC(2026, 11, 31, 23, 59, 59)]) {
      for (const days of [1, 7, 30, 36500]) {
        const e = contentExpiry(ms, days);
        expect(e % 86400).toBe(0);
        expect(e).toBeLessThanOrEqual(Math.floor(ms / 1000) + days * 86400);
        expect(e).toBeGreaterThan(Math.floor(ms / 1000) + (days - 1) * 86400);
      }
    }
  });

  const invalid: [string, unknown, string, string][] = [
    ['zero', { days: 0 }, '/days', 'Expected union value'],
    ['negative', { days: -1 }, '/days', 'Expected union value'],
    ['fraction', { days: 1.5 }, '/days', 'Expected union value'],
    ['over 100 years', { days: 36501 }, '/days', 'Expected union value'],
    ['string', { days: '30' }, '/days', 'Expected union value'],
    ['unknown key', { hours: 1 }, '/hours', 'Unexpected property'],
    ['content zero days', { days: 7, contentDays: 0 }, '/contentDays', 'Expected union value'],
    ['content fraction of a day', { days: 7, contentDays: 0.5 }, '/contentDays', 'Expected union value'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(retentionSchema, config)).toBe(false);
    expect([...Value.Errors(retentionSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });

  it('create refuses an invalid value even without validation', () => {
    expect(() => retention.create({ days: 0 }, env)).toThrow(/days/);
    expect(() => retention.create({ days: 7, contentDays: 8 }, env)).toThrow('retention: contentDays (8) is longer than days (7): content cannot outlive its row');
  });
});
