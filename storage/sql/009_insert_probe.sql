-- While inserts fail, the collector's readiness probe writes one row here every
-- second through the same path as the data (sinks/clickhouse/insert.ts,
-- probeInsert), so /readyz turns ready again once ClickHouse takes inserts,
-- without waiting for traffic. Rows are kept one hour.
CREATE TABLE IF NOT EXISTS consentry.insert_probe (
    At DateTime
) ENGINE = MergeTree
ORDER BY At
TTL At + INTERVAL 1 HOUR;
