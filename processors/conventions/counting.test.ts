import { describe, expect, it } from 'vitest';
import { SpanKind, StatusCode, type Attributes } from '../../core/record.ts';
import { testSpan } from '../testing/records.ts';
import { failedOf, inputTokensOf, isCallSpan, isEntrySpan, modelOf, outputTokensOf, providerOf } from './counting.ts';
import { fieldsMarkdown } from './genai.ts';
import { contentMarkdown } from './content.ts';

describe('isEntrySpan', () => {
  it.each([
    { name: 'root', kind: SpanKind.INTERNAL, parent: '', flags: 0, want: true },
    { name: 'root with flags', kind: SpanKind.CLIENT, parent: '', flags: 0x100, want: true },
    { name: 'remote parent (flags)', kind: SpanKind.INTERNAL, parent: 'aa', flags: 0x300, want: true },
    { name: 'local parent (flags), SERVER', kind: SpanKind.SERVER, parent: 'aa', flags: 0x101, want: false },
    { name: 'IS_REMOTE without HAS_IS_REMOTE: not said', kind: SpanKind.CLIENT, parent: 'aa', flags: 0x200, want: false },
    { name: 'no flags, SERVER', kind: SpanKind.SERVER, parent: 'aa', flags: 0, want: true },
    { name: 'no flags, CONSUMER', kind: SpanKind.CONSUMER, parent: 'aa', flags: 0, want: true },
    { name: 'no flags, CLIENT', kind: SpanKind.CLIENT, parent: 'aa', flags: 0, want: false },
    { name: 'no flags, INTERNAL', kind: SpanKind.INTERNAL, parent: 'aa', flags: 0, want: false },
  ])('$name: $want', ({ kind, parent, flags, want }) => {
    expect(isEntrySpan({ kind, parentSpanId: parent, flags })).toBe(want);
  });
});

describe('isCallSpan', () => {
  it.each<{ name: string; a: Attributes; entry: boolean; want: boolean }>([
    { name: 'OpenInference LLM', a: { 'openinference.span.kind': 'LLM' }, entry: false, want: true },
    { name: 'OpenInference EMBEDDING', a: { 'openinference.span.kind': 'EMBEDDING' }, entry: false, want: true },
    { name: 'OpenInference CHAIN with a model', a: { 'openinference.span.kind': 'CHAIN', 'llm.model_name': 'm' }, entry: true, want: false },
    { name: 'gen_ai chat', a: { 'gen_ai.operation.name': 'chat' }, entry: false, want: true },
    { name: 'gen_ai invoke_agent with tokens', a: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': '9' }, entry: true, want: false },
    { name: 'gen_ai execute_tool', a: { 'gen_ai.operation.name': 'execute_tool' }, entry: true, want: false },
    { name: 'LiteLLM acompletion (any llm.request.type)', a: { 'llm.request.type': 'acompletion' }, entry: false, want: true },
    { name: 'entry span with a model, no operation (gateway)', a: { 'gen_ai.request.model': 'm' }, entry: true, want: true },
    { name: 'entry span with only a provider', a: { 'gen_ai.provider.name': 'openai' }, entry: true, want: true },
    { name: 'non-entry span with tokens, no operation (upstream leg)', a: { 'gen_ai.usage.input_tokens': '4' }, entry: false, want: false },
    { name: 'empty values are absent', a: { 'gen_ai.operation.name': '', 'gen_ai.request.model': '' }, entry: true, want: false },
    { name: 'nothing', a: { 'http.route': '/x' }, entry: true, want: false },
  ])('$name: $want', ({ a, entry, want }) => {
    expect(isCallSpan(a, entry)).toBe(want);
  });
});

describe('the mapping, convention by convention', () => {
  it.each<{ name: string; a: Attributes; want: [string, string, number, number] }>([
    { name: 'GenAI current', a: { 'gen_ai.provider.name': 'openai', 'gen_ai.response.model': 'r', 'gen_ai.request.model': 'q', 'gen_ai.usage.input_tokens': '3', 'gen_ai.usage.output_tokens': '4' }, want: ['openai', 'r', 3, 4] },
    { name: 'GenAI deprecated', a: { 'gen_ai.system': 'anthropic', 'gen_ai.request.model': 'q', 'gen_ai.usage.prompt_tokens': '5', 'gen_ai.usage.completion_tokens': '6' }, want: ['anthropic', 'q', 5, 6] },
    { name: 'current wins over deprecated', a: { 'gen_ai.provider.name': 'a', 'gen_ai.system': 'b', 'gen_ai.usage.input_tokens': '1', 'gen_ai.usage.prompt_tokens': '2' }, want: ['a', '', 1, 0] },
    { name: 'OpenInference', a: { 'llm.provider': 'azure', 'llm.system': 'openai', 'llm.model_name': 'gpt', 'llm.token_count.prompt': '7', 'llm.token_count.completion': '8' }, want: ['azure', 'gpt', 7, 8] },
    { name: 'OpenInference embedding', a: { 'llm.system': 'openai', 'embedding.model_name': 'text-embedding-3-small' }, want: ['openai', 'text-embedding-3-small', 0, 0] },
    { name: 'old OpenLLMetry', a: { 'llm.vendor': 'OpenAI', 'llm.response.model': 'm', 'llm.usage.prompt_tokens': '9', 'llm.usage.completion_tokens': '1' }, want: ['OpenAI', 'm', 9, 1] },
    { name: 'an empty value falls through', a: { 'gen_ai.provider.name': '', 'gen_ai.system': 'x' }, want: ['x', '', 0, 0] },
  ])('$name', ({ a, want }) => {
    expect([providerOf(a), modelOf(a), inputTokensOf(a), outputTokensOf(a)]).toEqual(want);
  });

  it('failed: status ERROR or an error.type', () => {
    expect(failedOf(testSpan({}, { statusCode: StatusCode.ERROR }))).toBe(true);
    expect(failedOf(testSpan({ 'error.type': 'RateLimitError' }))).toBe(true);
    expect(failedOf(testSpan({ 'error.type': '' }))).toBe(false);
  });

  it('renders as Markdown tables (the README)', () => {
    expect(fieldsMarkdown()).toMatch(/^\| field \| GenAI \| GenAI, deprecated \| OpenLLMetry \| OpenInference \| LiteLLM \| Consentry gateway \|/);
    expect(fieldsMarkdown()).toContain('`llm.token_count.prompt`');
    expect(contentMarkdown()).toContain('| attribute | `input.value` | OpenInference |');
  });
});
