// The one mapping of the LLM conventions real senders use, as data: which
// span attribute says the provider, the model, the operation, the tokens,
// streaming and errors, under each convention, in the order they are read
// (the first non-empty one wins). The summarize processor and the dashboard
// SQL read figures through it (counting.ts, collector/analytics/request-sql.ts),
// tiers that keep per-request metadata keep exactly its attributes
// (filter-attributes `sets: [llm-metadata]`), and the README prints it
// (test/docs/readme.test.ts keeps the two in step).
//
// Read from the sources, not from memory:
//   GenAI semantic conventions: open-telemetry/semantic-conventions docs/gen-ai,
//     model/gen-ai/deprecated/registry-deprecated.yaml (gen_ai.system,
//     gen_ai.usage.prompt_tokens/completion_tokens)
//   OpenLLMetry: traceloop/openllmetry packages/opentelemetry-semantic-conventions-ai
//     (0.5.x: gen_ai.is_streaming, gen_ai.usage.total_tokens; older: llm.usage.*,
//     llm.is_streaming, llm.request.type) and opentelemetry-instrumentation-openai 0.62
//   OpenInference: Arize-ai/openinference spec/semantic_conventions.md
//     (llm.model_name, llm.provider, llm.system, llm.token_count.*,
//     openinference.span.kind)
//   LiteLLM: BerriAI/litellm litellm/integrations/opentelemetry.py and
//     proxy/_types.py SpanAttributes (gen_ai.system, llm.request.type,
//     llm.is_streaming, gen_ai.usage.*, gen_ai.cost.*)

export type Convention = 'GenAI' | 'GenAI, deprecated' | 'OpenLLMetry' | 'OpenInference' | 'LiteLLM' | 'Consentry gateway';

export const CONVENTIONS: readonly Convention[] = ['GenAI', 'GenAI, deprecated', 'OpenLLMetry', 'OpenInference', 'LiteLLM', 'Consentry gateway'];

/** One attribute a field is read from, or (`prefix`) a family of attributes kept with it. */
export interface FieldSource {
  readonly key: string;
  readonly prefix?: true;
  readonly by: readonly Convention[];
  /**
   * For the operation: which values of this key are one LLM call. `calls`: only
   * these; `notCalls`: every value but these; neither: any value.
   */
  readonly calls?: readonly string[];
  readonly notCalls?: readonly string[];
}

export interface Field {
  readonly name: string;
  readonly meaning: string;
  /** Read in this order; prefixes are kept by allow-lists, never read as a value. */
  readonly sources: readonly FieldSource[];
  /** Used outside LLM instrumentation too (error.type): its presence says nothing about a record being LLM data. */
  readonly generic?: true;
}

/** Short names of the conventions, for the tables here and in content.ts. */
export const BY = {
  G: 'GenAI',
  D: 'GenAI, deprecated',
  O: 'OpenLLMetry',
  I: 'OpenInference',
  L: 'LiteLLM',
  C: 'Consentry gateway',
} as const satisfies Record<string, Convention>;
const { G, D, O, I, L, C } = BY;

export const FIELDS = {
  provider: {
    name: 'provider',
    meaning: 'who serves the model',
    sources: [
      { key: 'gen_ai.provider.name', by: [G, O, C] },
      { key: 'gen_ai.system', by: [D, O, L] },
      { key: 'llm.provider', by: [I] },
      { key: 'llm.system', by: [I] },
      { key: 'llm.vendor', by: [O] },
    ],
  },
  model: {
    name: 'model',
    meaning: 'the model that answered, else the one asked for (within each convention)',
    sources: [
      { key: 'gen_ai.response.model', by: [G, O, L, C] },
      { key: 'gen_ai.request.model', by: [G, O, L, C] },
      { key: 'llm.response.model_name', by: [I] },
      { key: 'llm.model_name', by: [I] },
      { key: 'llm.request.model_name', by: [I] },
      { key: 'llm.response.model', by: [O] },
      { key: 'llm.request.model', by: [O] },
      { key: 'embedding.model_name', by: [I] },
    ],
  },
  operation: {
    name: 'operation',
    meaning: 'what the span did; decides whether it is one LLM call',
    sources: [
      { key: 'openinference.span.kind', by: [I], calls: ['LLM', 'EMBEDDING'] },
      {
        key: 'gen_ai.operation.name',
        by: [G, O, L],
        notCalls: ['create_agent', 'invoke_agent', 'invoke_workflow', 'execute_tool', 'execute_task', 'retrieval', 'vector_db_retrieve'],
      },
      { key: 'llm.request.type', by: [O, L] },
    ],
  },
  inputTokens: {
    name: 'input tokens',
    meaning: 'prompt tokens of the call',
    sources: [
      { key: 'gen_ai.usage.input_tokens', by: [G, O, L, C] },
      { key: 'gen_ai.usage.prompt_tokens', by: [D, O, L] },
      { key: 'llm.token_count.prompt', by: [I] },
      { key: 'llm.usage.prompt_tokens', by: [O] },
    ],
  },
  outputTokens: {
    name: 'output tokens',
    meaning: 'completion tokens of the call',
    sources: [
      { key: 'gen_ai.usage.output_tokens', by: [G, O, L, C] },
      { key: 'gen_ai.usage.completion_tokens', by: [D, O, L] },
      { key: 'llm.token_count.completion', by: [I] },
      { key: 'llm.usage.completion_tokens', by: [O] },
    ],
  },
  tokenDetails: {
    name: 'other token counts',
    meaning: 'totals, cached, reasoning (kept, not summed)',
    sources: [
      { key: 'gen_ai.usage.', prefix: true, by: [G, D, O, L, C] },
      { key: 'llm.token_count.', prefix: true, by: [I] },
      { key: 'llm.usage.', prefix: true, by: [O] },
    ],
  },
  cost: {
    name: 'cost',
    meaning: 'price of the call as the sender computed it',
    sources: [
      { key: 'gen_ai.cost.', prefix: true, by: [L] },
      { key: 'llm.cost.', prefix: true, by: [I] },
    ],
  },
  streaming: {
    name: 'streaming',
    meaning: 'whether the answer was streamed',
    sources: [
      { key: 'gateway.streaming', by: [C] },
      { key: 'gen_ai.request.stream', by: [G] },
      { key: 'gen_ai.is_streaming', by: [O] },
      { key: 'llm.is_streaming', by: [O, L] },
    ],
  },
  finishReasons: {
    name: 'finish reasons',
    meaning: 'why the model stopped',
    sources: [
      { key: 'gen_ai.response.finish_reasons', by: [G, L] },
      { key: 'gen_ai.response.finish_reason', by: [O] },
      { key: 'llm.response.finish_reason', by: [O] },
      { key: 'llm.finish_reason', by: [I] },
    ],
  },
  error: {
    name: 'error',
    meaning: 'the call or request failed (also: span status ERROR, HTTP 5xx)',
    sources: [{ key: 'error.type', by: [G, O, L, C] }],
    generic: true,
  },
} as const satisfies Record<string, Field>;

/** Attributes whose presence (non-empty) makes a span without an operation an LLM call. */
export const CALL_EVIDENCE: readonly string[] = [FIELDS.provider, FIELDS.model, FIELDS.inputTokens, FIELDS.outputTokens].flatMap((f) =>
  f.sources.map((s) => s.key),
);

/** Keys read for a field's value, in order (prefix sources left out). */
export function keysOf(field: Field): string[] {
  return field.sources.filter((s) => s.prefix !== true).map((s) => s.key);
}

/**
 * The LLM metadata of every convention: what a tier that keeps per-request
 * metadata keeps (filter-attributes `sets: [llm-metadata]`). No content: the
 * content table (content.ts) shares no key with it (a unit test checks).
 */
export const LLM_METADATA: { readonly keys: readonly string[]; readonly prefixes: readonly string[] } = {
  keys: Object.values(FIELDS).flatMap((f: Field) => keysOf(f)),
  prefixes: Object.values(FIELDS).flatMap((f: Field) => f.sources.filter((s) => s.prefix === true).map((s) => s.key)),
};

/** The mapping as a Markdown table, one row per field and one column per convention (README). */
export function fieldsMarkdown(): string {
  const head = `| field | ${CONVENTIONS.join(' | ')} |\n|---|${CONVENTIONS.map(() => '---').join('|')}|`;
  const rows = Object.values(FIELDS).map((f: Field) => {
    const cells = CONVENTIONS.map((c) => {
      const keys = f.sources.filter((s) => s.by.includes(c)).map((s) => {
        const name = s.prefix === true ? `${s.key}*` : s.key;
        const values = s.calls !== undefined ? ` (calls: ${s.calls.join(', ')})` : s.notCalls !== undefined ? ' (calls: all but agent, tool, workflow and retrieval steps)' : '';
        return `\`${name}\`${values}`;
      });
      return keys.length === 0 ? '' : keys.join(', ');
    });
    return `| ${f.name} | ${cells.join(' | ')} |`;
  });
  return [head, ...rows].join('\n');
}
