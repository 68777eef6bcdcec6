-- Privacy operations (collector/analytics/erasure.ts, tombstones.ts).
--
-- erasures: the audit of every erasure: who, when, which tenant and subject
-- (end user, `user.id`), why, and how many rows each table lost. It keeps the
-- subject id on purpose, as the record that the erasure was done; it is not
-- readable through the tenant query API.
CREATE TABLE IF NOT EXISTS consentry.erasures (
    ErasureId String,
    At DateTime64(3),
    Actor String,
    TenantId String,
    Subject String,
    Scope LowCardinality(String),
    Reason String,
    Rows Map(String, UInt64),
    DurationMs UInt64
) ENGINE = MergeTree
ORDER BY (TenantId, At);

-- Tombstones checked by every writer before it stores a batch: data of an
-- erased subject (Subject = its user.id) or of an erased tenant (Subject = '')
-- received at or before ErasedAt is dropped, wherever it still is in flight
-- (Kafka, batches). Kept 90 days, longer than any in-flight retention.
CREATE TABLE IF NOT EXISTS consentry.erasure_tombstones (
    TenantId String,
    Subject String,
    ErasedAt DateTime64(3)
) ENGINE = MergeTree
ORDER BY (TenantId, Subject)
TTL toDateTime(ErasedAt) + INTERVAL 90 DAY;

-- Scratch: the trace ids of a subject, fixed before the delete mutations run,
-- so that spans and logs of those traces without a user.id go too, and a
-- mutation never reads the table it is rewriting. Removed after a day.
CREATE TABLE IF NOT EXISTS consentry.erasure_traces (
    ErasureId String,
    TraceId String,
    At DateTime DEFAULT now()
) ENGINE = MergeTree
ORDER BY (ErasureId, TraceId)
TTL At + INTERVAL 1 DAY;
