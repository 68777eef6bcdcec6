-- Cost of LLM calls, priced at receipt (issue 17, processors/cost/): the
-- `summary` fold adds each priced call's cost to its row, and counts the calls
-- whose model has no price. Both add up across minutes and collector
-- instances like the other figures (sum). Decimal(38, 12): exact picodollars;
-- sums of any number of rows stay exact (Decimal128).
--
-- Rows written before were not priced: their calls count as unpriced
-- (UnpricedCalls defaults to Calls), never as free.
ALTER TABLE consentry.request_summaries
    ADD COLUMN IF NOT EXISTS CostUsd SimpleAggregateFunction(sum, Decimal(38, 12)) CODEC(ZSTD(1)) AFTER OutputTokens,
    ADD COLUMN IF NOT EXISTS UnpricedCalls SimpleAggregateFunction(sum, UInt64) DEFAULT Calls CODEC(T64, ZSTD(1)) AFTER CostUsd;
