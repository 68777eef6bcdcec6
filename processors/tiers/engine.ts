// The tier engine: compiles every tier's pipelines once, applies the tier in
// force at receipt, and reduces in-flight data when a tenant was downgraded
// since (the same pipelines, run by the sink).
//
// Order at receipt, in every tier: the fixed stages before the steps
// (stages.ts: gateway metadata, API-key HMAC where the tier keeps it, secret
// scrubbing) -> the tier's span and log steps -> the fixed stages after them
// (cost of the call spans kept, retention).
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import { batchOf, emptyBatch, forEachDropped } from '../../core/record.ts';
import type { Processor, ProcessorEnv, ProcessorFactory } from '../processor.ts';
import type { LoadedTier, TierConfig } from './config.ts';
import { compileSpanReads, DECODE_NOTHING, type SpanProjection } from '../projection.ts';
import { gatewayMetadata } from '../gateway-metadata/processor.ts';
import { hashApiKeys } from '../hash-api-keys/processor.ts';
import { retention } from '../retention/processor.ts';
import { createCostStage } from '../cost/processor.ts';
import type { PriceTable } from '../cost/prices.ts';

/** Where the engine reports what it did (metrics); never per tenant. */
export interface EngineHooks {
  /** Values a processor removed on purpose, by processor. */
  count(name: string, n: number): void;
  /** Secrets replaced by a marker, by kind. */
  onRedact(kind: string, n: number): void;
  /** Records a pipeline step dropped on purpose. */
  onDrop(signal: string, tier: string, n: number): void;
}

export interface CompiledTier {
  config: TierConfig;
  file: string;
  metadata: Processor;
  hashApiKeys: Processor | undefined;
  spans: Processor[];
  logs: Processor[];
  retention: Processor;
  /** What the decoder must read of a span for this tier. */
  projection: SpanProjection;
}

export interface TierEngineOptions {
  tiers: LoadedTier[];
  /** The processors tier steps name (processors/builtin.ts). */
  factories: ReadonlyMap<string, ProcessorFactory>;
  env: ProcessorEnv;
  /** The secret scrubber, run in every tier. */
  scrub: Processor;
  /** Counts records a pipeline step removed (by signal and tier; never by tenant). */
  onDrop?: (signal: string, tier: string, n: number) => void;
}

export class TierEngine {
  private readonly tiers = new Map<string, CompiledTier>();
  private readonly cost: Processor;

  constructor(private readonly opts: TierEngineOptions) {
    this.cost = opts.env.prices === undefined ? (b) => b : createCostStage(opts.env.prices);
    for (const t of opts.tiers) this.tiers.set(t.config.name, this.compile(t));
  }

  private factory(name: string): ProcessorFactory {
    const f = this.opts.factories.get(name);
    if (f === undefined) throw new Error(`processor "${name}" is not registered`);
    return f;
  }

  private compile(t: LoadedTier): CompiledTier {
    const stepOf = (s: Record<string, unknown>): { factory: ProcessorFactory; config: unknown } => {
      const [name, config] = Object.entries(s)[0]!;
      return { factory: this.factory(name), config: config ?? {} };
    };
    const step = (s: Record<string, unknown>): Processor => {
      const { factory, config } = stepOf(s);
      return factory.create(config, this.opts.env);
    };
    const c = t.config;
    const first = c.spans[0] === undefined ? undefined : stepOf(c.spans[0]);
    // API-key hashing reads header attributes a first step may not name: decode them all.
    const projection = compileSpanReads(c.hashApiKeys === true ? undefined : first?.factory.spanReads?.(first.config));
    return {
      config: c,
      file: t.file,
      metadata: gatewayMetadata.create(c.environmentAllowList === undefined ? {} : { environmentAllowList: c.environmentAllowList }, this.opts.env),
      hashApiKeys: c.hashApiKeys === true ? hashApiKeys.create({}, this.opts.env) : undefined,
      spans: c.spans.map(step),
      logs: c.logs.map(step),
      retention: retention.create({ days: c.retentionDays, contentDays: c.contentRetentionDays ?? null }, this.opts.env),
      projection,
    };
  }

  /** The price table calls are priced by (ProcessorEnv.prices); undefined: none. */
  get prices(): PriceTable | undefined {
    return this.opts.env.prices;
  }

  names(): string[] {
    return [...this.tiers.keys()].sort();
  }

  get(name: string): CompiledTier | undefined {
    return this.tiers.get(name);
  }

  /**
   * What the decoder must read of a span for tier `name` (SpanReads of its
   * first span step). An unknown tier reads nothing (fail closed).
   */
  spanProjection(name: string): SpanProjection {
    return this.tiers.get(name)?.projection ?? DECODE_NOTHING;
  }

  /** Applies tier `ctx.tier` to a batch as received. An unknown tier stores nothing (fail closed). */
  process(batch: RecordBatch, ctx: BatchContext): RecordBatch {
    const tier = this.tiers.get(ctx.tier);
    if (tier === undefined) return this.dropAll(batch, ctx.tier);
    let b = tier.metadata(batch, ctx);
    if (tier.hashApiKeys !== undefined) b = tier.hashApiKeys(b, ctx);
    b = this.opts.scrub(b, ctx);
    return this.applyPipelines(tier, b, ctx);
  }

  /**
   * Reduces a batch processed under `ctx.tier` to the tenant's current tier when
   * that is a downgrade: a different tier of the same or a lower level. An
   * upgrade changes nothing: a record keeps the tier it was received under.
   */
  reduce(batch: RecordBatch, ctx: BatchContext, current: { tier: string; version: number }): { batch: RecordBatch; ctx: BatchContext } {
    if (current.tier === ctx.tier) return { batch, ctx };
    const from = this.tiers.get(ctx.tier);
    const to = this.tiers.get(current.tier);
    const next: BatchContext = { ...ctx, tier: current.tier, tierVersion: current.version };
    if (to === undefined) return { batch: this.dropAll(batch, current.tier), ctx: next };
    if (from !== undefined && to.config.level > from.config.level) return { batch, ctx };
    return { batch: this.applyPipelines(to, this.opts.scrub(batch, next), next), ctx: next };
  }

  private applyPipelines(tier: CompiledTier, b: RecordBatch, ctx: BatchContext): RecordBatch {
    const name = tier.config.name;
    const spans = this.run(tier.spans, batchOf({ spans: b.spans, summaries: b.summaries }), ctx, name);
    const logs = this.run(tier.logs, batchOf({ logs: b.logs }), ctx, name);
    const merged: RecordBatch = {
      spans: spans.spans.concat(logs.spans),
      logs: spans.logs.concat(logs.logs),
      summaries: spans.summaries.concat(logs.summaries),
      metadata: b.metadata,
    };
    return tier.retention(this.cost(merged, ctx), ctx);
  }

  private run(steps: Processor[], batch: RecordBatch, ctx: BatchContext, tier: string): RecordBatch {
    let b = batch;
    for (const step of steps) {
      const out = step(b, ctx);
      if (this.opts.onDrop !== undefined) forEachDropped(b, out, (kind, n) => this.opts.onDrop!(kind, tier, n));
      b = out;
    }
    return b;
  }

  private dropAll(batch: RecordBatch, tier: string): RecordBatch {
    const empty = emptyBatch();
    forEachDropped(batch, empty, (kind, n) => this.opts.onDrop?.(kind, tier, n));
    return empty;
  }
}
