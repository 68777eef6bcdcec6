// Configuration of `summarize`: none. The aggregation is fixed by the table it
// feeds (consentry.request_summaries: one row per minute, the columns of
// SummaryRecord, the sketch of sketch.ts), so a per-tier knob such as the
// bucket width would only let tiers write rows that no longer mean the same
// thing in one table. Unknown keys are rejected: `- summarize: {}`.
import { Type, type Static } from '@sinclair/typebox';

export const SummarizeConfigSchema = Type.Object({}, { additionalProperties: false });

export type SummarizeConfig = Static<typeof SummarizeConfigSchema>;
