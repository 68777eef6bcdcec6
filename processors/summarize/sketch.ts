// The latency sketch of the `summary` tier: DDSketch-style log-scale buckets
// (Masson, Rim, Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
// relative-error guarantees", VLDB 2019, https://arxiv.org/abs/1908.10693).
//
// A latency of `ms` milliseconds goes to bucket i = ceil(log(ms) / log(gamma)),
// gamma = (1 + a) / (1 - a), i.e. the bucket (gamma^(i-1), gamma^i]. The bucket
// is represented by 2 * gamma^i / (gamma + 1), which is within a relative error
// `a` of every value in the bucket. With a = 1 %, 1 us .. 1 h spans about 1100
// buckets; a minute of one endpoint typically fills a few dozen.
//
// The stored form is bucket index -> count (`Map(Int32, UInt64)` in ClickHouse),
// so sketches merge by adding counts: `sumMap` over any rows (minutes, collector
// instances) is the sketch of the union, and `sqlQuantile` reads a quantile from
// that sum with the same rule as `quantileFromBuckets`, in one query.
//
// Why not @datadog/sketches-js (2.1.1, installed)? Its LogarithmicMapping is the
// same mapping (key = ceil(log2(v) * ln 2 / ln gamma), value = 2 gamma^k / (1 +
// gamma); the two give identical keys on 2M lognormal values), so it would be
// compatible with the SQL side. But it keeps counts in a DenseStore (array +
// offset) and quantiles in its own rank rule (q * (n - 1)), while the record
// (SummaryRecord.latencyBuckets), the row and every read start from a plain
// index -> count map: we would convert to and from its store on every batch and
// on every read, and would still need our own zero handling (it counts values
// below ~1e-308 as zeros, a case the map cannot hold). Accepting values into its
// dense array is faster than a Map (about 15M vs 9M values/s measured here), but
// both are two orders of magnitude above the 150k spans/s target, so the ten
// lines below win on simplicity.

/** Relative accuracy `a` of every quantile: |estimate - exact| <= a * exact (for values >= MIN_MS). */
export const RELATIVE_ACCURACY = 0.01;

/** Ratio between consecutive bucket bounds: (1 + a) / (1 - a). */
export const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);

const LN_GAMMA = Math.log(GAMMA);

/**
 * Smallest latency the sketch resolves, in ms (1 us). Zero, negative, NaN and
 * anything at or below it share bucket MIN_BUCKET and read back as ~1 us: a
 * span with end <= start is counted, as the fastest possible request.
 */
export const MIN_MS = 0.001;
export const MIN_BUCKET = Math.ceil(Math.log(MIN_MS) / LN_GAMMA);

/** Largest latency kept apart, in ms: 2^64 ns, the largest OTLP duration. Above (Infinity) clamps. */
export const MAX_MS = 2 ** 64 / 1e6;
export const MAX_BUCKET = Math.ceil(Math.log(MAX_MS) / LN_GAMMA);

/** Bucket index of a latency in milliseconds, in [MIN_BUCKET, MAX_BUCKET]. */
export function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return MIN_BUCKET; // also NaN
  if (ms >= MAX_MS) return MAX_BUCKET;
  return Math.ceil(Math.log(ms) / LN_GAMMA) | 0; // | 0: -0 -> 0
}

/** The value a bucket stands for: within RELATIVE_ACCURACY of everything in it. */
export function bucketValue(index: number): number {
  return (2 * Math.pow(GAMMA, index)) / (GAMMA + 1);
}

/** Counts one latency (ms) into `map` (index -> count). */
export function addToBuckets(map: Map<number, number>, ms: number): void {
  const i = bucketOf(ms);
  map.set(i, (map.get(i) ?? 0) + 1);
}

/** Adds every count of `from` into `into` (what `sumMap` does in SQL). */
export function mergeBuckets(into: Map<number, number>, from: ReadonlyMap<number, number>): void {
  for (const [i, c] of from) into.set(i, (into.get(i) ?? 0) + c);
}

/**
 * Buckets as stored or read back: a Map, or an object with index keys as
 * strings (a ClickHouse `Map` in JSON; counts may be strings, as UInt64 is
 * quoted in JSON output by default).
 */
export type Buckets = ReadonlyMap<number, number> | Readonly<Record<string, number | string>>;

function checkQuantile(q: number): void {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
}

/**
 * The q-quantile (0 <= q <= 1) of the values counted in `buckets`, NaN when
 * there are none. Nearest rank: the value of rank max(1, ceil(q * n)) in
 * ascending order (q = 0 is the minimum, q = 1 the maximum), read as the
 * representative value of its bucket, so the result is within
 * RELATIVE_ACCURACY of that exact value. `sqlQuantile` is the same rule in SQL.
 */
export function quantileFromBuckets(buckets: Buckets, q: number): number {
  checkQuantile(q);
  const entries: [number, number][] = [];
  let total = 0;
  const add = (i: number, c: number): void => {
    if (Number.isInteger(i) && c > 0) {
      entries.push([i, c]);
      total += c;
    }
  };
  if (buckets instanceof Map) {
    for (const [i, c] of buckets as ReadonlyMap<number, number>) add(i, c);
  } else {
    for (const [k, c] of Object.entries(buckets)) add(Number(k), Number(c));
  }
  if (total === 0) return NaN;
  entries.sort((x, y) => x[0] - y[0]);
  // `cum >= max(1, q * total)` on integer counts is `cum >= max(1, ceil(q * n))`;
  // the SQL side evaluates the same float product, so both pick the same bucket.
  const threshold = Math.max(1, q * total);
  let cum = 0;
  for (const [i, c] of entries) {
    cum += c;
    if (cum >= threshold) return bucketValue(i);
  }
  return bucketValue(entries[entries.length - 1]![0]); // unreachable: cum ends at total >= threshold
}

/**
 * `quantileFromBuckets` as a ClickHouse expression over `bucketsExpr`, a
 * `Map(Int32, UInt64)` expression such as `sumMap(LatencyBuckets)` (the
 * aggregate is computed once however often it appears). NULL in JSON output
 * (nan) when there are no counts. `bucketsExpr` is trusted SQL, never user input.
 */
export function sqlQuantile(bucketsExpr: string, q: number): string {
  checkQuantile(q);
  const b = bucketsExpr;
  const g = String(GAMMA); // shortest round-trip form: ClickHouse parses the same double
  const total = `arraySum(mapValues(${b}))`;
  // Counts in ascending index order; their running sum; the first index whose
  // running sum reaches the nearest rank. Lambda argument names are unusual so
  // they cannot shadow a column that `bucketsExpr` refers to.
  const sortedCounts = `arraySort((sketch_c, sketch_k) -> sketch_k, mapValues(${b}), mapKeys(${b}))`;
  const position = `arrayFirstIndex(sketch_cum -> sketch_cum >= greatest(1, ${q} * ${total}), arrayCumSum(${sortedCounts}))`;
  const index = `arraySort(mapKeys(${b}))[${position}]`;
  return `if(${total} = 0, nan, 2 * pow(${g}, ${index}) / (${g} + 1))`;
}

/** Column alias for a quantile: 0.5 -> p50, 0.999 -> p99_9. */
export function quantileAlias(q: number): string {
  checkQuantile(q);
  return `p${String(Number((q * 100).toFixed(6))).replace('.', '_')}`;
}

/**
 * SELECT expressions for latency quantiles in ms, e.g.
 * `summaryQuantilesSql([0.5, 0.95, 0.99])` ->
 * `<p50 expr> AS p50, <p95 expr> AS p95, <p99 expr> AS p99`, for a query over
 * consentry.request_summaries (any WHERE, any GROUP BY).
 */
export function summaryQuantilesSql(quantiles: readonly number[] = [0.5, 0.95, 0.99], bucketsExpr = 'sumMap(LatencyBuckets)'): string {
  return quantiles.map((q) => `${sqlQuantile(bucketsExpr, q)} AS ${quantileAlias(q)}`).join(', ');
}
