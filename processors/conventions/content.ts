// Where LLM content (prompts, completions, messages, tool arguments and
// results, documents, bodies) lives in what real senders send, as data: the
// one description `drop-content` and `drop-request-logs` apply, compiled once
// by classify.ts, and printed in the README (test/docs/readme.test.ts).
//
// `match` forms: `a.b` one key; `a.b.*` every key under `a.b.`; `a.*.c` keys
// of three segments whose middle one is anything (LiteLLM's raw payloads are
// `llm.<provider>.<field>`).
//
// Attribute rules apply wherever an attribute is: span, span event, log.
// Event rules apply to span events by name and to log records by event name
// (LogRecord.event_name, or an `event.name` / `event_name` attribute): such an
// event exists to carry content or repeats its span's metadata, so a tier
// without content drops it whole.
//
// Read from: open-telemetry/semantic-conventions docs/gen-ai and
// model/gen-ai/deprecated (events-deprecated.yaml, registry-deprecated.yaml);
// traceloop/openllmetry opentelemetry-semantic-conventions-ai and
// opentelemetry-instrumentation-openai 0.62 (event_emitter.py, span attributes);
// Arize-ai/openinference spec/semantic_conventions.md; BerriAI/litellm
// litellm/integrations/opentelemetry.py (set_attributes,
// set_raw_request_attributes, _emit_semantic_logs).
import { BY, type Convention } from './genai.ts';

export interface ContentRule {
  readonly by: readonly Convention[];
  readonly where: 'attribute' | 'event';
  readonly match: string;
  readonly what: string;
}

const { G, D, O, I, L, C } = BY;

export const CONTENT: readonly ContentRule[] = [
  // GenAI, current
  { by: [G, O, L], where: 'attribute', match: 'gen_ai.input.messages', what: 'chat history sent to the model' },
  { by: [G, O, L], where: 'attribute', match: 'gen_ai.output.messages', what: 'messages the model returned' },
  { by: [G, L], where: 'attribute', match: 'gen_ai.system_instructions', what: 'system prompt' },
  { by: [G, O], where: 'attribute', match: 'gen_ai.tool.definitions', what: 'tools offered to the model' },
  { by: [G], where: 'attribute', match: 'gen_ai.tool.call.arguments', what: 'tool call arguments' },
  { by: [G], where: 'attribute', match: 'gen_ai.tool.call.result', what: 'tool call result' },
  { by: [G], where: 'attribute', match: 'gen_ai.retrieval.query.text', what: 'retrieval query' },
  { by: [G], where: 'attribute', match: 'gen_ai.retrieval.documents', what: 'retrieved documents' },
  { by: [G], where: 'attribute', match: 'gen_ai.evaluation.explanation', what: 'free-text judgement of a response' },
  // GenAI, deprecated (and OpenLLMetry, LiteLLM, which still send them)
  { by: [D, L], where: 'attribute', match: 'gen_ai.prompt', what: 'prompt (span event and log attribute)' },
  { by: [D, O, L], where: 'attribute', match: 'gen_ai.prompt.*', what: 'prompts, flattened (gen_ai.prompt.0.content, ...)' },
  { by: [D], where: 'attribute', match: 'gen_ai.completion', what: 'completion (span event attribute)' },
  { by: [D, O, L], where: 'attribute', match: 'gen_ai.completion.*', what: 'completions and tool calls, flattened' },
  { by: [O], where: 'attribute', match: 'gen_ai.content.completion.chunk', what: 'streamed completion chunk' },
  { by: [D], where: 'attribute', match: 'gen_ai.request.functions', what: 'functions offered to the model' },
  { by: [D], where: 'attribute', match: 'gen_ai.request.functions.*', what: 'functions offered to the model, flattened' },
  // OpenLLMetry
  { by: [O], where: 'attribute', match: 'traceloop.entity.input', what: 'workflow/task input' },
  { by: [O], where: 'attribute', match: 'traceloop.entity.output', what: 'workflow/task output' },
  { by: [O], where: 'attribute', match: 'traceloop.prompt.template', what: 'prompt template' },
  { by: [O], where: 'attribute', match: 'traceloop.prompt.template_variables.*', what: 'prompt template values' },
  { by: [O], where: 'attribute', match: 'gen_ai.tool.input', what: 'tool input' },
  { by: [O], where: 'attribute', match: 'gen_ai.tool.output', what: 'tool output' },
  { by: [O], where: 'attribute', match: 'gen_ai.task.input', what: 'task input' },
  { by: [O], where: 'attribute', match: 'gen_ai.task.output', what: 'task output' },
  { by: [O], where: 'attribute', match: 'gen_ai.guardrail.input', what: 'guarded input' },
  { by: [O], where: 'attribute', match: 'gen_ai.guardrail.output', what: 'guarded output' },
  { by: [O], where: 'attribute', match: 'gen_ai.request.structured_output_schema', what: 'response schema asked for' },
  { by: [O], where: 'attribute', match: 'gen_ai.headers', what: 'request headers, as one string' },
  { by: [O, L], where: 'attribute', match: 'llm.headers', what: 'request headers, as one string' },
  { by: [O], where: 'attribute', match: 'llm.prompts', what: 'prompts (old OpenLLMetry)' },
  { by: [O], where: 'attribute', match: 'llm.completions', what: 'completions (old OpenLLMetry)' },
  { by: [O, L], where: 'attribute', match: 'llm.content.completion.chunk', what: 'streamed completion chunk' },
  { by: [O, L], where: 'attribute', match: 'llm.request.functions.*', what: 'functions offered to the model, flattened' },
  { by: [O], where: 'attribute', match: 'mcp.request.argument', what: 'MCP tool arguments' },
  { by: [O], where: 'attribute', match: 'mcp.response.value', what: 'MCP tool result' },
  // OpenInference
  { by: [I], where: 'attribute', match: 'input.value', what: 'input of any span (prompt, question, tool input)' },
  { by: [I], where: 'attribute', match: 'output.value', what: 'output of any span' },
  { by: [I], where: 'attribute', match: 'llm.input_messages.*', what: 'messages sent, flattened' },
  { by: [I], where: 'attribute', match: 'llm.output_messages.*', what: 'messages returned, flattened' },
  { by: [I], where: 'attribute', match: 'llm.prompts.*', what: 'prompts, flattened' },
  { by: [I], where: 'attribute', match: 'llm.choices.*', what: 'completions, flattened' },
  { by: [I], where: 'attribute', match: 'llm.tools.*', what: 'tools offered, flattened' },
  { by: [I], where: 'attribute', match: 'llm.function_call', what: 'function call' },
  { by: [I], where: 'attribute', match: 'llm.invocation_parameters', what: 'call parameters (may hold tools and instructions)' },
  { by: [I], where: 'attribute', match: 'llm.prompt_template.template', what: 'prompt template' },
  { by: [I], where: 'attribute', match: 'llm.prompt_template.variables', what: 'prompt template values' },
  { by: [I], where: 'attribute', match: 'embedding.embeddings.*', what: 'embedded texts and vectors' },
  { by: [I], where: 'attribute', match: 'embedding.text', what: 'embedded text' },
  { by: [I], where: 'attribute', match: 'embedding.invocation_parameters', what: 'embedding parameters' },
  { by: [I], where: 'attribute', match: 'retrieval.documents.*', what: 'retrieved documents' },
  { by: [I], where: 'attribute', match: 'reranker.input_documents.*', what: 'documents to rerank' },
  { by: [I], where: 'attribute', match: 'reranker.output_documents.*', what: 'reranked documents' },
  { by: [I], where: 'attribute', match: 'reranker.query', what: 'rerank query' },
  { by: [I], where: 'attribute', match: 'document.content', what: 'document text' },
  { by: [I, L], where: 'attribute', match: 'message.content', what: 'message text' },
  { by: [I], where: 'attribute', match: 'tool_call.function.arguments', what: 'tool call arguments' },
  { by: [I], where: 'attribute', match: 'tool.parameters', what: 'tool parameters' },
  { by: [I], where: 'attribute', match: 'audio.transcript', what: 'audio transcript' },
  // LiteLLM's raw request span (raw_gen_ai_request): the provider payload as llm.<provider>.<field>
  { by: [L], where: 'attribute', match: 'llm.*.messages', what: 'raw request messages' },
  { by: [L], where: 'attribute', match: 'llm.*.system', what: 'raw system prompt' },
  { by: [L], where: 'attribute', match: 'llm.*.prompt', what: 'raw prompt' },
  { by: [L], where: 'attribute', match: 'llm.*.input', what: 'raw input' },
  { by: [L], where: 'attribute', match: 'llm.*.contents', what: 'raw contents (Gemini)' },
  { by: [L], where: 'attribute', match: 'llm.*.instructions', what: 'raw instructions' },
  { by: [L], where: 'attribute', match: 'llm.*.tools', what: 'raw tools' },
  { by: [L], where: 'attribute', match: 'llm.*.choices', what: 'raw completions' },
  { by: [L], where: 'attribute', match: 'llm.*.content', what: 'raw completion content (Anthropic)' },
  { by: [L], where: 'attribute', match: 'llm.*.output', what: 'raw output (responses API)' },
  { by: [L], where: 'attribute', match: 'llm.*.stringified_raw_response', what: 'raw response text' },
  // The gateway conventions (DESIGN.md): bodies and captured headers
  { by: [C], where: 'attribute', match: 'gateway.request.body', what: 'request body' },
  { by: [C], where: 'attribute', match: 'gateway.response.body', what: 'response body' },
  { by: [C], where: 'attribute', match: 'http.request.header.*', what: 'captured request headers (but the few in NOT_CONTENT)' },
  { by: [C], where: 'attribute', match: 'http.response.header.*', what: 'captured response headers (but the few in NOT_CONTENT)' },
  // Events: span events by name, log records by event name
  { by: [D], where: 'event', match: 'gen_ai.content.prompt', what: 'prompt event (span event; LiteLLM log)' },
  { by: [D], where: 'event', match: 'gen_ai.content.completion', what: 'completion event (span event; LiteLLM log)' },
  { by: [D, O], where: 'event', match: 'gen_ai.system.message', what: 'system message' },
  { by: [D, O], where: 'event', match: 'gen_ai.user.message', what: 'user message' },
  { by: [D, O], where: 'event', match: 'gen_ai.assistant.message', what: 'assistant message' },
  { by: [D, O], where: 'event', match: 'gen_ai.tool.message', what: 'tool message' },
  { by: [D, O], where: 'event', match: 'gen_ai.choice', what: 'one completion choice' },
  { by: [G], where: 'event', match: 'gen_ai.client.inference.operation.details', what: 'the call with its input and output messages' },
  { by: [G], where: 'event', match: 'gen_ai.evaluation.result', what: 'evaluation of a response' },
  { by: [G, D, O, L], where: 'event', match: 'gen_ai.*', what: 'any other GenAI event (fail closed)' },
];

/** Header attributes that describe a request rather than carry its content (policy 001 keeps User-Agent as device information). */
export const NOT_CONTENT: readonly string[] = [
  'http.request.header.user-agent',
  'http.request.header.content-type',
  'http.request.header.content-length',
  'http.response.header.content-type',
  'http.response.header.content-length',
];

/** The content table as Markdown (README). */
export function contentMarkdown(): string {
  const rows = CONTENT.map((r) => `| ${r.where === 'event' ? 'event name' : 'attribute'} | \`${r.match}\` | ${r.by.join(', ')} | ${r.what} |`);
  return ['| where | match | sent by | what |', '|---|---|---|---|', ...rows].join('\n');
}
