"""opentelemetry-instrumentation-openai-v2 (the OpenTelemetry project's own).
Content capture and conventions come from its environment variables, which the
test sets: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, and for the latest
conventions OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental."""

from common import application_span, chat, finish, install_providers, openai_client
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

tracer_provider, logger_provider = install_providers()
OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
client = openai_client()
with application_span(tracer_provider):
    text = chat(client)
finish(tracer_provider, logger_provider, text)
