// The `summarize` processor's rules (processors/summarize/processor.ts,
// endpoint.ts, sketch.ts, and the counting rule and conventions mapping of
// processors/conventions/) as ClickHouse SQL over stored spans, so that a
// dashboard over `full` data counts exactly what the `summary` tier would have
// counted for the same traffic: which spans are requests and which LLM calls,
// which are errors, the endpoint template, provider, model, tokens and the
// latency bucket. The rule looks at each span alone (counting.ts), so stored
// spans and spans folded at receipt give the same figures however the sender
// batched them. The SQL is generated from the same tables as the JS.
import { GAMMA, MAX_BUCKET, MAX_MS, MIN_BUCKET, MIN_MS, bucketOf } from '../../processors/summarize/sketch.ts';
import { CALL_EVIDENCE, FIELDS, keysOf } from '../../processors/conventions/genai.ts';
import { SpanFlags } from '../../core/record.ts';
import { COST_ATTRIBUTE } from '../../processors/cost/processor.ts';

const LN_GAMMA = Math.log(GAMMA);
const UINT64_MAX = (1n << 64n) - 1n;

let bounds: string | undefined;

/**
 * `[N_MIN, N_MIN+1, ..., N_MAX]`: N_i is the smallest duration in ns whose JS
 * bucket (bucketOf(Number(ns) / 1e6)) is at least i. ClickHouse's `log` and
 * V8's `Math.log` differ in the last bit for a few values, which moves a
 * duration right at a bucket bound into the next bucket (2 in 13 000 values
 * next to bounds, measured); these integer bounds correct that, so both sides
 * put every duration in the same bucket.
 */
export function bucketBoundsSql(): string {
  if (bounds !== undefined) return bounds;
  const out: string[] = ['0'];
  for (let i = MIN_BUCKET + 1; i <= MAX_BUCKET; i++) {
    let lo = 0n;
    let hi = UINT64_MAX;
    if (bucketOf(Number(hi) / 1e6) < i) {
      out.push(String(UINT64_MAX));
      continue;
    }
    while (lo < hi) {
      const mid = (lo + hi) >> 1n;
      if (bucketOf(Number(mid) / 1e6) >= i) hi = mid;
      else lo = mid + 1n;
    }
    out.push(String(lo));
  }
  bounds = `[${out.join(',')}]`;
  return bounds;
}

/**
 * Select-list items computing `bucket` (Int32, the sketch bucket of
 * bucketOf) from `durationNs` (a UInt64 column). Adds the helper aliases
 * sketch_bounds, sketch_ms, sketch_b0.
 */
export function bucketSelectSql(durationNs: string): string {
  const ms = `${durationNs} / 1e6`;
  return [
    `${bucketBoundsSql()} AS sketch_bounds`,
    `${ms} AS sketch_ms`,
    `toInt32(multiIf(NOT (sketch_ms > ${MIN_MS}), ${MIN_BUCKET}, sketch_ms >= ${MAX_MS}, ${MAX_BUCKET}, ceil(log(sketch_ms) / ${LN_GAMMA}))) AS sketch_b0`,
    `toInt32(multiIf(sketch_b0 > ${MIN_BUCKET} AND ${durationNs} < sketch_bounds[sketch_b0 - (${MIN_BUCKET}) + 1], sketch_b0 - 1, ` +
      `sketch_b0 < ${MAX_BUCKET} AND ${durationNs} >= sketch_bounds[sketch_b0 - (${MIN_BUCKET}) + 2], sketch_b0 + 1, sketch_b0)) AS bucket`,
  ].join(',\n    ');
}

const attr = (map: string, key: string) => `${map}['${key}']`;

/** JS `Number(s)` for decimal text: surrounding whitespace ignored; NULL when not a number. */
const number = (s: string) => `toFloat64OrNull(replaceRegexpAll(${s}, '^[ \\\\t\\\\n\\\\r\\\\f\\\\v]+|[ \\\\t\\\\n\\\\r\\\\f\\\\v]+$', ''))`;

/** parseCount: a non-negative integer from an attribute; absent, empty, non-numeric, negative or infinite: 0. */
export function countSql(value: string): string {
  const x = number(value);
  return `toUInt64(if(isNotNull(${x}) AND assumeNotNull(${x}) > 0 AND isFinite(assumeNotNull(${x})), floor(assumeNotNull(${x})), 0))`;
}

/** httpClass: `1xx`..`5xx` from the status code attribute; '' when absent or not 100..599. */
export function httpClassSql(value: string): string {
  const n = number(value);
  return `if(isNotNull(${n}) AND assumeNotNull(${n}) = floor(assumeNotNull(${n})) AND assumeNotNull(${n}) >= 100 AND assumeNotNull(${n}) <= 599, concat(toString(intDiv(toUInt32(assumeNotNull(${n})), 100)), 'xx'), '')`;
}

/** isIdSegment (endpoint.ts) for one path segment `s`; RE2 has no lookahead, so each case is spelled out. */
function idSegmentSql(s: string): string {
  return [
    // length in UTF-16 code units, as JS counts it
    `(lengthUTF8(${s}) + countMatches(${s}, '[\\\\x{10000}-\\\\x{10FFFF}]')) > 64`,
    `match(${s}, '^[0-9]+$')`,
    `match(${s}, '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')`,
    `(match(${s}, '^[0-9a-fA-F]{8,}$') AND match(${s}, '[0-9]'))`,
    `(match(${s}, '^[a-zA-Z0-9]{16,}$') AND match(${s}, '[0-9]') AND match(${s}, '[a-zA-Z]'))`,
    `(match(${s}, '^[a-zA-Z]+[-_][a-zA-Z0-9]{8,}$') AND match(${s}, '^[a-zA-Z]+[-_][a-zA-Z]*[0-9]'))`,
    `match(${s}, '@|%40')`,
  ].join(' OR ');
}

/** templatePath: cut `?query` / `#fragment`, replace id-like segments with `:id`. */
export function templatePathSql(raw: string): string {
  const cut = `multiSearchFirstPosition(${raw}, ['?', '#'])`;
  const path = `if(${cut} = 0, ${raw}, substring(${raw}, 1, ${cut} - 1))`;
  return `arrayStringConcat(arrayMap(ep_s -> if(ep_s != '' AND ep_s != ':id' AND (${idSegmentSql('ep_s')}), ':id', ep_s), splitByChar('/', ${path})), '/')`;
}

/** pathOfUrl: the path of an absolute URL, from the first `/` after the host; `/` when none. */
function pathOfUrlSql(url: string): string {
  const scheme = `position(${url}, '://')`;
  const rest = `substring(${url}, ${scheme} + 3)`;
  const slash = `position(${rest}, '/')`;
  const cut = `multiSearchFirstPosition(${rest}, ['?', '#'])`;
  return `if(${scheme} = 0, ${url}, if(${slash} = 0 OR (${cut} != 0 AND ${cut} < ${slash}), '/', substring(${rest}, ${slash})))`;
}

/** endpointOf: http.route, else url.path, else the path of url.full; templated. */
export function endpointSql(attrs: string): string {
  const route = attr(attrs, 'http.route');
  const path = attr(attrs, 'url.path');
  const full = attr(attrs, 'url.full');
  const source = `multiIf(${route} != '', ${route}, ${path} != '', ${path}, ${full} != '', ${pathOfUrlSql(full)}, '')`;
  return templatePathSql(source);
}

const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** firstOf (counting.ts): the first non-empty of `keys` in the map, else ''. */
export function firstOfSql(attrs: string, keys: readonly string[]): string {
  return `multiIf(${keys.map((k) => `${attr(attrs, k)} != '', ${attr(attrs, k)}`).join(', ')}, '')`;
}

/** isCallSpan (counting.ts): the operation decides when there is one; else an entry span with a provider, model or token attribute. `entry`: isEntrySql. */
export function isCallSql(attrs: string, entry: string): string {
  const branches = FIELDS.operation.sources.map((s: { key: string; calls?: readonly string[]; notCalls?: readonly string[] }) => {
    const v = attr(attrs, s.key);
    const test = s.calls !== undefined ? `${v} IN (${s.calls.map(quote).join(', ')})` : s.notCalls !== undefined ? `${v} NOT IN (${s.notCalls.map(quote).join(', ')})` : '1';
    return `${v} != '', ${test}`;
  });
  const evidence = CALL_EVIDENCE.map((k) => `${attr(attrs, k)} != ''`).join(' OR ');
  return `multiIf(${branches.join(', ')}, ${entry} AND (${evidence}))`;
}

/** isEntrySpan (counting.ts), over otel_traces columns; rows stored before SpanFlags existed have 0 and fall back to the kind. */
export function isEntrySql(): string {
  return `(ParentSpanId = '' OR if(bitAnd(SpanFlags, ${SpanFlags.HAS_IS_REMOTE}) != 0, bitAnd(SpanFlags, ${SpanFlags.IS_REMOTE}) != 0, SpanKind IN ('SPAN_KIND_SERVER', 'SPAN_KIND_CONSUMER')))`;
}

export interface SpanRequestsOptions {
  /** SQL for the tenant id (a bound parameter such as {tenant:String}). */
  tenant: string;
  /** SQL for the range start and end, Unix seconds (bound parameters), minute-aligned. */
  from: string;
  to: string;
  /** SQL for the bucket width in seconds (a multiple of 60). */
  step: string;
}

/**
 * One row per span of the tenant in [from, to) that is a request or an LLM
 * call: t (bucket start, Unix seconds, by the minute of the span's start as
 * the processor does), provider, endpoint, model, status_class, is_error,
 * is_entry, is_call, bucket, in_tok, out_tok, cost_usd (the call's cost,
 * priced at receipt: processors/cost/; NULL when it was not priced).
 */
/** Status classes of requestFieldsSql's `status_class`, for validating a filter. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'error', 'unset'] as const;

/**
 * Select-list items over an otel_traces row, as the summarize processor reads
 * a span: provider, endpoint, model, http_class, failed, status_class,
 * is_error, is_entry, is_call, in_tok, out_tok, cost_usd.
 */
export function requestFieldsSql(): string {
  const a = 'SpanAttributes';
  return `${firstOfSql(a, keysOf(FIELDS.provider))} AS provider,
    ${endpointSql(a)} AS endpoint,
    ${firstOfSql(a, keysOf(FIELDS.model))} AS model,
    ${httpClassSql(attr(a, 'http.response.status_code'))} AS http_class,
    (StatusCode = 'STATUS_CODE_ERROR' OR ${firstOfSql(a, keysOf(FIELDS.error))} != '') AS failed,
    if(http_class != '', http_class, if(failed, 'error', 'unset')) AS status_class,
    (http_class = '5xx' OR (failed AND http_class != '4xx')) AS is_error,
    ${isEntrySql()} AS is_entry,
    ${isCallSql(a, 'is_entry')} AS is_call,
    ${countSql(firstOfSql(a, keysOf(FIELDS.inputTokens)))} AS in_tok,
    ${countSql(firstOfSql(a, keysOf(FIELDS.outputTokens)))} AS out_tok,
    toDecimal128OrNull(${attr(a, COST_ATTRIBUTE)}, 12) AS cost_usd`;
}

export function spanRequestsSql(o: SpanRequestsOptions): string {
  return `SELECT
    toInt64(intDiv(intDiv(toUnixTimestamp64Nano(Timestamp), 60000000000) * 60, ${o.step}) * ${o.step}) AS t,
    ${requestFieldsSql()},
    ${bucketSelectSql('Duration')}
  FROM consentry.otel_traces
  WHERE TenantId = ${o.tenant}
    AND Timestamp >= toDateTime64(${o.from}, 9) AND Timestamp < toDateTime64(${o.to}, 9)
    AND (is_entry OR is_call)`;
}
