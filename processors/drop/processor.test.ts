import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { RecordBatch } from '../../core/record.ts';
import { TEST_CTX, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { drop, dropSchema } from './processor.ts';

type Config = Static<typeof dropSchema>;

function fixture(): RecordBatch {
  const span = testSpan({ 'http.route': '/' }, { name: 'GET /' });
  const log = testLog({}, { body: 'hi' });
  return testBatch({
    spans: [span, { ...span, spanId: 'b7ad6b7169203332' }, { ...span, spanId: 'b7ad6b7169203333' }],
    logs: [log, { ...log, body: 'again' }],
    summaries: [
      {
        minute: 1_700_000_000,
        provider: 'openai',
        endpoint: '/v1/chat/completions',
        model: 'gpt-4o',
        statusClass: '2xx',
        requests: 3,
        errors: 0,
        latencyBuckets: new Map([[10, 3]]),
        calls: 0,
        callErrors: 0,
        callLatencyBuckets: new Map(),
        inputTokens: 30,
        outputTokens: 60,
        costPicoUsd: 0n,
        unpricedCalls: 0,
        requestBytes: 300,
        responseBytes: 900,
      },
    ],
    expireAt: 1_800_000_000,
  });
}

const cases: [string, Config, { spans: number; logs: number; summaries: number }, Record<string, number>][] = [
  ['spans', { signals: ['spans'] }, { spans: 0, logs: 2, summaries: 1 }, { 'drop.spans': 3 }],
  ['spans and summaries (minimal tier)', { signals: ['spans', 'summaries'] }, { spans: 0, logs: 2, summaries: 0 }, { 'drop.spans': 3, 'drop.summaries': 1 }],
  ['logs; empty metadata is not counted', { signals: ['logs', 'metadata'] }, { spans: 3, logs: 0, summaries: 1 }, { 'drop.logs': 2 }],
];

describe('drop', () => {
  it.each(cases)('%s', (_name, config, want, wantCounts) => {
    expect(Value.Check(dropSchema, config)).toBe(true);
    const input = fixture();
    const before = structuredClone(input);
    const { env, counts } = testEnv();
    const out = drop.create(config, env)(input, TEST_CTX);

    expect(input).toEqual(before); // purity
    expect({ spans: out.spans.length, logs: out.logs.length, summaries: out.summaries.length }).toEqual(want);
    expect(out.expireAt).toBe(input.expireAt);
    // Kept records are the same objects, still sharing their Resource.
    if (want.spans > 0) expect(out.spans).toBe(input.spans);
    if (want.logs > 0) expect(out.logs[1]!.resource).toBe(out.logs[0]!.resource);
    expect(Object.fromEntries(counts)).toEqual(wantCounts);
  });

  const invalid: [string, unknown, string, string][] = [
    ['signals missing', {}, '/signals', 'Expected required property'],
    ['empty signals (fail loud, not a no-op)', { signals: [] }, '/signals', 'Expected array length to be greater or equal to 1'],
    ['unknown signal', { signals: ['traces'] }, '/signals/0', 'Expected union value'],
    ['duplicate signal', { signals: ['spans', 'spans'] }, '/signals', 'Expected array elements to be unique'],
    ['unknown key', { signals: ['spans'], count: false }, '/count', 'Unexpected property'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(dropSchema, config)).toBe(false);
    expect([...Value.Errors(dropSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });
});
