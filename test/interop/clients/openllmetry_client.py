"""OpenLLMetry's opentelemetry-instrumentation-openai. INTEROP_OPENLLMETRY_MODE:
`attributes` (the default: prompts and completions as span attributes) or
`events` (use_attributes=False: prompts and completions as log events,
gen_ai.user.message, gen_ai.choice, ...). Content is on (TRACELOOP_TRACE_CONTENT
defaults to true)."""

import os
import sys

from common import application_span, chat, finish, install_providers, openai_client
from opentelemetry.instrumentation.openai import OpenAIInstrumentor

mode = os.environ.get("INTEROP_OPENLLMETRY_MODE", "attributes")
if mode not in ("attributes", "events"):
    sys.exit(f"INTEROP_OPENLLMETRY_MODE={mode}: expected attributes or events")

tracer_provider, logger_provider = install_providers()
OpenAIInstrumentor(use_attributes=mode == "attributes").instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
client = openai_client()
with application_span(tracer_provider):
    text = chat(client)
finish(tracer_provider, logger_provider, text)
