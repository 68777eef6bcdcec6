// OpenInference's openinference-instrumentation-openai: INTERNAL spans with
// openinference.span.kind=LLM and llm.* / input.value / output.value.
import { pythonDriver } from './harness.ts';
import { interopSuite, llmCase } from './suite.ts';

interopSuite([
  llmCase({
    name: 'openinference',
    launch: pythonDriver('openinference_client.py'),
    runs: [{ shape: 'bare' }, { shape: 'server' }, { shape: 'internal', stream: true }],
  }),
]);
