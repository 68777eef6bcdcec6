-- The `summary` tier's per-minute aggregates (processors/summarize/). One row
-- per tenant, minute, provider, endpoint (route template), model and status
-- class, from each batch of each collector instance; background merges fold
-- rows of the same key together, and every column says how:
--   counts and sums: SimpleAggregateFunction(sum, UInt64)
--   LatencyBuckets:  log-scale sketch, bucket index -> count, merged by sumMap
--                    (SummingMergeTree does not sum a Map column: it keeps the
--                    first row's map, checked in chdb 26.7; hence this engine)
--   ExpireAt:        min: rows of one key written under two retentions keep
--                    the shorter one (fail closed)
--   Tier:            max: one deterministic name when one minute was written
--                    under two tiers of the same tenant
-- Merges are eventual: always read with GROUP BY and sum / sumMap, e.g.
--   SELECT Provider, sum(Requests), sum(Errors), <sqlQuantile(sumMap(LatencyBuckets), 0.99)>
--   FROM consentry.request_summaries WHERE TenantId = ... AND Minute >= ... GROUP BY Provider
-- (processors/summarize/sketch.ts: summaryQuantilesSql). Inserts carry an
-- insert_deduplication_token, so a retried batch is stored once.
CREATE TABLE IF NOT EXISTS consentry.request_summaries (
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    Tier SimpleAggregateFunction(max, LowCardinality(String)) CODEC(ZSTD(1)),
    Minute DateTime CODEC(Delta(4), ZSTD(1)),
    Provider LowCardinality(String) CODEC(ZSTD(1)),
    Endpoint LowCardinality(String) CODEC(ZSTD(1)),
    Model LowCardinality(String) CODEC(ZSTD(1)),
    StatusClass LowCardinality(String) CODEC(ZSTD(1)),
    Requests SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)),
    Errors SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)),
    LatencyBuckets SimpleAggregateFunction(sumMap, Map(Int32, UInt64)) CODEC(ZSTD(1)),
    InputTokens SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)),
    OutputTokens SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)),
    RequestBytes SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)),
    ResponseBytes SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)),
    ExpireAt SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(Minute)
ORDER BY (TenantId, Minute, Provider, Endpoint, Model, StatusClass)
TTL ExpireAt
SETTINGS non_replicated_deduplication_window = 10000;
