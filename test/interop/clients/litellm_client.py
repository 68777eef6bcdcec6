"""LiteLLM with its `otel` callback, configured through environment variables
read by LiteLLM itself: the standard OTEL_EXPORTER_OTLP_* ones, or its own
(INTEROP_LITELLM_ENV=own).

bare: LiteLLM builds its own tracer provider and exporter from those variables
(and sends OTEL_EXPORTER_OTLP_HEADERS without URL-decoding it). server /
internal: the application installed the OTel SDK first, as an instrumented web
app has, and LiteLLM records its spans through that provider."""

import os
from urllib.parse import unquote

# LiteLLM fetches its model price list from the internet at import unless told
# to use the copy it ships: these tests stay on loopback.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

# INTEROP_LITELLM_ENV=own: configure LiteLLM with its own variables, as its docs
# show them (OTEL_EXPORTER, OTEL_ENDPOINT, OTEL_HEADERS with a plain space),
# instead of the standard OTEL_EXPORTER_OTLP_* ones.
if os.environ.get("INTEROP_LITELLM_ENV") == "own":
    endpoint = os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT")
    os.environ["OTEL_ENDPOINT"] = f"{endpoint}/v1/traces"
    os.environ["OTEL_HEADERS"] = unquote(os.environ.pop("OTEL_EXPORTER_OTLP_HEADERS"))
    os.environ["OTEL_EXPORTER"] = "otlp_http"
    os.environ.pop("OTEL_EXPORTER_OTLP_PROTOCOL", None)

import litellm  # noqa: E402
from opentelemetry import trace  # noqa: E402
from litellm.litellm_core_utils.thread_pool_executor import executor as logging_executor  # noqa: E402
from opentelemetry._logs import get_logger_provider  # noqa: E402

from common import API_KEY, MESSAGES, MOCK_URL, MODEL, SHAPE, STREAM, application_span, finish, install_providers

if SHAPE != "bare":
    install_providers()
litellm.callbacks = ["otel"]


def call():
    if not STREAM:
        response = litellm.completion(model=f"openai/{MODEL}", messages=MESSAGES, api_base=MOCK_URL, api_key=API_KEY, num_retries=0, timeout=10)
        return response.choices[0].message.content
    stream = litellm.completion(
        model=f"openai/{MODEL}", messages=MESSAGES, api_base=MOCK_URL, api_key=API_KEY, num_retries=0, timeout=10, stream=True, stream_options={"include_usage": True}
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


tracer_provider = trace.get_tracer_provider()
with application_span(tracer_provider):
    text = call()
# LiteLLM records the call from its logging threads: wait for them before flushing.
logging_executor.shutdown(wait=True)
finish(trace.get_tracer_provider(), get_logger_provider(), text)
