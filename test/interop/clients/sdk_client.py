"""The OpenTelemetry Python SDK alone, used the way the GenAI semantic
conventions describe: a CLIENT span per LLM call (inside the application's
span, as INTEROP_SHAPE asks) with gen_ai.* attributes and the messages as
gen_ai.input.messages / gen_ai.output.messages; a gen_ai.user.message log
event; an application event nobody has defined (app.feedback) whose body
quotes the prompt; and an ordinary warning log outside any request.

Encoding and compression come from OTEL_EXPORTER_OTLP_PROTOCOL and
OTEL_EXPORTER_OTLP_COMPRESSION."""

import json

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.trace import SpanKind

from common import API_KEY, EMAIL, MESSAGES, MODEL, application_span, finish, install_providers, openai_client

tracer_provider, logger_provider = install_providers()
tracer = tracer_provider.get_tracer("interop.sdk", "1.0.0")
logger = logger_provider.get_logger("interop.sdk", "1.0.0")
client = openai_client()

# An operational log with no request context: tiers that keep logs keep it, scrubbed and masked.
logger.emit(LogRecord(severity_number=SeverityNumber.WARN, severity_text="WARN", body=f"upstream slow for {EMAIL}; retrying with key {API_KEY}"))


def as_parts(messages):
    return json.dumps([{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages])


with application_span(tracer_provider):
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL, "server.address": "127.0.0.1"}
    with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        response = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        text = response.choices[0].message.content
        span.set_attributes(
            {
                "gen_ai.response.model": response.model,
                "gen_ai.response.id": response.id,
                "gen_ai.response.finish_reasons": [response.choices[0].finish_reason],
                "gen_ai.usage.input_tokens": response.usage.prompt_tokens,
                "gen_ai.usage.output_tokens": response.usage.completion_tokens,
                "gen_ai.input.messages": as_parts(MESSAGES),
                "gen_ai.output.messages": as_parts([{"role": "assistant", "content": text}]),
            }
        )
        user = next(m for m in MESSAGES if m["role"] == "user")
        logger.emit(LogRecord(event_name="gen_ai.user.message", body={"content": user["content"]}, attributes={"gen_ai.provider.name": "openai"}))
        logger.emit(LogRecord(event_name="app.feedback", body={"comment": f"the answer to '{user['content']}' was useful"}, severity_number=SeverityNumber.INFO))
finish(tracer_provider, logger_provider, text)
