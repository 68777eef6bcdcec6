// The way out: an OpenTelemetry tracer provider of our own (never the global
// one) with a BatchSpanProcessor and the OTLP/HTTP exporter, bounded and
// counted. At most maxQueueSize spans are held in memory, queued or being
// exported; a span past that is dropped at once and counted, so a slow or
// absent Consentry costs the gateway a bounded amount of memory and nothing
// else. Exports run off the request path, and the SDK suppresses tracing
// around them so the export itself is never captured.
import type { Tracer } from '@opentelemetry/api';
import { TraceFlags } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ResolvedOptions } from './config.ts';

type ExportCallback = Parameters<SpanExporter['export']>[1];
type ExporterConfig = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;
/** ExportResultCode.SUCCESS of @opentelemetry/core (not a dependency of ours: its enum type comes through the callback). */
const SUCCESS = 0 as Parameters<ExportCallback>[0]['code'];

export interface ExportCounters {
  /** Spans Consentry accepted. */
  exported: number;
  /** Spans dropped because maxQueueSize spans were already held. */
  queueFull: number;
  /** Spans whose export failed after the exporter's retries (Consentry down, 4xx). */
  exportFailed: number;
  /** Spans held now: queued or being exported. */
  inflight: number;
}

/** Counts export outcomes; releases the spans' places in the bound. */
class CountingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly counters: ExportCounters,
  ) {}

  export(spans: ReadableSpan[], done: ExportCallback): void {
    let settled = false;
    const settle: ExportCallback = (result) => {
      if (settled) return;
      settled = true;
      this.counters.inflight -= spans.length;
      if (result.code === SUCCESS) this.counters.exported += spans.length;
      else this.counters.exportFailed += spans.length;
      done(result);
    };
    try {
      this.inner.export(spans, settle);
    } catch (err) {
      settle({ code: 1, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Admits a span to the batch processor only while fewer than `max` are held. */
class BoundedProcessor implements SpanProcessor {
  private closed = false;
  constructor(
    private readonly inner: SpanProcessor,
    private readonly max: number,
    private readonly counters: ExportCounters,
  ) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    // The batch processor ignores these too; counting them would leak places.
    if (this.closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.counters.inflight >= this.max) {
      this.counters.queueFull++;
      return;
    }
    this.counters.inflight++;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.closed = true;
    return this.inner.shutdown();
  }
}

export interface SpanExport {
  tracer: Tracer;
  counters: ExportCounters;
  flush(): Promise<void>;
  /** Flushes what is held (until the deadline) and stops. Idempotent. */
  shutdown(deadlineMs: number): Promise<void>;
}

export function createSpanExport(opts: ResolvedOptions, version: string): SpanExport {
  const counters: ExportCounters = { exported: 0, queueFull: 0, exportFailed: 0, inflight: 0 };
  const exporter = new OTLPTraceExporter({
    url: `${opts.url}/v1/traces`,
    headers: { Authorization: `Bearer ${opts.ingestKey}` },
    timeoutMillis: opts.exportTimeoutMillis,
    compression: opts.compression as ExporterConfig['compression'],
  });
  const batch = new BatchSpanProcessor(new CountingExporter(exporter, counters), {
    // The bound is enforced in front of it; its own queue never fills first.
    maxQueueSize: opts.maxQueueSize,
    maxExportBatchSize: opts.maxExportBatchSize,
    scheduledDelayMillis: opts.scheduledDelayMillis,
    exportTimeoutMillis: opts.exportTimeoutMillis + 1000,
  });
  const resource = resourceFromAttributes({
    ...opts.resource,
    'service.name': opts.serviceName,
    ...(opts.serviceVersion === undefined ? {} : { 'service.version': opts.serviceVersion }),
  });
  const provider = new BasicTracerProvider({
    resource,
    // Every request is captured: sampling would make per-tenant counts wrong.
    sampler: new AlwaysOnSampler(),
    // Headers can be many; the SDK's default of 128 attributes would drop some silently.
    spanLimits: { attributeCountLimit: 1024 },
    spanProcessors: [new BoundedProcessor(batch, opts.maxQueueSize, counters)],
  });
  let stopping: Promise<void> | undefined;
  return {
    tracer: provider.getTracer('consentry-interceptor', version),
    counters,
    flush: () => provider.forceFlush(),
    shutdown(deadlineMs) {
      stopping ??= new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        timer.unref();
        provider.shutdown().then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          () => {
            clearTimeout(timer);
            resolve();
          },
        );
      });
      return stopping;
    },
  };
}
