// opentelemetry-instrumentation-openai-v2 (with opentelemetry-util-genai: the
// latest GenAI conventions), content capture on in spans and events.
import { pythonDriver } from './harness.ts';
import { interopSuite, llmCase } from './suite.ts';

interopSuite([
  llmCase({
    name: 'openai-v2',
    launch: pythonDriver('openai_v2_client.py', { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'span_and_event' }),
    runs: [{ shape: 'bare' }, { shape: 'server' }, { shape: 'internal', stream: true }],
    eventNames: ['gen_ai.client.inference.operation.details'],
  }),
]);
