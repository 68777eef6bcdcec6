// Real OpenTelemetry SDK clients (tracer and logger providers with the OTLP
// exporters, protobuf or JSON) pointed at a Consentry OTLP endpoint.
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';

export type Encoding = 'proto' | 'json';

export interface SdkClient {
  tracerProvider: BasicTracerProvider;
  loggerProvider: LoggerProvider;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function sdkClient(opts: { otlpUrl: string; ingestKey: string; encoding: Encoding; resource?: Record<string, string> }): SdkClient {
  const headers = { Authorization: `Bearer ${opts.ingestKey}` };
  const resource = resourceFromAttributes({ 'service.name': 'test-gateway', ...opts.resource });
  const traceExporter =
    opts.encoding === 'proto'
      ? new ProtoTraceExporter({ url: `${opts.otlpUrl}/v1/traces`, headers })
      : new JsonTraceExporter({ url: `${opts.otlpUrl}/v1/traces`, headers });
  const logExporter =
    opts.encoding === 'proto' ? new ProtoLogExporter({ url: `${opts.otlpUrl}/v1/logs`, headers }) : new JsonLogExporter({ url: `${opts.otlpUrl}/v1/logs`, headers });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(traceExporter, { scheduledDelayMillis: 50 })] });
  const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: 50 })] });
  return {
    tracerProvider,
    loggerProvider,
    async flush() {
      await tracerProvider.forceFlush();
      await loggerProvider.forceFlush();
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await loggerProvider.shutdown();
    },
  };
}

/** An OTel HrTime as nanoseconds since the epoch, as a decimal string. */
export function hrToNanos(t: [number, number]): string {
  return (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
}
