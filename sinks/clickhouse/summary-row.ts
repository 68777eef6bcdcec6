// SummaryRecord -> one JSONEachRow line of consentry.request_summaries
// (storage/sql/003_summaries.sql, 007_event_name.sql, 011_cost.sql). The sink adds the table to its
// encoder with this; the bucket map goes out as a JSON object with the index as
// a string key, which ClickHouse reads into Map(Int32, UInt64).
import type { SummaryRecord } from '../../core/record.ts';
import { usdText } from '../../processors/cost/processor.ts';

export const SUMMARY_TABLE = 'request_summaries';

const str = JSON.stringify as (s: string) => string;

/** Counts as JSON integers: anything not a non-negative finite number becomes 0. */
function uint(n: number): string {
  return n >= 0 && n < Infinity ? String(Math.floor(n)) : '0';
}

function buckets(m: ReadonlyMap<number, number>): string {
  let out = '';
  for (const [i, c] of m) {
    if (!Number.isInteger(i) || !(c > 0)) continue;
    out += `${out === '' ? '' : ','}"${i}":${uint(c)}`;
  }
  return `{${out}}`;
}

/**
 * One row for consentry.request_summaries, without trailing newline.
 * `expireAt`: Unix seconds (the batch's expireAt, or the sink's far-future default).
 */
export function encodeSummaryRow(s: SummaryRecord, tenantId: string, tier: string, expireAt: number): string {
  return (
    `{"TenantId":${str(tenantId)},"Tier":${str(tier)},"Minute":${uint(s.minute)},` +
    `"Provider":${str(s.provider)},"Endpoint":${str(s.endpoint)},"Model":${str(s.model)},"StatusClass":${str(s.statusClass)},` +
    `"Requests":${uint(s.requests)},"Errors":${uint(s.errors)},"LatencyBuckets":${buckets(s.latencyBuckets)},` +
    `"Calls":${uint(s.calls)},"CallErrors":${uint(s.callErrors)},"CallLatencyBuckets":${buckets(s.callLatencyBuckets)},` +
    `"InputTokens":${uint(s.inputTokens)},"OutputTokens":${uint(s.outputTokens)},` +
    // A JSON number written as exact decimal text: ClickHouse reads it into Decimal(38, 12) without a float in between.
    `"CostUsd":${s.costPicoUsd > 0n ? usdText(s.costPicoUsd) : '0'},"UnpricedCalls":${uint(s.unpricedCalls)},` +
    `"RequestBytes":${uint(s.requestBytes)},"ResponseBytes":${uint(s.responseBytes)},"ExpireAt":${uint(expireAt)}}`
  );
}
