// What an LLM response says about itself: provider (by its shape), response
// model and token usage, from OpenAI- and Anthropic-style JSON bodies and from
// their streamed (SSE) form, where usage arrives in the last event(s):
//   OpenAI chat completions: the final chunk's `usage` (with
//     stream_options.include_usage); `model` in every chunk.
//     https://platform.openai.com/docs/api-reference/chat-streaming
//   OpenAI responses: `response.completed` carries `response.usage`, `response.model`.
//   Anthropic messages: `message_start` carries message.model and
//     message.usage.input_tokens; `message_delta` carries the cumulative
//     usage.output_tokens. https://docs.anthropic.com/en/api/messages-streaming
// Input tokens include cached input tokens, as the OpenTelemetry GenAI
// conventions ask (`gen_ai.usage.input_tokens`: "SHOULD include all types of
// input tokens, including cached tokens"): Anthropic reports cache reads and
// writes apart from input_tokens, OpenAI includes them in prompt_tokens.

export interface LlmUsage {
  provider?: string;
  responseModel?: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function providerOfShape(o: Json): string | undefined {
  const object = o['object'];
  if (typeof object === 'string' && (object.startsWith('chat.completion') || object === 'text_completion' || object === 'response' || object === 'list')) return 'openai';
  const type = o['type'];
  if (typeof type === 'string') {
    if (type === 'message' || type.startsWith('message_') || type.startsWith('content_block_')) return 'anthropic';
    if (type.startsWith('response.')) return 'openai';
  }
  return undefined;
}

/** Merges the usage object of either provider into `into`; later values win (streams report cumulative counts). */
function mergeUsage(into: LlmUsage, u: Json): void {
  const cacheRead = count(u['cache_read_input_tokens']);
  const cacheCreation = count(u['cache_creation_input_tokens']);
  if (cacheRead !== undefined) into.cacheReadInputTokens = cacheRead;
  if (cacheCreation !== undefined) into.cacheCreationInputTokens = cacheCreation;
  const prompt = count(u['prompt_tokens']);
  const input = count(u['input_tokens']);
  if (prompt !== undefined) into.inputTokens = prompt;
  else if (input !== undefined) {
    // Anthropic's input_tokens excludes cache reads and writes; OpenAI's responses API includes them.
    const anthropicCache = cacheRead !== undefined || cacheCreation !== undefined ? (cacheRead ?? 0) + (cacheCreation ?? 0) : 0;
    into.inputTokens = input + anthropicCache;
  }
  const completion = count(u['completion_tokens']) ?? count(u['output_tokens']);
  if (completion !== undefined) into.outputTokens = completion;
}

/** Reads one parsed JSON response or SSE event into `into`. */
export function readLlmObject(into: LlmUsage, o: unknown): void {
  if (!isObject(o)) return;
  into.provider ??= providerOfShape(o);
  // Anthropic message_start and OpenAI response.* events wrap the message.
  const inner = isObject(o['message']) ? o['message'] : isObject(o['response']) ? o['response'] : undefined;
  const model = text(o['model']) ?? (inner === undefined ? undefined : text(inner['model']));
  if (model !== undefined) into.responseModel = model;
  const usage = isObject(o['usage']) ? o['usage'] : inner !== undefined && isObject(inner['usage']) ? inner['usage'] : undefined;
  if (usage !== undefined) mergeUsage(into, usage);
}

/** Usage from a whole JSON body; undefined when it is not JSON. */
export function usageFromJson(body: string): LlmUsage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const u: LlmUsage = {};
  readLlmObject(u, parsed);
  return u;
}

/** Longest SSE line kept while waiting for its end; a longer one is skipped (it cannot be a usage event of any size that matters). */
const MAX_LINE = 1 << 20;
/** A usage object, not OpenAI's `"usage":null` of every chunk before the last. */
const USAGE_OBJECT = /"usage"\s*:\s*\{/;

/**
 * Incremental SSE reader: feed it the stream's text as it arrives. Only
 * `data:` lines that can matter are parsed: those mentioning usage, and those
 * mentioning a model until one was found, so a long stream costs a substring
 * search per line, not a JSON parse per chunk.
 */
export class SseUsageScanner {
  readonly usage: LlmUsage = {};
  private partial = '';
  private skipping = false;

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) break;
      let line = chunk.slice(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        this.partial = '';
        continue;
      }
      if (this.partial !== '') {
        line = this.partial + line;
        this.partial = '';
      }
      this.line(line);
    }
    if (start < chunk.length && !this.skipping) {
      this.partial += chunk.slice(start);
      if (this.partial.length > MAX_LINE) {
        this.partial = '';
        this.skipping = true;
      }
    }
  }

  /** The stream ended: a last line without its newline still counts. */
  end(): void {
    if (this.partial !== '' && !this.skipping) this.line(this.partial);
    this.partial = '';
  }

  private line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) return;
    const wanted = USAGE_OBJECT.test(line) || (this.usage.responseModel === undefined && line.includes('"model"')) || (this.usage.provider === undefined && line.includes('"type"'));
    if (!wanted) return;
    const data = line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
    if (data === '[DONE]') return;
    try {
      readLlmObject(this.usage, JSON.parse(data));
    } catch {
      // not JSON: not an event of ours
    }
  }
}

/** `model` and `stream` of a parsed LLM request body. */
export function requestFacts(body: unknown): { model?: string; stream?: boolean } {
  if (!isObject(body)) return {};
  const out: { model?: string; stream?: boolean } = {};
  const model = text(body['model']);
  if (model !== undefined) out.model = model;
  if (body['stream'] === true) out.stream = true;
  return out;
}

/** Upstream host -> `gen_ai.provider.name` (OpenTelemetry GenAI well-known values). */
const PROVIDER_HOSTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/(^|\.)api\.openai\.com$/, 'openai'],
  [/\.openai\.azure\.com$/, 'azure.ai.openai'],
  [/(^|\.)api\.anthropic\.com$/, 'anthropic'],
  [/^bedrock-runtime[.-].*\.amazonaws\.com$/, 'aws.bedrock'],
  [/(^|\.)generativelanguage\.googleapis\.com$/, 'gcp.gemini'],
  [/-aiplatform\.googleapis\.com$/, 'gcp.vertex_ai'],
  [/(^|\.)api\.mistral\.ai$/, 'mistral_ai'],
  [/(^|\.)api\.groq\.com$/, 'groq'],
  [/(^|\.)api\.deepseek\.com$/, 'deepseek'],
  [/(^|\.)api\.x\.ai$/, 'x_ai'],
  [/(^|\.)api\.cohere\.(com|ai)$/, 'cohere'],
  [/(^|\.)api\.perplexity\.ai$/, 'perplexity'],
];

export function providerOfHost(host: string): string | undefined {
  const h = host.toLowerCase();
  for (const [re, name] of PROVIDER_HOSTS) if (re.test(h)) return name;
  return undefined;
}
