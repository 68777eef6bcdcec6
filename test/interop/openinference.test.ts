// OpenInference's openinference-instrumentation-openai: INTERNAL spans with
// openinference.span.kind=LLM and llm.* / input.value / output.value.
import { pythonDriver } from './harness.ts';
import { interopSuite } from './suite.ts';

interopSuite([
  {
    name: 'openinference',
    launch: pythonDriver('openinference_client.py'),
    needs: { python: true },
    runs: [{ shape: 'bare' }, { shape: 'server' }, { shape: 'internal', stream: true }],
    callsPerRun: 1,
    callsMock: true,
    sendsContent: true,
    provider: 'openai',
  },
]);
