// The processor contract. A processor is a pure function over a batch: it
// returns the records to keep (changed copies, new records such as aggregates)
// and never mutates its input records or the Resource/Scope objects they share,
// so the same batch can be processed again (by the sink, when a downgrade
// reaches data in flight) and processors can be tested in isolation. It does
// not call the next stage: the pipeline does, and counts what each drops.
import type { TSchema, Static } from '@sinclair/typebox';
import type { BatchContext, RecordBatch } from './record.ts';

export type Processor = (batch: RecordBatch, ctx: BatchContext) => RecordBatch;

/** What a processor may need from the deployment, given at creation. */
export interface ProcessorEnv {
  /** Per-deployment secret for keyed hashes (HMAC), from <data>/hmac-key. */
  hmacKey: Buffer;
  /** Counts values a processor removed on purpose, by kind (never the values). */
  count(name: string, n: number): void;
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
}

export function defineProcessor<S extends TSchema>(factory: ProcessorFactory<S>): ProcessorFactory<S> {
  return factory;
}
