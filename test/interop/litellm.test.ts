// LiteLLM with its `otel` callback and events on. Alone, LiteLLM builds its
// own exporter from OTEL_EXPORTER_OTLP_HEADERS without URL-decoding it, so the
// spec form `Authorization=Bearer%20<key>` arrives as `Bearer%20<key>`; its own
// OTEL_HEADERS takes the plain `Authorization=Bearer <key>`. Inside
// an application that installed the SDK (server shape) it uses the
// application's provider; USE_OTEL_LITELLM_REQUEST_SPAN=true makes it keep its
// litellm_request span under the application's span (without it, LiteLLM
// writes model and tokens onto the parent span, after the parent has ended).
import { pythonDriver } from './harness.ts';
import { interopSuite, llmCase } from './suite.ts';

interopSuite([
  llmCase({
    name: 'litellm',
    launch: pythonDriver('litellm_client.py', { LITELLM_OTEL_INTEGRATION_ENABLE_EVENTS: 'true', OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'span_and_event' }),
    runs: [{ shape: 'bare' }, { shape: 'bare', vars: { INTEROP_LITELLM_ENV: 'own' } }, { shape: 'server', vars: { USE_OTEL_LITELLM_REQUEST_SPAN: 'true' } }],
  }),
]);
