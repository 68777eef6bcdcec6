-- Content that expires before its row (issue 17): a tier's
-- contentRetentionDays (processors/retention/). The row keeps its metadata
-- (model, tokens, latency, status, user, ...) until ExpireAt; its content
-- (processors/conventions/content.ts: bodies, prompts, completions, captured
-- headers) goes at ContentExpireAt, removed from the parts by ClickHouse's
-- column TTLs when it merges (a TTL merge, at most merge_with_ttl_timeout
-- after the expiry; the old part is deleted old_parts_lifetime later).
--
-- Chosen by measurement (bench/content-retention.ts, README "Content
-- retention"): content in columns of its own with a column TTL costs no more
-- insert CPU or storage than today's layout; a transparent TTL on
-- SpanAttributes needs a stored copy of the metadata (a third more insert CPU,
-- metadata kept twice for the life of the row); a table of its own needs a
-- second insert (two fifths more CPU); an ALTER ... UPDATE needs Consentry to
-- run it.
--
-- Where the tier keeps content as long as the row (no contentRetentionDays,
-- every tier before this), content stays where the OpenTelemetry Collector
-- exporter puts it (SpanAttributes, Events.Attributes, LogAttributes, Body),
-- ContentExpireAt is ExpireAt and the new maps are empty. Where it does not:
--   otel_traces.ContentAttributes        the span's content attributes
--   otel_traces.EventsContentAttributes  per span event (same order as
--                                         Events.*), its content attributes
--                                         (all of a GenAI event's)
--   otel_logs.ContentAttributes          the log record's content attributes
--   otel_logs.Body                       cleared at ContentExpireAt when the
--                                         record has content; GenAI event
--                                         records (gen_ai.user.message, ...)
--                                         expire whole then (ExpireAt)
-- Rows written before have ContentExpireAt = ExpireAt (the column default).
ALTER TABLE consentry.otel_traces
    ADD COLUMN IF NOT EXISTS ContentExpireAt DateTime DEFAULT ExpireAt CODEC(ZSTD(1)) AFTER ExpireAt,
    ADD COLUMN IF NOT EXISTS ContentAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)) AFTER ContentExpireAt,
    ADD COLUMN IF NOT EXISTS EventsContentAttributes Array(Map(LowCardinality(String), String)) CODEC(ZSTD(1)) AFTER ContentAttributes;
ALTER TABLE consentry.otel_logs
    ADD COLUMN IF NOT EXISTS ContentExpireAt DateTime DEFAULT ExpireAt CODEC(ZSTD(1)) AFTER ExpireAt,
    ADD COLUMN IF NOT EXISTS ContentAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)) AFTER ContentExpireAt;

-- The column TTLs (on the local tables only in a cluster: deploy/). Existing
-- parts are not rewritten for them (materialize_ttl_after_modify = 0): their
-- rows expire whole at ExpireAt as before.
ALTER TABLE consentry.otel_traces MODIFY COLUMN IF EXISTS ContentAttributes TTL ContentExpireAt SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE consentry.otel_traces MODIFY COLUMN IF EXISTS EventsContentAttributes TTL ContentExpireAt SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE consentry.otel_logs MODIFY COLUMN IF EXISTS ContentAttributes TTL ContentExpireAt SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE consentry.otel_logs MODIFY COLUMN IF EXISTS Body TTL ContentExpireAt SETTINGS materialize_ttl_after_modify = 0;
