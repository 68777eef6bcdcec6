// OpenLLMetry's opentelemetry-instrumentation-openai in its two modes:
// prompts and completions as span attributes, and as log events
// (use_attributes=False: gen_ai.system.message, gen_ai.user.message,
// gen_ai.choice), the mode whose bodies reached content-free tiers.
import { pythonDriver } from './harness.ts';
import { TIERS, interopSuite, llmCase } from './suite.ts';

interopSuite([
  llmCase({
    name: 'openllmetry-attributes',
    launch: pythonDriver('openllmetry_client.py', { INTEROP_OPENLLMETRY_MODE: 'attributes' }),
    runs: [{ shape: 'bare' }, { shape: 'server', stream: true }],
  }),
  llmCase({
    name: 'openllmetry-events',
    launch: pythonDriver('openllmetry_client.py', { INTEROP_OPENLLMETRY_MODE: 'events' }),
    runs: [{ shape: 'bare' }, { shape: 'internal' }],
    eventNames: ['gen_ai.choice', 'gen_ai.system.message', 'gen_ai.user.message'],
    tiers: [...TIERS, 'lunogen', 'logorhythms'],
  }),
]);
