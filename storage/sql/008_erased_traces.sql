-- Trace tombstones (control/tombstones.ts, erasure.ts): the traces
-- of each erased subject. An erasure records every trace in which a span or
-- log carries the subject's user.id; a writer that drops such a span in
-- flight records its trace too. Writers drop later-arriving spans and logs of
-- these traces (the upstream calls carry the prompt but no user.id) for
-- CONSENTRY_ERASURE_TRACE_HOURS after the erasure, and a later erasure of the
-- same subject removes the rows of every trace recorded for it. LastSpanAt
-- (newest span of the trace seen at the erasure) lets writers hold only traces
-- still active; RecordedAt lets them read only what is new. Kept 90 days, as
-- the subject tombstones. Replaces the per-erasure scratch list erasure_traces.
CREATE TABLE IF NOT EXISTS consentry.erased_traces (
    TenantId String,
    Subject String,
    TraceId String,
    ErasedAt DateTime64(3),
    LastSpanAt DateTime64(3),
    RecordedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(ErasedAt)
ORDER BY (TenantId, Subject, TraceId)
TTL toDateTime(ErasedAt) + INTERVAL 90 DAY;

DROP TABLE IF EXISTS consentry.erasure_traces;
