"""OpenInference's openinference-instrumentation-openai: LLM spans with
llm.* / input.value / output.value attributes (content is on by default)."""

from common import application_span, chat, finish, install_providers, openai_client
from openinference.instrumentation.openai import OpenAIInstrumentor

tracer_provider, logger_provider = install_providers()
OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
client = openai_client()
with application_span(tracer_provider):
    text = chat(client)
finish(tracer_provider, logger_provider, text)
