// The same real clients over OTLP/gRPC, to the gRPC port: the OpenTelemetry
// Python SDK's gRPC exporters (grpcio; gzip on and off) and telemetrygen's
// default protocol. Every check of the suite, per tier, as over HTTP.
import { pythonDriver } from './harness.ts';
import { interopSuite, llmCase, telemetrygenCase } from './suite.ts';

interopSuite([
  ...['none', 'gzip'].map((compression) =>
    llmCase({
      name: `sdk-grpc-${compression}`,
      // The gRPC exporter takes gzip or nothing (it refuses `none`).
      launch: pythonDriver('sdk_client.py', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', ...(compression === 'gzip' ? { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' } : {}) }),
      runs: [{ shape: 'server' }, { shape: 'bare' }],
      eventNames: ['app.feedback', 'gen_ai.user.message'],
      appLogsPerRun: 1,
    }),
  ),
  telemetrygenCase('telemetrygen-grpc', { grpc: true }),
]);
