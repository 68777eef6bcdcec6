-- Named operators of the management API and the page (issue 17), and the
-- time index the request explorer pages with.
--
-- operators: each operator's name, role and the SHA-256 of its token (the
-- token itself is shown once and never stored, as tenant keys). The latest
-- Version of an Id wins; a revoked operator keeps its row with Revoked = 1, so
-- its name is never given to anyone else and the audit stays unambiguous.
CREATE TABLE IF NOT EXISTS consentry.operators (
    Id String,
    Name String,
    Role LowCardinality(String),
    TokenHash String,
    CreatedAt DateTime64(3),
    CreatedBy String,
    Revoked UInt8,
    Version UInt64
) ENGINE = ReplacingMergeTree(Version)
ORDER BY Id;

-- Who created or revoked which operator, when.
CREATE TABLE IF NOT EXISTS consentry.operator_audit (
    At DateTime64(3),
    Actor String,
    Action LowCardinality(String),
    OperatorId String,
    Name String,
    Role LowCardinality(String)
) ENGINE = MergeTree
ORDER BY At;

-- The request explorer reads the newest requests of a tenant first, in time
-- windows (collector/analytics/explorer.ts). otel_traces is sorted by
-- (TenantId, ServiceName, SpanName, time), so within a day partition a time
-- window is spread over every service and span name; a minmax index on
-- Timestamp lets a window read only the granules (8192 rows) that overlap it
-- instead of the tenant's whole day. Two DateTime64 per granule. Parts written
-- before this migration get it when they are merged.
ALTER TABLE consentry.otel_traces ADD INDEX IF NOT EXISTS idx_timestamp Timestamp TYPE minmax GRANULARITY 1;
