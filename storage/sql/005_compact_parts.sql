-- Span and log parts stay Compact (one data file per part instead of two or
-- more per column; these tables have about 25 columns, Maps and Nested arrays
-- among them) up to 256 MiB. Measured with `npm run bench:insert` (embedded, full-size
-- spans, 16k rows per insert): 63 instead of 75 CPU-seconds per million rows.
ALTER TABLE consentry.otel_traces MODIFY SETTING min_bytes_for_wide_part = 268435456;
ALTER TABLE consentry.otel_logs MODIFY SETTING min_bytes_for_wide_part = 268435456;
