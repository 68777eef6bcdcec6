import { describe, expect, it } from 'vitest';
import type { SummaryRecord } from '../../core/record.ts';
import { encodeSummaryRow } from './summary-row.ts';

const base: SummaryRecord = {
  minute: 1_700_000_040,
  provider: 'openai',
  endpoint: '/v1/chat/"completions"',
  model: 'gpt-4o',
  statusClass: '2xx',
  requests: 3,
  errors: 1,
  latencyBuckets: new Map([
    [-345, 1],
    [0, 0],
    [303, 2],
  ]),
  calls: 4,
  callErrors: 2,
  callLatencyBuckets: new Map([
    [7, 0],
    [300, 4],
  ]),
  inputTokens: 10,
  outputTokens: 20,
  costPicoUsd: 12_345_678_901_234_567_890n,
  unpricedCalls: 1,
  requestBytes: 30,
  responseBytes: 40,
};

describe('encodeSummaryRow', () => {
  it('writes every column of request_summaries, the map with string keys and no zero counts', () => {
    expect(JSON.parse(encodeSummaryRow(base, 'tenant-"a"', 'summary', 4102444800))).toEqual({
      TenantId: 'tenant-"a"',
      Tier: 'summary',
      Minute: 1_700_000_040,
      Provider: 'openai',
      Endpoint: '/v1/chat/"completions"',
      Model: 'gpt-4o',
      StatusClass: '2xx',
      Requests: 3,
      Errors: 1,
      LatencyBuckets: { '-345': 1, '303': 2 },
      Calls: 4,
      CallErrors: 2,
      CallLatencyBuckets: { '300': 4 },
      InputTokens: 10,
      OutputTokens: 20,
      CostUsd: 12345678.901234567,
      UnpricedCalls: 1,
      RequestBytes: 30,
      ResponseBytes: 40,
      ExpireAt: 4102444800,
    });
  });

  it.each([
    ['picodollars as exact decimal text', 12_345_678_901_234_567_890n, '"CostUsd":12345678.90123456789,'],
    ['a whole number of dollars', 3_000_000_000_000n, '"CostUsd":3,'],
    ['one picodollar', 1n, '"CostUsd":0.000000000001,'],
    ['nothing priced', 0n, '"CostUsd":0,'],
  ])('writes the cost: %s', (_name, costPicoUsd, want) => {
    expect(encodeSummaryRow({ ...base, costPicoUsd }, 't', 's', 1)).toContain(want);
  });

  it.each([
    { name: 'NaN', value: NaN, want: 0 },
    { name: 'negative', value: -1, want: 0 },
    { name: 'fraction', value: 2.9, want: 2 },
  ])('writes a $name count as $want', ({ value, want }) => {
    const row = JSON.parse(encodeSummaryRow({ ...base, inputTokens: value }, 't', 'summary', 1)) as { InputTokens: number };
    expect(row.InputTokens).toBe(want);
  });

  it('writes an empty map as {}', () => {
    const row = encodeSummaryRow({ ...base, latencyBuckets: new Map(), callLatencyBuckets: new Map() }, 't', 's', 1);
    expect(row).toContain('"LatencyBuckets":{}');
    expect(row).toContain('"CallLatencyBuckets":{}');
  });
});
