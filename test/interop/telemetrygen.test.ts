// The Go SDK through the Collector's telemetrygen: each trace a CLIENT root
// with a SERVER child, both carrying the same GenAI attributes. One request
// per trace, its tokens once.
import { telemetrygenDriver } from './harness.ts';
import { interopSuite } from './suite.ts';
import { MODEL, USAGE } from './traffic.ts';

const TRACES = 2;

interopSuite([
  {
    name: 'telemetrygen',
    launch: telemetrygenDriver({
      traces: TRACES,
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
