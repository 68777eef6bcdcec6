-- Each tenant's tier assignment (the latest Version wins) and the audit trail of
-- every change: who, when, from, to, until, reason.
CREATE TABLE IF NOT EXISTS consentry.tier_assignments (
    TenantId String,
    Tier LowCardinality(String),
    Version UInt64,
    EffectiveAt DateTime64(3),
    Until Nullable(DateTime64(3)),
    PriorTier LowCardinality(String),
    Reason String,
    Actor String
) ENGINE = ReplacingMergeTree(Version)
ORDER BY TenantId;

CREATE TABLE IF NOT EXISTS consentry.tier_audit (
    TenantId String,
    At DateTime64(3),
    Actor String,
    Action LowCardinality(String),
    FromTier LowCardinality(String),
    ToTier LowCardinality(String),
    Until Nullable(DateTime64(3)),
    Reason String,
    Version UInt64
) ENGINE = MergeTree
ORDER BY (TenantId, At);

-- Gateway metadata, kept in every tier: version, instance, uptime, unexpected
-- restarts, allow-listed environment variables, policy config snapshots.
CREATE TABLE IF NOT EXISTS consentry.gateway_metadata (
    TenantId LowCardinality(String),
    Tier LowCardinality(String),
    Timestamp DateTime64(9),
    ServiceName LowCardinality(String),
    ServiceVersion LowCardinality(String),
    InstanceId String,
    UptimeSeconds Float64,
    UnexpectedRestarts UInt32,
    Environment Map(LowCardinality(String), String),
    PolicyConfig String,
    ExpireAt DateTime
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (TenantId, ServiceName, Timestamp)
TTL ExpireAt
SETTINGS non_replicated_deduplication_window = 10000;
