import { describe, expect, it } from 'vitest';
import { prng } from '../testing/records.ts';
import { lognormal } from './fixtures.ts';
import {
  GAMMA,
  MAX_BUCKET,
  MIN_BUCKET,
  MIN_MS,
  RELATIVE_ACCURACY,
  addToBuckets,
  bucketOf,
  bucketValue,
  mergeBuckets,
  quantileAlias,
  quantileFromBuckets,
  sqlQuantile,
  summaryQuantilesSql,
} from './sketch.ts';

/** Nearest rank, the rule the sketch and sqlQuantile implement: rank max(1, ceil(q n)). */
function exactQuantile(sorted: Float64Array, q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

const relError = (estimate: number, exact: number): number => Math.abs(estimate - exact) / exact;
// Floating-point slack on the exact bound a (bucket edges are computed, not exact).
const BOUND = RELATIVE_ACCURACY * (1 + 1e-9);

const QUANTILES = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1];

describe('bucketOf', () => {
  it.each([
    { name: 'zero', ms: 0, want: MIN_BUCKET },
    { name: 'negative', ms: -5, want: MIN_BUCKET },
    { name: 'NaN', ms: NaN, want: MIN_BUCKET },
    { name: 'below the minimum', ms: MIN_MS / 10, want: MIN_BUCKET },
    { name: 'the minimum', ms: MIN_MS, want: MIN_BUCKET },
    { name: '1 ms is the upper edge of bucket 0', ms: 1, want: 0 },
    { name: 'just above 1 ms', ms: 1.0001, want: 1 },
    { name: 'gamma', ms: GAMMA, want: 1 },
    { name: 'just below 1 ms', ms: 1 / GAMMA + 1e-9, want: 0 },
    { name: 'Infinity', ms: Infinity, want: MAX_BUCKET },
  ])('$name', ({ ms, want }) => {
    expect(bucketOf(ms)).toBe(want);
  });

  it('keeps indexes small enough for Int16, stored as Int32', () => {
    expect(MIN_BUCKET).toBe(-345);
    expect(MAX_BUCKET).toBeLessThan(2000);
  });

  it('represents every value of a bucket within the relative accuracy', () => {
    const rand = prng(7);
    let worst = 0;
    for (let i = 0; i < 100_000; i++) {
      const ms = MIN_MS * Math.pow(10, rand() * 12); // 1 us .. 1e9 ms
      worst = Math.max(worst, relError(bucketValue(bucketOf(ms)), ms));
    }
    expect(worst).toBeLessThanOrEqual(BOUND);
    expect(worst).toBeGreaterThan(RELATIVE_ACCURACY * 0.99); // the bound is tight
  });
});

describe('quantileFromBuckets', () => {
  const N = 100_000;
  const values = new Float64Array(N);
  const next = lognormal(prng(42), 250, 1.2);
  for (let i = 0; i < N; i++) values[i] = next();
  const sorted = values.slice().sort();
  const whole = new Map<number, number>();
  for (const v of values) addToBuckets(whole, v);

  it.each(QUANTILES.map((q) => ({ q })))('q=$q is within 1% of the exact nearest-rank quantile (100k lognormal)', ({ q }) => {
    expect(relError(quantileFromBuckets(whole, q), exactQuantile(sorted, q))).toBeLessThanOrEqual(BOUND);
  });

  it('merging sketches of parts (summing their maps) gives the sketch of the whole', () => {
    const parts = Array.from({ length: 7 }, () => new Map<number, number>());
    const pick = prng(3);
    for (const v of values) addToBuckets(parts[Math.floor(pick() * parts.length)]!, v);
    const merged = new Map<number, number>();
    for (const p of parts) mergeBuckets(merged, p);
    expect(new Map([...merged].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...whole].sort((a, b) => a[0] - b[0])));
    for (const q of QUANTILES) expect(quantileFromBuckets(merged, q)).toBe(quantileFromBuckets(whole, q));
  });

  it('reads the JSON form of a ClickHouse Map (string keys, quoted UInt64 counts)', () => {
    const json: Record<string, number | string> = {};
    for (const [k, c] of whole) json[String(k)] = k % 2 === 0 ? String(c) : c;
    for (const q of QUANTILES) expect(quantileFromBuckets(json, q)).toBe(quantileFromBuckets(whole, q));
  });

  it.each([
    { name: 'an empty map', buckets: new Map<number, number>() },
    { name: 'an empty object', buckets: {} },
    { name: 'only zero counts', buckets: new Map([[3, 0]]) },
  ])('is NaN for $name', ({ buckets }) => {
    expect(quantileFromBuckets(buckets, 0.5)).toBeNaN();
  });

  it('skips zero counts: q=0 is the smallest counted value', () => {
    expect(quantileFromBuckets(new Map([[1, 0], [5, 2], [9, 1]]), 0)).toBe(bucketValue(5));
    expect(quantileFromBuckets({ '-1': 0, '5': 2, '9': 1 }, 1)).toBe(bucketValue(9));
  });

  it('uses the nearest rank: 4 values, q=0.5 is the 2nd, q=0.51 the 3rd', () => {
    const m = new Map([[10, 1], [20, 1], [30, 1], [40, 1]]);
    expect(quantileFromBuckets(m, 0.5)).toBe(bucketValue(20));
    expect(quantileFromBuckets(m, 0.51)).toBe(bucketValue(30));
  });

  it.each([{ q: -0.1 }, { q: 1.5 }, { q: NaN }])('rejects q=$q', ({ q }) => {
    expect(() => quantileFromBuckets(whole, q)).toThrow(RangeError);
    expect(() => sqlQuantile('b', q)).toThrow('quantile must be in [0, 1]');
  });
});

describe('SQL helpers', () => {
  it.each([
    { q: 0.5, alias: 'p50' },
    { q: 0.95, alias: 'p95' },
    { q: 0.99, alias: 'p99' },
    { q: 0.999, alias: 'p99_9' },
    { q: 0, alias: 'p0' },
    { q: 1, alias: 'p100' },
  ])('names q=$q $alias', ({ q, alias }) => {
    expect(quantileAlias(q)).toBe(alias);
  });

  it('builds one aliased expression per quantile over sumMap(LatencyBuckets)', () => {
    const sql = summaryQuantilesSql();
    expect(sql.match(/ AS p(50|95|99)\b/g)).toEqual([' AS p50', ' AS p95', ' AS p99']);
    expect(sql).toContain('sumMap(LatencyBuckets)');
    expect(sql).toContain(String(GAMMA));
  });
});
