-- Real GenAI instrumentation (issue 13).
--
-- otel_logs.EventName: OTLP LogRecord.event_name, which the logs/events APIs
-- fill (gen_ai.user.message, gen_ai.choice, ...). Type and codec as in the
-- OpenTelemetry Collector ClickHouse exporter's logs table
-- (exporter/clickhouseexporter/internal/sqltemplates/logs_table.sql).
ALTER TABLE consentry.otel_logs ADD COLUMN IF NOT EXISTS EventName String CODEC(ZSTD(1)) AFTER LogAttributes;

-- otel_traces.SpanFlags: OTLP Span.flags (W3C trace flags, and whether the
-- parent is remote: bits 8 and 9). The exporter has no column for it;
-- Consentry needs it to count a request once whatever the shape of its trace
-- (processors/conventions/counting.ts), in SQL as at receipt. 0 for rows
-- stored before: the counting rule then falls back to the span kind.
ALTER TABLE consentry.otel_traces ADD COLUMN IF NOT EXISTS SpanFlags UInt32 CODEC(ZSTD(1)) AFTER StatusMessage;

-- request_summaries: LLM calls apart from requests (a request can make several
-- calls, retries and fallbacks; an application request wraps its call), with
-- their own errors and latency sketch. Tokens are the calls' tokens. Rows
-- written before have no calls (0 and an empty sketch).
ALTER TABLE consentry.request_summaries
    ADD COLUMN IF NOT EXISTS Calls SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)) AFTER LatencyBuckets,
    ADD COLUMN IF NOT EXISTS CallErrors SimpleAggregateFunction(sum, UInt64) CODEC(T64, ZSTD(1)) AFTER Calls,
    ADD COLUMN IF NOT EXISTS CallLatencyBuckets SimpleAggregateFunction(sumMap, Map(Int32, UInt64)) CODEC(ZSTD(1)) AFTER CallErrors;
