// The processor contract. A processor is a pure function over a batch: it
// returns the records to keep (changed copies, new records such as aggregates)
// and never mutates its input records or the Resource/Scope objects they share,
// so the same batch can be processed again (by the sink, when a downgrade
// reaches data in flight) and processors can be tested in isolation. It does
// not call the next stage: the pipeline does, and counts what each drops.
import type { TSchema, Static } from '@sinclair/typebox';
import type { BatchContext, RecordBatch } from '../core/record.ts';
import type { PriceTable } from './cost/prices.ts';

export type Processor = (batch: RecordBatch, ctx: BatchContext) => RecordBatch;

/**
 * The parts of a span a processor can read when it is the first span step of a
 * tier, for a step that consumes spans whole (folds or drops them) or keeps
 * only named attributes. The decoder skips the rest without decoding it. An
 * optimisation only: a tier's output is the same with or without it
 * (test/tiers/projection.test.ts).
 */
export interface SpanReads {
  /** False: every span is dropped unread (the traces request is not even decoded). */
  spans: boolean;
  /** Span attributes read or kept, by exact key or key prefix; undefined: all of them. */
  attributes?: { keys: readonly string[]; prefixes: readonly string[] };
  /** Whether span events and links are read or kept. */
  events: boolean;
  links: boolean;
}

/** What a processor may need from the deployment, given at creation. */
export interface ProcessorEnv {
  /** Per-deployment secret for keyed hashes (HMAC), from <data>/hmac-key. */
  hmacKey: Buffer;
  /** Counts values a processor removed on purpose, by kind (never the values). */
  count(name: string, n: number): void;
  /** Prices of LLM calls (CONSENTRY_PRICES_FILE or the shipped table); absent: no call is priced. */
  prices?: PriceTable;
}

/**
 * A processor type as tier YAML names it (`summarize`, `filter-attributes`, ...).
 * `config` is validated against `schema` (unknown keys rejected) before
 * `create` runs; regexes and tables are compiled in `create`, never per record.
 */
export interface ProcessorFactory<S extends TSchema = TSchema> {
  name: string;
  /** One line for docs and the tier-switch confirmation: what this processor does. */
  description: string;
  schema: S;
  create(config: Static<S>, env: ProcessorEnv): Processor;
  /** What this step reads of a span when it comes first (see SpanReads); undefined: everything. */
  spanReads?(config: Static<S>): SpanReads | undefined;
}

export function defineProcessor<S extends TSchema>(factory: ProcessorFactory<S>): ProcessorFactory<S> {
  return factory;
}
