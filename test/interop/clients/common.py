"""Shared by the interop drivers: OTel providers built from the standard
OTEL_EXPORTER_OTLP_* variables, the planted prompt, the application span
around the LLM call, and a clean flush before exit.

The test sets INTEROP_* variables (what to send) and OTEL_* variables (where);
a driver run by hand without them stops with a message naming the variable.
"""

import json
import os
import sys
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind


def need(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: the interop tests set it (test/interop); set it to run this driver by hand")
    return value


MOCK_URL = need("INTEROP_MOCK_URL")
MODEL = need("INTEROP_MODEL")
MESSAGES = json.loads(need("INTEROP_MESSAGES"))
# bare: the LLM call is the root span; server / internal: an application span around it.
SHAPE = os.environ.get("INTEROP_SHAPE", "bare")
STREAM = os.environ.get("INTEROP_STREAM", "") == "1"
# The key the OpenAI client sends to the mock: a secret that must never be stored.
API_KEY = need("INTEROP_SECRET")
# Personal data planted in the prompt (and in the SDK driver's warning log).
EMAIL = need("INTEROP_EMAIL")

failures = {"spans": 0, "logs": 0}


class CountingExporter:
    """Wraps a span or log exporter and counts the records it failed to
    export, so a refused key is a failed run, not a silent one."""

    def __init__(self, inner, signal, success):
        self.inner = inner
        self.signal = signal
        self.success = success

    def export(self, batch):
        result = self.inner.export(batch)
        if result is not self.success:
            failures[self.signal] += len(batch)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def exporters():
    """The OTLP exporters for OTEL_EXPORTER_OTLP_PROTOCOL; endpoint, headers and compression come from the environment."""
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    elif protocol == "http/json":
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    elif protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        sys.exit(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: the interop drivers speak http/protobuf, http/json and grpc")
    return OTLPSpanExporter(), OTLPLogExporter()


def install_providers():
    """Global tracer and logger providers exporting over OTLP (the resource from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES)."""
    span_exporter, log_exporter = exporters()
    resource = Resource.create()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(CountingExporter(span_exporter, "spans", SpanExportResult.SUCCESS)))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(CountingExporter(log_exporter, "logs", LogRecordExportResult.SUCCESS)))
    trace.set_tracer_provider(tracer_provider)
    set_logger_provider(logger_provider)
    return tracer_provider, logger_provider


@contextmanager
def application_span(tracer_provider):
    """The span an application puts around its LLM call, as INTEROP_SHAPE asks."""
    tracer = tracer_provider.get_tracer("interop.app")
    if SHAPE == "bare":
        yield
    elif SHAPE == "server":
        # What a FastAPI/ASGI instrumentation makes for the request that triggers the call.
        attributes = {"http.request.method": "POST", "http.route": "/ask", "url.path": "/ask", "url.scheme": "http", "http.response.status_code": 200}
        with tracer.start_as_current_span("POST /ask", kind=SpanKind.SERVER, attributes=attributes):
            yield
    elif SHAPE == "internal":
        with tracer.start_as_current_span("answer_question", kind=SpanKind.INTERNAL):
            yield
    else:
        sys.exit(f"INTEROP_SHAPE={SHAPE}: expected bare, server or internal")


def chat(client):
    """One chat completion against the mock, streamed when INTEROP_STREAM=1; returns the text."""
    if not STREAM:
        response = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return response.choices[0].message.content
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def openai_client():
    import openai

    return openai.OpenAI(base_url=MOCK_URL, api_key=API_KEY, max_retries=0, timeout=10)


def finish(tracer_provider, logger_provider, text):
    """Flushes and shuts down both providers; exits non-zero with the reason when an export failed or the call returned nothing."""
    tracer_provider.force_flush()
    logger_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()
    if failures["spans"] or failures["logs"]:
        sys.exit(f"export failed: {failures['spans']} spans, {failures['logs']} log records not accepted by {os.environ.get('OTEL_EXPORTER_OTLP_ENDPOINT')}")
    if not text:
        sys.exit("the chat call returned no text: check the mock's answer")
    print(json.dumps({"ok": True, "text": text}))
