// The same real clients over OTLP/gRPC, to the gRPC port: the OpenTelemetry
// Python SDK's gRPC exporters (grpcio; gzip on and off) and telemetrygen's
// default protocol. Every check of the suite, per tier, as over HTTP.
import { pythonDriver, telemetrygenDriver } from './harness.ts';
import { interopSuite, llmCase } from './suite.ts';
import { MODEL, USAGE } from './traffic.ts';

const TRACES = 2;

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
  {
    name: 'telemetrygen-grpc',
    launch: telemetrygenDriver({
      traces: TRACES,
      grpc: true,
      attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': MODEL, 'gen_ai.usage.input_tokens': USAGE.input, 'gen_ai.usage.output_tokens': USAGE.output },
    }),
    needs: { go: true },
    runs: [{ shape: 'bare' }],
    callsPerRun: TRACES,
    callsMock: false,
    sendsContent: false,
    provider: 'openai',
  },
]);
