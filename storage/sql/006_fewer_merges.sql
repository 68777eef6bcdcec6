-- Fewer, wider merges of span and log parts: each merge joins more parts of
-- similar size, so a row is rewritten fewer times on its way to a large part.
-- Inserts come every few hundred ms; with the defaults (base 5, and the
-- heuristic that narrows merges) background merges took a third of the
-- collector's CPU in the full tier. Measured with `npm run bench -- --scenario
-- embedded-full-b1000 --rate 16000 --duration 60`: collector 1.54 -> 1.31
-- cores, merge threads 32% -> 20% of it. The cost is more active parts
-- (tens, far below parts_to_delay_insert) for queries to open.
ALTER TABLE consentry.otel_traces MODIFY SETTING merge_selector_base = 20, merge_selector_enable_heuristic_to_lower_max_parts_to_merge_at_once = 0;
ALTER TABLE consentry.otel_logs MODIFY SETTING merge_selector_base = 20, merge_selector_enable_heuristic_to_lower_max_parts_to_merge_at_once = 0;
