// The OpenTelemetry Python SDK on its own (GenAI attributes and log events
// set by hand, clients/sdk_client.py) in every OTLP/HTTP encoding: protobuf
// and JSON, gzip on and off.
import { pythonDriver } from './harness.ts';
import { interopSuite, llmCase } from './suite.ts';

const encodings = [
  { name: 'sdk-proto', protocol: 'http/protobuf', compression: 'none' },
  { name: 'sdk-proto-gzip', protocol: 'http/protobuf', compression: 'gzip' },
  { name: 'sdk-json', protocol: 'http/json', compression: 'none' },
  { name: 'sdk-json-gzip', protocol: 'http/json', compression: 'gzip' },
];

interopSuite(
  encodings.map((e) =>
    llmCase({
      name: e.name,
      launch: pythonDriver('sdk_client.py', { OTEL_EXPORTER_OTLP_PROTOCOL: e.protocol, OTEL_EXPORTER_OTLP_COMPRESSION: e.compression }),
      // An application SERVER span around the CLIENT call, and the call alone.
      runs: [{ shape: 'server' }, { shape: 'bare' }],
      eventNames: ['app.feedback', 'gen_ai.user.message'],
      appLogsPerRun: 1,
    }),
  ),
);
